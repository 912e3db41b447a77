// What every step runs with: the journaled file moves and placements (idempotent, so a
// resumed restore can run a half-done step again), their undoing, and the node's pods.
#include "restore/runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/wait.hpp"
#include "restore/pods.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::bfs::path;
using core::Error;
using nlohmann::json;

namespace {


void fsync_parent(const path& p) { core::fsync_path(p.parent_path()); }

}  // namespace

// ---- the plan's steps, through their step types -------------------------------------------

std::vector<std::string> describe_step(const Runner& r, const PlannedStep& s) {
  if (!s.blocked.empty()) return {"CANNOT RUN: " + s.blocked};
  return step_def(s.type).describe(r, s);
}

void run_step(Runner& r, const PlannedStep& s) {
  if (!s.blocked.empty()) throw Error(fmt::format("step '{}' {}", s.title, s.blocked));
  step_def(s.type).run(r, s);
}

bool replaces_etcd_data(const PlannedStep& s, const Plan& plan) {
  return s.blocked.empty() && step_def(s.type).replaces_etcd_data(s, plan);
}

Tools look_up_tools(const core::Context& ctx, const Plan& plan) {
  Tools t;
  const bool snapshot = plan_has(plan, &StepTraits::restores_snapshot);
  if (snapshot) t.snapshot = etcd::snapshot_tool(ctx);
  t.crictl = !ctx.programs->find("crictl").empty();
  t.kubectl = !ctx.programs->find("kubectl").empty();
  t.kubeadm = !ctx.programs->find("kubeadm").empty();
  const bool kubeadm_step = plan_has(plan, &StepTraits::runs_kubeadm);
  if (kubeadm_step && t.kubeadm) {
    core::ProcessOptions opts;
    opts.timeout = std::chrono::seconds(20);
    opts.env["KDR_ROOT"] = ctx.root.root().string();
    const auto v = ctx.programs->run({"kubeadm", "version", "-o", "short"}, opts);
    t.kubeadm_version = v.ok() ? v.out.substr(0, v.out.find('\n')) : std::string("unknown");
  }
  return t;
}

// ---- Runner -------------------------------------------------------------------------------

std::string Runner::aside_path(const std::string& node_path) const {
  return host(node_path).string() + ".kdr-" + plan.id;
}

std::string Runner::temp_path(const std::string& node_path) const {
  return host(node_path).string() + ".kdr-" + plan.id + ".new";
}

path Runner::step_log(std::size_t index) const { return restore_dir() / fmt::format("step-{}.log", index + 1); }

void Runner::prepare_ahead() {
  for (std::size_t i = step + 1; i < plan.steps.size(); ++i) {
    const auto& s = plan.steps[i];
    if (!s.blocked.empty() || preparing.count(i) || !step_def(s.type).prepares(*this, s)) continue;
    preparing[i] = std::async(std::launch::async, [this, &s] { step_def(s.type).prepare(*this, s); });
  }
}

void Runner::finish_preparing(std::size_t index) {
  auto it = preparing.find(index);
  if (it == preparing.end()) return;
  auto job = std::move(it->second);
  preparing.erase(it);
  job.get();  // its failure is the step's
}

void Runner::move(Action a) {
  a.op = ActionOp::move;
  a.step = step;
  const bool to_exists = core::present(a.to), from_exists = core::present(a.from);
  if (to_exists && !from_exists) return;  // done before (a resumed step)
  if (!from_exists) throw Error(fmt::format("cannot move {}: it is not there", a.from));
  if (to_exists) {
    if (a.manifest && core::same_content(a.from, a.to)) {  // a cross-device move stopped before its unlink
      if (::unlink(a.from.c_str()) != 0) core::throw_errno("unlink", a.from, errno);
      return;
    }
    throw Error(fmt::format("cannot move {} to {}: the target exists; kdr never overwrites", a.from, a.to));
  }
  journal->action(a);
  core::move_file(a.from, a.to);
  failpoint("restore-after-action", ++actions_made);
}

bool Runner::placed_earlier(const path& target, const path& tmp) const {
  if (core::present(tmp)) return false;  // the copy was not renamed into place yet
  const auto summary = journal->summary();
  return std::any_of(summary.actions.begin(), summary.actions.end(),
                     [&](const Action& a) { return a.op == ActionOp::place && a.to == target.string(); });
}

void Runner::act(Action a, const std::function<void()>& change) { act_all({std::move(a)}, change); }

void Runner::act_all(std::vector<Action> actions, const std::function<void()>& change) {
  for (auto& a : actions) a.step = step;
  journal->actions(actions);
  change();
  for (std::size_t i = 0; i < actions.size(); ++i) failpoint("restore-after-action", ++actions_made);
}

void Runner::place(Action a) {
  a.op = ActionOp::place;
  a.step = step;
  if (!core::present(a.from) && core::present(a.to)) return;  // done before
  if (core::present(a.to)) throw Error(fmt::format("{} exists; kdr never overwrites (move it aside first)", a.to));
  journal->action(a);
  core::move_file(a.from, a.to);
  failpoint("restore-after-action", ++actions_made);
}

void Runner::undo_file_action(const Action& a) {
  const bool to_exists = core::present(a.to), from_exists = core::present(a.from);
  const bool acts = to_exists || (a.op == ActionOp::place && from_exists);
  if (acts) failpoint("rollback-before-action", ++actions_undone);
  if (a.op == ActionOp::move) {
    if (to_exists && !from_exists) {
      core::move_file(a.to, a.from);
      ctx.out.info("      {} -> {}", a.to, a.from);
    } else if (to_exists && from_exists) {
      if (a.manifest && core::same_content(a.from, a.to)) {
        if (::unlink(a.to.c_str()) != 0) core::throw_errno("unlink", a.to, errno);
      } else {
        throw Error(fmt::format("both {} and {} exist; kdr will not choose between them: look at both, keep the "
                                "right one at {}, and run the rollback again",
                                a.from, a.to, a.from));
      }
    }
  } else if (a.op == ActionOp::place) {  // the placed tree is kdr's own copy of the backup
    if (to_exists) {
      core::remove_tree(a.to);
      fsync_parent(a.to);
      ctx.out.info("      removed {} (restored from the backup by this restore)", a.to);
    }
    if (from_exists) core::remove_tree(a.from);
  } else {
    throw Error(fmt::format("the journal's action '{}' on {} is not a file move or placement", to_string(a.op), a.to));
  }
  if (acts) failpoint("rollback-after-action", actions_undone);
}

core::StaticPodScan Runner::live_pods() const { return core::scan_static_pods(ctx.root, var(Var::static_pod_path)); }

core::StaticPodScan Runner::held_pods() const {
  core::StaticPodScan scan;
  const auto dir = restore_dir() / "manifests";
  if (!core::present(dir)) return scan;
  for (const auto& name : core::list_dir(dir)) {
    if (name.empty() || name[0] == '.') continue;
    try {
      auto pod = core::parse_static_pod(core::read_file(dir / name), (dir / name).string());
      pod.file = (dir / name).string();
      scan.pods.push_back(pod);
    } catch (const Error& e) {
      scan.problems.push_back(e.what());
    }
  }
  return scan;
}

std::string Runner::not_in_generation(const std::string& p) const {
  std::string sources;
  for (const auto& s : gen.meta.sources)
    if (s.present) sources += (sources.empty() ? "" : ", ") + s.path;
  const auto recorded = gen.recorded_etcd_data_dir;
  return fmt::format("generation {} holds nothing for {}: it was not backed up{} (the generation's sources: {})",
                     gen.id, p,
                     recorded && !recorded->empty() && *recorded != p
                         ? fmt::format("; etcd's data dir was {} when the backup ran", *recorded)
                         : std::string(),
                     sources);
}

// ---- undo -----------------------------------------------------------------------------------

void undo_actions(Runner& r, const std::vector<Action>& actions) {
  const auto spp = r.host(r.var(Var::static_pod_path)).string();
  auto in_spp = [&](const std::string& p) { return path(p).parent_path().string() == spp; };
  // Each action is undone by the step type that made it.
  auto undo = [&](const Action& a) {
    const auto type = a.step < r.plan.steps.size() ? r.plan.steps[a.step].type : StepType::move_aside;
    step_def(type).undo(r, a);
  };
  // 0. Changes made through the other members first, newest first, while this node's etcd
  //    still runs (Action::undo_order).
  for (auto it = actions.rbegin(); it != actions.rend(); ++it)
    if (it->undo_order == UndoOrder::first) undo(*it);
  // 1. Manifests this restore put into the static pod folder come out, and their pods stop.
  // Also when an earlier, interrupted rollback took the manifests out already: their pods
  // may still run, and the data must not change under them.
  std::vector<core::StaticPod> stopping;
  for (auto it = actions.rbegin(); it != actions.rend(); ++it) {
    if (!it->manifest || !in_spp(it->to) || it->undo_order != UndoOrder::normal) continue;
    for (const auto& where : {it->to, it->from}) {
      if (!core::present(where)) continue;
      try {
        stopping.push_back(core::parse_static_pod(core::read_file(where), where));
      } catch (const Error&) {
      }
      break;
    }
    undo(*it);
  }
  const auto stopped = core::wait_until(
      {.timeout_s = 120},
      [&]() -> std::optional<std::string> {
        std::string still;
        for (const auto& p : stopping) {
          auto c = pod_running(r.ctx, p);
          if (c.running) still += (still.empty() ? "" : "; ") + p.name + ": " + c.detail;
        }
        if (still.empty()) return std::nullopt;
        return still;
      },
      [&](double seconds, const std::string& still) { r.ctx.out.info("      waiting ({:.0f} s): {}", seconds, still); });
  if (!stopped.done)
    throw Error("still running 120 s after their manifests were taken out: " + stopped.still +
                "; is the kubelet running? Run the rollback again once they stopped");
  // 2. Data: restored copies removed, moved-aside originals renamed back, keys put back.
  for (auto it = actions.rbegin(); it != actions.rend(); ++it)
    if (!it->manifest && it->undo_order == UndoOrder::normal) undo(*it);
  // 3. The original manifests go back.
  for (auto it = actions.rbegin(); it != actions.rend(); ++it)
    if (it->manifest && !in_spp(it->to) && it->undo_order == UndoOrder::normal) undo(*it);
  // 4. Last, what waited for all of it (the other nodes' kube-apiservers started again).
  for (auto it = actions.rbegin(); it != actions.rend(); ++it)
    if (it->undo_order == UndoOrder::last) undo(*it);
}

}  // namespace kdr::restore
