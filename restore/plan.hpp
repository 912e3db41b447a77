// The restore plan: what a restore will do, resolved once before it is shown (the plan
// builder, restore/plan_builder.hpp, makes it), and journaled as plan.json, which this header's
// to_json/from_json write and read (restore/plan.cpp, the one place that knows its keys), so
// that --resume, --rollback and --discard need nothing else.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "etcd/layout.hpp"
#include "restore/etcd_loss.hpp"
#include "restore/playbook.hpp"
#include "restore/variables.hpp"

namespace kdr::restore {

// A step's typed arguments: each step type (restore/step.hpp) derives its own.
struct StepArgs {
  virtual ~StepArgs() = default;
};

struct PlannedStep {
  StepType type = StepType::manual;
  std::string title;
  // The step's values, variables substituted, in canonical form (what the journal keeps).
  nlohmann::json values = nlohmann::json::object();
  // The same values read into the step type's argument struct; null when blocked.
  std::shared_ptr<const StepArgs> typed;
  // Why the step cannot run as planned (a variable the generation cannot give, e.g. no saved
  // kubeadm configuration); empty when it can. The plan shows it; preflight refuses it.
  std::string blocked;

  // The typed arguments; only the step type that read them asks, with its own Args.
  template <class Args>
  const Args& args() const {
    return static_cast<const Args&>(*typed);
  }
};

// The point of the change journal a plan restores etcd to, as the plan resolved it (the
// etcd-replay step plans the replay again from `to` and checks it reaches the same).
struct PlannedReplay {
  std::uint64_t epoch = 0;
  std::string cluster_id;
  std::string base;  // what the replay starts from ("generation X", "journal base at revision N")
  std::int64_t base_revision = 0;
  std::int64_t target_revision = 0;
  std::int64_t target_time_ms = 0;
  std::uint64_t events = 0;
  std::string digest;  // the journal's keyspace digest at the target (hex)
  std::uint64_t keys = 0;
  std::string auth;  // authentic | forged | ... (core::AuthStatus)
  std::string auth_text;
};

// The etcd member the restored data is for, from the manifest that will run it.
struct PlanEtcd {
  etcd::EtcdKind kind = etcd::EtcdKind::static_pod;
  std::string name;
  std::string peer_url;
  std::string data_dir;  // node path; empty when etcd is not restored on this node
  std::string initial_cluster;
  // The member this node's replaces when it comes back under another name or address
  // (replace-etcd-member with address= or node_name=): the backup's, which etcd-member-remove
  // takes out of the cluster. Empty otherwise (the member is `name` itself).
  std::string replaces_name, replaces_peer_url;
  std::string from;  // where these facts come from, for the plan's text
  // What replacing etcd's data loses, measured before anything stops (only when a step
  // replaces it).
  std::optional<EtcdLoss> loss;
  // The journal point the plan replays to (only for `to` other than the snapshot).
  std::optional<PlannedReplay> replay;

  // False when etcd runs elsewhere or under systemd: the plan leaves its data alone.
  bool on_node() const { return etcd::kdr_drives_etcd(kind); }
};

struct Plan {
  std::string id;
  std::string playbook;
  std::string playbook_file;
  std::string generation;
  std::string generation_dir;  // host path
  std::string root;
  // What the restore ran with, so that --resume, --rollback and --discard ID need nothing else.
  std::string backup_dir;
  std::string config_file;  // empty: the built-in defaults
  std::vector<std::string> playbook_dirs;
  std::map<std::string, std::string> vars;  // by name (restore/variables.hpp)
  std::vector<std::string> notes;  // what the operator should know before saying yes
  PlanEtcd etcd;
  std::vector<PlannedStep> steps;

  std::string var(Var v, const std::string& fallback = "") const { return var_or(vars, v, fallback); }
  bool flag(Var v) const { return var_flag(vars, v); }
  // True when replacing `node_path` replaces the plan's etcd data dir.
  bool holds_etcd_data(const std::string& node_path) const;

  // plan.json, in the format every kdr since format 1 reads and writes.
  nlohmann::json to_json() const;
  // Reads a journaled plan, each step's values again into its typed arguments. Throws Error
  // naming what it cannot read.
  static Plan from_json(const nlohmann::json& j, const std::string& state_dir);
};

// What a listing, and a restore opened again, read of a plan.json before (or without) reading
// its steps.
struct PlanHeader {
  std::string id;
  std::string playbook;
  std::string generation;
  std::string backup_dir;   // empty: a plan made by a kdr that did not record it
  std::string config_file;  // empty: the built-in defaults
  std::map<std::string, std::string> vars;
  std::size_t steps = 0;
  static PlanHeader from_json(const nlohmann::json& j);
};

}  // namespace kdr::restore
