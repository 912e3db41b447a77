// Step type `etcd-member-invite` (playbook restore-etcd-cluster): once this node serves the
// restored data as a new one-member cluster, every other member the generation recorded joins
// it, one after the other, through
//   kdr restore replace-etcd-member --yes --set via=<this node's client URL> --set cluster_id=<id>
// run on that node: over SSH for the nodes the config's `nodes:` names (each join journaled
// here first; a resumed invite resumes or skips that node's own journaled join; a rollback
// rolls that node's join back there), else printed for the operator. Each joining node's kdr
// checks, before it changes anything, that the member it goes through is that cluster. The
// cluster id and token are kept in <journal>/cluster.json. When every member joined over SSH,
// the step ends by checking that the cluster has them all as started voting members.
#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/json_util.hpp"
#include "core/ssh.hpp"
#include "etcd/tool.hpp"
#include "restore/other_nodes.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

constexpr auto join_timeout = std::chrono::minutes(20);

std::vector<std::string> join_args(const std::string& via, const std::string& cluster_id) {
  return {"restore", "replace-etcd-member", "--yes", "--set", "via=" + via, "--set", "cluster_id=" + cluster_id};
}

// This node's client URL as the generation recorded it (the other members reach it there).
std::string own_client_url(const Runner& r, const std::string& fallback) {
  const auto& name = r.plan.etcd.name;
  for (const auto& m : r.gen.meta.etcd.members)
    if (m.name == name && !m.client_urls.empty()) return m.client_urls.front();
  return fallback;
}

// The restores on m's node that joined (or were joining) the cluster `cluster_id`.
std::vector<nlohmann::json> joins_there(Runner& r, const PeerNode& m, const std::string& cluster_id) {
  std::vector<nlohmann::json> out;
  for (const auto& rec : member_restores(r, m)) {
    if (core::json_text_or(rec, "playbook") != "replace-etcd-member") continue;
    const auto vars = rec.value("vars", nlohmann::json::object());
    if (vars.is_object() && core::json_text_or(vars, "cluster_id") == cluster_id) out.push_back(rec);
  }
  return out;
}

// Joins m over SSH; a join that node already journaled for this cluster is resumed or, when
// done, left as it is.
void join_over_ssh(Runner& r, const PeerNode& m, const std::string& via, const std::string& cluster_id) {
  for (const auto& rec : joins_there(r, m, cluster_id)) {
    const auto state = core::json_text_or(rec, "state");
    const auto id = core::json_text_or(rec, "id");
    if (state == to_string(RestoreState::done)) {
      r.ctx.out.info("      {} joined earlier (its restore {})", m.name, id);
      return;
    }
    if (state != to_string(RestoreState::rolled_back) && state != to_string(RestoreState::planned)) {
      run_on_member(r, m, {"restore", "--resume", id, "--yes"}, join_timeout);
      return;
    }
  }
  run_on_member(r, m, join_args(via, cluster_id), join_timeout);
}

// Every member the generation recorded is in the cluster, started and voting.
void check_all_joined(Runner& r, const etcd::EtcdEndpoint& endpoint) {
  const auto members = r.ctx.etcd->connect(endpoint)->members();
  std::vector<std::string> missing;
  for (const auto& rec : r.gen.meta.etcd.members) {
    const auto it = std::find_if(members.begin(), members.end(),
                                 [&](const etcd::EtcdClusterMember& m) { return m.name == rec.name; });
    if (it == members.end())
      missing.push_back(rec.name + " (not a member)");
    else if (it->learner)
      missing.push_back(rec.name + " (still a learner)");
  }
  if (!missing.empty())
    throw core::Error(fmt::format("the cluster lacks {}: see that node's restore (kdr restores there)",
                                  fmt::join(missing, ", ")));
  r.ctx.out.info("      the cluster has {} started voting members", members.size());
}

class EtcdMemberInvite final : public TypedStep<NoArgs> {
 public:
  StepType type() const override { return StepType::etcd_member_invite; }
  std::string_view name() const override { return "etcd-member-invite"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override { return {}; }

  std::optional<std::string> cannot_serve(const GenerationOffer& offer, const nlohmann::json&) const override {
    if (offer.etcd_members < 2) return "it recorded no other etcd member to join the restored cluster";
    return std::nullopt;
  }

  // A join done over SSH is rolled back on its node, with that node's own journal: its old
  // data dir and manifest go back (its removed member id cannot come back).
  std::string action_text(const Action& a) const override {
    if (a.op != ActionOp::member_join) return StepDef::action_text(a);
    return fmt::format("joined {} to cluster {} over ssh, journaled on that node (a rollback rolls it back there)",
                       a.to, core::json_text_or(a.remote, "cluster_id"));
  }

  void undo(Runner& r, const Action& a) const override {
    if (a.op != ActionOp::member_join) return r.undo_file_action(a);
    failpoint("rollback-before-action", ++r.actions_undone);
    const auto cluster_id = core::json_text_or(a.remote, "cluster_id");
    const auto m = member_for_undo(r, a.to, {"restore", "--rollback", "<its join of cluster " + cluster_id + ">"});
    for (const auto& rec : joins_there(r, m, cluster_id)) {
      const auto state = core::json_text_or(rec, "state");
      if (state == to_string(RestoreState::rolled_back) || state == to_string(RestoreState::planned)) continue;
      run_on_member(r, m, {"restore", "--rollback", core::json_text_or(rec, "id"), "--yes"}, join_timeout);
    }
    failpoint("rollback-after-action", r.actions_undone);
  }

 protected:
  NoArgs read_args(const StepValues&) const override { return {}; }

  std::string ask_line(const NoArgs&) const override {
    return "join the other members to the restored cluster (those without a nodes: entry are yours: run the "
           "command shown on each, one after the other)";
  }

  std::vector<std::string> plan_text(const Runner& r, const NoArgs&) const override {
    const auto via = own_client_url(r, "<this node's client URL>");
    std::vector<std::string> out = {
        "once this node serves the restored data as a new one-member cluster, each other member joins it, one after "
        "the other (on its node, journaled there: etcd stopped, the stale member removed, the old data dir moved "
        "aside, added back as a learner, manifest rewritten, caught up and promoted):"};
    for (const auto& m : other_members(r))
      out.push_back(fmt::format("  on {}, {}", m.where(), how_it_runs(m, join_args(via, "<the new cluster id>"))));
    return out;
  }

  void preflight(Runner& r, const NoArgs&, Preflight& pf) const override {
    if (r.gen.meta.etcd.members.size() < 2) {
      pf.fails.push_back(fmt::format("generation {} recorded {} etcd member(s): restore-etcd-cluster is for a cluster "
                                     "of several; for one member, see restore-etcd-snapshot",
                                     r.gen.id, r.gen.meta.etcd.members.size()));
      return;
    }
    check_other_nodes(r, pf);
  }

  void perform(Runner& r, const NoArgs&) const override {
    const auto endpoint = etcd::node_etcd_endpoint(r.ctx);
    const auto status = r.ctx.etcd->connect(endpoint)->status();
    const auto via = own_client_url(r, endpoint.url);
    core::write_file_atomic(r.restore_dir() / "cluster.json",
                            nlohmann::json{{"cluster_id", status.cluster_id},
                                           {"token", "kdr-" + r.plan.id},
                                           {"via", via}}
                                    .dump(2) +
                                "\n",
                            0600);
    r.ctx.out.info("      this node is now cluster {} (token kdr-{}), serving at {}", status.cluster_id, r.plan.id,
                   via);
    bool by_hand = false;
    for (const auto& m : other_members(r)) {
      if (!m.node) {
        if (!by_hand) r.ctx.out.info("      join the other members, one after the other, each on its own node:");
        by_hand = true;
        r.ctx.out.info("        on {}: {}", m.where(), typed_kdr(join_args(via, status.cluster_id)));
        continue;
      }
      Action act;
      act.op = ActionOp::member_join;
      act.to = m.name;
      act.remote = {{"cluster_id", status.cluster_id}};
      act.undo_order = UndoOrder::first;  // rolled back there through this node's etcd
      r.act(act, [&] { join_over_ssh(r, m, via, status.cluster_id); });
    }
    if (!by_hand) check_all_joined(r, endpoint);
  }
};

}  // namespace

const StepDef& etcd_member_invite_step_def() {
  static const EtcdMemberInvite def;
  return def;
}

}  // namespace kdr::restore
