// After a restore that replaced etcd's data, the cluster must be made coherent again: the
// kubelets keep running the pods they had, and the restored etcd may know other pods, or
// none of the nodes it lists may still exist (kubernetes#131115; the documented procedure
// restarts every kubelet). This unit reads, from the restored etcd, the Node objects and the
// pods bound to them; asks each node's kubelet which pods it runs (core/kubelet.hpp); and
// restarts kubelets: this node's with the config's command, the `nodes:` ones through their kdr
// over SSH (`kdr kubelet restart`), the others' printed for the operator.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "k8s/object_json.hpp"

namespace kdr::restore {

struct ClusterNode {
  std::string name;
  std::string address;   // its InternalIP, else its first address; "" when the object has none
  int kubelet_port = 0;  // status.daemonEndpoints.kubeletEndpoint.Port, else the config's
  bool control_plane = false;
};

struct PodRef {
  std::string namespace_, name, uid;
  std::string node;   // spec.nodeName
  std::string phase;  // status.phase
  bool static_pod = false;  // the kubelet's own (kubernetes.io/config.source file or http), or its mirror pod
  std::string id() const { return namespace_ + "/" + name; }
};

ClusterNode node_from_object(const k8s::ojson& node, int default_port);
PodRef pod_from_object(const k8s::ojson& pod);

// The Node objects and bound pods of the live (just restored) etcd; `problems` says what could
// not be read (a value that does not decode), never thrown.
struct ClusterObjects {
  std::vector<ClusterNode> nodes;
  std::vector<PodRef> pods;
  std::vector<std::string> problems;
  std::vector<PodRef> bound_to(const std::string& node) const;
};
// Pods::skip reads the Node objects alone (what restarting kubelets needs; a big cluster's pods
// are most of its keys).
enum class Pods { read, skip };
ClusterObjects read_cluster_objects(const core::Context& ctx, Pods pods = Pods::read);

// A kubelet's /pods answer (a v1 PodList). Throws core::Error when it is not one.
std::vector<PodRef> kubelet_pod_list(const std::string& body);

// The pods a kubelet runs that the restored etcd does not have (by namespace, name and uid;
// a pod of the same name with another uid is another pod). Its static pods are left out: the
// kubelet runs them from its manifests and makes their mirror pods again.
std::vector<PodRef> phantom_pods(const std::vector<PodRef>& running, const std::vector<PodRef>& stored);

struct NodeCheck {
  ClusterNode node;
  enum class Kubelet { answers, silent, unreadable };
  Kubelet kubelet = Kubelet::silent;
  std::string problem;           // silent or unreadable: why
  std::vector<PodRef> bound;     // the pods the restored etcd binds to it (listed for a silent node)
  std::vector<PodRef> phantoms;  // answers: what it runs that the restored etcd lacks
};

// Asks every node's kubelet (in parallel, each within the config's timeout).
std::vector<NodeCheck> check_nodes(const core::Context& ctx, const ClusterObjects& objects);

// The report's lines, for the operator and the step's log, and as JSON (nodes.json). A line
// about a silent node, phantoms or a node that cannot be checked is a warning.
struct ReportLine {
  bool warning = false;
  std::string text;
};
std::vector<ReportLine> node_check_lines(const std::vector<NodeCheck>& checks);
nlohmann::json node_checks_json(const std::vector<NodeCheck>& checks);

// This node's kubelet restarted with the config's kubelet.restart. Under --root the built-in
// systemctl command is not run (it would restart this machine's kubelet, not the sandbox's).
struct KubeletRestart {
  bool ran = false;
  bool ok = false;
  std::string command;  // as typed
  std::string text;     // what happened, or why it was not run
};
KubeletRestart restart_local_kubelet(const core::Context& ctx);

// The command that restarts the kubelet of a node kdr does not reach ("ssh 10.0.0.31 systemctl
// restart kubelet").
std::string kubelet_restart_by_hand(const ClusterNode& node);

}  // namespace kdr::restore
