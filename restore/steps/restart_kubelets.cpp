// Step type `restart-kubelets`: after etcd's data was replaced, restarts the kubelets, as the
// documented etcd restore procedure requires (a kubelet that keeps running keeps the pods the
// restored etcd no longer knows): this node's with the config's kubelet.restart; every other
// node of the config's `nodes:` through its kdr over SSH (`kdr kubelet restart` there); for every
// other node the restored etcd lists (workers among them), the command to run there is printed.
// A kubelet that cannot be restarted is a warning with its command: the restored data is not
// at stake. Nothing to undo (a rollback says so).
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/process.hpp"
#include "restore/kubelets.hpp"
#include "restore/other_nodes.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

const std::vector<std::string> remote_restart = {"kubelet", "restart"};

// This node's name among the Node objects: the rebuilt node's new name, else its etcd member's
// (kubeadm names both after the node), else the host name.
std::string this_node(const Runner& r) {
  const auto renamed = r.var(Var::node_name);
  if (!renamed.empty()) return renamed;
  if (!r.plan.etcd.name.empty()) return r.plan.etcd.name;
  return r.ctx.host->hostname();
}

// A member the restored etcd's Node objects do not give an address for: reached by its name.
ClusterNode named(const std::string& name) {
  ClusterNode n;
  n.name = name;
  return n;
}

class RestartKubelets final : public TypedStep<NoArgs> {
 public:
  StepType type() const override { return StepType::restart_kubelets; }
  std::string_view name() const override { return "restart-kubelets"; }
  bool changes_node() const override { return true; }
  Undo undo_kind() const override { return Undo::untracked; }
  std::vector<StepKey> keys() const override { return {}; }

 protected:
  NoArgs read_args(const StepValues&) const override { return {}; }

  std::vector<std::string> plan_text(const Runner& r, const NoArgs&) const override {
    const auto& k = r.ctx.config.kubelet;
    std::vector<std::string> out = {"restart the kubelets (a kubelet that keeps running keeps pods the restored etcd does not know)"};
    const auto cmd = core::describe_argv(k.restart);
    if (!r.ctx.root.is_real_root() && k.default_restart())
      out.push_back(fmt::format("  this node ({}): {} is not run under --root (a sandbox): shown for you to run", this_node(r), cmd));
    else
      out.push_back(fmt::format("  this node ({}): {}", this_node(r), cmd));
    for (const auto& m : other_members(r))
      out.push_back(fmt::format("  {}: {}", m.name, m.node ? how_it_runs(m, remote_restart)
                                                            : "by hand: " + kubelet_restart_by_hand(named(m.name))));
    out.push_back("  every other node the restored etcd lists: the command to run there is shown");
    return out;
  }

  std::string ask_line(const NoArgs&) const override {
    return "restart the kubelets (this node's, and over ssh the nodes: ones; the others' commands are shown)";
  }

  void preflight(Runner& r, const NoArgs&, Preflight& pf) const override {
    if (!other_members(r).empty()) check_other_nodes(r, pf);
  }

  void perform(Runner& r, const NoArgs&) const override {
    const auto self = this_node(r);
    std::set<std::string> done = {self};
    const auto local = restart_local_kubelet(r.ctx);
    if (local.ran && local.ok) r.ctx.out.info("      {}: kubelet restarted ({})", self, local.command);
    else if (local.ran) r.ctx.out.warn("{}: the kubelet restart failed ({}): {}; run it: {}", self, local.command, local.text, local.command);
    else r.ctx.out.warn("{}: {}: {}", self, local.command, local.text);

    std::vector<std::string> by_hand;
    for (const auto& m : other_members(r)) {
      if (!m.node) continue;
      done.insert(m.name);
      try {
        run_on_member(r, m, remote_restart, std::chrono::seconds(180));
      } catch (const core::Error& e) {
        r.ctx.out.warn("{}: the kubelet was not restarted: {}; run there: {}", m.name, e.what(), typed_kdr(remote_restart));
      }
    }
    // Every other node the restored etcd lists, at the address its Node object gives; then the
    // members it does not list, by name.
    try {
      for (const auto& n : read_cluster_objects(r.ctx, Pods::skip).nodes)
        if (done.insert(n.name).second) by_hand.push_back(fmt::format("{}: {}", n.name, kubelet_restart_by_hand(n)));
    } catch (const core::Error& e) {
      r.ctx.out.warn("the restored etcd's Node objects were not read ({}): restart the kubelet on every worker node too",
                     e.what());
    }
    for (const auto& m : other_members(r))
      if (done.insert(m.name).second) by_hand.push_back(fmt::format("{}: {}", m.name, kubelet_restart_by_hand(named(m.name))));
    if (!by_hand.empty()) {
      r.ctx.out.warn("restart the kubelet on {} more node{} (kdr does not reach them):", by_hand.size(),
                     by_hand.size() == 1 ? "" : "s");
      for (const auto& line : by_hand) r.ctx.out.info("      {}", line);
    }
  }
};

}  // namespace

const StepDef& restart_kubelets_step_def() {
  static const RestartKubelets def;
  return def;
}

}  // namespace kdr::restore
