// Step type `wait-stopped`: waits until the pods whose manifests were taken out no longer run
// (crictl on a real node when installed, else the process table). Changes nothing.
#include <fmt/format.h>

#include "core/error.hpp"
#include "core/wait.hpp"
#include "restore/pods.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

struct WaitStoppedArgs : StepArgs {
  std::vector<std::string> pods;  // empty: all
  int timeout = 120;
};

class WaitStopped final : public TypedStep<WaitStoppedArgs> {
 public:
  StepType type() const override { return StepType::wait_stopped; }
  std::string_view name() const override { return "wait-stopped"; }
  bool changes_node() const override { return false; }
  std::vector<StepKey> keys() const override { return {{"pods", false}, {"timeout", false}}; }

 protected:
  WaitStoppedArgs read_args(const StepValues& v) const override {
    WaitStoppedArgs a;
    a.pods = v.names_or_all("pods");
    a.timeout = v.seconds("timeout", a.timeout);
    return a;
  }

  std::vector<std::string> plan_text(const Runner& r, const WaitStoppedArgs& a) const override {
    return {fmt::format("wait up to {} s until {} no longer run ({})", a.timeout, pods_text(a.pods),
                        r.ctx.root.is_real_root() && r.tools.crictl ? "crictl" : "process table")};
  }

  void perform(Runner& r, const WaitStoppedArgs& a) const override {
    for (const auto& pod : r.live_pods().pods)
      if (!a.pods.empty() && wanted(a.pods, pod.name))
        throw core::Error(fmt::format("{}'s manifest is still in {}: the kubelet keeps it running. The playbook must "
                                      "stop it first (stop-static-pods)",
                                      pod.name, r.var(Var::static_pod_path)));
    std::vector<core::StaticPod> pods;
    for (const auto& p : r.held_pods().pods)
      if (wanted(a.pods, p.name)) pods.push_back(p);
    std::string how;
    const auto waited = core::wait_until(
        {.timeout_s = static_cast<double>(a.timeout), .every = std::chrono::milliseconds(50)},
        [&]() -> std::optional<std::string> {
          std::string still;
          for (const auto& p : pods) {
            auto check = pod_running(r.ctx, p);
            how = check.how;
            if (check.running) still += (still.empty() ? "" : "; ") + p.name + ": " + check.detail;
          }
          if (still.empty()) return std::nullopt;
          return still;
        },
        [&](double seconds, const std::string& still) { r.ctx.out.info("      waiting ({:.0f} s): {}", seconds, still); });
    if (!waited.done)
      throw core::Error(fmt::format("still running {} s after their manifests were taken out: {}. Is the kubelet "
                                    "running (systemctl status kubelet)? It stops a static pod within about 20 s of "
                                    "its manifest leaving {}. Nothing else was changed yet",
                                    a.timeout, waited.still, r.var(Var::static_pod_path)));
    std::string names;
    for (const auto& p : pods) names += (names.empty() ? "" : ", ") + p.name;
    r.ctx.out.info("      stopped: {} ({}, {:.1f} s)", pods.empty() ? std::string("nothing was running") : names,
                   how.empty() ? "process table" : how, waited.seconds);
  }
};

}  // namespace

const StepDef& wait_stopped_step_def() {
  static const WaitStopped def;
  return def;
}

}  // namespace kdr::restore
