// The variables of a restore plan, each name spelled here alone: those every plan makes
// (${generation_dir}, ${etcd_data_dir}, ...), the parameters every playbook has besides its own
// (accept_loss, key_file, ...), and the shipped playbooks' parameters the plan builder reads
// (to, namespace, object). Plan::vars keeps them by name, as plan.json does.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kdr::restore {

enum class Var {
  // made by every plan
  generation,
  generation_dir,
  restore_id,
  restore_dir,
  etcd_data_dir,
  static_pod_path,
  kubeadm_config,
  root,
  kubeadm_etcd_dir_check,
  etcd_restored_from,  // files | snapshot | raw | replayed: where the etcd data the plan puts back comes from
  // set only when the plan rebuilds the node under another address or name (node_identity.hpp)
  renames_node,          // true (a playbook's steps can say `if: renames_node=true`)
  saved_kubeadm_config,  // the generation's kubeadm configuration, before it is rewritten
  old_node_name,
  old_node_address,
  // set by restore-etcd-cluster's plan: snapshot | journal | survivor, where the etcd data it
  // restores comes from (its steps say `if: etcd_point=...`)
  etcd_point,
  // parameters of every playbook (builtin_parameters())
  accept_loss,
  accept_undecryptable,
  accept_gap,
  same_node,
  key_file,
  unauthenticated,
  allow_setuid,
  // parameters a playbook may declare, which the plan builder reads
  to,
  namespace_,
  object,
  address,    // rebuild-node: the new node's address
  node_name,  // rebuild-node: the new node's name
  from,       // restore-etcd-cluster: backup | survivor
};

std::string var_name(Var v);

enum class VarKind {
  made,       // the plan sets it; a playbook can use it as ${name}, never --set it
  internal,   // the plan sets it for its own steps; not offered to playbooks
  builtin,    // a parameter of every playbook
  declared,   // a parameter when the playbook declares it
};
VarKind var_kind(Var v);

// The value of a variable in a plan's variables; `fallback` when it has none (a plan made by
// an older kdr may lack a parameter added since).
std::string var_or(const std::map<std::string, std::string>& vars, Var v, const std::string& fallback = "");
// A true|false parameter: true only when it is "true".
bool var_flag(const std::map<std::string, std::string>& vars, Var v);

// The names a playbook may use as ${name} without declaring them (the `made` ones).
const std::vector<std::string>& made_variable_names();
// Whether the plan shows `name=value` among its parameters: not a made or internal variable,
// and not a builtin parameter left at its default.
bool shown_as_parameter(const std::string& name, const std::string& value);

}  // namespace kdr::restore
