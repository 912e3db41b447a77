#include "restore/steps/etcd_member.hpp"

#include <fmt/format.h>

#include "backup/etcd_snapshot.hpp"
#include "core/error.hpp"
#include "core/etcd_layout.hpp"

namespace kdr::restore {

ClusterAccess cluster_access(const Runner& r) { return cluster_access(r, r.gen.meta.etcd.members); }

nlohmann::json members_json(const ClusterAccess& c) {
  auto out = nlohmann::json::array();
  for (const auto& m : c.look.others) out.push_back({{"name", m.record.name}, {"client_urls", m.record.client_urls}});
  return out;
}

std::vector<core::EtcdMemberRecord> members_from_json(const nlohmann::json& j) {
  std::vector<core::EtcdMemberRecord> out;
  for (const auto& m : j) {
    core::EtcdMemberRecord r;
    r.name = m.value("name", "");
    r.client_urls = m.value("client_urls", std::vector<std::string>{});
    out.push_back(r);
  }
  return out;
}

ClusterAccess cluster_access(const Runner& r, const std::vector<core::EtcdMemberRecord>& members) {
  ClusterAccess c;
  auto pods = r.live_pods();
  if (!core::find_pod(pods, "etcd")) pods = r.held_pods();
  const auto layout = core::detect_etcd_layout(r.ctx.config, r.ctx.root, pods);
  c.tls = backup::client_endpoint(backup::etcd_target(r.ctx, layout));
  c.name = r.plan_etcd().value("name", "");
  c.peer_url = r.plan_etcd().value("peer_url", "");
  c.look = look_at_other_members(r.ctx, members, c.name, c.tls);
  return c;
}

std::optional<ClusterAccess> check_cluster(Runner& r, Preflight& pf) {
  if (r.gen.meta.etcd.members.size() < 2) {
    pf.fails.push_back(fmt::format("generation {} recorded {} etcd member{}: a member is replaced through the others "
                                   "of an HA cluster; for a single member, see restore-etcd-snapshot",
                                   r.gen.id, r.gen.meta.etcd.members.size(),
                                   r.gen.meta.etcd.members.size() == 1 ? "" : "s"));
    return std::nullopt;
  }
  try {
    auto c = cluster_access(r);
    if (!c.look.quorum()) {
      std::string lines;
      for (const auto& m : c.look.others) lines += fmt::format("\n        {}", m.text());
      pf.fails.push_back(fmt::format("no other member of the cluster serves reads: it has lost quorum, and this member "
                                     "cannot be replaced through it:{}\n      restore the cluster from a snapshot "
                                     "instead (restore-etcd-snapshot on one member, then join the others)",
                                     lines));
      return std::nullopt;
    }
    pf.ok(fmt::format("the cluster keeps quorum without this node: {} serve{} reads", c.serving_text(),
                      c.look.serving().size() == 1 ? "s" : ""));
    return c;
  } catch (const core::Error& e) {
    pf.fails.push_back(fmt::format("the other etcd members cannot be asked: {}", e.what()));
    return std::nullopt;
  }
}

}  // namespace kdr::restore
