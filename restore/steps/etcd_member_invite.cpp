// Step type `etcd-member-invite` (playbook restore-etcd-cluster): once this node serves the
// restored data as a new one-member cluster, names for every other member the generation
// recorded the one command that joins it to this cluster, run on that node:
//   kdr restore replace-etcd-member --yes --set via=<this node's client URL> --set cluster_id=<id>
// Each joining node's kdr checks, before it changes anything, that the member it goes through
// is that cluster. The cluster id and token are kept in <journal>/cluster.json. Changes nothing.
#include <fmt/format.h>

#include "backup/etcd_snapshot.hpp"
#include "core/error.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

class EtcdMemberInvite final : public TypedStep<NoArgs> {
 public:
  StepType type() const override { return StepType::etcd_member_invite; }
  std::string_view name() const override { return "etcd-member-invite"; }
  bool changes_node() const override { return false; }
  std::vector<StepKey> keys() const override { return {}; }

  std::optional<std::string> cannot_serve(const GenerationOffer& offer, const nlohmann::json&) const override {
    if (offer.etcd_members < 2) return "it recorded no other etcd member to join the restored cluster";
    return std::nullopt;
  }

 protected:
  NoArgs read_args(const StepValues&) const override { return {}; }

  std::vector<std::string> plan_text(const Runner& r, const NoArgs&) const override {
    std::vector<std::string> out = {
        "once this node serves the restored data as a new one-member cluster, show for each other member the "
        "command that joins it (run on that node, in turn):"};
    for (const auto& m : r.gen.meta.etcd.members)
      if (m.name != r.plan_etcd().value("name", ""))
        out.push_back(fmt::format("  on {} ({}): kdr restore replace-etcd-member --yes --set via=<this node's client "
                                  "URL> --set cluster_id=<the new cluster's id>",
                                  m.name, m.first_peer_url()));
    return out;
  }

  void preflight(Runner& r, const NoArgs&, Preflight& pf) const override {
    if (r.gen.meta.etcd.members.size() < 2)
      pf.fails.push_back(fmt::format("generation {} recorded {} etcd member(s): restore-etcd-cluster is for a cluster "
                                     "of several; for one member, see restore-etcd-snapshot",
                                     r.gen.id, r.gen.meta.etcd.members.size()));
  }

  void perform(Runner& r, const NoArgs&) const override {
    const auto endpoint = backup::node_etcd_endpoint(r.ctx);
    const auto status = r.ctx.etcd->connect(endpoint)->status();
    const auto name = r.plan_etcd().value("name", "");
    std::string via;
    for (const auto& m : r.gen.meta.etcd.members)
      if (m.name == name && !m.client_urls.empty()) via = m.client_urls.front();
    if (via.empty()) via = endpoint.url;
    core::write_file_atomic(r.restore_dir() / "cluster.json",
                            nlohmann::json{{"cluster_id", status.cluster_id},
                                           {"token", "kdr-" + r.plan.id},
                                           {"via", via}}
                                    .dump(2) +
                                "\n",
                            0600);
    r.ctx.out.info("      this node is now cluster {} (token kdr-{}), serving at {}", status.cluster_id, r.plan.id,
                   via);
    r.ctx.out.info("      join the other members, one after the other, each on its own node:");
    for (const auto& m : r.gen.meta.etcd.members)
      if (m.name != name)
        r.ctx.out.info("        on {} ({}): kdr restore replace-etcd-member --yes --set via={} --set cluster_id={}",
                       m.name, m.first_peer_url(), via, status.cluster_id);
  }
};

}  // namespace

const StepDef& etcd_member_invite_step() {
  static const EtcdMemberInvite def;
  return def;
}

}  // namespace kdr::restore
