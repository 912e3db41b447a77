// `kdr diff`: the objects that differ between two points, and how, field by field.
//
// Two passes keep memory to the keys: each point's keys are read with a hash of their stored
// value; only keys whose bytes differ are read again and decoded (an encrypted value
// re-encrypted with a fresh IV has other bytes and the same object: it does not differ).
// What always changes is left out unless asked (k8s::drop_noise), and Events.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "k8s/object_diff.hpp"
#include "k8s/object_json.hpp"
#include "k8s/resources.hpp"
#include "objects/point.hpp"

namespace kdr::objects {

using k8s::FieldChange;

struct ObjectDiff {
  enum class Kind { added, removed, changed };
  Kind kind = Kind::changed;
  k8s::ResourceType type;
  std::string namespace_, name, key;  // key: under the prefix (deployments/payments/api)
  std::vector<FieldChange> fields;    // changed
  std::string problem;                // a side that could not be read: compared as bytes
};

struct DiffScope {
  std::optional<k8s::ResourceType> type;  // empty: every resource
  std::string namespace_;                 // empty: every namespace
  std::string name;
  bool everything = false;                // --all: the noise too
};

std::vector<ObjectDiff> diff_points(PointReader& from, PointReader& to, const DiffScope& scope);

// The report (or --json).
void print_diff(const core::Context& ctx, const PointInfo& from, const PointInfo& to, const std::vector<ObjectDiff>& diffs,
                const DiffScope& scope);

}  // namespace kdr::objects
