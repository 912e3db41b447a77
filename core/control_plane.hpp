// What the static pod manifests say about the control plane: the local etcd member (how
// to reach it, where its data lives, how it was bootstrapped) and the files kube-apiserver
// is configured with, as host paths.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/static_pods.hpp"

namespace kdr::core {

struct EtcdMember {
  std::string manifest;  // node path of etcd.yaml
  std::string name;
  std::string data_dir;  // as the manifest's container sees it
  std::string data_dir_host;  // the host path behind it (through its hostPath volume)
  std::string data_dir_volume;  // the hostPath volume that mounts it; empty: none does
  std::string trusted_ca_host;  // --trusted-ca-file, as a host path (kubeadm's etcd CA)
  std::vector<std::string> client_urls;  // --listen-client-urls
  std::vector<std::string> advertise_client_urls;
  std::vector<std::string> peer_urls;  // --initial-advertise-peer-urls
  std::string initial_cluster;
  std::string image;
};

// The etcd member from the etcd static pod; empty when there is no such manifest.
std::optional<EtcdMember> etcd_member(const StaticPodScan& scan);

struct ApiserverFile {
  std::string flag;                     // e.g. encryption-provider-config
  std::string container_path;           // the flag's value
  std::optional<std::string> host_path;  // empty when no hostPath volume mounts it
};

// Files named by kube-apiserver flags that hold key material or policy kdr must keep.
// kube-apiserver's --etcd-prefix (where it keeps objects in etcd): /registry unless it says otherwise.
std::string apiserver_etcd_prefix(const StaticPodScan& scan);
std::vector<ApiserverFile> apiserver_files(const StaticPodScan& scan);

// kube-apiserver's view of etcd: the members it talks to and its client certificate, as
// host paths (external etcd, and the third choice of kdr's etcd client certificate).
struct ApiserverEtcd {
  std::string manifest;
  std::vector<std::string> servers;  // --etcd-servers
  std::optional<std::string> cafile, certfile, keyfile;
};
std::optional<ApiserverEtcd> apiserver_etcd(const StaticPodScan& scan);

// Where kube-apiserver keeps its PKI, read from its flags rather than assumed: the host
// folders of its certificates and keys (kubeadm: /etc/kubernetes/pki; kubespray:
// /etc/kubernetes/ssl), and the service-account signing key.
struct ApiserverPki {
  std::vector<std::string> dirs;
  std::optional<std::string> service_account_key;
};
ApiserverPki apiserver_pki(const StaticPodScan& scan);

std::vector<std::string> split_list(std::string_view text, char sep = ',');

}  // namespace kdr::core
