// Step type `wait-healthy`: waits until etcd answers from the data dir the manifest names and
// serves at least the restored revision and keys, then until kube-apiserver's /livez answers
// (when a kubeconfig and kubectl are there to ask it). Changes nothing.
#include <algorithm>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/wait.hpp"
#include "etcd/tool.hpp"
#include "etcd/wal_replay.hpp"
#include "restore/pods.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/steps/etcd_replay.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::Error;
using nlohmann::json;

namespace {

struct WaitHealthyArgs : StepArgs {
  int timeout = 300;
};

// What a restored etcd must serve: the revision and keys of the snapshot it came from, or of
// the journal's point for a replayed one.
struct HealthGoal {
  bool compare = false;
  std::int64_t revision = 0;
  std::optional<std::uint64_t> keys;
  // the changes a replay wrote into the member's WAL, which etcd applied as it started
  std::optional<etcd::WalReplayCheck> wal_check;
};

HealthGoal health_goal(const Runner& r) {
  HealthGoal goal;
  const auto from = r.var(Var::etcd_restored_from);
  const auto& snap = r.gen_snapshot();
  if (from == "snapshot" && snap) {
    goal.compare = true;
    goal.revision = snap->revision;
    goal.keys = snap->keys;
  } else if (from == "replayed" && r.plan.etcd.replay) {
    goal.compare = true;
    // what the replayed file holds: restored without --bump-revision (etcdctl 3.4), etcd serves
    // that numbering, which is below the journal's when the replay started from a journal base
    goal.revision = replayed_file_revision(r).value_or(r.plan.etcd.replay->base_revision);
    goal.keys = r.plan.etcd.replay->keys;
    goal.wal_check = replayed_wal_check(r);
  }
  return goal;
}

struct EtcdHealth {
  bool healthy = false;
  std::int64_t revision = 0;
  std::optional<std::uint64_t> keys;
  std::string problem;
};

// etcd as the node's manifests (or the config) describe it now.
EtcdHealth etcd_health(const Runner& r, const core::StaticPodScan& scan) {
  EtcdHealth h;
  auto target = etcd::etcd_target(r.ctx, etcd::detect_etcd_layout(r.ctx.config, r.ctx.root, scan));
  etcd::SnapshotOutcome failure;
  auto st = etcd::endpoint_status(r.ctx, target, failure);
  if (!st) {
    h.problem = failure.error;
    return h;
  }
  h.healthy = true;
  h.revision = st->revision;
  h.keys = etcd::count_keys(r.ctx, target, 0);
  return h;
}

// Why the etcd that runs is not the restored one: another data dir than the manifest's.
std::optional<std::string> wrong_data_dir(const Runner& r, const core::StaticPodScan& scan,
                                          const etcd::EtcdLayout& layout) {
  const auto& member = *layout.member;
  const auto* pod = core::find_pod(scan, "etcd");
  auto procs = pod ? pod_processes(r.ctx.root, *pod) : std::vector<PodProcess>{};
  const auto expect_host = r.host(member.data_dir_host).string();
  std::string serving;
  bool right_dir = procs.empty();  // no process view (containers elsewhere): rely on etcd's answers
  for (const auto& p : procs) {
    const auto d = data_dir_argument(p.argv);
    serving = d;
    if (d == expect_host || (r.ctx.root.is_real_root() && d == member.data_dir)) right_dir = true;
  }
  if (right_dir) return std::nullopt;
  return fmt::format("the running etcd uses --data-dir {}, the manifest says {}", serving, member.data_dir_host);
}

// Why etcd is not ready yet, or nothing once it serves what the goal says (and a line that
// tells the operator so in `report`).
std::optional<std::string> etcd_not_ready(const Runner& r, const HealthGoal& goal, std::string& report) {
  const auto scan = r.live_pods();
  const auto layout = etcd::detect_etcd_layout(r.ctx.config, r.ctx.root, scan);
  std::string where = "data dir " + layout.data_dir;
  if (layout.kind == etcd::EtcdKind::static_pod) {
    if (auto wrong = wrong_data_dir(r, scan, layout)) return wrong;
  } else if (layout.kind == etcd::EtcdKind::unknown) {
    return "no etcd manifest in " + r.var(Var::static_pod_path);
  } else {
    where = layout.summary();  // etcd elsewhere or under systemd: its answers are all kdr can check
  }
  auto h = etcd_health(r, scan);
  if (!h.healthy) return h.problem;
  if (h.revision < goal.revision && goal.wal_check)
    return fmt::format("etcd serves revision {}; with the journal's changes kdr wrote into its WAL it would be at {}: "
                       "it has not applied them",
                       h.revision, goal.revision);
  if (h.revision < goal.revision)
    return fmt::format("etcd serves revision {}, the backup's snapshot is at {}: it is not serving the restored data",
                       h.revision, goal.revision);
  if (goal.keys && (!h.keys || *h.keys < *goal.keys))
    return fmt::format("etcd serves {} keys, the backup had {}", h.keys ? *h.keys : 0, *goal.keys);
  report = fmt::format("etcd is healthy: revision {}{}, {} keys{}, {}", h.revision,
                       goal.compare ? fmt::format(" (backup: {})", goal.revision) : "", h.keys ? *h.keys : 0,
                       goal.keys ? fmt::format(" (backup: {})", *goal.keys) : "", where);
  return std::nullopt;
}

// Whether wait-healthy can ask kube-apiserver's /livez, and through what; or why not.
struct LivezCheck {
  bool possible = false;
  std::string why;  // the kubeconfig used, or the reason it is not checked
};

LivezCheck livez_check(const Runner& r, bool apiserver_expected) {
  const auto& kubeconfig = r.ctx.config.kubeconfig;
  if (!apiserver_expected) return {false, "no kube-apiserver manifest on this node"};
  if (kubeconfig.empty()) return {false, "no kubeconfig in the config"};
  if (!r.tools.kubectl) return {false, "kubectl not found"};
  return {true, kubeconfig};
}

class WaitHealthy final : public TypedStep<WaitHealthyArgs> {
 public:
  StepType type() const override { return StepType::wait_healthy; }
  std::string_view name() const override { return "wait-healthy"; }
  bool changes_node() const override { return false; }
  std::vector<StepKey> keys() const override { return {{"timeout", false}}; }

 protected:
  WaitHealthyArgs read_args(const StepValues& v) const override {
    WaitHealthyArgs a;
    a.timeout = v.seconds("timeout", a.timeout);
    return a;
  }

  std::vector<std::string> plan_text(const Runner& r, const WaitHealthyArgs& a) const override {
    std::vector<std::string> out;
    std::string bar;
    const auto goal = health_goal(r);
    if (goal.compare) bar = fmt::format(", revision >= {}", goal.revision);
    if (goal.keys) bar += fmt::format(", keys >= {}", *goal.keys);
    const auto live = r.live_pods();
    if (r.etcd_on_node()) {
      out.push_back(fmt::format("wait up to {} s: etcd answers with the manifest's data dir{}", a.timeout, bar));
    } else {
      const auto layout = etcd::detect_etcd_layout(r.ctx.config, r.ctx.root, live);
      out.push_back(fmt::format("wait up to {} s: etcd answers ({})", a.timeout, layout.summary()));
    }
    // kube-apiserver runs after the restore if the node or the generation has its manifest
    const bool apiserver = core::find_pod(live, "kube-apiserver") != nullptr ||
                           core::find_pod(generation_pods(r.gen, r.var(Var::static_pod_path)), "kube-apiserver") != nullptr;
    const auto livez = livez_check(r, apiserver);
    out.push_back(livez.possible ? "then kube-apiserver /livez through " + livez.why
                                 : "kube-apiserver /livez: not checked (" + livez.why + ")");
    return out;
  }

  void perform(Runner& r, const WaitHealthyArgs& a) const override {
    const double start = core::monotonic_seconds();
    const auto goal = health_goal(r);
    std::string report;
    const auto healthy = core::wait_until(
        // Polled tightly: the kubelet's restart of etcd is the floor, not this loop.
        {.timeout_s = static_cast<double>(a.timeout), .every = std::chrono::milliseconds(50)},
        [&] { return etcd_not_ready(r, goal, report); },
        [&](double seconds, const std::string& still) { r.ctx.out.info("      waiting ({:.0f} s): {}", seconds, still); });
    if (!healthy.done)
      throw Error(fmt::format("etcd is not healthy after {} s: {}. Look at the etcd container's log (crictl logs, "
                              "or journalctl -u kubelet)",
                              a.timeout, healthy.still));
    r.ctx.out.info("      {} ({:.1f} s)", report, healthy.seconds);
    if (goal.wal_check) check_replayed_changes(r, *goal.wal_check);
    wait_livez(r, a, std::max(0.0, a.timeout - (core::monotonic_seconds() - start)));
  }

 private:
  // The journal's changes, applied by etcd from its WAL as it started: each key they wrote
  // holds what they wrote at the revision they end at, and etcd holds the point's keys there.
  static void check_replayed_changes(Runner& r, const etcd::WalReplayCheck& check) {
    const double t0 = core::monotonic_seconds();
    const auto live = r.ctx.etcd->connect(etcd::node_etcd_endpoint(r.ctx));
    try {
      etcd::check_wal_replay(*live, check);
    } catch (const Error& e) {
      throw Error(fmt::format("etcd started, but without the journal's changes kdr wrote into its WAL: {}. Roll back "
                              "(kdr restore --rollback) or restore to=snapshot",
                              e.what()));
    }
    r.ctx.out.info("      the journal's changes are in etcd: {} keys written as planned at revisions {} to {}, {} keys "
                   "at {} ({:.1f} s)",
                   check.puts.size(), check.after_revision + 1, check.up_to, check.keys, check.up_to,
                   core::monotonic_seconds() - t0);
  }

  // kube-apiserver, when kdr can reach it.
  static void wait_livez(Runner& r, const WaitHealthyArgs& a, double left) {
    auto livez = livez_check(r, core::find_pod(r.live_pods(), "kube-apiserver") != nullptr);
    if (livez.possible && !core::lstat_path(r.host(r.ctx.config.kubeconfig)))
      livez = {false, fmt::format("no kubeconfig at {}", r.ctx.config.kubeconfig)};
    if (!livez.possible) {
      r.ctx.out.info("      kube-apiserver /livez not checked ({})", livez.why);
      return;
    }
    const auto kubeconfig = r.host(r.ctx.config.kubeconfig).string();
    std::string answer;
    const auto live = core::wait_until(
        {.timeout_s = left, .every = std::chrono::milliseconds(500)},
        [&]() -> std::optional<std::string> {
          core::ProcessOptions opts;
          opts.timeout = std::chrono::seconds(15);
          auto res = r.ctx.programs->run(
              {"kubectl", "--kubeconfig", kubeconfig, "--request-timeout", "5s", "get", "--raw", "/livez"}, opts);
          if (res.ok()) {
            answer = res.out.substr(0, res.out.find('\n'));
            return std::nullopt;
          }
          return res.started ? res.err : res.start_error;
        },
        [&](double seconds, const std::string&) {
          r.ctx.out.info("      waiting ({:.0f} s) for kube-apiserver /livez", seconds + (a.timeout - left));
        });
    if (!live.done)
      throw Error(fmt::format("kube-apiserver /livez does not answer after {} s: {}", a.timeout, live.still));
    r.ctx.out.info("      kube-apiserver /livez: {}", answer);
  }
};

}  // namespace

const StepDef& wait_healthy_step_def() {
  static const WaitHealthy def;
  return def;
}

}  // namespace kdr::restore
