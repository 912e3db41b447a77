// The step types of playbooks, one line each, in the order docs/playbooks.md lists them. Each
// is one unit, restore/steps/<type>.cpp, which defines `const StepDef& <type>_step_def()`
// (restore/step.hpp); restore/steps/table.cpp makes the table of them from this list.
#pragma once

#define KDR_STEP_TYPES(X)   \
  X(preflight)              \
  X(stop_static_pods)       \
  X(wait_stopped)           \
  X(move_aside)             \
  X(copy_back)              \
  X(node_identity)          \
  X(etcd_replay)            \
  X(etcd_survivor)          \
  X(etcd_snapshot_restore)  \
  X(etcd_put_keys)          \
  X(etcd_member_remove)     \
  X(etcd_member_add)        \
  X(etcd_member_join)       \
  X(etcd_member_promote)    \
  X(etcd_member_invite)     \
  X(other_nodes_pods)       \
  X(start_static_pods)      \
  X(wait_healthy)           \
  X(check_nodes)            \
  X(restart_kubelets)       \
  X(etcd_forget_node)       \
  X(kubeadm)                \
  X(run)                    \
  X(manual)

namespace kdr::restore {

#define KDR_STEP_ENUMERATOR(type) type,
enum class StepType { KDR_STEP_TYPES(KDR_STEP_ENUMERATOR) };
#undef KDR_STEP_ENUMERATOR

}  // namespace kdr::restore
