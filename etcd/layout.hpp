// How this node runs etcd, in the layouts found in the field, and where each fact came from:
//
//   static-pod  kubeadm's stacked etcd: etcd.yaml in the static pod folder. The data dir is
//               the manifest's --data-dir through its hostPath volume (kubeadm's
//               etcd.local.dataDir, e.g. /data/etcd on a disk of its own).
//   systemd     etcd run by systemd (kubespray, hand-made clusters): an etcd unit or
//               /etc/etcd.env on the node, no etcd manifest.
//   external    kubeadm's etcd.external: no etcd on this node; kube-apiserver's
//               --etcd-servers name the members, --etcd-certfile/keyfile/cafile its client.
//   unknown     none of these (an etcd manifest lost with its folder, a bare node): the
//               config's etcd_data_dir and endpoint.
//
// The etcd client certificate kdr uses is chosen in this order: the config; kubeadm's
// health-check client, when it exists; kube-apiserver's etcd client; etcdctl's settings in
// the systemd environment files. Detection reads files (manifests, units, environment files)
// and, where they say nothing, the process table: it starts no program and asks no etcd.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/control_plane.hpp"
#include "core/node_root.hpp"
#include "core/static_pods.hpp"

namespace kdr::etcd {

enum class EtcdKind { static_pod, systemd, local, external, unknown };
std::string_view to_string(EtcdKind kind);
std::optional<EtcdKind> etcd_kind_from_string(std::string_view text);
// True where kdr's playbooks may stop, move and start etcd: a static pod (or nothing on the
// node says otherwise). Elsewhere kdr leaves etcd's data alone and says what to run.
bool kdr_drives_etcd(EtcdKind kind);

// Node paths of the client TLS files, and where they were chosen from.
struct EtcdClientTls {
  std::string cacert, cert, key;
  std::string origin;  // "config", "kubeadm's health-check client", ...
  bool from_config = false;
};

// etcd under systemd: the unit and environment files found, and the ETCD_* settings in them.
struct SystemdEtcd {
  std::string unit;                        // node path of the unit file; empty: none found
  std::vector<std::string> env_files;      // node paths of the environment files read
  std::map<std::string, std::string> env;  // ETCD_* and ETCDCTL_* settings
  std::vector<std::string> exec_args;      // the unit's ExecStart, split
  // A setting from the environment files, else the unit's --flag.
  std::optional<std::string> setting(std::string_view env_name, std::string_view flag) const;
};

struct EtcdLayout {
  EtcdKind kind = EtcdKind::unknown;
  std::optional<core::EtcdMember> member;  // static-pod
  std::optional<SystemdEtcd> systemd;
  std::string data_dir;  // node path on this host; empty when etcd's data is not on this node
  std::string data_dir_origin;
  // False when the etcd manifest's --data-dir is under none of its hostPath volumes: etcd
  // then writes inside its container, and the host folder of that name is not its data.
  bool data_dir_mounted = true;
  std::vector<std::string> endpoints;  // client URLs; kdr uses the first that answers
  std::string endpoints_origin;
  EtcdClientTls tls;
  std::vector<std::string> problems;  // what an operator must know (shown by sources, verify, plans)

  bool local() const { return !data_dir.empty(); }
  // "stacked etcd (static pod /etc/kubernetes/manifests/etcd.yaml), data dir /data/etcd" or
  // "external etcd at https://10.0.0.11:2379, https://10.0.0.12:2379"
  std::string summary() const;
  nlohmann::json to_json() const;
};

EtcdLayout detect_etcd_layout(const core::Config& config, const core::NodeRoot& root, const core::StaticPodScan& scan);

// KEY=VALUE lines of an environment file (systemd's EnvironmentFile=, /etc/etcd.env):
// comments, blank lines, `export ` and quotes are handled as systemd and sh do.
std::map<std::string, std::string> parse_env_file(std::string_view text);

}  // namespace kdr::etcd
