#include "restore/offer.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "restore/variables.hpp"

namespace kdr::restore {

using nlohmann::json;

std::optional<std::string> kubeadm_config_file(const core::GenerationView& g) {
  if (!g.manifest) return std::nullopt;
  for (const auto& e : g.manifest->entries) {
    if (e.type != core::FileType::file || e.size > (1u << 20)) continue;
    const auto name = core::bfs::path(e.path).filename().string();
    const auto ext = core::bfs::path(e.path).extension().string();
    if (name.find("kubeadm") == std::string::npos || (ext != ".yaml" && ext != ".yml" && ext != ".conf")) continue;
    try {
      if (core::read_backup_file(g.dir / core::generation_relative_path(e.path)).find("kind: ClusterConfiguration") !=
          std::string::npos)
        return e.path;
    } catch (const core::Error&) {
    }
  }
  return std::nullopt;
}

GenerationOffer offer_of(const core::Config& config, const core::GenerationView& g) {
  GenerationOffer o;
  const auto& m = g.meta;
  o.etcd_snapshot = m.etcd.snapshot.has_value();
  o.etcd_point = m.etcd.journal.has_value();
  o.etcd_members = m.etcd.members.size();
  const auto kind = etcd::etcd_kind_from_string(m.node.etcd ? m.node.etcd->kind : "");
  o.etcd_on_node = etcd::kdr_drives_etcd(kind.value_or(etcd::EtcdKind::static_pod));
  o.kubeadm_config = !m.node.kubeadm_config.empty() || kubeadm_config_file(g).has_value();
  const auto etcd_dir = core::etcd_data_dir_of(g, config);
  for (const auto& s : g.meta.sources) {
    if (!s.present) continue;
    o.paths.push_back(s.path);
    if (!etcd_dir.empty() && core::node_path_within(etcd_dir, s.path)) o.etcd_files = true;
  }
  return o;
}

namespace {

// Why the playbook cannot run from the offer with these parameter values (nothing when it can).
std::optional<std::string> cannot_run(const GenerationOffer& offer, const Playbook& pb,
                                      const std::map<std::string, std::string>& vars) {
  for (const auto& spec : pb.steps) {
    if (spec.condition && !spec.condition->holds(vars)) continue;
    json values = json::object();
    for (const auto& [name, field] : spec.fields) {
      try {
        if (field.value.is_array()) {
          json list = json::array();
          for (const auto& x : field.value) list.push_back(substitute(x.get<std::string>(), vars, field.where));
          values[name] = list;
        } else {
          values[name] = substitute(field.value.get<std::string>(), vars, field.where);
        }
      } catch (const core::Error&) {
        return "a step needs what the generation lacks (" + name + ")";  // e.g. ${kubeadm_config}
      }
    }
    if (auto why = step_def(spec.type).cannot_serve(offer, values)) return why;
  }
  return std::nullopt;
}

}  // namespace

std::vector<PlaybookFit> playbooks_serving(const GenerationOffer& offer, const std::vector<Playbook>& playbooks,
                                           const std::string& etcd_data_dir, const std::string& static_pod_path) {
  std::vector<PlaybookFit> out;
  for (const auto& pb : playbooks) {
    std::vector<Parameter> params = pb.parameters;
    params.insert(params.end(), builtin_parameters().begin(), builtin_parameters().end());
    // The variables a plan makes, with stand-ins where only a restore knows the value.
    std::map<std::string, std::string> vars = {{var_name(Var::etcd_data_dir), etcd_data_dir},
                                               {var_name(Var::static_pod_path), static_pod_path},
                                               {var_name(Var::generation), "GENERATION"},
                                               {var_name(Var::generation_dir), "/GENERATION"},
                                               {var_name(Var::restore_id), "ID"},
                                               {var_name(Var::restore_dir), "/RESTORE"},
                                               {var_name(Var::root), "/"},
                                               {var_name(Var::kubeadm_etcd_dir_check), "DirAvailable"}};
    if (offer.kubeadm_config) vars[var_name(Var::kubeadm_config)] = "/GENERATION/kubeadm-config.yaml";
    for (const auto& p : params) vars[p.name] = p.default_value;
    // `to: auto` goes back to what the generation holds itself: its snapshot, or else the
    // journal revision it recorded (a newer journal point is only known when a restore plans).
    if (auto it = vars.find(var_name(Var::to)); it != vars.end() && it->second == "auto")
      it->second = offer.etcd_snapshot || !offer.etcd_point ? "snapshot" : "latest";
    // The operator's own choices of what to put back (a namespace: a list without a default):
    // shown as NAME=<NAME>. A single value without a default (rebuild-node's address) is
    // optional.
    std::vector<std::string> asked;
    for (const auto& p : pb.parameters)
      if (p.repeatable && p.default_value.empty() && p.choices.empty()) {
        asked.push_back(p.name + "=NAME");
        break;
      }
    std::optional<PlaybookFit> fit;
    if (!cannot_run(offer, pb, vars)) fit = PlaybookFit{pb.name, asked};
    for (const auto& p : params) {
      if (fit) break;
      for (const auto& choice : p.choices) {
        if (choice == p.default_value) continue;
        auto with = vars;
        with[p.name] = choice;
        if (cannot_run(offer, pb, with)) continue;
        fit = PlaybookFit{pb.name, asked};
        fit->set.insert(fit->set.begin(), p.name + "=" + choice);
        break;
      }
    }
    if (fit) out.push_back(*fit);
  }
  return out;
}

}  // namespace kdr::restore
