#include "restore/restore.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/control_plane.hpp"
#include "core/etcd_client.hpp"
#include "core/etcd_layout.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "core/repository.hpp"
#include "core/etcd_rewind.hpp"
#include "restore/etcd_keys.hpp"
#include "restore/etcd_loss.hpp"
#include "restore/namespace_point.hpp"
#include "restore/point_in_time.hpp"
#include "restore/offer.hpp"
#include "restore/step.hpp"
#include "restore/steps/etcd_replay.hpp"
#include "restore/journal.hpp"
#include "restore/playbook.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

using core::Error;
using core::ExitCode;
using core::UsageError;
using nlohmann::json;

core::bfs::path restores_dir(const core::Context& ctx) { return ctx.root.host(ctx.config.state_dir) / "restores"; }

// --playbook-dir folders, then the node's own /etc/kdr/playbooks, then the installed ones.
std::vector<core::bfs::path> search_dirs(const core::Context& ctx, const std::vector<std::string>& extra) {
  auto dirs = extra;
  dirs.push_back(ctx.root.host("/etc/kdr/playbooks").string());
  return playbook_dirs(dirs);
}

namespace {

std::string restore_id_for(const core::Context& ctx, const std::string& playbook) {
  const std::time_t t = static_cast<std::time_t>(ctx.host->now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  std::string base = std::string(buf) + "-" + playbook;
  std::string id = base;
  for (int n = 2; core::lstat_path(restores_dir(ctx) / id); ++n) id = fmt::format("{}-{}", base, n);
  return id;
}

bool plan_starts_from_generation(const Playbook& pb) {
  for (const auto& s : pb.steps)
    if (s.type == StepType::start_static_pods) {
      auto it = s.fields.find("from");
      if (it != s.fields.end() && it->second.value == "generation") return true;
    }
  return false;
}

bool step_uses_etcd_data_dir(const StepSpec& spec);

// The etcd member the restored data must fit: from the manifest that will run it (the
// generation's when the playbook starts the generation's manifests, else the node's),
// else from what the backup recorded, else the config.
json choose_etcd(const core::Context& ctx, const Playbook& pb, const verify::GenerationView& g,
                 const core::EtcdLayout& live, std::vector<std::string>& notes) {
  const auto spp = ctx.config.static_pod_path;
  auto from_member = [](const core::EtcdMember& m, const std::string& from) {
    return json{{"name", m.name},
                {"peer_url", m.peer_urls.empty() ? std::string() : m.peer_urls.front()},
                {"data_dir", m.data_dir_host},
                {"initial_cluster", m.initial_cluster},
                {"from", from}};
  };
  auto gen_member = core::etcd_member(generation_pods(g, spp));
  const auto& live_member = live.member;
  json chosen;
  if (plan_starts_from_generation(pb) && gen_member)
    chosen = from_member(*gen_member, "the generation's " + gen_member->manifest);
  else if (live_member)
    chosen = from_member(*live_member, "the node's " + live_member->manifest);
  else if (gen_member)
    chosen = from_member(*gen_member, "the generation's " + gen_member->manifest);
  else {
    if (const auto& rec = g.meta.node.etcd_member)
      chosen = {{"name", rec->name},
                {"peer_url", rec->first_peer_url()},
                {"data_dir", rec->data_dir_host.empty() ? live.data_dir : rec->data_dir_host},
                {"initial_cluster", rec->initial_cluster},
                {"from", "the member recorded in the generation"}};
    else
      chosen = {{"name", ctx.host->hostname()},
                {"peer_url", "https://127.0.0.1:2380"},
                {"data_dir", live.data_dir},
                {"initial_cluster", ""},
                {"from", fmt::format("this host's name and kubeadm's default peer URL: no etcd manifest on the node "
                                     "or in the generation, no member recorded; data dir from {}",
                                     live.data_dir_origin)}};
  }
  if (live_member && gen_member && live_member->data_dir_host != gen_member->data_dir_host)
    notes.push_back(fmt::format("the node's etcd manifest uses data dir {}, the backup's used {}; this restore uses {} "
                                "(from {})",
                                live_member->data_dir_host, gen_member->data_dir_host,
                                chosen["data_dir"].get<std::string>(), chosen["from"].get<std::string>()));
  const auto ic = chosen.value("initial_cluster", "");
  const bool snapshot = std::any_of(pb.steps.begin(), pb.steps.end(),
                                    [](const StepSpec& s) { return s.type == StepType::etcd_snapshot_restore; });
  const bool raw_files = std::any_of(pb.steps.begin(), pb.steps.end(), [](const StepSpec& s) {
    return s.type == StepType::copy_back && step_uses_etcd_data_dir(s);
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

// ---- etcd that kdr does not run: external etcd, etcd under systemd ---------------------------

// How etcd ran for this generation: as it recorded (node.etcd), else as the node says now.
core::EtcdKind etcd_kind_for(const verify::GenerationView& g, const core::EtcdLayout& live) {
  return core::etcd_kind_from_string(g.meta.node.etcd ? g.meta.node.etcd->kind : "").value_or(live.kind);
}

bool step_uses_etcd_data_dir(const StepSpec& spec) {
  for (const auto& [name, field] : spec.fields) {
    const auto& v = field.value;
    for (const auto& x : v.is_array() ? v : json::array({v}))
      if (x.is_string()) {
        const auto names = variables_in(x.get<std::string>());
        if (std::find(names.begin(), names.end(), "etcd_data_dir") != names.end()) return true;
      }
  }
  return false;
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : std::string(sep)) + x;
  return out;
}

std::string snapshot_path_text(const verify::GenerationView& g) {
  const auto& snap = g.meta.etcd.snapshot;
  return snap ? (g.dir / snap->file).string() : "<no snapshot in this generation>";
}

// The `etcdutl snapshot restore` each member runs: one snapshot, one new cluster token,
// each member its own name and peer URL. Members come from what the backup recorded.
std::vector<std::string> member_restore_commands(const verify::GenerationView& g, const std::string& data_dir) {
  const std::string file = snapshot_path_text(g);
  const auto& members = g.meta.etcd.members;
  std::vector<std::string> initial;
  for (const auto& m : members)
    if (!m.learner) initial.push_back(m.name + "=" + m.first_peer_url());
  const std::string cluster = initial.empty() ? "<NAME>=<PEER_URL>,..." : join(initial, ",");
  const std::string token = "kdr-restore-" + g.id;
  std::vector<std::string> out;
  auto command = [&](const std::string& name, const std::string& peer) {
    return fmt::format("etcdutl snapshot restore {} --name {} --initial-cluster {} --initial-cluster-token {} "
                       "--initial-advertise-peer-urls {} --data-dir {}.restored --bump-revision 1000000000 "
                       "--mark-compacted",
                       file, name, cluster, token, peer, data_dir);
  };
  if (initial.empty()) {
    out.push_back("on each member (this generation recorded no member list; take names and peer URLs from "
                  "`etcdctl member list` of a backup that did):");
    out.push_back("  " + command("<NAME>", "<PEER_URL>"));
    return out;
  }
  for (const auto& m : members) {
    if (m.learner) continue;
    out.push_back(fmt::format("on {} ({}):", m.name, m.first_peer_url()));
    out.push_back("  " + command(m.name, m.first_peer_url()));
  }
  return out;
}


// etcd on other hosts: one snapshot restored on every member.
std::string external_etcd_instructions(const verify::GenerationView& g, const std::string& summary,
                                       const std::string& playbook) {
  std::string text = fmt::format(
      "playbook {} restores etcd on this node, but this node uses {}: the etcd members run on other hosts, and "
      "kdr does not invent a local one. Nothing was changed.\n"
      "Restore every member from the same snapshot (copy it to each host first; stop etcd on all of them):",
      playbook, summary);
  for (const auto& line : member_restore_commands(g, "<the member's data dir>")) text += "\n  " + line;
  text += "\nthen on each member move its data dir aside, put the .restored one in its place and start etcd; "
          "then restart kube-apiserver on every control-plane node. kdr restore restore-files restores this "
          "node's own files (certificates, kubeconfigs, manifests) and leaves etcd alone.";
  return text;
}

// etcd on this node, run by systemd or otherwise outside the static pods: the commands to
// restore it by hand, with the member's facts from its recorded settings or member list.
std::string node_etcd_instructions(const verify::GenerationView& g, const core::EtcdLayoutRecord& rec,
                                   const core::EtcdLayout& live, const std::string& summary,
                                   const std::string& playbook) {
  const auto env = [&](const std::string& key, const std::string& fallback) {
    auto it = rec.systemd_env.find(key);
    return it == rec.systemd_env.end() ? fallback : it->second;
  };
  const std::string data_dir = rec.data_dir ? *rec.data_dir : live.data_dir;
  const std::string unit_name = rec.systemd_unit.empty() ? "" : core::bfs::path(rec.systemd_unit).filename().string();
  const auto& members = g.meta.etcd.members;
  const auto only = members.size() == 1 ? members[0] : core::EtcdMemberRecord{};
  const auto name = env("ETCD_NAME", only.name.empty() ? "<NAME>" : only.name);
  const auto peer = env("ETCD_INITIAL_ADVERTISE_PEER_URLS", only.first_peer_url().empty() ? "<PEER_URL>" : only.first_peer_url());
  const auto cluster = env("ETCD_INITIAL_CLUSTER", name + "=" + peer);
  return fmt::format(
      "playbook {} drives etcd as a static pod, but this node uses {}: kdr does not stop, move or start an etcd "
      "it does not run. Nothing was changed.\n"
      "Restore it by hand, on this node (and the same snapshot on every other member):\n"
      "  {}\n"
      "  mv {} {}.before-restore\n"
      "  etcdutl snapshot restore {} --name {} --initial-cluster {} --initial-cluster-token kdr-restore-{} "
      "--initial-advertise-peer-urls {} --data-dir {} --bump-revision 1000000000 --mark-compacted\n"
      "  chown -R etcd:etcd {}   # when etcd runs as user etcd\n"
      "  {}\n"
      "then restart kube-apiserver. kdr restore restore-files restores /etc/kubernetes and leaves etcd alone.",
      playbook, summary, unit_name.empty() ? "# stop etcd, however it is run here" : "systemctl stop " + unit_name,
      data_dir, data_dir, snapshot_path_text(g), name, cluster, g.id, peer, data_dir, data_dir,
      unit_name.empty() ? "# start etcd again" : "systemctl start " + unit_name);
}

// Why kdr will not restore etcd here, and what to run instead.
[[noreturn]] void refuse_etcd_elsewhere(const verify::GenerationView& g, core::EtcdKind kind,
                                        const core::EtcdLayout& live, const std::string& playbook) {
  const auto rec = g.meta.node.etcd.value_or(core::EtcdLayoutRecord{});
  const std::string summary = rec.summary.empty() ? live.summary() : rec.summary;
  throw Error(kind == core::EtcdKind::external ? external_etcd_instructions(g, summary, playbook)
                                               : node_etcd_instructions(g, rec, live, summary, playbook),
              ExitCode::failed);
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

struct Prepared {
  Plan plan;
  verify::GenerationView gen;
};

Prepared prepare(const core::Context& ctx, const Playbook& pb, const core::GenerationEntry& entry,
                 const std::vector<std::string>& set) {
  Prepared out;
  verify::Findings load_findings;
  out.gen = verify::load_generation(entry.id, entry.path, *entry.meta, entry.meta_sha256, load_findings);
  if (!out.gen.manifest)
    throw Error(fmt::format("generation {} cannot be used: {}; nothing was changed (kdr verify {} tells more)", entry.id,
                            load_findings.all().empty() ? "its manifest is unreadable" : load_findings.all().front().detail,
                            entry.id));
  auto& plan = out.plan;
  plan.id = restore_id_for(ctx, pb.name);
  plan.playbook = pb.name;
  plan.playbook_file = pb.file;
  plan.generation = entry.id;
  plan.generation_dir = entry.path.string();
  plan.root = ctx.root.root().string();
  const auto live_layout =
      core::detect_etcd_layout(ctx.config, ctx.root, core::scan_static_pods(ctx.root, ctx.config.static_pod_path));
  const auto kind = etcd_kind_for(out.gen, live_layout);
  const bool etcd_here = core::kdr_drives_etcd(kind);
  if (!etcd_here && std::any_of(pb.steps.begin(), pb.steps.end(),
                                [](const StepSpec& st) { return st.type == StepType::etcd_snapshot_restore; }))
    refuse_etcd_elsewhere(out.gen, kind, live_layout, pb.name);
  if (etcd_here) {
    plan.etcd = choose_etcd(ctx, pb, out.gen, live_layout, plan.notes);
    plan.etcd["kind"] = core::to_string(kind);
    for (const auto& p : live_layout.problems) plan.notes.push_back(p);
  } else {
    const auto& rec = out.gen.meta.node.etcd;
    const auto summary = rec && !rec->summary.empty() ? rec->summary : live_layout.summary();
    plan.etcd = {{"kind", core::to_string(kind)}, {"name", ""}, {"peer_url", ""}, {"data_dir", ""}, {"from", summary}};
    plan.notes.push_back(
        fmt::format("{}: etcd is not restored by this plan; the steps on etcd's data dir are left out", summary));
  }

  auto& vars = plan.vars;
  std::map<std::string, std::string> unavailable;
  vars["generation"] = entry.id;
  vars["generation_dir"] = entry.path.string();
  vars["restore_id"] = plan.id;
  vars["restore_dir"] = (restores_dir(ctx) / plan.id).string();
  vars["static_pod_path"] = ctx.config.static_pod_path;
  vars["etcd_data_dir"] = plan.etcd.at("data_dir").get<std::string>();
  vars["root"] = ctx.root.root().string();
  // kubeadm names its check of the etcd data dir after the path: DirAvailable--var-lib-etcd
  std::string check = "DirAvailable-" + vars["etcd_data_dir"];
  std::replace(check.begin(), check.end(), '/', '-');
  vars["kubeadm_etcd_dir_check"] = check;
  const auto& kubeadm_rel = entry.meta->node.kubeadm_config;
  // A file of the generation's own, like its snapshot: named among meta.json's artifacts (so
  // that the preflight re-hashes it) and inside the generation, never a path from elsewhere.
  const bool kubeadm_artifact =
      !kubeadm_rel.empty() && verify::safe_artifact_path(kubeadm_rel) &&
      std::any_of(entry.meta->artifacts.begin(), entry.meta->artifacts.end(),
                  [&](const core::ArtifactRecord& a) { return a.path == kubeadm_rel; });
  if (!kubeadm_rel.empty() && !kubeadm_artifact)
    plan.notes.push_back(fmt::format("meta.json names '{}' as the kubeadm configuration, but not as a file of the "
                                     "generation with its hash: not used",
                                     kubeadm_rel));
  if (kubeadm_artifact && core::lstat_path(entry.path / kubeadm_rel)) {
    vars["kubeadm_config"] = (entry.path / kubeadm_rel).string();
  } else {
    std::string why = "not captured";
    for (const auto& w : entry.meta->node.not_captured)
      if (w.rfind("kubeadm-config", 0) == 0) why = w;
    if (const auto file = kubeadm_config_file(out.gen)) {
      vars["kubeadm_config"] = (entry.path / core::generation_relative_path(*file)).string();
      if (std::any_of(pb.steps.begin(), pb.steps.end(), [](const StepSpec& st) {
            return std::any_of(st.fields.begin(), st.fields.end(), [](const auto& f) {
              return f.second.value.dump().find("${kubeadm_config}") != std::string::npos;
            });
          }))
        plan.notes.push_back(fmt::format("the kubeadm configuration comes from the generation's copy of {}: the "
                                         "kubeadm-config ConfigMap was not saved ({}); read it before kubeadm init "
                                         "uses it",
                                         *file, why));
    } else {
      unavailable["kubeadm_config"] = fmt::format(
          "generation {} has no saved kubeadm configuration ({}) and no kubeadm config file (a ClusterConfiguration) "
          "among its files; pick a generation that has one, or write the cluster's kubeadm config by hand and use a "
          "playbook of your own",
          entry.id, why);
    }
  }
  for (const auto& [k, v] : parameter_values(pb, set)) vars[k] = v;
  // `to`: a point in time for etcd, resolved once (the journal moves on; the plan does not).
  std::optional<ReplayPlan> replay;
  if (auto it = vars.find("to"); it != vars.end() && etcd_here) {
    std::optional<core::NodeKey> key;
    try {
      key = load_restore_key(ctx, vars.count("key_file") ? vars.at("key_file") : std::string());
    } catch (const core::Error&) {
      // an unsafe key file: the preflight refuses it and says why
    }
    const auto gap = vars.find("accept_gap");
    const auto namespaces = vars.count("namespace") ? split_list(vars.at("namespace")) : std::vector<std::string>();
    const bool puts_keys = std::any_of(pb.steps.begin(), pb.steps.end(),
                                       [](const StepSpec& st) { return st.type == StepType::etcd_put_keys; });
    auto point = it->second == "auto" && puts_keys
                     ? namespace_point(ctx, namespaces, out.gen.meta.etcd, key ? &*key : nullptr)
                     : resolve_point(ctx, it->second, out.gen.meta.etcd, key ? &*key : nullptr,
                                     gap != vars.end() && gap->second == "true");
    it->second = point.value;
    if (!point.note.empty()) plan.notes.push_back(point.note);
    if (point.replay) {
      plan.etcd["replay"] = point.replay->to_json();
      replay = std::move(point.replay);
    }
  }

  vars["etcd_restored_from"] = "files";
  std::vector<std::string> left_out;
  for (const auto& spec : pb.steps) {
    if (!etcd_here && step_uses_etcd_data_dir(spec)) continue;
    if (spec.condition && !spec.condition->holds(vars)) {
      left_out.push_back(fmt::format("{} (only with {})", spec.title.empty() ? std::string(to_string(spec.type))
                                                                              : spec.title,
                                     spec.condition->text()));
      continue;
    }
    const StepReadFacts facts{ctx.config.state_dir,
                              std::any_of(plan.steps.begin(), plan.steps.end(),
                                          [](const PlannedStep& st) { return st.type == StepType::etcd_replay; })};
    plan.steps.push_back(plan_step(spec, vars, unavailable, facts));
    if (spec.type == StepType::etcd_snapshot_restore)
      vars["etcd_restored_from"] = plan.steps.back().values.value("source", "snapshot");
  }
  // A member that joins its cluster again gets the cluster's data from the leader: nothing of
  // the cluster is rolled back, whatever this node's etcd still answers.
  const bool rejoins = std::any_of(plan.steps.begin(), plan.steps.end(),
                                   [](const PlannedStep& st) { return st.type == StepType::etcd_member_join; });
  if (etcd_here && !rejoins &&
      std::any_of(plan.steps.begin(), plan.steps.end(),
                  [&](const PlannedStep& st) { return replaces_etcd_data(st, plan); }))
    plan.etcd["loss"] =
        measure_etcd_loss(ctx, live_layout,
                          replay ? BackupPoint{replay->target_revision, replay->epoch.cluster_id}
                          : out.gen.meta.etcd.snapshot
                              ? BackupPoint{out.gen.meta.etcd.snapshot->revision, out.gen.meta.etcd.snapshot->cluster_id}
                              : BackupPoint{})
            .to_json();
  if (!left_out.empty()) {
    std::string list;
    for (const auto& x : left_out) list += (list.empty() ? "" : "; ") + x;
    plan.notes.push_back(fmt::format("left out of this plan: {}", list));
  }
  if (entry.meta->status == core::GenerationStatus::partial)
    plan.notes.push_back(fmt::format("generation {} is partial: {}", entry.id, core::partial_reason(*entry.meta)));
  return out;
}

void print_plan(const Runner& r, const JournalSummary* done) {
  const auto& out = r.ctx.out;
  const auto& p = r.plan;
  const auto& m = r.gen.meta;
  out.info("Restore {}", p.id);
  out.info("  playbook    {} ({})", p.playbook, p.playbook_file);
  const auto& snap = m.etcd.snapshot;
  out.info("  generation  {} ({}, taken {}, {}){}", p.generation, core::to_string(m.status), m.started, core::time_ago(m.time),
           snap ? fmt::format(", etcd revision {}", snap->revision) : "");
  out.info("  node        {}{}", p.root, p.root == "/" ? "" : " (sandbox)");
  out.info("  etcd        member {} at {}, data dir {} (from {})", p.etcd.value("name", ""), p.etcd.value("peer_url", ""),
           p.etcd.value("data_dir", ""), p.etcd.value("from", ""));
  if (p.etcd.contains("loss")) {
    const auto loss = EtcdLoss::from_json(p.etcd["loss"]);
    if (loss.loses_data()) out.warn("  etcd data   {}", loss.text());
    else out.info("  etcd data   {}", loss.text());
  }
  out.info("  journal     {}", p.vars.at("restore_dir"));
  std::string params;
  for (const auto& [k, v] : p.vars)
    if (!std::set<std::string>{"generation", "generation_dir", "restore_id", "restore_dir", "static_pod_path",
                               "etcd_data_dir", "root", "kubeadm_config", "etcd_restored_from", "kubeadm_etcd_dir_check"}
             .count(k))
      if (!((v == "false" && (k == "accept_loss" || k == "accept_gap" || k == "accept_undecryptable" || k == "same_node" || k == "unauthenticated" || k == "allow_setuid")) ||
            (v.empty() && k == "key_file")))
        params += (params.empty() ? "" : " ") + k + "=" + v;
  if (!params.empty()) out.info("  parameters  {}", params);
  for (const auto& n : p.notes) out.info("  note: {}", n);
  out.info("Steps ('*' changes the node):");
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const auto& s = p.steps[i];
    const bool finished = done && done->step_done(i);
    out.info("  {:>2} {} {}{}", i + 1, changes_node(s.type) ? '*' : ' ', s.title, finished ? "   [done]" : "");
    if (!finished)
      for (const auto& line : describe_step(r, s)) out.info("         {}", line);
  }
}

std::string describe_action(const Plan& plan, const Action& a) {
  const auto type = a.step < plan.steps.size() ? plan.steps[a.step].type : StepType::move_aside;
  return step_def(type).action_text(a);
}

void print_where_we_are(const Runner& r, const std::string& kdr_prefix) {
  const auto summary = r.journal->summary();
  const auto& out = r.ctx.out;
  out.warn("the node is between states. What this restore changed so far:");
  if (summary.actions.empty()) out.warn("  nothing");
  for (const auto& a : summary.actions) out.warn("  {}", describe_action(r.plan, a));
  out.warn("to continue from where it stopped:  {} restore --resume {}", kdr_prefix, r.plan.id);
  out.warn("to undo it all:                     {} restore --rollback {}", kdr_prefix, r.plan.id);
  out.warn("journal: {}", r.journal->dir().string());
}

std::string command_prefix(const core::Context& ctx) { return core::describe_argv(core::kdr_argv(ctx)); }

// The command that runs this plan for real: every option it was planned with, and the
// generation pinned (a backup taken meanwhile moves "latest").
std::string run_command(const core::Context& ctx, const RestoreOptions& o, const std::string& generation) {
  auto argv = core::kdr_argv(ctx);
  argv.insert(argv.end(), {"restore", o.playbook, "-g", generation});
  for (const auto& kv : o.set) argv.insert(argv.end(), {"--set", kv});
  for (const auto& d : o.playbook_dirs) argv.insert(argv.end(), {"--playbook-dir", d});
  return core::describe_argv(argv);
}

ExitCode execute(Runner& r, bool yes) {
  const auto& out = r.ctx.out;
  const auto n = r.plan.steps.size();
  auto summary = r.journal->summary();
  const auto prefix = command_prefix(r.ctx);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& s = r.plan.steps[i];
    r.step = i;
    if (summary.step_done(i)) continue;
    if (changes_node(s.type) && !yes) {
      if (const auto line = step_def(s.type).before_asking(s); !line.empty())
        out.info("Step {}/{}: {}", i + 1, n, line);
      if (replaces_etcd_data(s, r.plan) && r.plan.etcd.contains("loss"))
        out.warn("this step replaces etcd's data: {}", EtcdLoss::from_json(r.plan.etcd["loss"]).text());
      auto a = r.ctx.host->ask(fmt::format("Step {}/{}: {}. Go ahead?", i + 1, n, s.title));
      if (a == core::Answer::all) yes = true;
      if (a == core::Answer::no) {
        r.journal->record({{"event", "declined"}, {"step", i}});
        out.warn("stopped before step {}/{} ({}) as asked", i + 1, n, s.title);
        if (!r.journal->summary().actions.empty()) {
          print_where_we_are(r, prefix);
          return ExitCode::incomplete;
        }
        out.warn("nothing was changed; resume with: {} restore --resume {}", prefix, r.plan.id);
        return ExitCode::failed;
      }
    }
    // Once every preflight has passed (the steps run in order), a restore confirmed as a whole
    // lets later steps prepare ahead in the background (a snapshot restored while the pods stop).
    if (yes && std::none_of(r.plan.steps.begin() + static_cast<std::ptrdiff_t>(i), r.plan.steps.end(),
                            [](const PlannedStep& p) { return p.type == StepType::preflight; }))
      r.prepare_ahead();
    core::pausepoint(fmt::format("restore-before-step-{}", i + 1));
    out.info("[{}/{}] {}", i + 1, n, s.title);
    r.journal->record({{"event", "begin"}, {"step", i}, {"type", to_string(s.type)}});
    const double t0 = core::monotonic_seconds();
    try {
      core::check_interrupted();
      run_step(r, s);
    } catch (const Error& e) {
      const bool sig = e.code() == ExitCode::interrupted;
      try {
        r.journal->record({{"event", sig ? "interrupted" : "failed"}, {"step", i}, {"error", e.what()}});
      } catch (const Error& journal_error) {  // e.g. its disk is full too: the actions before are journaled
        out.warn("the restore's journal could not record the failure: {}", journal_error.what());
      }
      out.error(fmt::format("step {}/{} ({}) {}: {}", i + 1, n, s.title, sig ? "was interrupted" : "failed", e.what()));
      if (core::is_disk_full(e))
        out.warn("a disk is full: free space on the file system named above; what the restore did so far is kept and "
                 "journaled, and the command below continues from where it stopped once there is room");
      if (r.journal->summary().actions.empty()) {
        out.warn("nothing on the node was changed. Fix the cause, then: {} restore --resume {}", prefix, r.plan.id);
        return sig ? ExitCode::interrupted : ExitCode::failed;
      }
      print_where_we_are(r, prefix);
      return sig ? ExitCode::interrupted : ExitCode::incomplete;
    }
    r.journal->record({{"event", "done"}, {"step", i}, {"seconds", core::monotonic_seconds() - t0}});
    out.info("      done ({:.1f} s)", core::monotonic_seconds() - t0);
    failpoint("restore-after-step", i + 1);
  }
  r.journal->record({{"event", "finished"}});
  out.info("Restore {} finished: playbook {} from generation {}.", r.plan.id, r.plan.playbook, r.plan.generation);
  // etcd's history starts again here: the journal's follower and kdr backup take it as the
  // new normal, not as a lost data dir
  if (std::any_of(r.plan.steps.begin(), r.plan.steps.end(),
                  [&](const PlannedStep& st) { return replaces_etcd_data(st, r.plan); }))
    core::accept_etcd_rewind(r.ctx, fmt::format("kdr restore {} ({})", r.plan.id, r.plan.playbook));
  const auto final_summary = r.journal->summary();
  std::vector<std::string> kept;
  for (const auto& a : final_summary.actions)
    if (a.op == "move" && !a.manifest) kept.push_back(a.to);
  if (!kept.empty()) {
    out.info("The data it replaced is kept (kdr never deletes it):");
    for (const auto& k : kept) out.info("  {}", k);
    out.info("Once the cluster is confirmed good, `{} restore --discard {}` deletes them; until then `{} restore "
             "--rollback {}` puts them back.",
             prefix, r.plan.id, prefix, r.plan.id);
  }
  out.info("Next: take a fresh backup (kdr backup --verify) and check the cluster (kubectl get nodes,pods -A).");
  return ExitCode::ok;
}

core::GenerationEntry find_generation(const core::Repository& repo, const std::string& which) {
  auto entry = repo.find(which);
  if (!entry.meta)
    throw Error(fmt::format("generation {} cannot be used: {}", entry.id, entry.problem), ExitCode::no_backup);
  return entry;
}

// The context a journaled restore ran with: its backup folder and config, whatever this
// command line says (a resume needs only the restore id and the node root).
core::Context context_of(const core::Context& ctx, const json& plan) {
  core::Context c = ctx;
  const auto backup_dir = plan.value("backup_dir", "");
  const auto config_file = plan.value("config_file", "");
  if (!backup_dir.empty()) c.backup_dir = backup_dir;
  if (!config_file.empty() && config_file != ctx.config.origin) {
    if (!core::lstat_path(config_file))
      throw UsageError(fmt::format("restore {} ran with config {}, which is gone; put it back or start a new restore",
                                   plan.value("id", ""), config_file));
    c.config = core::load_config(config_file);
  }
  return c;
}

// kdr's own temporaries of the plan's steps (a snapshot restored ahead, a copy cut short).
void remove_temporaries(Runner& r) {
  for (const auto& s : r.plan.steps)
    for (const auto& t : step_def(s.type).temporaries(r, s))
      if (core::lstat_path(t)) {
        core::remove_tree(t);
        r.ctx.out.info("      removed {} (this restore's own temporary)", t);
      }
}

ExitCode rollback(const core::Context& ctx, const RestoreOptions& o) {
  RestoreLock lock(restores_dir(ctx));
  auto journal = Journal::open(restores_dir(ctx) / o.rollback);
  auto summary = journal.summary();
  if (summary.state == RestoreState::rolled_back) {
    ctx.out.info("restore {} was rolled back already", o.rollback);
    return ExitCode::ok;
  }
  if (summary.discarded)
    throw UsageError(fmt::format("the data restore {} replaced was discarded (kdr restore --discard): there is "
                                 "nothing to roll back to",
                                 o.rollback));
  const auto run_ctx = context_of(ctx, journal.plan());
  Plan plan = Plan::from_json(journal.plan(), run_ctx.config.state_dir);
  if (plan.root != ctx.root.root().string())
    throw UsageError(fmt::format("restore {} ran on node root {}, not {}", plan.id, plan.root, ctx.root.root().string()));
  Runner r{run_ctx, plan, std::move(journal), {}, 0, false, {}};
  ctx.out.info("Rolling back restore {} (playbook {}, generation {}):", plan.id, plan.playbook, plan.generation);
  if (summary.actions.empty()) ctx.out.info("  it changed nothing on the node");
  for (const auto& a : summary.actions) ctx.out.info("  undo: {}", describe_action(plan, a));
  std::vector<std::string> not_undone;
  for (std::size_t i = 0; i < plan.steps.size(); ++i)
    if (step_def(plan.steps[i].type).undo_kind() == Undo::untracked &&
        (summary.step_done(i) || (summary.failed_step && *summary.failed_step == i)))
      not_undone.push_back(fmt::format("step {} ({})", i + 1, plan.steps[i].title));
  for (const auto& s : not_undone)
    ctx.out.warn("{} changed the node outside kdr's journal (a program it ran, or an instruction carried out by hand); "
                 "the rollback does not undo it",
                 s);
  if (!o.yes && ctx.host->ask("Roll back?") == core::Answer::no) {
    ctx.out.warn("rollback declined: nothing was changed; restore {} is as it was (kdr restores)", plan.id);
    return ExitCode::failed;
  }
  r.journal->record({{"event", "rollback-begin"}});
  try {
    undo_actions(r, summary.actions);
  } catch (const Error& e) {
    r.journal->record({{"event", "rollback-failed"}, {"error", e.what()}});
    ctx.out.error(fmt::format("rollback stopped: {}", e.what()));
    ctx.out.warn("it can be run again: {} restore --rollback {}", command_prefix(ctx), plan.id);
    return e.code() == ExitCode::interrupted ? ExitCode::interrupted : ExitCode::incomplete;
  }
  remove_temporaries(r);
  r.journal->record({{"event", "rolled-back"}});
  ctx.out.info("Rolled back: the node's data and manifests are as they were before restore {}.", plan.id);
  return ExitCode::ok;
}

}  // namespace

namespace {

// The explicit operator command that deletes what a finished restore kept aside
// (`<path>.kdr-<id>`); after it, the restore can no longer be rolled back.
ExitCode discard(const core::Context& ctx, const RestoreOptions& o) {
  RestoreLock lock(restores_dir(ctx));
  auto journal = Journal::open(restores_dir(ctx) / o.discard);
  const auto summary = journal.summary();
  if (summary.discarded) {
    ctx.out.info("restore {}: its replaced data was discarded already", o.discard);
    return ExitCode::ok;
  }
  if (summary.state != RestoreState::done)
    throw UsageError(fmt::format("restore {} is {}: only a finished restore's replaced data can be discarded "
                                 "(resume or roll it back first)",
                                 o.discard, to_string(summary.state)));
  std::vector<std::string> aside;
  for (const auto& a : summary.actions)
    if (a.op == "move" && !a.manifest && core::lstat_path(a.to)) aside.push_back(a.to);
  if (aside.empty()) {
    ctx.out.info("restore {} kept nothing aside", o.discard);
  } else {
    ctx.out.info("Restore {} kept the data it replaced:", o.discard);
    for (const auto& p : aside) ctx.out.info("  {}", p);
    ctx.out.info("Deleting it makes `kdr restore --rollback {}` impossible.", o.discard);
    if (!o.yes && ctx.host->ask("Delete it?") == core::Answer::no) {
      ctx.out.warn("nothing was deleted");
      return ExitCode::failed;
    }
  }
  journal.record({{"event", "discarded"}, {"paths", aside}});
  for (const auto& p : aside) {
    core::remove_tree(p);
    ctx.out.info("deleted {}", p);
  }
  if (const auto n = journal.scrub_replaced_values(); n > 0)
    ctx.out.info("removed the {} etcd value(s) it replaced from its journal (their hashes stay)", n);
  return ExitCode::ok;
}

}  // namespace

namespace {

// The plan, then the preflight's read-only checks: exit 1 when the real run would be refused.
ExitCode dry_run(Runner& r, const Playbook& pb, const RestoreOptions& o) {
  const auto& ctx = r.ctx;
  const bool has_preflight = std::any_of(pb.steps.begin(), pb.steps.end(),
                                         [](const StepSpec& s) { return s.type == StepType::preflight; });
  if (ctx.out.json()) {
    // The plan as plan.json would hold it, what each step will do, and the preflight's verdict.
    json steps = json::array();
    for (const auto& s : r.plan.steps) steps.push_back({{"title", s.title}, {"changes_node", changes_node(s.type)},
                                                       {"does", describe_step(r, s)}});
    json doc = {{"plan", r.plan.to_json()}, {"steps", steps}, {"run", run_command(ctx, o, r.plan.generation)}};
    auto code = ExitCode::ok;
    try {
      if (has_preflight) check_preflight(r);
      doc["preflight"] = {{"passed", true}};
    } catch (const Error& e) {
      doc["preflight"] = {{"passed", false}, {"problems", e.what()}};
      code = ExitCode::failed;
    }
    ctx.out.raw(doc.dump(2));
    return code;
  }
  if (has_preflight) {
    ctx.out.info("Preflight (read-only checks):");
    try {
      check_preflight(r);
    } catch (const Error& e) {
      ctx.out.error(e.what());
      ctx.out.info("Dry run: nothing was changed. The restore would be refused as it stands: fix the problems above, "
                   "then run it with: {}",
                   run_command(ctx, o, r.plan.generation));
      return ExitCode::failed;
    }
  }
  ctx.out.info("Dry run: nothing was changed{}. Run it with: {}", has_preflight ? "; the preflight passed" : "",
               run_command(ctx, o, r.plan.generation));
  return ExitCode::ok;
}

}  // namespace

namespace {

// A journaled restore continued from the first step not done, with what it ran with.
ExitCode resume(const core::Context& ctx, const RestoreOptions& o) {
  RestoreLock lock(restores_dir(ctx));
  auto journal = Journal::open(restores_dir(ctx) / o.resume);
  auto summary = journal.summary();
  if (summary.state == RestoreState::done) {
    ctx.out.info("restore {} finished already", o.resume);
    return ExitCode::ok;
  }
  if (summary.rollback_started)
    throw UsageError(fmt::format("restore {} was rolled back (or its rollback began): start a new restore instead",
                                 o.resume));
  const auto run_ctx = context_of(ctx, journal.plan());
  Plan plan = Plan::from_json(journal.plan(), run_ctx.config.state_dir);
  if (plan.root != ctx.root.root().string())
    throw UsageError(fmt::format("restore {} ran on node root {}, not {}", plan.id, plan.root, ctx.root.root().string()));
  auto repo = core::Repository::open(run_ctx.backup_dir);
  const auto repo_lock = repo.read_lock(ctx.out);
  const auto entry = find_generation(repo, plan.generation);
  verify::Findings f;
  Runner r{run_ctx, plan, std::move(journal), verify::load_generation(entry.id, entry.path, *entry.meta, entry.meta_sha256, f), 0, false,
           look_up_tools(run_ctx, plan)};
  print_plan(r, &summary);
  run_ctx.out.info("Resuming restore {}.", plan.id);
  return execute(r, o.yes);
}

}  // namespace

ExitCode run_restore(const core::Context& ctx, const RestoreOptions& o) {
  if (ctx.root.is_real_root() && ctx.host->euid() != 0 && !o.dry_run)
    throw Error("kdr restore changes the node's control plane and needs root: run it with sudo (--dry-run works "
                "without)");
  if (!o.rollback.empty()) return rollback(ctx, o);
  if (!o.discard.empty()) return discard(ctx, o);

  if (!o.resume.empty()) return resume(ctx, o);

  if (o.playbook.empty()) throw UsageError("which playbook? (kdr playbooks lists them)");
  const auto pb = find_playbook(o.playbook, search_dirs(ctx, o.playbook_dirs));
  auto repo = core::Repository::open(ctx.backup_dir);
  std::optional<RestoreLock> lock;
  if (!o.dry_run) lock.emplace(restores_dir(ctx));
  const auto repo_lock = repo.read_lock(ctx.out);
  const auto entry = find_generation(repo, o.generation);
  auto prepared = prepare(ctx, pb, entry, o.set);
  prepared.plan.backup_dir = ctx.backup_dir.string();
  if (ctx.config.origin.find('/') != std::string::npos) prepared.plan.config_file = ctx.config.origin;
  prepared.plan.playbook_dirs = o.playbook_dirs;
  Runner r{ctx, prepared.plan, std::nullopt, std::move(prepared.gen), 0, o.dry_run, look_up_tools(ctx, prepared.plan)};
  print_plan(r, nullptr);
  if (o.dry_run) return dry_run(r, pb, o);
  bool yes = o.yes;
  if (!yes) {
    const auto a =
        ctx.host->ask(fmt::format("Start restore {}? Each step that changes the node will ask again.", r.plan.id));
    if (a == core::Answer::no) {
      ctx.out.warn("not started; nothing was changed");
      return ExitCode::failed;
    }
    yes = a == core::Answer::all;  // 'a': yes to every question, this one included
  }
  r.journal = Journal::create(restores_dir(ctx) / r.plan.id, r.plan.to_json());
  return execute(r, yes);
}

std::vector<std::string> unfinished_restores(const core::Context& ctx) {
  std::vector<std::string> out;
  for (const auto& rec : list_restore_records(restores_dir(ctx)))
    if (!rec.summary.actions.empty() && rec.summary.state != RestoreState::done &&
        rec.summary.state != RestoreState::rolled_back)
      out.push_back(rec.id);
  return out;
}

ExitCode print_restores(const core::Context& ctx) {
  const auto records = list_restore_records(restores_dir(ctx));
  if (ctx.out.json()) {
    json list = json::array();
    for (const auto& r : records) {
      json j = {{"id", r.id}, {"dir", r.dir.string()}};
      if (!r.problem.empty()) {
        j["problem"] = r.problem;
      } else {
        j["playbook"] = r.plan.value("playbook", "");
        j["generation"] = r.plan.value("generation", "");
        j["vars"] = r.plan.value("vars", json::object());
        j["state"] = to_string(r.summary.state);
        j["steps_done"] = r.summary.done_steps.size();
        j["steps"] = r.plan.value("steps", json::array()).size();
        j["changes"] = r.summary.actions.size();
        j["error"] = r.summary.last_error;
      }
      list.push_back(j);
    }
    ctx.out.raw(list.dump(2));
    return ExitCode::ok;
  }
  if (records.empty()) {
    ctx.out.info("no restores on this node ({})", restores_dir(ctx).string());
    return ExitCode::ok;
  }
  ctx.out.info("{:<44} {:<22} {:<24} {:<12} {}", "RESTORE", "PLAYBOOK", "GENERATION", "STATE", "STEPS");
  for (const auto& r : records) {
    if (!r.problem.empty()) {
      ctx.out.info("{:<44} unreadable: {}", r.id, r.problem);
      continue;
    }
    ctx.out.info("{:<44} {:<22} {:<24} {:<12} {}/{}", r.id, r.plan.value("playbook", ""),
                 r.plan.value("generation", ""), to_string(r.summary.state), r.summary.done_steps.size(),
                 r.plan.value("steps", json::array()).size());
  }
  return ExitCode::ok;
}

ExitCode print_playbooks(const core::Context& ctx, const std::vector<std::string>& dirs, const std::string& name) {
  const auto search = search_dirs(ctx, dirs);
  if (!name.empty()) {
    const auto pb = find_playbook(name, search);
    if (ctx.out.json()) {
      json steps = json::array();
      for (const auto& s : pb.steps) {
        json fields = json::object();
        for (const auto& [k, f] : s.fields) fields[k] = f.value;
        steps.push_back({{"type", to_string(s.type)}, {"name", s.title}, {"fields", fields},
                         {"if", s.condition ? json(s.condition->text()) : json(nullptr)}});
      }
      ctx.out.raw(json{{"name", pb.name}, {"file", pb.file}, {"description", pb.description}, {"when", pb.when},
                       {"steps", steps}}
                      .dump(2));
      return ExitCode::ok;
    }
    ctx.out.info("{}  ({})", pb.name, pb.file);
    ctx.out.info("");
    ctx.out.info("{}", pb.description);
    if (!pb.when.empty()) {
      ctx.out.info("When to use it:");
      for (const auto& w : pb.when) ctx.out.info("  - {}", w);
    }
    {
      ctx.out.info("Parameters (--set NAME=VALUE):");
      std::vector<Parameter> all = pb.parameters;
      all.insert(all.end(), builtin_parameters().begin(), builtin_parameters().end());
      for (const auto& p : all) {
        std::string choices;
        for (const auto& c : p.choices) choices += (choices.empty() ? "" : "|") + c;
        ctx.out.info("  {} = {}{}  {}", p.name, p.default_value, choices.empty() ? "" : " (" + choices + ")",
                     p.description);
      }
    }
    ctx.out.info("Steps ('*' changes the node):");
    for (std::size_t i = 0; i < pb.steps.size(); ++i) {
      const auto& s = pb.steps[i];
      std::string fields;
      for (const auto& [k, f] : s.fields)
        fields += (fields.empty() ? "" : ", ") + k + ": " + (f.value.is_string() ? f.value.get<std::string>() : f.value.dump());
      ctx.out.info("  {:>2} {} {}{}", i + 1, changes_node(s.type) ? '*' : ' ',
                   s.title.empty() ? std::string(to_string(s.type)) : s.title + " (" + std::string(to_string(s.type)) + ")",
                   fields.empty() ? "" : "  " + fields);
      if (s.condition) ctx.out.info("         only with {}", s.condition->text());
    }
    return ExitCode::ok;
  }
  const auto all = list_playbooks(search);
  for (const auto& p : all.problems) ctx.out.warn("{}", p);
  if (ctx.out.json()) {
    json list = json::array();
    for (const auto& p : all.playbooks) list.push_back({{"name", p.name}, {"file", p.file}, {"when", p.when}});
    ctx.out.raw(list.dump(2));
    return all.problems.empty() ? ExitCode::ok : ExitCode::usage;
  }
  for (const auto& p : all.playbooks) {
    // The description's first sentence, whole, wrapped under the name.
    std::string text;
    for (const char c : p.description) text += c == '\n' ? ' ' : c;
    if (const auto end = text.find(". "); end != std::string::npos) text.resize(end + 1);
    std::string line, first = p.name;
    std::istringstream words(text);
    for (std::string w; words >> w;) {
      if (!line.empty() && line.size() + 1 + w.size() > 76) {
        ctx.out.info("{:<24} {}", first, line);
        first.clear();
        line.clear();
      }
      line += (line.empty() ? "" : " ") + w;
    }
    ctx.out.info("{:<24} {}", first, line);
    for (const auto& w : p.when) ctx.out.info("{:<24}   when: {}", "", w);
  }
  if (all.playbooks.empty()) ctx.out.warn("no playbooks found");
  ctx.out.info("`kdr playbooks NAME` shows one in full; `kdr restore NAME --dry-run` shows its plan for this node.");
  return all.problems.empty() ? ExitCode::ok : ExitCode::usage;
}

}  // namespace kdr::restore
