// Step type `check-nodes`: after etcd's data was replaced, reads the restored etcd's Node
// objects and pods, asks every node's kubelet which pods it runs (as kube-apiserver asks it,
// restore/kubelets.hpp), and says which nodes no longer answer (with the pods the restored etcd
// binds to them) and which pods kubelets run that the restored etcd lacks. The report is also
// written to nodes.json in the restore's folder. Changes nothing, and never fails the restore:
// what it cannot read it says it could not check.
#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "restore/kubelets.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

class CheckNodes final : public TypedStep<NoArgs> {
 public:
  StepType type() const override { return StepType::check_nodes; }
  std::string_view name() const override { return "check-nodes"; }
  bool changes_node() const override { return false; }
  std::vector<StepKey> keys() const override { return {}; }

 protected:
  NoArgs read_args(const StepValues&) const override { return {}; }

  std::vector<std::string> plan_text(const Runner& r, const NoArgs&) const override {
    const auto& k = r.ctx.config.kubelet;
    return {"read the restored etcd's Node objects and pods; ask each node's kubelet which pods it runs",
            fmt::format("  (GET https://NODE:{}/pods with {}; its serving certificate {})",
                        k.port, k.client_cert, k.ca.empty() ? "not checked, as kube-apiserver's default" : "checked against " + k.ca),
            "list the nodes whose kubelet does not answer, with the pods bound to them, and the pods kubelets run",
            "that the restored etcd lacks (phantoms); changes nothing"};
  }

  void perform(Runner& r, const NoArgs&) const override {
    std::vector<NodeCheck> checks;
    ClusterObjects objects;
    try {
      objects = read_cluster_objects(r.ctx);
      checks = check_nodes(r.ctx, objects);
    } catch (const core::Error& e) {
      r.ctx.out.warn("the nodes cannot be checked: the restored etcd's Node objects and pods were not read: {}", e.what());
      return;
    }
    for (const auto& p : objects.problems) r.ctx.out.warn("not read: {}", p);
    for (const auto& line : node_check_lines(checks)) {
      if (line.warning) r.ctx.out.warn("{}", line.text);
      else r.ctx.out.info("      {}", line.text);
    }
    if (r.journal) {
      nlohmann::json report = {{"nodes", node_checks_json(checks)}, {"problems", objects.problems}};
      core::write_file_atomic(r.restore_dir() / "nodes.json", report.dump(2) + "\n");
    }
  }
};

}  // namespace

const StepDef& check_nodes_step_def() {
  static const CheckNodes def;
  return def;
}

}  // namespace kdr::restore
