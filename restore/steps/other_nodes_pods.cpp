// Step type `other-nodes-pods` (playbook restore-etcd-cluster): stops or starts static pods on
// every other member's node, so that no kube-apiserver serves the old data while the cluster is
// restored. Over SSH (`kdr pods stop|start NAMES --wait S` there) for the nodes the config's
// `nodes:` names, each change journaled here before it is made and undone by the opposite
// command; for the others the plan shows the command, and the guided restore asks before it
// goes on.
#include <fmt/format.h>

#include "restore/other_nodes.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

struct OtherPodsArgs : StepArgs {
  bool stop = true;
  std::vector<std::string> pods;
  int timeout_s = 120;
};

std::vector<std::string> pods_args(bool stop, const std::vector<std::string>& pods, int timeout_s) {
  std::vector<std::string> args = {"pods", stop ? "stop" : "start"};
  args.insert(args.end(), pods.begin(), pods.end());
  args.push_back("--wait");
  args.push_back(std::to_string(timeout_s));
  return args;
}

class OtherNodesPods final : public TypedStep<OtherPodsArgs> {
 public:
  StepType type() const override { return StepType::other_nodes_pods; }
  std::string_view name() const override { return "other-nodes-pods"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override { return {{"action", true}, {"pods", true}, {"timeout", false}}; }

  std::optional<std::string> cannot_serve(const GenerationOffer& offer, const nlohmann::json&) const override {
    if (offer.etcd_members < 2) return "it recorded no other etcd member";
    return std::nullopt;
  }

  std::string action_text(const Action& a) const override {
    if (a.op != ActionOp::pods_stop && a.op != ActionOp::pods_start) return StepDef::action_text(a);
    return fmt::format("{} {} on {} over ssh (a rollback {} them there)", a.op == ActionOp::pods_stop ? "stopped" : "started",
                       fmt::join(a.remote.value("pods", std::vector<std::string>{}), ", "), a.to,
                       a.op == ActionOp::pods_stop ? "starts" : "stops");
  }

  void undo(Runner& r, const Action& a) const override {
    if (a.op != ActionOp::pods_stop && a.op != ActionOp::pods_start) return r.undo_file_action(a);
    failpoint("rollback-before-action", ++r.actions_undone);
    const bool stop_again = a.op == ActionOp::pods_start;
    const auto pods = a.remote.value("pods", std::vector<std::string>{});
    const int timeout_s = a.remote.value("timeout", 120);
    const auto args = pods_args(stop_again, pods, timeout_s);
    run_on_member(r, member_for_undo(r, a.to, args), args, timeout(timeout_s));
    failpoint("rollback-after-action", r.actions_undone);
  }

 protected:
  OtherPodsArgs read_args(const StepValues& v) const override {
    OtherPodsArgs a;
    a.stop = v.choice("action", {"stop", "start"}, "stop") == "stop";
    a.pods = v.list("pods");
    if (a.pods.empty()) v.fail("pods", "name the pods, e.g. [kube-apiserver]");
    a.timeout_s = v.seconds("timeout", 120);
    return a;
  }

  std::string title_of(const OtherPodsArgs& a) const override {
    return fmt::format("other-nodes-pods {} {}", a.stop ? "stop" : "start", fmt::join(a.pods, ","));
  }

  std::vector<std::string> plan_text(const Runner& r, const OtherPodsArgs& a) const override {
    std::vector<std::string> out = {fmt::format("{} {} on every other member's node{}", a.stop ? "stop" : "start",
                                                fmt::join(a.pods, ", "),
                                                a.stop ? " (no kube-apiserver serves the old data)" : "")};
    for (const auto& m : other_members(r))
      out.push_back(fmt::format("  on {}, {}", m.where(), how_it_runs(m, pods_args(a.stop, a.pods, a.timeout_s))));
    return out;
  }

  std::string ask_line(const OtherPodsArgs& a) const override {
    return fmt::format("{} {} on the other nodes (those without a nodes: entry are yours: run the command shown on "
                       "each, then answer)",
                       a.stop ? "stop" : "start", fmt::join(a.pods, ", "));
  }

  void preflight(Runner& r, const OtherPodsArgs&, Preflight& pf) const override { check_other_nodes(r, pf); }

  void perform(Runner& r, const OtherPodsArgs& a) const override {
    const auto args = pods_args(a.stop, a.pods, a.timeout_s);
    for (const auto& m : other_members(r)) {
      if (!m.node) {
        r.ctx.out.info("      on {} (by hand): {}", m.where(), typed_kdr(args));
        continue;
      }
      Action act;
      act.op = a.stop ? ActionOp::pods_stop : ActionOp::pods_start;
      act.to = m.name;
      act.remote = {{"pods", a.pods}, {"timeout", a.timeout_s}};
      act.undo_order = a.stop ? UndoOrder::last : UndoOrder::first;
      r.act(act, [&] { run_on_member(r, m, args, timeout(a.timeout_s)); });
    }
  }

 private:
  static std::chrono::milliseconds timeout(int timeout_s) { return std::chrono::seconds(timeout_s + 60); }
};

}  // namespace

const StepDef& other_nodes_pods_step_def() {
  static const OtherNodesPods def;
  return def;
}

}  // namespace kdr::restore
