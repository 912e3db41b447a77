#include "restore/step.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

using core::UsageError;
using nlohmann::json;

// ---- the table ----------------------------------------------------------------------------

bool plan_has(const Plan& plan, bool StepTraits::*trait) {
  return std::any_of(plan.steps.begin(), plan.steps.end(),
                     [&](const PlannedStep& s) { return step_def(s.type).traits().*trait; });
}

bool playbook_has(const Playbook& pb, bool StepTraits::*trait) {
  return std::any_of(pb.steps.begin(), pb.steps.end(),
                     [&](const StepSpec& s) { return step_def(s.type).traits().*trait; });
}

// ---- what every step type shares ------------------------------------------------------------

std::string StepDef::title(const StepArgs&) const { return std::string(name()); }

bool StepDef::replaces_etcd_data(const PlannedStep&, const Plan&) const { return false; }

void StepDef::undo(Runner& r, const Action& a) const { r.undo_file_action(a); }

std::string StepDef::action_text(const Action& a) const {
  if (a.op == ActionOp::move && a.manifest) return fmt::format("moved manifest {} -> {} ({})", a.from, a.to, a.pod);
  if (a.op == ActionOp::move) return fmt::format("moved {} aside -> {}", a.from, a.to);
  if (a.manifest) return fmt::format("placed manifest {} ({})", a.to, a.pod);
  return fmt::format("placed {} (restored from the backup)", a.to);
}

std::string StepDef::before_asking(const PlannedStep&) const { return ""; }

void StepDef::prepare(const Runner&, const PlannedStep&) const {}

std::vector<std::string> StepDef::temporaries(const Runner&, const PlannedStep&) const { return {}; }

std::optional<std::string> StepDef::cannot_serve(const GenerationOffer&, const json&) const { return std::nullopt; }

std::optional<std::string> StepDef::starts_manifests_from(const json&) const { return std::nullopt; }

std::optional<std::string> StepDef::etcd_restored_from(const PlannedStep&) const { return std::nullopt; }

std::vector<std::string> StepDef::replaced_paths(const PlannedStep&) const { return {}; }

// ---- StepValues -----------------------------------------------------------------------------

StepValues::StepValues(json values, std::map<std::string, std::string> where, StepReadFacts facts)
    : values_(std::move(values)), where_(std::move(where)), facts_(std::move(facts)) {}

void StepValues::fail(const std::string& key, const std::string& what) const {
  auto it = where_.find(key);
  throw UsageError(fmt::format("{}: key '{}': {}", it == where_.end() ? std::string("step") : it->second, key, what));
}

const json* StepValues::find(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &*it;
}

std::string StepValues::text(const std::string& key, const std::string& fallback) const {
  const auto* v = find(key);
  if (!v) return fallback;
  if (!v->is_string()) fail(key, "expected a single value, not a list");
  canonical_[key] = *v;
  return v->get<std::string>();
}

std::string StepValues::choice(const std::string& key, const std::vector<std::string>& choices,
                               const std::string& fallback) const {
  if (!find(key)) return fallback;
  const auto v = text(key);
  if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
    std::string list;
    for (std::size_t i = 0; i < choices.size(); ++i)
      list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
    fail(key, "expected " + list);
  }
  return v;
}

bool StepValues::flag(const std::string& key, bool fallback) const {
  return choice(key, {"true", "false"}, fallback ? "true" : "false") == "true";
}

int StepValues::seconds(const std::string& key, int fallback) const {
  const auto* v = find(key);
  if (!v) return fallback;
  int t = 0;
  if (v->is_number_integer()) {
    t = v->get<int>();
  } else {
    try {
      std::size_t used = 0;
      const auto s = v->is_string() ? v->get<std::string>() : std::string();
      t = std::stoi(s, &used);
      if (used != s.size()) t = 0;
    } catch (const std::exception&) {
      fail(key, "expected a number of seconds");
    }
  }
  if (t <= 0) fail(key, "expected a positive number of seconds");
  canonical_[key] = t;
  return t;
}

std::string StepValues::node_path(const std::string& key) const {
  const auto* v = find(key);
  if (!v) fail(key, "missing");
  if (!v->is_string()) fail(key, "expected a path");
  std::string p;
  try {
    p = core::normalize_node_path(v->get<std::string>(), key);
  } catch (const core::Error& e) {
    fail(key, e.what());
  }
  if (p == "/") fail(key, "refusing to replace the whole node (/)");
  if (!facts_.state_dir.empty() && core::node_path_within(facts_.state_dir, p))
    fail(key, fmt::format("{} holds kdr's state folder {}; set state_dir elsewhere", p, facts_.state_dir));
  canonical_[key] = p;
  return p;
}

std::vector<std::string> StepValues::node_paths(const std::string& key) const {
  const auto* v = find(key);
  if (!v) return {};
  std::vector<std::string> out;
  for (const auto& x : v->is_array() ? *v : json::array({*v})) {
    try {
      out.push_back(core::normalize_node_path(x.is_string() ? x.get<std::string>() : std::string(), key));
    } catch (const core::Error& e) {
      fail(key, e.what());
    }
  }
  canonical_[key] = out;
  return out;
}

std::vector<std::string> StepValues::list(const std::string& key) const {
  const auto* v = find(key);
  if (!v) fail(key, "missing");
  if (!v->is_array()) fail(key, "expected a list (an argv, never a shell string)");
  std::vector<std::string> out;
  for (const auto& x : *v) out.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  canonical_[key] = out;
  return out;
}

std::vector<std::string> StepValues::names_or_all(const std::string& key) const {
  const auto* v = find(key);
  if (!v) return {};
  if (v->is_string()) {
    if (v->get<std::string>() != "all") fail(key, "expected 'all' or a list of pod names");
    canonical_[key] = "all";
    return {};
  }
  return list(key);
}

}  // namespace kdr::restore
