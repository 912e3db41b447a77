// Step type `kubeadm`: kubeadm with the step's `args` (restore/steps/program.hpp), checked in
// the preflight against the cluster's minor version.
#include <fmt/format.h>

#include "restore/steps/program.hpp"

namespace kdr::restore {

namespace {

class KubeadmStep final : public ProgramStep {
 public:
  StepType type() const override { return StepType::kubeadm; }
  StepTraits traits() const override { return {.runs_kubeadm = true}; }
  std::string_view name() const override { return "kubeadm"; }
  std::vector<StepKey> keys() const override { return {{"args", true}, {"timeout", false}, {"writes", false}}; }

 protected:
  ProgramArgs read_args(const StepValues& v) const override {
    ProgramArgs a;
    a.argv = {"kubeadm"};
    const auto args = v.list("args");
    a.argv.insert(a.argv.end(), args.begin(), args.end());
    a.timeout = v.seconds("timeout", a.timeout);
    read_writes(v, a);
    return a;
  }

  // kubeadm is there, of the cluster's minor version.
  void preflight(Runner& r, const ProgramArgs&, Preflight& pf) const override {
    if (!r.tools.kubeadm) {
      pf.fails.push_back("kubeadm not found in PATH: install the kubeadm package of the cluster's version first");
      return;
    }
    const auto recorded = r.gen.meta.node.pod_version("kube-apiserver");
    const auto& have = r.tools.kubeadm_version;
    if (!recorded.empty() && etcd::minor_of(have) != etcd::minor_of(recorded))
      pf.warns.push_back(fmt::format("kubeadm is {}, the cluster ran {}: install kubeadm {} to rebuild it", have,
                                     recorded, recorded));
    else
      pf.ok(fmt::format("kubeadm {} (the cluster ran {})", have, recorded.empty() ? "?" : recorded));
  }
};

}  // namespace

const StepDef& kubeadm_step_def() {
  static const KubeadmStep def;
  return def;
}

}  // namespace kdr::restore
