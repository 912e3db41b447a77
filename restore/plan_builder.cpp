#include "restore/plan_builder.hpp"

#include <time.h>

#include <algorithm>
#include <ctime>
#include <set>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "etcd/layout.hpp"
#include "etcd/replay.hpp"
#include "restore/etcd_elsewhere.hpp"
#include "restore/etcd_keys.hpp"
#include "restore/etcd_loss.hpp"
#include "restore/keys_point.hpp"
#include "restore/node_identity.hpp"
#include "restore/offer.hpp"
#include "restore/preflight.hpp"
#include "restore/restore.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::Error;
using core::UsageError;
using nlohmann::json;

namespace {

std::string restore_id_for(const core::Context& ctx, const std::string& playbook) {
  const std::time_t t = static_cast<std::time_t>(core::now_epoch());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  std::string base = std::string(buf) + "-" + playbook;
  std::string id = base;
  for (int n = 2; core::lstat_path(restores_dir(ctx) / id); ++n) id = fmt::format("{}-{}", base, n);
  return id;
}

// A step's values as the playbook writes them (variables not substituted).
json values_as_written(const StepSpec& spec) {
  json values = json::object();
  for (const auto& [name, field] : spec.fields) values[name] = field.value;
  return values;
}

// Whether a value of the step names ${variable}.
bool uses_variable(const StepSpec& spec, Var variable) {
  const auto wanted = var_name(variable);
  for (const auto& [name, field] : spec.fields) {
    const auto& v = field.value;
    for (const auto& x : v.is_array() ? v : json::array({v}))
      if (x.is_string()) {
        const auto names = variables_in(x.get<std::string>());
        if (std::find(names.begin(), names.end(), wanted) != names.end()) return true;
      }
  }
  return false;
}

// The playbook starts the generation's manifests: the etcd member is the generation's.
bool plan_starts_from_generation(const Playbook& pb) {
  return std::any_of(pb.steps.begin(), pb.steps.end(), [](const StepSpec& s) {
    return step_def(s.type).starts_manifests_from(values_as_written(s)) == "generation";
  });
}

// The etcd member the restored data must fit: from the manifest that will run it (the
// generation's when the playbook starts the generation's manifests, else the node's),
// else from what the backup recorded, else the config.
PlanEtcd choose_etcd(const core::Context& ctx, const Playbook& pb, const core::GenerationView& g,
                     const etcd::EtcdLayout& live, std::vector<std::string>& notes) {
  const auto spp = ctx.config.static_pod_path;
  auto from_member = [](const core::EtcdMember& m, const std::string& from) {
    PlanEtcd e;
    e.name = m.name;
    e.peer_url = m.peer_urls.empty() ? std::string() : m.peer_urls.front();
    e.data_dir = m.data_dir_host;
    e.initial_cluster = m.initial_cluster;
    e.from = from;
    return e;
  };
  auto gen_member = core::etcd_member(generation_pods(g, spp));
  const auto& live_member = live.member;
  PlanEtcd chosen;
  if (plan_starts_from_generation(pb) && gen_member)
    chosen = from_member(*gen_member, "the generation's " + gen_member->manifest);
  else if (live_member)
    chosen = from_member(*live_member, "the node's " + live_member->manifest);
  else if (gen_member)
    chosen = from_member(*gen_member, "the generation's " + gen_member->manifest);
  else {
    if (const auto& rec = g.meta.node.etcd_member) {
      chosen.name = rec->name;
      chosen.peer_url = rec->first_peer_url();
      chosen.data_dir = rec->data_dir_host.empty() ? live.data_dir : rec->data_dir_host;
      chosen.initial_cluster = rec->initial_cluster;
      chosen.from = "the member recorded in the generation";
    } else {
      chosen.name = ctx.host->hostname();
      chosen.peer_url = "https://127.0.0.1:2380";
      chosen.data_dir = live.data_dir;
      chosen.from = fmt::format("this host's name and kubeadm's default peer URL: no etcd manifest on the node "
                                "or in the generation, no member recorded; data dir from {}",
                                live.data_dir_origin);
    }
  }
  if (live_member && gen_member && live_member->data_dir_host != gen_member->data_dir_host)
    notes.push_back(fmt::format("the node's etcd manifest uses data dir {}, the backup's used {}; this restore uses {} "
                                "(from {})",
                                live_member->data_dir_host, gen_member->data_dir_host,
                                chosen.data_dir, chosen.from));
  const auto& ic = chosen.initial_cluster;
  const bool snapshot = playbook_has(pb, &StepTraits::restores_snapshot);
  const bool raw_files = std::any_of(pb.steps.begin(), pb.steps.end(), [](const StepSpec& s) {
    return step_def(s.type).traits().copies_files_back && uses_variable(s, Var::etcd_data_dir);
  });
  if (std::count(ic.begin(), ic.end(), ',') > 0 && snapshot)
    notes.push_back(fmt::format("the etcd manifest names several members ({}); a snapshot restore makes a one-member "
                                "cluster of this node: the other members must be removed and joined again "
                                "(docs/runbook.md, HA)",
                                ic));
  else if (std::count(ic.begin(), ic.end(), ',') > 0 && raw_files)
    notes.push_back(fmt::format("the etcd manifest names several members ({}); this member's data dir goes back as it "
                                "was at the backup while the other members keep the cluster's newer state: if it does "
                                "not catch up from them, remove it and join it again (docs/runbook.md, HA)",
                                ic));
  return chosen;
}

// How etcd ran for this generation: as it recorded (node.etcd), else as the node says now.
etcd::EtcdKind etcd_kind_for(const core::GenerationView& g, const etcd::EtcdLayout& live) {
  return etcd::etcd_kind_from_string(g.meta.node.etcd ? g.meta.node.etcd->kind : "").value_or(live.kind);
}

// The journal point as the plan keeps it.
PlannedReplay planned_replay(const etcd::ReplayPlan& p) {
  PlannedReplay r;
  r.epoch = p.epoch.number;
  r.cluster_id = p.epoch.cluster_id;
  r.base = p.base.source;
  r.base_revision = p.base.revision;
  r.target_revision = p.target_revision;
  r.target_time_ms = p.target_time_ms;
  r.events = p.events;
  r.digest = p.digest.hex();
  r.keys = static_cast<std::uint64_t>(p.digest.keys);
  r.auth = std::string(core::to_string(p.auth.status));
  r.auth_text = p.auth.text;
  return r;
}

// rebuild-node with address= or node_name=: the node comes back under a new identity. What is
// not given comes from the machine (its hostname, its first address), and the plan says so.
// The etcd member is restored under the new name and peer URL; kubeadm's configuration is
// rewritten by the node-identity step into the restore's folder, and kubeadm init reads that.
void plan_rename(const core::Context& ctx, const core::GenerationView& g, Plan& plan) {
  auto& vars = plan.vars;
  const auto given_address = var_or(vars, Var::address), given_name = var_or(vars, Var::node_name);
  if (given_address.empty() && given_name.empty()) return;
  IdentityChange c;
  c.from = backup_identity(g, ctx.config.static_pod_path);
  std::vector<std::string> found;
  c.to.address = given_address;
  if (c.to.address.empty()) {
    const auto ips = ctx.host->addresses();
    c.to.address = ips.empty() ? std::string() : ips.front();
    found.push_back(fmt::format("address {} (this machine's first address; --set address=IP names another)",
                                c.to.address.empty() ? "<none found>" : c.to.address));
  }
  c.to.name = given_name;
  if (c.to.name.empty()) {
    c.to.name = ctx.host->hostname();
    std::transform(c.to.name.begin(), c.to.name.end(), c.to.name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    found.push_back(fmt::format("name {} (this machine's hostname, as kubeadm names the node; --set node_name=NAME "
                                "names another)",
                                c.to.name));
  }
  std::string from_machine;
  for (const auto& f : found) from_machine += (from_machine.empty() ? "; from the machine: " : ", ") + f;
  if (!c.changes()) {
    vars[var_name(Var::address)] = "";
    vars[var_name(Var::node_name)] = "";
    plan.notes.push_back(fmt::format("the node keeps the backup's name and address, {} ({}){}: nothing is renamed",
                                     c.from.name, c.from.address, from_machine));
    return;
  }
  vars[var_name(Var::address)] = c.to.address;
  vars[var_name(Var::node_name)] = c.to.name;
  vars[var_name(Var::old_node_address)] = c.from.address;
  vars[var_name(Var::old_node_name)] = c.from.name;
  vars[var_name(Var::renames_node)] = "true";
  const auto config = vars.find(var_name(Var::kubeadm_config));
  if (config != vars.end()) {
    vars[var_name(Var::saved_kubeadm_config)] = config->second;
    config->second = (core::bfs::path(var_or(vars, Var::restore_dir)) / "kubeadm-config.yaml").string();
  }
  auto& e = plan.etcd;
  if (e.on_node()) {
    e.replaces_name = e.name;
    e.replaces_peer_url = e.peer_url;
    e.peer_url = replace_host(e.peer_url, c.from.address, c.to.address);
    e.name = c.to.name;
    e.initial_cluster = fmt::format("{}={}", e.name, e.peer_url);
  }
  // A controlPlaneEndpoint that is a name (a DNS name, a load balancer) stays as it is: what it
  // resolves to must change, not the kubeconfigs.
  if (const auto saved = var_or(vars, Var::saved_kubeadm_config); !saved.empty()) try {
      const auto host = control_plane_endpoint_host(core::read_file(saved));
      if (!host.empty() && address_problem(host) && host != c.from.name)
        plan.notes.push_back(fmt::format("controlPlaneEndpoint is {}, a name: it must now resolve to {} (or the load "
                                         "balancer behind it send to it); the kubeconfigs that use it are kept",
                                         host, c.to.address));
    } catch (const core::Error&) {
      // the node-identity step's preflight names an unreadable configuration
    }
  plan.notes.push_back(fmt::format("the node is rebuilt under a new identity: {}{}; {}; the certificates and "
                                   "kubeconfigs that name the old node are made again by kubeadm from the saved "
                                   "configuration, rewritten for the new one",
                                   c.text(), from_machine,
                                   e.on_node() ? fmt::format("etcd is restored as member {} at {}", e.name, e.peer_url)
                                               : std::string("etcd runs elsewhere: its members are not renamed")));
}

}  // namespace

BuiltPlan build_plan(const core::Context& ctx, const Playbook& pb, const core::GenerationEntry& entry,
                     const std::vector<std::string>& set) {
  BuiltPlan out;
  out.gen = core::load_generation(entry.id, entry.path, *entry.meta, entry.meta_sha256);
  if (!out.gen.manifest)
    throw Error(fmt::format("generation {} cannot be used: the manifest cannot be read: {}; nothing was changed (kdr "
                            "verify {} tells more)",
                            entry.id, out.gen.manifest_problem, entry.id));
  auto& plan = out.plan;
  plan.id = restore_id_for(ctx, pb.name);
  plan.playbook = pb.name;
  plan.playbook_file = pb.file;
  plan.generation = entry.id;
  plan.generation_dir = entry.path.string();
  plan.root = ctx.root.root().string();
  const auto live_layout =
      etcd::detect_etcd_layout(ctx.config, ctx.root, core::scan_static_pods(ctx.root, ctx.config.static_pod_path));
  const auto kind = etcd_kind_for(out.gen, live_layout);
  const bool etcd_here = etcd::kdr_drives_etcd(kind);
  if (!etcd_here && playbook_has(pb, &StepTraits::restores_snapshot))
    refuse_etcd_elsewhere(out.gen, kind, live_layout, pb.name);
  if (etcd_here) {
    plan.etcd = choose_etcd(ctx, pb, out.gen, live_layout, plan.notes);
    plan.etcd.kind = kind;
    for (const auto& p : live_layout.problems) plan.notes.push_back(p);
  } else {
    const auto& rec = out.gen.meta.node.etcd;
    const auto summary = rec && !rec->summary.empty() ? rec->summary : live_layout.summary();
    plan.etcd.kind = kind;
    plan.etcd.from = summary;
    plan.notes.push_back(
        fmt::format("{}: etcd is not restored by this plan; the steps on etcd's data dir are left out", summary));
  }

  auto& vars = plan.vars;
  const auto set_var = [&](Var v, const std::string& value) { vars[var_name(v)] = value; };
  std::map<std::string, std::string> unavailable;
  set_var(Var::generation, entry.id);
  set_var(Var::generation_dir, entry.path.string());
  set_var(Var::restore_id, plan.id);
  set_var(Var::restore_dir, (restores_dir(ctx) / plan.id).string());
  set_var(Var::static_pod_path, ctx.config.static_pod_path);
  set_var(Var::etcd_data_dir, plan.etcd.data_dir);
  set_var(Var::root, ctx.root.root().string());
  // kubeadm names its check of the etcd data dir after the path: DirAvailable--var-lib-etcd
  std::string check = "DirAvailable-" + plan.etcd.data_dir;
  std::replace(check.begin(), check.end(), '/', '-');
  set_var(Var::kubeadm_etcd_dir_check, check);
  const auto& kubeadm_rel = entry.meta->node.kubeadm_config;
  // A file of the generation's own, like its snapshot: named among meta.json's artifacts (so
  // that the preflight re-hashes it) and inside the generation, never a path from elsewhere.
  const bool kubeadm_artifact =
      !kubeadm_rel.empty() && core::safe_artifact_path(kubeadm_rel) &&
      std::any_of(entry.meta->artifacts.begin(), entry.meta->artifacts.end(),
                  [&](const core::ArtifactRecord& a) { return a.path == kubeadm_rel; });
  if (!kubeadm_rel.empty() && !kubeadm_artifact)
    plan.notes.push_back(fmt::format("meta.json names '{}' as the kubeadm configuration, but not as a file of the "
                                     "generation with its hash: not used",
                                     kubeadm_rel));
  if (kubeadm_artifact && core::lstat_path(entry.path / kubeadm_rel)) {
    set_var(Var::kubeadm_config, (entry.path / kubeadm_rel).string());
  } else {
    std::string why = "not captured";
    for (const auto& w : entry.meta->node.not_captured)
      if (w.rfind("kubeadm-config", 0) == 0) why = w;
    if (const auto file = kubeadm_config_file(out.gen)) {
      set_var(Var::kubeadm_config, (entry.path / core::generation_relative_path(*file)).string());
      if (std::any_of(pb.steps.begin(), pb.steps.end(),
                      [](const StepSpec& st) { return uses_variable(st, Var::kubeadm_config); }))
        plan.notes.push_back(fmt::format("the kubeadm configuration comes from the generation's copy of {}: the "
                                         "kubeadm-config ConfigMap was not saved ({}); read it before kubeadm init "
                                         "uses it",
                                         *file, why));
    } else {
      unavailable[var_name(Var::kubeadm_config)] = fmt::format(
          "generation {} has no saved kubeadm configuration ({}) and no kubeadm config file (a ClusterConfiguration) "
          "among its files; pick a generation that has one, or write the cluster's kubeadm config by hand and use a "
          "playbook of your own",
          entry.id, why);
    }
  }
  for (const auto& [k, v] : parameter_values(pb, set)) vars[k] = v;
  plan_rename(ctx, out.gen, plan);
  if (const auto why = unavailable.find(var_name(Var::kubeadm_config));
      why != unavailable.end() && var_flag(vars, Var::renames_node))
    unavailable[var_name(Var::saved_kubeadm_config)] = why->second;  // what node-identity rewrites
  // `to`: a point in time for etcd, resolved once (the journal moves on; the plan does not).
  std::optional<etcd::ReplayPlan> replay;
  std::optional<core::NodeKey> key;  // checks the change journal's seals where the plan reads it
  try {
    key = load_restore_key(ctx, var_or(vars, Var::key_file));
  } catch (const core::Error&) {
    // an unsafe key file: the preflight refuses it and says why
  }
  // from=survivor (restore-etcd-cluster): the point is the survivor's data with the journal past
  // it, which the etcd-survivor step ranks and makes; `to` is its target there.
  const bool from_survivor = var_or(vars, Var::from) == "survivor";
  if (from_survivor && var_or(vars, Var::to) == "snapshot")
    throw UsageError("--set from=survivor restores the most advanced member's data (with the change journal past "
                     "it); to=snapshot is the generation's snapshot: --set from=backup for that");
  if (auto it = vars.find(var_name(Var::to)); it != vars.end() && etcd_here && !from_survivor) {
    KeySelection selection;
    selection.namespaces = split_list(var_or(vars, Var::namespace_));
    for (const auto& o : split_list(var_or(vars, Var::object))) try {
        selection.objects.push_back(parse_object_choice(o));
      } catch (const core::Error&) {
        // the step names the bad value (etcd-put-keys' object)
      }
    auto point = it->second == "auto" && playbook_has(pb, &StepTraits::writes_live_keys)
                     ? keys_point(ctx, selection, out.gen.meta.etcd, key ? &*key : nullptr)
                     : resolve_point(ctx, it->second, out.gen.meta.etcd, key ? &*key : nullptr,
                                     var_flag(vars, Var::accept_gap));
    it->second = point.value;
    if (!point.note.empty()) plan.notes.push_back(point.note);
    if (point.replay) {
      plan.etcd.replay = planned_replay(*point.replay);
      replay = std::move(point.replay);
    }
  }

  if (vars.count(var_name(Var::from)))
    set_var(Var::etcd_point, from_survivor                   ? "survivor"
                             : var_or(vars, Var::to) == "snapshot" ? "snapshot"
                                                                   : "journal");
  set_var(Var::etcd_restored_from, "files");
  // The step types a condition left out, by condition, in the playbook's order.
  struct LeftOut {
    std::string condition;
    std::vector<std::string> types;
  };
  std::vector<LeftOut> left_out;
  for (const auto& spec : pb.steps) {
    if (!etcd_here && uses_variable(spec, Var::etcd_data_dir)) continue;
    if (spec.condition && !spec.condition->holds(vars)) {
      const auto condition = spec.condition->text();
      auto group = std::find_if(left_out.begin(), left_out.end(), [&](const auto& g) { return g.condition == condition; });
      if (group == left_out.end()) group = left_out.insert(left_out.end(), {condition, {}});
      group->types.emplace_back(to_string(spec.type));
      continue;
    }
    const StepReadFacts facts{ctx.config.state_dir, plan_has(plan, &StepTraits::replays_journal)};
    plan.steps.push_back(plan_step(spec, vars, unavailable, facts));
    if (const auto from = step_def(spec.type).etcd_restored_from(plan.steps.back()))
      set_var(Var::etcd_restored_from, *from);
  }
  // A member that joins its cluster again gets the cluster's data from the leader: nothing of
  // the cluster is rolled back, whatever this node's etcd still answers.
  const bool rejoins = plan_has(plan, &StepTraits::rejoins_cluster);
  // A survivor restore's losses are the etcd-survivor step's: side by side, from the journal.
  if (etcd_here && !rejoins && !from_survivor &&
      std::any_of(plan.steps.begin(), plan.steps.end(),
                  [&](const PlannedStep& st) { return replaces_etcd_data(st, plan); }))
    plan.etcd.loss =
        measure_etcd_loss(ctx, live_layout,
                          replay ? BackupPoint{replay->target_revision, replay->epoch.cluster_id}
                          : out.gen.meta.etcd.snapshot
                              ? BackupPoint{out.gen.meta.etcd.snapshot->revision, out.gen.meta.etcd.snapshot->cluster_id}
                              : BackupPoint{},
                          key ? &*key : nullptr);
  // "left out of this plan (only with renames_node=true): move-aside, kubeadm (4 steps)"
  for (const auto& group : left_out) {
    std::string list;
    for (std::size_t i = 0; i < group.types.size();) {
      std::size_t n = 1;
      while (i + n < group.types.size() && group.types[i + n] == group.types[i]) ++n;
      list += (list.empty() ? "" : ", ") + (n == 1 ? group.types[i] : fmt::format("{} ({} steps)", group.types[i], n));
      i += n;
    }
    plan.notes.push_back(fmt::format("left out of this plan (only with {}): {}", group.condition, list));
  }
  if (entry.meta->status == core::GenerationStatus::partial)
    plan.notes.push_back(fmt::format("generation {} is partial: {}", entry.id, core::partial_reason(*entry.meta)));
  return out;
}

std::map<std::string, std::string> parameter_values(const Playbook& pb, const std::vector<std::string>& set) {
  std::vector<Parameter> all = pb.parameters;
  all.insert(all.end(), builtin_parameters().begin(), builtin_parameters().end());
  std::map<std::string, std::string> values;
  for (const auto& p : all) values[p.name] = p.default_value;
  std::set<std::string> given;
  for (const auto& kv : set) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) throw UsageError(fmt::format("--set {}: expected NAME=VALUE", kv));
    const auto name = kv.substr(0, eq), value = kv.substr(eq + 1);
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& p) { return p.name == name; });
    if (it == all.end()) {
      std::string known;
      for (const auto& p : all) known += (known.empty() ? "" : ", ") + p.name;
      throw UsageError(fmt::format("--set {}: playbook {} has no parameter '{}' (it has: {})", kv, pb.name, name, known));
    }
    if (!it->choices.empty() && std::find(it->choices.begin(), it->choices.end(), value) == it->choices.end()) {
      std::string list;
      for (const auto& c : it->choices) list += (list.empty() ? "" : ", ") + c;
      throw UsageError(fmt::format("--set {}: '{}' is not one of {}", kv, value, list));
    }
    if (it->repeatable && !given.insert(name).second)
      values[name] += "," + value;
    else
      values[name] = value;
    given.insert(name);
  }
  return values;
}

}  // namespace kdr::restore
