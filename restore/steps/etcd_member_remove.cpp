// Step type `etcd-member-remove` (playbook replace-etcd-member): through a member that serves,
// removes this node's member from the cluster, so that the others stop counting on it and it
// can join again as a new member (on a replacement machine under another name or address:
// the old node's member, PlanEtcd::replaces_name). etcd never gives a removed member id back: a rollback
// cannot re-add it, and says so.
#include <fmt/format.h>

#include "core/error.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"
#include "restore/steps/etcd_member.hpp"

namespace kdr::restore {

namespace {

class EtcdMemberRemove final : public TypedStep<MemberArgs> {
 public:
  std::string action_text(const Action& a) const override {
    if (a.op != ActionOp::etcd_member_remove) return StepDef::action_text(a);
    return fmt::format("removed etcd member {} ({}) through {} (a rollback cannot add it back)",
                       a.etcd.value("name", ""), a.etcd.value("id", ""), a.to);
  }
  StepType type() const override { return StepType::etcd_member_remove; }
  std::string_view name() const override { return "etcd-member-remove"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override { return member_keys(); }

  std::optional<std::string> cannot_serve(const GenerationOffer& offer, const nlohmann::json&) const override {
    if (!offer.etcd_on_node) return "etcd did not run on the node as a static pod";
    if (offer.etcd_members < 2) return "it recorded no other etcd member to join again through";
    return std::nullopt;
  }

  void undo(Runner& r, const Action& a) const override {
    if (a.op != ActionOp::etcd_member_remove) return r.undo_file_action(a);
    r.ctx.out.warn(
        "      member {} ({}) was removed from the etcd cluster and cannot be added back under its id: with the old "
        "data dir put back, this node's etcd is refused by the others. Run replace-etcd-member again to join it as "
        "a new member",
        a.etcd.value("name", ""), a.etcd.value("id", ""));
  }

 protected:
  MemberArgs read_args(const StepValues& v) const override { return member_args(v); }

  std::vector<std::string> plan_text(const Runner& r, const MemberArgs&) const override {
    const auto& e = r.plan.etcd;
    const bool renamed = !e.replaces_name.empty();
    return {fmt::format("through a member that serves, remove {} member {} ({}) from the etcd cluster: the "
                        "others stop counting on it",
                        renamed ? "the old node's" : "this node's", renamed ? e.replaces_name : e.name,
                        renamed ? e.replaces_peer_url : e.peer_url),
            "note: etcd never gives a removed member id back: a rollback puts the old data dir and manifest back, "
            "but cannot add the old member again (run replace-etcd-member again instead)"};
  }

  void preflight(Runner& r, const MemberArgs& a, Preflight& pf) const override {
    const auto c = check_cluster(r, a, pf);
    if (!c) return;
    try {
      const auto members = c->healthy(r.ctx)->members();
      const auto me = find_member(members, c->replaces_name, c->replaces_peer_url);
      if (me)
        pf.ok(fmt::format("this node's member {} ({}) is one of the cluster's {} members: it will be removed",
                          me->name.empty() ? c->replaces_name : me->name, me->hex_id(), members.size()));
      else
        pf.ok(fmt::format("this node's member {} is not in the cluster any more (removed earlier)", c->replaces_name));
    } catch (const core::Error& e) {
      pf.fails.push_back(fmt::format("the cluster's member list could not be read: {}", e.what()));
    }
  }

  void perform(Runner& r, const MemberArgs& a) const override {
    const auto c = cluster_access(r, a);
    const auto client = c.healthy(r.ctx);
    const auto me = find_member(client->members(), c.replaces_name, c.replaces_peer_url);
    if (!me) {
      r.ctx.out.info("      {} is not a member of the cluster (removed earlier)", c.replaces_name);
      return;
    }
    Action act;
    act.op = ActionOp::etcd_member_remove;
    act.from = c.replaces_peer_url;
    act.to = client->endpoint().url;
    act.etcd = {{"id", me->hex_id()}, {"name", me->name}, {"peer_urls", me->peer_urls}};
    r.act(act, [&] { remove_member_when_ready(r, *client, me->id, fmt::format("member {} ({})", me->name, me->hex_id())); });
    r.ctx.out.info("      removed member {} ({}) through {}", me->name, me->hex_id(), client->endpoint().url);
  }
};

}  // namespace

const StepDef& etcd_member_remove_step_def() {
  static const EtcdMemberRemove def;
  return def;
}

}  // namespace kdr::restore
