// Step type `etcd-member-add` (playbook replace-etcd-member): through a member that serves, adds
// this node back with its peer URL, as a learner by default (a member without a vote, promoted
// by etcd-member-promote once it has caught up; kubeadm does the same). Undone by removing the
// member it added.
#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/wait.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"
#include "restore/steps/etcd_member.hpp"

namespace kdr::restore {

namespace {

struct AddArgs : MemberArgs {
  bool learner = true;
};

bool has_peer(const etcd::EtcdClusterMember& m, const std::string& url) {
  return std::find(m.peer_urls.begin(), m.peer_urls.end(), url) != m.peer_urls.end();
}

// etcd refuses a member change while the cluster has not settled since the last one (gRPC
// Unavailable, "etcdserver: unhealthy cluster", e.g. right after a member was removed): retried
// for up to a minute, as kubeadm does.
etcd::EtcdClusterMember add_when_ready(Runner& r, etcd::EtcdApi& client, const std::string& peer_url, bool learner) {
  etcd::EtcdClusterMember added;
  const auto outcome = core::wait_until(
      {.timeout_s = 60, .every = std::chrono::milliseconds(500)},
      [&]() -> std::optional<std::string> {
        try {
          added = client.add_member({peer_url}, learner);
          return std::nullopt;
        } catch (const etcd::EtcdApiError& e) {
          // The change may have gone through although the answer was an error (a leader that
          // changed meanwhile): the member list says.
          for (const auto& m : client.members())
            if (m.peer_urls == std::vector<std::string>{peer_url}) {
              added = m;
              return std::nullopt;
            }
          if (!e.unavailable() && e.grpc_code() != 5) throw;  // 5: not found, while the cluster settles
          return std::string(e.what());
        }
      },
      [&](double s, const std::string& still) { r.ctx.out.info("      {:.0f} s: etcd not ready for a new member: {}", s, still); });
  if (!outcome.done)
    throw core::Error(fmt::format("etcd did not accept the new member within 60 s: {}", outcome.still));
  return added;
}

// Removes the member with `peer_url` (when there is one), as soon as etcd accepts the change.
void remove_when_ready(Runner& r, etcd::EtcdApi& client, const std::string& peer_url) {
  for (const auto& m : client.members())
    if (has_peer(m, peer_url)) {
      remove_member_when_ready(r, client, m.id, fmt::format("member {} ({})", m.hex_id(), peer_url));
      r.ctx.out.info("      removed member {} ({}), which this restore added", m.hex_id(), peer_url);
    }
}

class EtcdMemberAdd final : public TypedStep<AddArgs> {
 public:
  std::string action_text(const Action& a) const override {
    if (a.op != ActionOp::etcd_member_add) return StepDef::action_text(a);
    return fmt::format("added an etcd member with peer URL {} through {} (a rollback removes it)", a.from, a.to);
  }
  StepType type() const override { return StepType::etcd_member_add; }
  std::string_view name() const override { return "etcd-member-add"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override {
    auto k = member_keys();
    k.push_back({"learner", false});
    return k;
  }

  void undo(Runner& r, const Action& a) const override {
    if (a.op != ActionOp::etcd_member_add) return r.undo_file_action(a);
    failpoint("rollback-before-action", ++r.actions_undone);
    const auto client = serving_member(r, members_from_json(a.etcd.value("others", nlohmann::json::array())),
                                       a.etcd.value("cluster_id", ""), 60);
    remove_when_ready(r, *client, a.from);
    failpoint("rollback-after-action", r.actions_undone);
  }

 protected:
  AddArgs read_args(const StepValues& v) const override {
    AddArgs a;
    read_member_keys(v, a);
    a.learner = v.flag("learner", true);
    return a;
  }

  std::vector<std::string> plan_text(const Runner& r, const AddArgs& a) const override {
    return {fmt::format("through a member that serves, add this node back with peer URL {} {}",
                        r.plan.etcd.peer_url,
                        a.learner ? "as a learner (no vote until it has caught up and is promoted)"
                                  : "as a voting member")};
  }

  void preflight(Runner& r, const AddArgs& a, Preflight& pf) const override {
    const auto c = check_cluster(r, a, pf);
    if (!c) return;
    try {
      for (const auto& m : c->healthy(r.ctx)->members())
        if (has_peer(m, c->peer_url) && m.name != c->name && !m.name.empty())
          pf.fails.push_back(fmt::format("peer URL {} belongs to member {} ({}), not to this node's {}", c->peer_url,
                                         m.name, m.hex_id(), c->name));
    } catch (const core::Error& e) {
      pf.fails.push_back(fmt::format("the cluster's member list could not be read: {}", e.what()));
    }
  }

  void perform(Runner& r, const AddArgs& a) const override {
    const auto c = cluster_access(r, a);
    const auto client = c.healthy(r.ctx);
    for (const auto& m : client->members())
      if (has_peer(m, c.peer_url)) {
        // Added by this restore before it was resumed: not started yet, or a learner. A started
        // voting member is the old one, still in the cluster.
        if (!m.name.empty() && !m.learner)
          throw core::Error(fmt::format("{} is still a voting member of the cluster ({}): remove it first "
                                        "(etcd-member-remove)",
                                        m.name, m.hex_id()));
        r.ctx.out.info("      {} is a member already ({}{})", c.peer_url, m.hex_id(), m.learner ? ", a learner" : "");
        return;
      }
    Action act;
    act.op = ActionOp::etcd_member_add;
    act.from = c.peer_url;
    act.to = client->endpoint().url;
    act.etcd = {{"name", c.name}, {"learner", a.learner}, {"others", members_json(c)}, {"cluster_id", a.cluster_id}};
    // Removed again while this node's etcd still runs: in a cluster of two (the last member
    // to join, rolled back first), stopping it first would leave the other without quorum.
    act.undo_order = UndoOrder::first;
    etcd::EtcdClusterMember added;
    r.act(act, [&] { added = add_when_ready(r, *client, c.peer_url, a.learner); });
    r.ctx.out.info("      added {} ({}) as member {}{} through {}", c.name, c.peer_url, added.hex_id(),
                   a.learner ? ", a learner" : "", client->endpoint().url);
  }
};

}  // namespace

const StepDef& etcd_member_add_step_def() {
  static const EtcdMemberAdd def;
  return def;
}

}  // namespace kdr::restore
