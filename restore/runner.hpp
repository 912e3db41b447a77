// Inside a restore: the resolved plan and what each step runs with.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/etcd_layout.hpp"
#include "core/static_pods.hpp"
#include "restore/journal.hpp"
#include "restore/playbook.hpp"
#include "restore/snapshot_tool.hpp"
#include "verify/integrity.hpp"

namespace kdr::restore {

struct PlannedStep {
  StepType type = StepType::manual;
  std::string title;
  nlohmann::json args = nlohmann::json::object();  // the step's fields, variables substituted
  // Why the step cannot run as planned (a variable the generation cannot give, e.g. no saved
  // kubeadm configuration); empty when it can. The plan shows it; preflight refuses it.
  std::string blocked;
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
  std::map<std::string, std::string> vars;
  std::vector<std::string> notes;  // what the operator should know before saying yes
  // The etcd member the restored data is for, from the manifest that will run it:
  // {name, peer_url, data_dir (node path), from (where these facts come from)}.
  nlohmann::json etcd = nlohmann::json::object();
  std::vector<PlannedStep> steps;
  nlohmann::json to_json() const;
  static Plan from_json(const nlohmann::json& j);
};

// What a step runs with.
struct Runner {
  const core::Context& ctx;
  Plan plan;
  std::optional<Journal> journal;  // empty in a dry run
  verify::GenerationView gen;
  std::size_t step = 0;  // the running step's index
  bool dry_run = false;

  core::bfs::path host(const std::string& node_path) const { return ctx.root.host(node_path); }
  core::bfs::path restore_dir() const { return journal ? journal->dir() : core::bfs::path(); }
  const std::string& var(const std::string& name) const { return plan.vars.at(name); }
  const nlohmann::json& plan_etcd() const { return plan.etcd; }
  std::string plan_etcd_data_dir() const { return plan.etcd.at("data_dir").get<std::string>(); }
  // False when etcd runs elsewhere or under systemd: the plan leaves its data alone.
  bool etcd_on_node() const {
    return core::kdr_drives_etcd(
        core::etcd_kind_from_string(plan.etcd.value("kind", std::string("static-pod"))).value_or(core::EtcdKind::static_pod));
  }
  std::string aside_path(const std::string& node_path) const;  // host path of <path>.kdr-<id>
  std::string temp_path(const std::string& node_path) const;   // host path of <path>.kdr-<id>.new

  // Records the action in the journal (flushed), then performs it. Idempotent: an action
  // found already done is not redone.
  void move(Action a);
  void place(Action a);
  // Records `a` (a change that is not a rename, e.g. an etcd key written), then makes it.
  void act(Action a, const std::function<void()>& change);
  // True when this restore already renamed its copy `tmp` into `target` (a resumed step).
  bool placed_earlier(const core::bfs::path& target, const core::bfs::path& tmp) const;
  // etcdutl or etcdctl and what it supports: asked once per run, whichever step asks first.
  const SnapshotTool& snapshot_tool() const {
    if (!snapshot_tool_) snapshot_tool_ = restore::snapshot_tool(ctx);
    return *snapshot_tool_;
  }
  mutable std::optional<SnapshotTool> snapshot_tool_;
};

// What the preflight found: refusals, warnings, and checks passed (printed as they pass).
struct Preflight {
  const core::Context& ctx;
  std::vector<std::string> fails, warns;
  void ok(const std::string& what) const { ctx.out.info("      ok    {}", what); }
};

// KDR_FAILPOINT=<name>:<n> kills kdr with SIGKILL at that point: the fault tests use it to
// stop a restore at exact moments (docs/playbooks.md, "Fault injection").
void failpoint(std::string_view name, std::size_t n);

// One step: what it will do (for the plan) and doing it. Throws core::Error on failure.
std::vector<std::string> describe_step(const Runner& r, const PlannedStep& s);
void run_step(Runner& r, const PlannedStep& s);

// True when the step replaces etcd's data (its data dir, or a snapshot restore into it).
bool replaces_etcd_data(const PlannedStep& s, const Plan& plan);

// The preflight's checks, all read-only: a dry run runs them too. Throws core::Error listing
// every problem when the real run would be refused.
void check_preflight(Runner& r);

// Undoing what the journal says was done, most recent first, manifests out before data
// moves back, original manifests back last.
void undo_actions(Runner& r, const std::vector<Action>& actions);

// Pods named by a step: the manifests' pods of the live static pod path, or of a list.
std::vector<std::string> pod_names(const nlohmann::json& pods);

// The static pods of a generation (its copy of the static pod folder).
core::StaticPodScan generation_pods(const verify::GenerationView& g, const std::string& static_pod_path);

}  // namespace kdr::restore
