// What a restore will need to know once the node is gone: hostname and addresses, the
// etcd member's name, URLs, initial cluster and data dir, the static pods' images and
// versions, the etcd server version, and the cluster's kubeadm configuration (from the
// kubeadm-config ConfigMap, when kubectl and an admin kubeconfig work). What could not be
// captured is listed with the reason.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/control_plane.hpp"
#include "core/generation_facts.hpp"
#include "core/manifest.hpp"
#include "etcd/layout.hpp"

namespace kdr::backup {

// What a backup records of the node: meta.json's "node" section, and the files it wrote
// into the generation for it (the kubeadm configuration).
struct NodeCapture {
  core::NodeFacts facts;
  std::vector<core::Artifact> artifacts;
};

NodeCapture collect_node_facts(const core::Context& ctx, const core::StaticPodScan& scan, const etcd::EtcdLayout& etcd,
                             const std::string& etcd_server_version, const core::bfs::path& generation_dir);

// "v1.31.2" from "registry.k8s.io/kube-apiserver:v1.31.2"; empty without a tag.
std::string image_tag(const std::string& image);

}  // namespace kdr::backup
