#include "restore/etcd_elsewhere.hpp"

#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::restore {

using core::Error;
using core::ExitCode;

namespace {

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : std::string(sep)) + x;
  return out;
}

std::string snapshot_path_text(const core::GenerationView& g) {
  const auto& snap = g.meta.etcd.snapshot;
  return snap ? (g.dir / snap->file).string() : "<no snapshot in this generation>";
}

// The `etcdutl snapshot restore` each member runs: one snapshot, one new cluster token,
// each member its own name and peer URL. Members come from what the backup recorded.
std::vector<std::string> member_restore_commands(const core::GenerationView& g, const std::string& data_dir) {
  const std::string file = snapshot_path_text(g);
  const auto& members = g.meta.etcd.members;
  std::vector<std::string> initial;
  for (const auto& m : members)
    if (!m.learner) initial.push_back(m.name + "=" + m.first_peer_url());
  const std::string cluster = initial.empty() ? "<NAME>=<PEER_URL>,..." : join(initial, ",");
  const std::string token = "kdr-restore-" + g.id;
  std::vector<std::string> out;
  auto command = [&](const std::string& name, const std::string& peer) {
    return fmt::format("etcdutl snapshot restore {} --name {} --initial-cluster {} --initial-cluster-token {} "
                       "--initial-advertise-peer-urls {} --data-dir {}.restored --bump-revision 1000000000 "
                       "--mark-compacted",
                       file, name, cluster, token, peer, data_dir);
  };
  if (initial.empty()) {
    out.push_back("on each member (this generation recorded no member list; take names and peer URLs from "
                  "`etcdctl member list` of a backup that did):");
    out.push_back("  " + command("<NAME>", "<PEER_URL>"));
    return out;
  }
  for (const auto& m : members) {
    if (m.learner) continue;
    out.push_back(fmt::format("on {} ({}):", m.name, m.first_peer_url()));
    out.push_back("  " + command(m.name, m.first_peer_url()));
  }
  return out;
}

// etcd on other hosts: one snapshot restored on every member.
std::string external_etcd_instructions(const core::GenerationView& g, const std::string& summary,
                                       const std::string& playbook) {
  std::string text = fmt::format(
      "playbook {} restores etcd on this node, but this node uses {}: the etcd members run on other hosts, and "
      "kdr does not invent a local one. Nothing was changed.\n"
      "Restore every member from the same snapshot (copy it to each host first; stop etcd on all of them):",
      playbook, summary);
  for (const auto& line : member_restore_commands(g, "<the member's data dir>")) text += "\n  " + line;
  text += "\nthen on each member move its data dir aside, put the .restored one in its place and start etcd; "
          "then restart kube-apiserver on every control-plane node. kdr restore restore-files restores this "
          "node's own files (certificates, kubeconfigs, manifests) and leaves etcd alone.";
  return text;
}

// etcd on this node, run by systemd or otherwise outside the static pods: the commands to
// restore it by hand, with the member's facts from its recorded settings or member list.
std::string node_etcd_instructions(const core::GenerationView& g, const core::EtcdLayoutRecord& rec,
                                   const etcd::EtcdLayout& live, const std::string& summary,
                                   const std::string& playbook) {
  const auto env = [&](const std::string& key, const std::string& fallback) {
    auto it = rec.systemd_env.find(key);
    return it == rec.systemd_env.end() ? fallback : it->second;
  };
  const std::string data_dir = rec.data_dir ? *rec.data_dir : live.data_dir;
  const std::string unit_name = rec.systemd_unit.empty() ? "" : core::bfs::path(rec.systemd_unit).filename().string();
  const auto& members = g.meta.etcd.members;
  const auto only = members.size() == 1 ? members[0] : core::EtcdMemberRecord{};
  const auto name = env("ETCD_NAME", only.name.empty() ? "<NAME>" : only.name);
  const auto peer = env("ETCD_INITIAL_ADVERTISE_PEER_URLS", only.first_peer_url().empty() ? "<PEER_URL>" : only.first_peer_url());
  const auto cluster = env("ETCD_INITIAL_CLUSTER", name + "=" + peer);
  return fmt::format(
      "playbook {} drives etcd as a static pod, but this node uses {}: kdr does not stop, move or start an etcd "
      "it does not run. Nothing was changed.\n"
      "Restore it by hand, on this node (and the same snapshot on every other member):\n"
      "  {}\n"
      "  mv {} {}.before-restore\n"
      "  etcdutl snapshot restore {} --name {} --initial-cluster {} --initial-cluster-token kdr-restore-{} "
      "--initial-advertise-peer-urls {} --data-dir {} --bump-revision 1000000000 --mark-compacted\n"
      "  chown -R etcd:etcd {}   # when etcd runs as user etcd\n"
      "  {}\n"
      "then restart kube-apiserver. kdr restore restore-files restores /etc/kubernetes and leaves etcd alone.",
      playbook, summary, unit_name.empty() ? "# stop etcd, however it is run here" : "systemctl stop " + unit_name,
      data_dir, data_dir, snapshot_path_text(g), name, cluster, g.id, peer, data_dir, data_dir,
      unit_name.empty() ? "# start etcd again" : "systemctl start " + unit_name);
}

}  // namespace

[[noreturn]] void refuse_etcd_elsewhere(const core::GenerationView& g, etcd::EtcdKind kind,
                                        const etcd::EtcdLayout& live, const std::string& playbook) {
  const auto rec = g.meta.node.etcd.value_or(core::EtcdLayoutRecord{});
  const std::string summary = rec.summary.empty() ? live.summary() : rec.summary;
  throw Error(kind == etcd::EtcdKind::external ? external_etcd_instructions(g, summary, playbook)
                                               : node_etcd_instructions(g, rec, live, summary, playbook),
              ExitCode::failed);
}

}  // namespace kdr::restore
