// A control-plane node rebuilt under another address or name (rebuild-node with address= or
// node_name=): who the backup's node was, who the new one is, and what in its files names
// the old one.
//
// What keeps the cluster's identity (every CA, the service-account key pair, the
// EncryptionConfiguration, etcd's data) comes back as it was; what names the old node is left
// for kubeadm to make again from the saved kubeadm configuration, rewritten for the new node:
//   - the certificates whose subject or subjectAltName names the old address or name
//     (kube-apiserver's serving certificate, etcd's server and peer certificates), and their keys;
//   - the kubeconfigs whose server is the old address, or whose user is the old node
//     (kubelet.conf: system:node:<name>).
// kubeadm refuses an existing certificate that lacks a SAN it needs, and a kubeconfig whose
// server is another address (kubeadm/app/phases/certs and kubeconfig): so these are moved out
// of its way, never handed to it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/generation_view.hpp"

namespace kdr::restore {

struct NodeIdentity {
  std::string name;     // the Node's and etcd member's name
  std::string address;  // the advertise address of kube-apiserver and etcd
};

struct IdentityChange {
  NodeIdentity from, to;
  bool name_changes() const { return from.name != to.name; }
  bool address_changes() const { return from.address != to.address; }
  bool changes() const { return name_changes() || address_changes(); }
  // "cp1 (10.0.0.10) -> cp2 (10.0.0.77)"
  std::string text() const;
};

// The backup's node: its etcd member's name and peer URL host, else kube-apiserver's
// --advertise-address, from the generation's manifests; else what the backup recorded (the
// hostname, its first address).
NodeIdentity backup_identity(const core::GenerationView& g, const std::string& static_pod_path);

// Why `name` cannot name a Node (a DNS-1123 subdomain: lowercase letters, digits, '-' and
// '.', each label starting and ending with a letter or digit, at most 253 characters).
std::optional<std::string> node_name_problem(std::string_view name);
// Why `address` cannot be the node's address: not an IPv4 or IPv6 address.
std::optional<std::string> address_problem(std::string_view address);

// `text` with every occurrence of the host `from` as a whole (not inside a longer name or
// address: 10.0.0.1 is not in 10.0.0.10, cp1 is not in cp1-b) replaced by `to`.
std::string replace_host(std::string_view text, std::string_view from, std::string_view to);

// `text` (a static pod manifest, a kubeconfig) for the new node: the old address and the old
// name replaced wherever they stand as a whole host (flags, URLs, annotations).
std::string renamed_text(std::string_view text, const IdentityChange& change);

// The saved kubeadm configuration (a ClusterConfiguration, maybe with an InitConfiguration)
// for the new node: every string naming the old address or name now names the new one (etcd's
// extraArgs, certSANs, controlPlaneEndpoint when it is the old address), and the
// InitConfiguration says the new node's advertise address and name (kubeadm's
// localAPIEndpoint.advertiseAddress and nodeRegistration.name), added when there is none.
// Throws Error naming `origin` when it is not YAML.
std::string rewrite_kubeadm_config(std::string_view yaml, const IdentityChange& change, const std::string& origin);

// The host of the configuration's controlPlaneEndpoint (lb.example.com, 10.0.0.10); empty when
// it sets none or is not YAML.
std::string control_plane_endpoint_host(std::string_view kubeadm_config);

// Whether a PEM certificate's subject or subjectAltName names `who` (its name or address).
bool certificate_names_node(std::string_view pem, const NodeIdentity& who);
// Whether a kubeconfig's server is `who`'s address, or its user `who`'s node
// (system:node:<name>). Not YAML: false.
bool kubeconfig_names_node(std::string_view yaml, const NodeIdentity& who);

}  // namespace kdr::restore
