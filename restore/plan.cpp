// A playbook's steps turned into a plan's steps: variables substituted, values read by each
// step type into its typed arguments; and the plan as the restore journal keeps it (plan.json:
// the only place that knows its keys).
#include <fmt/format.h>

#include "core/error.hpp"
#include "core/json_util.hpp"
#include "core/node_root.hpp"
#include "restore/plan.hpp"
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

namespace {

json replay_json(const PlannedReplay& r) {
  return {{"epoch", r.epoch},
          {"cluster_id", r.cluster_id},
          {"base", r.base},
          {"base_revision", r.base_revision},
          {"target_revision", r.target_revision},
          {"target_time_ms", r.target_time_ms},
          {"events", r.events},
          {"digest", r.digest},
          {"keys", r.keys},
          {"auth", r.auth},
          {"auth_text", r.auth_text}};
}

PlannedReplay replay_from_json(const json& j) {
  PlannedReplay r;
  r.epoch = j.value("epoch", std::uint64_t{0});
  r.cluster_id = core::json_text_or(j, "cluster_id");
  r.base = core::json_text_or(j, "base");
  r.base_revision = j.value("base_revision", std::int64_t{0});
  r.target_revision = j.value("target_revision", std::int64_t{0});
  r.target_time_ms = j.value("target_time_ms", std::int64_t{0});
  r.events = j.value("events", std::uint64_t{0});
  r.digest = core::json_text_or(j, "digest");
  r.keys = j.value("keys", std::uint64_t{0});
  r.auth = core::json_text_or(j, "auth");
  r.auth_text = core::json_text_or(j, "auth_text");
  return r;
}

// An etcd that kdr does not restore here has no member facts (and no initial_cluster key).
json etcd_json(const PlanEtcd& e) {
  json j = {{"kind", etcd::to_string(e.kind)},
            {"name", e.name},
            {"peer_url", e.peer_url},
            {"data_dir", e.data_dir},
            {"from", e.from}};
  if (e.on_node()) j["initial_cluster"] = e.initial_cluster;
  if (!e.replaces_name.empty()) j["replaces"] = {{"name", e.replaces_name}, {"peer_url", e.replaces_peer_url}};
  if (e.loss) j["loss"] = e.loss->to_json();
  if (e.replay) j["replay"] = replay_json(*e.replay);
  return j;
}

PlanEtcd etcd_from_json(const json& j) {
  PlanEtcd e;
  e.kind = etcd::etcd_kind_from_string(core::json_text_or(j, "kind", "static-pod")).value_or(etcd::EtcdKind::static_pod);
  e.name = core::json_text_or(j, "name");
  e.peer_url = core::json_text_or(j, "peer_url");
  e.data_dir = core::json_text_or(j, "data_dir");
  e.initial_cluster = core::json_text_or(j, "initial_cluster");
  e.from = core::json_text_or(j, "from");
  if (j.contains("replaces") && j["replaces"].is_object()) {
    e.replaces_name = core::json_text_or(j["replaces"], "name");
    e.replaces_peer_url = core::json_text_or(j["replaces"], "peer_url");
  }
  if (j.contains("loss") && j["loss"].is_object()) e.loss = EtcdLoss::from_json(j["loss"]);
  if (j.contains("replay") && j["replay"].is_object()) e.replay = replay_from_json(j["replay"]);
  return e;
}

}  // namespace

bool Plan::holds_etcd_data(const std::string& node_path) const {
  return !etcd.data_dir.empty() && core::node_path_within(etcd.data_dir, node_path);
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
          {"notes", notes},       {"etcd", etcd_json(etcd)},   {"steps", steps_j}};
}

PlanHeader PlanHeader::from_json(const json& j) {
  PlanHeader h;
  h.id = core::json_text_or(j, "id");
  h.playbook = core::json_text_or(j, "playbook");
  h.generation = core::json_text_or(j, "generation");
  h.backup_dir = core::json_text_or(j, "backup_dir");
  h.config_file = core::json_text_or(j, "config_file");
  if (j.contains("vars") && j["vars"].is_object())
    for (const auto& [k, v] : j["vars"].items())
      if (v.is_string()) h.vars[k] = v.get<std::string>();
  if (j.contains("steps") && j["steps"].is_array()) h.steps = j["steps"].size();
  return h;
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
  p.etcd = etcd_from_json(j.value("etcd", json::object()));
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
    facts.replay_before = facts.replay_before || step_def(s.type).traits().replays_journal;
    p.steps.push_back(std::move(s));
  }
  return p;
}

}  // namespace kdr::restore
