#include "restore/steps/etcd_member.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/json_util.hpp"
#include "core/manifest.hpp"
#include "core/wait.hpp"
#include "etcd/layout.hpp"
#include "etcd/tool.hpp"

namespace kdr::restore {

std::vector<StepKey> member_keys() { return {{"via", false}, {"cluster_id", false}}; }

void read_member_keys(const StepValues& v, MemberArgs& a) {
  a.via = v.text("via", "auto");
  if (a.via == "auto") a.via.clear();
  if (!a.via.empty() && !a.via.starts_with("https://") && !a.via.starts_with("http://"))
    v.fail("via", fmt::format("'{}' is not auto or a client URL such as https://10.0.0.11:2379", a.via));
  a.cluster_id = v.text("cluster_id", "any");
  if (a.cluster_id == "any") a.cluster_id.clear();
  if (a.cluster_id.find_first_not_of("0123456789abcdef") != std::string::npos)
    v.fail("cluster_id", fmt::format("'{}' is not any or a cluster id in hex, as etcdctl prints it", a.cluster_id));
}

MemberArgs member_args(const StepValues& v) {
  MemberArgs a;
  read_member_keys(v, a);
  return a;
}

ClusterAccess cluster_access(const Runner& r, const MemberArgs& a) {
  if (a.via.empty()) return cluster_access(r, r.gen.meta.etcd.members, a.cluster_id);
  core::EtcdMemberRecord via;
  via.name = "the member at --set via";
  via.client_urls = {a.via};
  return cluster_access(r, {via}, a.cluster_id);
}

nlohmann::json members_json(const ClusterAccess& c) {
  auto out = nlohmann::json::array();
  for (const auto& m : c.look.others) out.push_back({{"name", m.record.name}, {"client_urls", m.record.client_urls}});
  return out;
}

std::vector<core::EtcdMemberRecord> members_from_json(const nlohmann::json& j) {
  std::vector<core::EtcdMemberRecord> out;
  for (const auto& m : j) {
    core::EtcdMemberRecord r;
    r.name = core::json_text_or(m, "name");
    r.client_urls = m.value("client_urls", std::vector<std::string>{});
    out.push_back(r);
  }
  return out;
}

namespace {

// On a replacement machine the node's etcd client certificate is not there yet (the
// generation's /etc/kubernetes comes back later in the plan): a TLS file missing on the node
// is read from the generation's copy of it, whose hash the preflight checked.
etcd::EtcdEndpoint with_generation_copies(const Runner& r, etcd::EtcdEndpoint tls) {
  const auto root = r.ctx.root.root().string();
  for (auto* file : {&tls.cacert, &tls.cert, &tls.key}) {
    if (file->empty() || core::lstat_path(*file)) continue;
    auto node_path = *file;
    if (!r.ctx.root.is_real_root()) {
      if (node_path.rfind(root, 0) != 0) continue;
      node_path = node_path.substr(root.size());
      if (node_path.empty() || node_path.front() != '/') node_path.insert(node_path.begin(), '/');
    }
    const auto copy = r.gen.dir / core::generation_relative_path(node_path);
    if (core::lstat_path(copy)) *file = copy.string();
  }
  return tls;
}

}  // namespace

ClusterAccess cluster_access(const Runner& r, const std::vector<core::EtcdMemberRecord>& members,
                             const std::string& cluster_id) {
  ClusterAccess c;
  c.cluster_id = cluster_id;
  auto pods = r.live_pods();
  if (!core::find_pod(pods, "etcd")) pods = r.held_pods();
  const auto layout = etcd::detect_etcd_layout(r.ctx.config, r.ctx.root, pods);
  c.tls = with_generation_copies(r, etcd::client_endpoint(etcd::etcd_target(r.ctx, layout)));
  c.name = r.plan.etcd.name;
  c.peer_url = r.plan.etcd.peer_url;
  c.replaces_name = r.plan.etcd.replaces_name.empty() ? c.name : r.plan.etcd.replaces_name;
  c.replaces_peer_url = r.plan.etcd.replaces_name.empty() ? c.peer_url : r.plan.etcd.replaces_peer_url;
  // the generation recorded this node's member under its old name
  c.look = look_at_other_members(r.ctx, members, c.replaces_name, c.tls);
  return c;
}

std::unique_ptr<etcd::EtcdApi> serving_member(const Runner& r, const std::vector<core::EtcdMemberRecord>& members,
                                              const std::string& cluster_id, double timeout_s) {
  std::unique_ptr<etcd::EtcdApi> client;
  std::string last;
  core::WaitSpec spec;
  spec.timeout_s = timeout_s;
  spec.every = std::chrono::milliseconds(500);
  core::wait_until(
      spec,
      [&]() -> std::optional<std::string> {
        try {
          client = cluster_access(r, members, cluster_id).healthy(r.ctx);
          return std::nullopt;
        } catch (const core::Error& e) {
          last = e.what();
          return last;
        }
      },
      [&](double seconds, const std::string&) {
        r.ctx.out.info("      waiting for a member that serves ({:.0f} s)", seconds);
      });
  if (!client) throw core::Error(fmt::format("{} (asked for {:.0f} s)", last, timeout_s));
  return client;
}

namespace {

std::optional<ClusterAccess> look_at_cluster(Runner& r, const MemberArgs& a, Preflight& pf) {
  if (a.via.empty() && r.gen.meta.etcd.members.size() < 2) {
    pf.fails.push_back(fmt::format("generation {} recorded {} etcd member{}: a member is replaced through the others "
                                   "of an HA cluster; for a single member, see restore-etcd-snapshot",
                                   r.gen.id, r.gen.meta.etcd.members.size(),
                                   r.gen.meta.etcd.members.size() == 1 ? "" : "s"));
    return std::nullopt;
  }
  try {
    auto c = cluster_access(r, a);
    if (!c.look.quorum()) {
      std::string lines;
      for (const auto& m : c.look.others) lines += fmt::format("\n        {}", m.text());
      pf.fails.push_back(fmt::format("no other member of the cluster serves reads: it has lost quorum, and this member "
                                     "cannot be replaced through it:{}\n      restore the cluster from a snapshot "
                                     "instead (restore-etcd-snapshot on one member, then join the others)",
                                     lines));
      return std::nullopt;
    }
    c.healthy(r.ctx);  // the cluster id it must be
    pf.ok(fmt::format("the cluster keeps quorum without this node: {} serve{} reads", c.serving_text(),
                      c.look.serving().size() == 1 ? "s" : ""));
    return c;
  } catch (const core::Error& e) {
    pf.fails.push_back(fmt::format("the other etcd members cannot be asked: {}", e.what()));
    return std::nullopt;
  }
}

}  // namespace

std::optional<ClusterAccess> check_cluster(Runner& r, const MemberArgs& a, Preflight& pf) {
  const auto key = a.via + "|" + a.cluster_id;
  if (const auto it = pf.cluster_looks.find(key); it != pf.cluster_looks.end()) {
    if (!it->second) return std::nullopt;
    return *it->second;
  }
  auto c = look_at_cluster(r, a, pf);
  pf.cluster_looks[key] = c ? std::make_shared<const ClusterAccess>(*c) : nullptr;
  return c;
}

void remove_member_when_ready(Runner& r, etcd::EtcdApi& client, std::uint64_t id, const std::string& what) {
  const auto gone = [&] {
    const auto members = client.members();
    return std::none_of(members.begin(), members.end(), [&](const etcd::EtcdClusterMember& m) { return m.id == id; });
  };
  const auto outcome = core::wait_until(
      {.timeout_s = 60, .every = std::chrono::milliseconds(500)},
      [&]() -> std::optional<std::string> {
        try {
          client.remove_member(id);
          return std::nullopt;
        } catch (const etcd::EtcdApiError& e) {
          if (gone()) return std::nullopt;
          if (!e.unavailable() && e.grpc_code() != 5) throw;  // 5: not found, while the cluster settles
          return std::string(e.what());
        }
      },
      [&](double s, const std::string& still) { r.ctx.out.info("      {:.0f} s: etcd not ready to remove {}: {}", s, what, still); });
  if (!outcome.done) throw core::Error(fmt::format("etcd did not remove {} within 60 s: {}", what, outcome.still));
}

}  // namespace kdr::restore
