// The one place a restore plan is made: from the playbook, the generation, the node as it is
// now and the --set values. Each step type answers what the builder asks of it
// (restore/step.hpp: StepTraits and the questions beside them); the builder never asks a
// step's type.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/generation_view.hpp"
#include "core/repository.hpp"
#include "restore/plan.hpp"
#include "restore/playbook.hpp"

namespace kdr::restore {

struct BuiltPlan {
  Plan plan;
  core::GenerationView gen;  // the generation, loaded and checked against its manifest
};

// Throws Error when the generation cannot be used or etcd runs where kdr does not restore it
// (with what to run instead), UsageError for a bad --set value.
BuiltPlan build_plan(const core::Context& ctx, const Playbook& pb, const core::GenerationEntry& entry,
                     const std::vector<std::string>& set);

// The playbook's parameters and every playbook's built-in ones, at their defaults, with the
// --set NAME=VALUE values over them. Throws UsageError naming an unknown parameter or a value
// that is not one of its choices.
std::map<std::string, std::string> parameter_values(const Playbook& pb, const std::vector<std::string>& set);

}  // namespace kdr::restore
