// The static pod manifests the kubelet runs (/etc/kubernetes/manifests/*): which pods,
// which images, which host paths they mount.
#pragma once

#include <string>
#include <vector>

#include "core/node_root.hpp"

namespace kdr::core {

struct HostPathVolume {
  std::string name;
  std::string path;  // as written in the manifest
  std::string type;  // DirectoryOrCreate, FileOrCreate, ... or empty
};

struct StaticPod {
  std::string file;  // node path of the manifest
  std::string name;  // metadata.name
  std::vector<std::string> images;
  std::vector<HostPathVolume> host_paths;
};

struct StaticPodScan {
  std::vector<StaticPod> pods;
  std::vector<std::string> problems;  // manifests that could not be read, with the reason
};

// Reads one manifest's text; throws Error naming `origin` (and the line) when it is not
// a pod manifest.
StaticPod parse_static_pod(std::string_view text, const std::string& origin);

// Reads every manifest in the static pod folder, as the kubelet would (hidden files are
// ignored). A missing folder yields no pods and one problem.
StaticPodScan scan_static_pods(const NodeRoot& root, const std::string& static_pod_path);

}  // namespace kdr::core
