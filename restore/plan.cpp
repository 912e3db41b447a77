// A playbook's steps turned into a plan's steps: variables substituted, values read by each
// step type into its typed arguments; and the plan as the restore journal keeps it.
#include <fmt/format.h>

#include "core/error.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::Error;
using core::UsageError;
using nlohmann::json;

namespace {

json substitute_value(const json& v, const std::map<std::string, std::string>& vars, const std::string& where) {
  if (v.is_array()) {
    json out = json::array();
    for (const auto& x : v) out.push_back(substitute_value(x, vars, where));
    return out;
  }
  return substitute(v.get<std::string>(), vars, where);
}

// Why a field cannot be filled in: the first ${variable} in it that is unavailable.
std::optional<std::string> unavailable_in(const json& v, const std::map<std::string, std::string>& unavailable) {
  for (const auto& x : v.is_array() ? v : json::array({v})) {
    if (!x.is_string()) continue;
    for (const auto& name : variables_in(x.get<std::string>()))
      if (auto it = unavailable.find(name); it != unavailable.end())
        return fmt::format("needs ${{{}}}: {}", name, it->second);
  }
  return std::nullopt;
}

// Reads the values into the typed arguments and keeps their canonical form.
void read_values(PlannedStep& s, const json& values, std::map<std::string, std::string> where,
                 const StepReadFacts& facts) {
  const auto& def = step_def(s.type);
  StepValues reader(values, std::move(where), facts);
  s.typed = def.read(reader);
  s.values = reader.canonical();
  if (s.title.empty()) s.title = def.title(*s.typed);
}

}  // namespace

PlannedStep plan_step(const StepSpec& spec, const std::map<std::string, std::string>& vars,
                      const std::map<std::string, std::string>& unavailable, const StepReadFacts& facts) {
  PlannedStep s;
  s.type = spec.type;
  s.title = spec.title;
  json values = json::object();
  std::map<std::string, std::string> where;
  for (const auto& [name, field] : spec.fields) {
    if (auto why = unavailable_in(field.value, unavailable)) {
      s.blocked = *why;
      s.values = json::object();
      for (const auto& [n, f] : spec.fields) s.values[n] = f.value;  // as written: the plan shows what it needs
      if (s.title.empty()) s.title = std::string(to_string(spec.type));
      return s;
    }
    values[name] = substitute_value(field.value, vars, field.where);
    where[name] = field.where;
  }
  read_values(s, values, std::move(where), facts);
  return s;
}

json Plan::to_json() const {
  json steps_j = json::array();
  for (const auto& s : steps) {
    json j = {{"type", to_string(s.type)}, {"title", s.title}, {"args", s.values}};
    if (!s.blocked.empty()) j["blocked"] = s.blocked;
    steps_j.push_back(j);
  }
  return {{"format", 1},          {"id", id},       {"playbook", playbook}, {"playbook_file", playbook_file},
          {"generation", generation}, {"generation_dir", generation_dir}, {"root", root}, {"vars", vars},
          {"backup_dir", backup_dir}, {"config_file", config_file}, {"playbook_dirs", playbook_dirs},
          {"notes", notes},       {"etcd", etcd},   {"steps", steps_j}};
}

Plan Plan::from_json(const json& j, const std::string& state_dir) {
  Plan p;
  p.id = j.at("id");
  p.playbook = j.at("playbook");
  p.playbook_file = j.value("playbook_file", "");
  p.generation = j.at("generation");
  p.generation_dir = j.at("generation_dir");
  p.root = j.value("root", "/");
  p.backup_dir = j.value("backup_dir", "");
  p.config_file = j.value("config_file", "");
  p.playbook_dirs = j.value("playbook_dirs", std::vector<std::string>{});
  p.vars = j.at("vars").get<std::map<std::string, std::string>>();
  p.notes = j.value("notes", std::vector<std::string>{});
  p.etcd = j.value("etcd", json::object());
  StepReadFacts facts{state_dir, false};
  for (const auto& sj : j.at("steps")) {
    auto type = step_type_from_string(sj.at("type").get<std::string>());
    if (!type) throw Error("plan.json names an unknown step type " + sj.at("type").dump());
    PlannedStep s;
    s.type = *type;
    s.title = sj.value("title", "");
    s.blocked = sj.value("blocked", "");
    const auto values = sj.value("args", json::object());
    if (s.blocked.empty()) {
      std::map<std::string, std::string> where;
      for (const auto& [k, v] : values.items())
        where[k] = fmt::format("restore {} plan.json, step {}", p.id, p.steps.size() + 1);
      read_values(s, values, std::move(where), facts);
    } else {
      s.values = values;
    }
    facts.replay_before = facts.replay_before || s.type == StepType::etcd_replay;
    p.steps.push_back(std::move(s));
  }
  return p;
}

}  // namespace kdr::restore
