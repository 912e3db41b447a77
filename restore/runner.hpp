// Inside a restore: the resolved plan and what each step runs with.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/generation_auth.hpp"
#include "core/generation_view.hpp"
#include "core/interrupt.hpp"
#include "core/static_pods.hpp"
#include "etcd/layout.hpp"
#include "etcd/replay.hpp"
#include "etcd/snapshot_tool.hpp"
#include "restore/journal.hpp"
#include "restore/node_identity.hpp"
#include "restore/plan.hpp"
#include "restore/playbook.hpp"

namespace kdr::restore {

// The programs a restore uses and what they support, looked up once per run before the plan
// is shown: describing a plan runs no program.
struct Tools {
  std::optional<etcd::SnapshotTool> snapshot;  // etcdutl or etcdctl, when a step restores a snapshot
  bool crictl = false;
  bool kubectl = false;
  bool kubeadm = false;
  std::string kubeadm_version;  // `kubeadm version -o short`, when a step runs kubeadm
};
Tools look_up_tools(const core::Context& ctx, const Plan& plan);

// What a step runs with.
struct Runner {
  const core::Context& ctx;
  Plan plan;
  std::optional<Journal> journal;  // empty in a dry run
  core::GenerationView gen;
  std::size_t step = 0;  // the running step's index
  bool dry_run = false;
  Tools tools;

  core::bfs::path host(const std::string& node_path) const { return ctx.root.host(node_path); }
  core::bfs::path restore_dir() const { return journal ? journal->dir() : core::bfs::path(); }
  // A variable of the plan (one a plan made by an older kdr lacks: `fallback`).
  std::string var(Var v, const std::string& fallback = "") const { return plan.var(v, fallback); }
  bool flag(Var v) const { return plan.flag(v); }
  // The node coming back under another name or address (address=, node_name=): the backup's
  // and the new one; changes() is false when it keeps its own.
  IdentityChange renaming() const {
    if (!flag(Var::renames_node)) return {};
    return {{var(Var::old_node_name), var(Var::old_node_address)}, {var(Var::node_name), var(Var::address)}};
  }
  // The key that checks the generation and the journal: key_file= when given, else the node's
  // own (empty when there is none). Throws Error for an unsafe key file, or a key_file= that
  // names none.
  std::optional<core::NodeKey> node_key() const;
  // False when etcd runs elsewhere or under systemd: the plan leaves its data alone.
  bool etcd_on_node() const { return plan.etcd.on_node(); }
  std::string aside_path(const std::string& node_path) const;  // host path of <path>.kdr-<id>
  std::string temp_path(const std::string& node_path) const;   // host path of <path>.kdr-<id>.new

  // Records the action in the journal (flushed), then performs it. Idempotent: an action
  // found already done is not redone.
  void move(Action a);
  void place(Action a);
  // Records `a` (a change that is not a rename, e.g. an etcd key written), then makes it.
  void act(Action a, const std::function<void()>& change);
  // The same for several changes made at once (keys written in one etcd transaction): all of
  // them recorded with one flush, then made.
  void act_all(std::vector<Action> actions, const std::function<void()>& change);
  // True when this restore already renamed its copy `tmp` into `target` (a resumed step).
  bool placed_earlier(const core::bfs::path& target, const core::bfs::path& tmp) const;
  // Puts back what a move or place recorded (a rollback).
  void undo_file_action(const Action& a);
  // Changes made and undone in this run, counted for KDR_FAILPOINT (restore-after-action:N,
  // rollback-before-action:N, rollback-after-action:N).
  std::size_t actions_made = 0;
  std::size_t actions_undone = 0;

  // The generation's etcd snapshot record (none when it has none).
  const std::optional<core::EtcdSnapshotRecord>& gen_snapshot() const { return gen.meta.etcd.snapshot; }
  // The node's static pods now, and the manifests this restore took out of the folder.
  core::StaticPodScan live_pods() const;
  core::StaticPodScan held_pods() const;
  // Why a path this plan restores is not in the generation, with what the generation holds.
  std::string not_in_generation(const std::string& node_path) const;
  // The restore's own log of a program a step ran: <journal>/step-N.log (N from 1).
  core::bfs::path step_log() const { return step_log(step); }
  core::bfs::path step_log(std::size_t index) const;
  std::size_t index_of(const PlannedStep& s) const { return static_cast<std::size_t>(&s - plan.steps.data()); }
  // The change journal as this run's plan and preflight read it (a replay's walk reads every
  // segment from its base on): walked once for both, by what was asked (the etcd-replay and
  // etcd-survivor steps). A step that runs walks it again: the journal may have grown since.
  mutable std::map<std::string, etcd::ReplayPlan> planned_replays = {};
  mutable std::map<std::string, etcd::SurvivorReplay> planned_survivor_replays = {};
  // While the preflight checks the generation: true when the steps copy what they read and
  // hash it as they copy (StepDef::check_by_copy) instead of having it re-hashed first.
  bool copies_in_preflight = false;
  // Files in the restore's folder this process wrote and hashed as it wrote them (host
  // paths): trusted until it exits; a resumed restore hashes them again.
  std::set<std::string> copies_checked = {};
  // Of those, the preflight's private copies: removed when the restore is declined (a resume
  // copies again).
  std::set<std::string> preflight_copies = {};
  // Steps preparing ahead in the background (StepDef::prepare), by index.
  std::map<std::size_t, std::future<void>> preparing = {};
  // Starts the preparation of every later step that has one; waits for a step's own.
  void prepare_ahead();
  void finish_preparing(std::size_t index);
};

using core::failpoint;  // KDR_FAILPOINT (core/context.hpp)

using core::generation_pods;

}  // namespace kdr::restore
