// kubeadm's certificates by what renews them: `kubeadm certs renew <name>` re-signs one with
// its CA (the CAs themselves are not renewed that way), and when each one stops working.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fs.hpp"

namespace kdr::core {

// The `kubeadm certs renew` name of a certificate kubeadm made, from its node path
// (/etc/kubernetes/pki/etcd/server.crt -> etcd-server, /etc/kubernetes/admin.conf#user ... ->
// admin.conf); empty for a CA, or a file kubeadm does not renew.
std::optional<std::string> kubeadm_renew_name(std::string_view node_path);

// Those that etcd, and kube-apiserver's way to it, cannot work without: etcd's server, peer
// and health-check client certificates, kube-apiserver's serving and etcd client ones.
bool control_plane_critical(std::string_view renew_name);

// "kubeadm certs renew etcd-server etcd-peer" (or "... all" when every renewable one is named)
std::string kubeadm_renew_command(const std::vector<std::string>& names);

// The notAfter (seconds since the epoch) of the first certificate in a PEM file; empty when it
// holds none that parses.
std::optional<std::int64_t> certificate_not_after(const bfs::path& file);

}  // namespace kdr::core
