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
void save_kubeadm_config(const core::Context& ctx, const core::bfs::path& generation_dir, NodeFacts& out) {
  if (ctx.config.kubeconfig.empty()) {
    out.not_captured.push_back("kubeadm-config: turned off (kubeconfig: \"\" in the config)");
    return;
  }
  const auto kubeconfig = ctx.root.host(ctx.config.kubeconfig);
  if (!core::lstat_path(kubeconfig)) {
    out.not_captured.push_back(fmt::format("kubeadm-config: no admin kubeconfig at {}", ctx.config.kubeconfig));
    return;
  }
  if (ctx.programs->find("kubectl").empty()) {
    out.not_captured.push_back("kubeadm-config: kubectl not found in PATH");
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
    out.not_captured.push_back(fmt::format("kubeadm-config: kubectl could not read the ConfigMap: {}",
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
  out.facts["kubeadm_config"] = "node/kubeadm-config.yaml";
}

}  // namespace

NodeFacts collect_node_facts(const core::Context& ctx, const core::StaticPodScan& scan, const core::EtcdLayout& etcd,
                             const std::string& etcd_server_version, const core::bfs::path& generation_dir) {
  NodeFacts out;
  auto& f = out.facts;
  f["hostname"] = ctx.host->hostname();
  f["addresses"] = ctx.host->addresses();
  json pods = json::array();
  for (const auto& p : scan.pods) {
    json images = json::array();
    for (const auto& i : p.images) images.push_back({{"image", i}, {"version", image_tag(i)}});
    pods.push_back({{"name", p.name}, {"manifest", p.file}, {"images", images}});
  }
  f["static_pods"] = pods;
  f["etcd"] = etcd.to_json();
  const auto& member = etcd.member;
  if (member) {
    f["etcd_member"] = {{"name", member->name},
                        {"data_dir", member->data_dir},
                        {"data_dir_host", member->data_dir_host},
                        {"client_urls", member->client_urls},
                        {"advertise_client_urls", member->advertise_client_urls},
                        {"peer_urls", member->peer_urls},
                        {"initial_cluster", member->initial_cluster},
                        {"image", member->image},
                        {"image_version", image_tag(member->image)},
                        {"manifest", member->manifest}};
  } else {
    out.not_captured.push_back(fmt::format("etcd member: no etcd manifest in {} ({})", ctx.config.static_pod_path,
                                           etcd.summary()));
  }
  if (!etcd_server_version.empty()) f["etcd_server_version"] = etcd_server_version;
  else out.not_captured.push_back("etcd server version: etcd was not reachable");
  save_kubeadm_config(ctx, generation_dir, out);
  f["not_captured"] = out.not_captured;
  return out;
}

}  // namespace kdr::backup
