// Step type `stop-static-pods`: moves the pods' manifests out of the static pod folder into
// the restore's journal folder; the kubelet then stops the pods. Undone by moving them back.
#include <algorithm>

#include <fmt/format.h>

#include "restore/pods.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

struct PodsArgs : StepArgs {
  std::vector<std::string> pods;  // empty: all
};

class StopStaticPods final : public TypedStep<PodsArgs> {
 public:
  StepType type() const override { return StepType::stop_static_pods; }
  std::string_view name() const override { return "stop-static-pods"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override { return {{"pods", false}}; }

 protected:
  PodsArgs read_args(const StepValues& v) const override {
    PodsArgs a;
    a.pods = v.names_or_all("pods");
    return a;
  }

  std::vector<std::string> plan_text(const Runner& r, const PodsArgs& a) const override {
    std::vector<std::string> out;
    for (const auto& pod : r.live_pods().pods)
      if (wanted(a.pods, pod.name))
        out.push_back(fmt::format("move {} -> <journal>/manifests/  (stops {})", pod.file, pod.name));
    if (out.empty()) out.push_back("no matching manifest in " + r.var(Var::static_pod_path) + " now (nothing to stop)");
    return out;
  }

  void perform(Runner& r, const PodsArgs& a) const override {
    const auto held = r.restore_dir() / "manifests";
    core::make_dir(held, 0700);
    std::vector<std::string> stopped;
    for (const auto& pod : r.live_pods().pods) {
      if (!wanted(a.pods, pod.name)) continue;
      Action act;
      act.from = r.host(pod.file).string();
      act.to = (held / core::bfs::path(pod.file).filename()).string();
      act.manifest = true;
      act.pod = pod.name;
      r.move(act);
      stopped.push_back(pod.name);
      r.ctx.out.info("      moved {} out of {} ({} will stop)", pod.file, r.var(Var::static_pod_path), pod.name);
    }
    for (const auto& n : a.pods)
      if (std::find(stopped.begin(), stopped.end(), n) == stopped.end()) {
        const auto h = r.held_pods();
        const bool held_already = std::any_of(h.pods.begin(), h.pods.end(), [&](const auto& p) { return p.name == n; });
        r.ctx.out.info("      {}: {}", n, held_already ? "taken out earlier" : "no manifest on the node (not running)");
      }
  }
};

}  // namespace

const StepDef& stop_static_pods_step_def() {
  static const StopStaticPods def;
  return def;
}

}  // namespace kdr::restore
