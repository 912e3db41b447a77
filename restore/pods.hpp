// The static pods on a node during a restore: which processes belong to a pod, whether
// they are gone, and whether the static pod folder holds anything the kubelet would run
// by mistake.
#pragma once

#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/node_root.hpp"
#include "core/static_pods.hpp"

namespace kdr::restore {

struct PodProcess {
  int pid = 0;
  std::vector<std::string> argv;
};

// The processes running a pod's containers, from the process table: argv[0] is the
// container's command (e.g. etcd, kube-apiserver). Under a sandbox root only processes
// whose arguments name a path under that root count (the kubelet stand-in maps the
// pod's host paths there), so a sandbox never mistakes the machine's own pods for its own.
std::vector<PodProcess> pod_processes(const core::NodeRoot& root, const core::StaticPod& pod);

// How running pods are detected on this node: crictl on a real node when it is installed,
// else the process table.
struct RunningCheck {
  bool running = false;
  std::string how;     // "crictl" or "process table"
  std::string detail;  // what is still running (pids, container ids)
};
RunningCheck pod_running(const core::Context& ctx, const core::StaticPod& pod);

// Files in the static pod folder the kubelet would run besides the real manifests: names
// that do not end in .yaml/.yml/.json (etcd.yaml.bak), and two files defining the same pod.
std::vector<std::string> stray_manifests(const core::NodeRoot& root, const std::string& static_pod_path);

// The value of --data-dir among a process's arguments ("" if none).
std::string data_dir_argument(const std::vector<std::string>& argv);

// Pods a step names (empty: all) and whether one of them is `pod`.
bool wanted(const std::vector<std::string>& names, const std::string& pod);
// "all static pods", or the names.
std::string pods_text(const std::vector<std::string>& names);
// etcd first, then the order given (the API server needs etcd).
void etcd_first(std::vector<core::StaticPod>& pods);

}  // namespace kdr::restore
