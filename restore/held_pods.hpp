// `kdr pods stop|start`: a static pod held out of the kubelet's folder by the operator (or by
// another node's restore-etcd-cluster, over SSH), outside any restore. Its manifest moves to
// <state_dir>/held-pods/ (the kubelet stops the pod) and back (the kubelet starts it). Each move
// is one rename, or a cross-device copy that a crash leaves in one place or in both with the
// same bytes (never nowhere); kdr never overwrites a manifest. The restore lock keeps it apart
// from a running restore.
#pragma once

#include <string>
#include <vector>

#include "core/context.hpp"

namespace kdr::restore {

// Where a pod's manifest is now.
enum class PodPlace {
  running,       // in the static pod folder: the kubelet runs it
  held,          // in <state_dir>/held-pods (kdr pods stop)
  held_restore,  // in a restore's journal folder (a restore that stopped it)
};
std::string_view to_string(PodPlace place);

struct PodEntry {
  std::string name;   // the component (etcd, kube-apiserver...)
  std::string file;   // host path of its manifest
  PodPlace place = PodPlace::running;
  std::string restore_id;  // for held_restore
  bool processes = false;  // its processes still run
};

// Every static pod of the node, wherever its manifest is.
std::vector<PodEntry> list_pods(const core::Context& ctx);

struct PodChange {
  std::string name;
  bool changed = false;  // false: it already was where it was asked to go
  std::string what;      // one line for the operator
};

// Moves the manifests of `names` out of (stop) or back into (start) the static pod folder.
// Throws Error naming the pod when there is none of that name (with the pods there are), or
// when putting it back would overwrite a manifest.
std::vector<PodChange> stop_pods(const core::Context& ctx, const std::vector<std::string>& names);
std::vector<PodChange> start_pods(const core::Context& ctx, const std::vector<std::string>& names);

// Waits (up to timeout_s, honouring Ctrl-C) until the processes of `names` are gone (stopped)
// or running again (!stopped); what is still pending when the time is up, else "".
std::string wait_pods(const core::Context& ctx, const std::vector<std::string>& names, bool stopped,
                      double timeout_s);

}  // namespace kdr::restore
