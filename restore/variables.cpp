#include "restore/variables.hpp"

#include <array>

#include "restore/playbook.hpp"

namespace kdr::restore {

namespace {

struct VarInfo {
  Var var;
  const char* name;
  VarKind kind;
};

constexpr std::array<VarInfo, 28> table = {{
    {Var::generation, "generation", VarKind::made},
    {Var::generation_dir, "generation_dir", VarKind::made},
    {Var::restore_id, "restore_id", VarKind::made},
    {Var::restore_dir, "restore_dir", VarKind::made},
    {Var::etcd_data_dir, "etcd_data_dir", VarKind::made},
    {Var::static_pod_path, "static_pod_path", VarKind::made},
    {Var::kubeadm_config, "kubeadm_config", VarKind::made},
    {Var::root, "root", VarKind::made},
    {Var::kubeadm_etcd_dir_check, "kubeadm_etcd_dir_check", VarKind::made},
    {Var::etcd_restored_from, "etcd_restored_from", VarKind::internal},
    {Var::renames_node, "renames_node", VarKind::made},
    {Var::saved_kubeadm_config, "saved_kubeadm_config", VarKind::made},
    {Var::old_node_name, "old_node_name", VarKind::internal},
    {Var::old_node_address, "old_node_address", VarKind::internal},
    {Var::etcd_point, "etcd_point", VarKind::made},
    {Var::accept_loss, "accept_loss", VarKind::builtin},
    {Var::accept_undecryptable, "accept_undecryptable", VarKind::builtin},
    {Var::accept_gap, "accept_gap", VarKind::builtin},
    {Var::same_node, "same_node", VarKind::builtin},
    {Var::key_file, "key_file", VarKind::builtin},
    {Var::unauthenticated, "unauthenticated", VarKind::builtin},
    {Var::allow_setuid, "allow_setuid", VarKind::builtin},
    {Var::to, "to", VarKind::declared},
    {Var::namespace_, "namespace", VarKind::declared},
    {Var::object, "object", VarKind::declared},
    {Var::address, "address", VarKind::declared},
    {Var::node_name, "node_name", VarKind::declared},
    {Var::from, "from", VarKind::declared},
}};

constexpr bool in_enum_order() {
  for (std::size_t i = 0; i < table.size(); ++i)
    if (static_cast<std::size_t>(table[i].var) != i) return false;
  return true;
}
static_assert(in_enum_order(), "the table lists the variables in the order of enum Var");

const VarInfo& info(Var v) { return table.at(static_cast<std::size_t>(v)); }

}  // namespace

std::string var_name(Var v) { return info(v).name; }

VarKind var_kind(Var v) { return info(v).kind; }

std::string var_or(const std::map<std::string, std::string>& vars, Var v, const std::string& fallback) {
  const auto it = vars.find(var_name(v));
  return it == vars.end() ? fallback : it->second;
}

bool var_flag(const std::map<std::string, std::string>& vars, Var v) { return var_or(vars, v, "false") == "true"; }

const std::vector<std::string>& made_variable_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& i : table)
      if (i.kind == VarKind::made) out.push_back(i.name);
    return out;
  }();
  return names;
}

bool shown_as_parameter(const std::string& name, const std::string& value) {
  for (const auto& i : table)
    if (i.name == name && (i.kind == VarKind::made || i.kind == VarKind::internal)) return false;
  for (const auto& p : builtin_parameters())
    if (p.name == name) return value != p.default_value;
  return true;
}

}  // namespace kdr::restore
