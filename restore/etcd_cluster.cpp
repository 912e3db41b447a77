#include "restore/etcd_cluster.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::restore {

std::string OtherMember::text() const {
  if (!answers) return fmt::format("{} ({}): does not answer ({})", record.name, url, problem);
  return fmt::format("{} ({}): answers as cluster {}, {}", record.name, url, cluster_id,
                     serves ? std::string("serves reads (the cluster has quorum)")
                            : fmt::format("serves no read ({})", problem));
}

bool ClusterLook::quorum() const { return !serving().empty(); }

std::vector<const OtherMember*> ClusterLook::serving() const {
  std::vector<const OtherMember*> out;
  for (const auto& m : others)
    if (m.serves) out.push_back(&m);
  return out;
}

ClusterLook look_at_other_members(const core::Context& ctx, const std::vector<core::EtcdMemberRecord>& members,
                                  const std::string& this_member, const etcd::EtcdEndpoint& tls,
                                  std::chrono::milliseconds timeout) {
  ClusterLook look;
  for (const auto& m : members) {
    if (m.name == this_member) continue;
    OtherMember o;
    o.record = m;
    if (m.client_urls.empty()) {
      o.problem = "no client URL recorded";
      look.others.push_back(o);
      continue;
    }
    o.url = m.client_urls.front();
    auto endpoint = tls;
    endpoint.url = o.url;
    const auto client = ctx.etcd->connect(endpoint, timeout);
    try {
      o.cluster_id = client->status().cluster_id;
      o.answers = true;
      // A count-only range of one key: linearizable unless asked otherwise.
      client->count("/kdr/quorum-probe");
      o.serves = true;
    } catch (const core::Error& e) {
      o.problem = e.what();
    }
    look.others.push_back(std::move(o));
  }
  return look;
}

std::unique_ptr<etcd::EtcdApi> healthy_member(const core::Context& ctx, const ClusterLook& look,
                                              const etcd::EtcdEndpoint& tls) {
  for (const auto* m : look.serving()) {
    auto endpoint = tls;
    endpoint.url = m->url;
    return ctx.etcd->connect(endpoint, std::chrono::seconds(30));
  }
  std::string lines;
  for (const auto& m : look.others) lines += fmt::format("\n  {}", m.text());
  if (look.others.empty()) lines = " (the generation recorded no other member)";
  throw core::Error(fmt::format("no other member of the cluster serves reads: it has lost quorum, and a member "
                                "cannot be replaced through it:{}",
                                lines));
}

std::optional<etcd::EtcdClusterMember> find_member(const std::vector<etcd::EtcdClusterMember>& members, const std::string& name,
                                            const std::string& peer_url) {
  for (const auto& m : members)
    if (!name.empty() && m.name == name) return m;
  for (const auto& m : members)
    if (std::find(m.peer_urls.begin(), m.peer_urls.end(), peer_url) != m.peer_urls.end()) return m;
  return std::nullopt;
}

std::unique_ptr<etcd::EtcdApi> ClusterAccess::healthy(const core::Context& ctx) const {
  for (const auto* m : look.serving())
    if (!cluster_id.empty() && m->cluster_id != cluster_id)
      throw core::Error(fmt::format("{} ({}) is cluster {}, not cluster {} this node is to join (the one the "
                                    "restore on the first node created): nothing was changed",
                                    m->record.name, m->url, m->cluster_id, cluster_id));
  return healthy_member(ctx, look, tls);
}

std::string ClusterAccess::serving_text() const {
  std::string out;
  for (const auto* m : look.serving()) out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", m->record.name, m->url);
  return out.empty() ? std::string("none") : out;
}

}  // namespace kdr::restore
