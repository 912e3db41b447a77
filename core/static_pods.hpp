// The static pod manifests the kubelet runs (/etc/kubernetes/manifests/*): which pods,
// which images, which host paths they mount.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/node_root.hpp"

namespace kdr::core {

struct HostPathVolume {
  std::string name;
  std::string path;  // as written in the manifest
  std::string type;  // DirectoryOrCreate, FileOrCreate, ... or empty
};

struct VolumeMount {
  std::string name;
  std::string mount_path;
};

struct Container {
  std::string name;
  std::string image;
  std::vector<std::string> command;  // command followed by args
  std::vector<VolumeMount> mounts;
};

struct StaticPod {
  std::string file;  // node path of the manifest
  std::string name;  // metadata.name
  std::vector<std::string> images;
  std::vector<Container> containers;
  std::vector<HostPathVolume> host_paths;

  // The value of `--flag=value` (or `--flag value`) in the first container naming it.
  std::optional<std::string> flag(std::string_view flag_name) const;
  // The host path behind a path seen inside container `c`, through its hostPath mounts.
  std::optional<std::string> host_path_of(const Container& c, const std::string& container_path) const;
  // The name of the hostPath volume behind that path, if one mounts it.
  std::optional<std::string> volume_of(const Container& c, const std::string& container_path) const;
};

struct StaticPodScan {
  std::vector<StaticPod> pods;
  std::vector<std::string> problems;  // manifests that could not be read, with the reason
};

// Reads one manifest's text; throws Error naming `origin` (and the line) when it is not
// a pod manifest.
StaticPod parse_static_pod(std::string_view text, const std::string& origin);

// The pod whose metadata.name or first container is `component` (etcd, kube-apiserver...).
const StaticPod* find_pod(const StaticPodScan& scan, std::string_view component);

// Reads every manifest in the static pod folder, as the kubelet would (hidden files are
// ignored). A missing folder yields no pods and one problem.
StaticPodScan scan_static_pods(const NodeRoot& root, const std::string& static_pod_path);

}  // namespace kdr::core
