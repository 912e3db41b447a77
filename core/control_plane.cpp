#include "core/control_plane.hpp"

#include <algorithm>

namespace kdr::core {

std::vector<std::string> split_list(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto next = text.find(sep, pos);
    if (next == std::string_view::npos) next = text.size();
    if (next > pos) out.emplace_back(text.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

std::optional<EtcdMember> etcd_member(const StaticPodScan& scan) {
  const StaticPod* pod = find_pod(scan, "etcd");
  if (pod == nullptr) return std::nullopt;
  EtcdMember m;
  m.manifest = pod->file;
  m.name = pod->flag("name").value_or("default");
  m.data_dir = pod->flag("data-dir").value_or("/var/lib/etcd");
  m.data_dir_host = m.data_dir;
  for (const auto& c : pod->containers)
    if (auto host = pod->host_path_of(c, m.data_dir)) {
      m.data_dir_host = *host;
      m.data_dir_volume = pod->volume_of(c, m.data_dir).value_or("");
      break;
    }
  if (auto ca = pod->flag("trusted-ca-file"); ca && !pod->containers.empty())
    m.trusted_ca_host = pod->host_path_of(pod->containers.front(), *ca).value_or(*ca);
  m.client_urls = split_list(pod->flag("listen-client-urls").value_or(""));
  m.advertise_client_urls = split_list(pod->flag("advertise-client-urls").value_or(""));
  m.peer_urls = split_list(pod->flag("initial-advertise-peer-urls").value_or(""));
  m.initial_cluster = pod->flag("initial-cluster").value_or("");
  m.image = pod->containers.empty() ? "" : pod->containers.front().image;
  return m;
}

std::string apiserver_etcd_prefix(const StaticPodScan& scan) {
  const auto* pod = find_pod(scan, "kube-apiserver");
  const auto prefix = pod == nullptr ? std::string() : pod->flag("etcd-prefix").value_or("");
  if (prefix.empty()) return "/registry";
  return prefix.size() > 1 && prefix.back() == '/' ? prefix.substr(0, prefix.size() - 1) : prefix;
}

std::vector<ApiserverFile> apiserver_files(const StaticPodScan& scan) {
  static const char* flags[] = {"encryption-provider-config", "audit-policy-file", "audit-webhook-config-file",
                                "admission-control-config-file", "authentication-token-webhook-config-file",
                                "authorization-webhook-config-file", "authorization-config",
                                "authentication-config", "egress-selector-config-file",
                                "service-account-signing-key-file", "service-account-key-file", "token-auth-file"};
  std::vector<ApiserverFile> out;
  const StaticPod* pod = find_pod(scan, "kube-apiserver");
  if (pod == nullptr || pod->containers.empty()) return out;
  for (const char* f : flags) {
    auto value = pod->flag(f);
    if (!value || value->empty()) continue;
    out.push_back({f, *value, pod->host_path_of(pod->containers.front(), *value)});
  }
  return out;
}

namespace {
std::optional<std::string> host_file(const StaticPod& pod, std::string_view flag) {
  auto value = pod.flag(flag);
  if (!value || value->empty() || pod.containers.empty()) return std::nullopt;
  return pod.host_path_of(pod.containers.front(), *value).value_or(*value);
}

std::string parent_of(const std::string& node_path) {
  const auto slash = node_path.rfind('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : node_path.substr(0, slash);
}
}  // namespace

std::optional<ApiserverEtcd> apiserver_etcd(const StaticPodScan& scan) {
  const StaticPod* pod = find_pod(scan, "kube-apiserver");
  if (pod == nullptr) return std::nullopt;
  ApiserverEtcd a;
  a.manifest = pod->file;
  a.servers = split_list(pod->flag("etcd-servers").value_or(""));
  a.cafile = host_file(*pod, "etcd-cafile");
  a.certfile = host_file(*pod, "etcd-certfile");
  a.keyfile = host_file(*pod, "etcd-keyfile");
  return a;
}

ApiserverPki apiserver_pki(const StaticPodScan& scan) {
  ApiserverPki pki;
  const StaticPod* pod = find_pod(scan, "kube-apiserver");
  if (pod == nullptr) return pki;
  static const char* flags[] = {"client-ca-file", "tls-cert-file", "tls-private-key-file",
                                "kubelet-client-certificate", "proxy-client-cert-file",
                                "requestheader-client-ca-file", "service-account-key-file",
                                "service-account-signing-key-file", "etcd-certfile", "etcd-cafile"};
  for (const char* f : flags)
    if (auto file = host_file(*pod, f)) {
      const auto dir = parent_of(*file);
      if (std::find(pki.dirs.begin(), pki.dirs.end(), dir) == pki.dirs.end()) pki.dirs.push_back(dir);
    }
  pki.service_account_key = host_file(*pod, "service-account-signing-key-file");
  if (!pki.service_account_key) pki.service_account_key = host_file(*pod, "service-account-key-file");
  return pki;
}

}  // namespace kdr::core
