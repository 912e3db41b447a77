#include "backup/node_facts.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/sha256.hpp"

namespace kdr::backup {

using nlohmann::json;

std::string image_tag(const std::string& image) {
  const auto at = image.find('@');
  const std::string name = image.substr(0, at);
  const auto colon = name.rfind(':');
  if (colon == std::string::npos || name.find('/', colon) != std::string::npos) return "";
  return name.substr(colon + 1);
}

namespace {

// The kubeadm-config ConfigMap's ClusterConfiguration, saved as a kubeadm config file
// that `kubeadm init --config` accepts.
void save_kubeadm_config(const core::Context& ctx, const core::bfs::path& generation_dir, NodeCapture& out) {
  if (ctx.config.kubeconfig.empty()) {
    out.facts.not_captured.push_back("kubeadm-config: turned off (kubeconfig: \"\" in the config)");
    return;
  }
  const auto kubeconfig = ctx.root.host(ctx.config.kubeconfig);
  if (!core::lstat_path(kubeconfig)) {
    out.facts.not_captured.push_back(fmt::format("kubeadm-config: no admin kubeconfig at {}", ctx.config.kubeconfig));
    return;
  }
  if (ctx.programs->find("kubectl").empty()) {
    out.facts.not_captured.push_back("kubeadm-config: kubectl not found in PATH");
    return;
  }
  const std::vector<std::string> argv = {"kubectl",      "--kubeconfig", kubeconfig.string(), "--request-timeout",
                                         "15s",          "-n",           "kube-system",       "get",
                                         "configmap",    "kubeadm-config", "-o",              "jsonpath={.data.ClusterConfiguration}"};
  core::ProcessOptions opts;
  opts.timeout = std::chrono::seconds(30);
  auto r = ctx.programs->run(argv, opts);
  if (!r.ok() || r.out.find("ClusterConfiguration") == std::string::npos) {
    std::string why = !r.started ? r.start_error : r.timed_out ? "timed out" : r.err;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    if (auto nl = why.rfind('\n'); nl != std::string::npos) why = why.substr(nl + 1);
    out.facts.not_captured.push_back(fmt::format("kubeadm-config: kubectl could not read the ConfigMap: {}",
                                           why.empty() ? "no ClusterConfiguration in it" : why));
    return;
  }
  const auto dir = generation_dir / "node";
  core::make_dir(dir, 0700);
  std::string text = "# The cluster's kubeadm ClusterConfiguration, from the kubeadm-config ConfigMap,\n"
                     "# saved by kdr for `kubeadm init --config`.\n" + r.out;
  if (text.back() != '\n') text += '\n';
  core::write_file_atomic(dir / "kubeadm-config.yaml", text, 0600);
  out.artifacts.push_back({"node/kubeadm-config.yaml", core::sha256_hex(text), text.size()});
  out.facts.kubeadm_config = "node/kubeadm-config.yaml";
}

}  // namespace

NodeCapture collect_node_facts(const core::Context& ctx, const core::StaticPodScan& scan, const etcd::EtcdLayout& etcd,
                               const std::string& etcd_server_version, const core::bfs::path& generation_dir) {
  NodeCapture out;
  auto& f = out.facts;
  f.recorded = true;
  f.hostname = ctx.host->hostname();
  f.addresses = ctx.host->addresses();
  for (const auto& p : scan.pods) {
    core::StaticPodRecord pod{p.name, p.file, {}};
    for (const auto& i : p.images) pod.images.push_back({i, image_tag(i)});
    f.static_pods.push_back(std::move(pod));
  }
  f.etcd = core::EtcdLayoutRecord::from_json(etcd.to_json(), "etcd layout");
  if (const auto& m = etcd.member) {
    f.etcd_member = core::EtcdMemberFacts{m->name,         m->data_dir,       m->data_dir_host,
                                          m->client_urls,  m->advertise_client_urls, m->peer_urls,
                                          m->initial_cluster, m->image,      image_tag(m->image),
                                          m->manifest};
  } else {
    f.not_captured.push_back(fmt::format("etcd member: no etcd manifest in {} ({})", ctx.config.static_pod_path,
                                         etcd.summary()));
  }
  if (!etcd_server_version.empty()) f.etcd_server_version = etcd_server_version;
  else f.not_captured.push_back("etcd server version: etcd was not reachable");
  save_kubeadm_config(ctx, generation_dir, out);
  return out;
}

}  // namespace kdr::backup
