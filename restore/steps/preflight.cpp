// Step type `preflight`: every read-only check before anything changes. The checks every
// restore needs are here (privileges, stray manifests, the generation's integrity, free
// space, certificates, node identity, etcd data the restore would lose); each step type adds
// its own through StepDef::check. A dry run runs them too.
#include <algorithm>
#include <set>

#include <unistd.h>

#include <fmt/format.h>

#include "backup/sources.hpp"
#include "core/clock.hpp"
#include "core/context.hpp"
#include "core/error.hpp"
#include "core/generation_auth.hpp"
#include "core/kubeadm_pki.hpp"
#include "core/node_key.hpp"
#include "core/progress.hpp"
#include "core/text.hpp"
#include "restore/etcd_loss.hpp"
#include "restore/pods.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"
#include "verify/certificates.hpp"

namespace kdr::restore {

using core::Error;
using nlohmann::json;

namespace {

// Replacing etcd's data while the live etcd answers with newer data rolls the cluster back:
// refused unless accept_loss=true, and then journaled.
void check_etcd_loss(Runner& r, Preflight& pf) {
  if (!r.plan.etcd.loss) return;
  const auto& loss = *r.plan.etcd.loss;
  if (!loss.loses_data()) {
    pf.ok("etcd data: " + loss.text());
    return;
  }
  if (!r.flag(Var::accept_loss)) {
    pf.fails.push_back(fmt::format(
        "{} holds data this restore's point does not: {}. This restore rolls etcd back to that point. {}To put back "
        "only what was deleted (one namespace, some keys) with the cluster running, use the playbook "
        "restore-etcd-keys; to roll back anyway, run again with --set accept_loss=true",
        loss.journal_past_backup() && !loss.loses_live_data() ? "the change journal" : "the live etcd", loss.text(),
        loss.journal_past_backup() ? "To restore everything the journal holds, --set to=latest. " : ""));
    return;
  }
  pf.warns.push_back("accepted (accept_loss=true): " + loss.text());
  if (r.journal) r.journal->record(JournalEvent::loss_accepted, {{"loss", loss.to_json()}});
}

}  // namespace

std::optional<core::NodeKey> load_restore_key(const core::Context& ctx, const std::string& key_file) {
  auto key = core::load_node_key(key_file.empty() ? core::node_key_file(ctx) : core::bfs::path(key_file));
  if (!key_file.empty() && !key) throw Error(fmt::format("key_file={}: no such file", key_file));
  return key;
}

std::optional<core::NodeKey> Runner::node_key() const { return load_restore_key(ctx, var(Var::key_file)); }

bool judge_authenticity(Runner& r, Preflight& pf, const std::string& what, core::AuthStatus status,
                        const std::string& text) {
  if (status == core::AuthStatus::authentic) {
    pf.ok(fmt::format("{}: {}", what, text));
    return true;
  }
  if (status == core::AuthStatus::forged) {
    pf.fails.push_back(fmt::format("{}: {}", what, text));
    return false;
  }
  if (r.flag(Var::unauthenticated)) {
    pf.warns.push_back(fmt::format("accepted (unauthenticated=true): {} {}; only its own sums, structure and digests "
                                   "vouch for it",
                                   what, text));
    if (r.journal)
      r.journal->record(JournalEvent::unauthenticated_accepted,
                        {{"what", what}, {"status", core::to_string(status)}, {"detail", text}});
    return false;
  }
  pf.fails.push_back(fmt::format(
      "{} {}: nothing proves that this node wrote it. Give the node's saved key with --set key_file=PATH; or, knowing "
      "where this backup came from, run again with --set unauthenticated=true (the other checks here say what its own "
      "sums and structure show)",
      what, text));
  return false;
}

namespace {

// Is the generation the one this node's key vouched for (core/generation_auth.hpp)? Forged:
// refused. Not known (no key here, no AUTH, another key): refused unless key_file= gives the
// key that made it, or unauthenticated=true accepts it, which the journal records.
bool check_authenticity(Runner& r, Preflight& pf) {
  std::optional<core::NodeKey> key;
  try {
    key = r.node_key();
  } catch (const Error& e) {
    pf.fails.push_back(e.what());
    return false;
  }
  const auto auth = core::authenticate_generation(r.gen.dir, r.gen.id, r.gen.meta_sha256, r.gen.manifest_sha256,
                                                  key ? &*key : nullptr);
  return judge_authenticity(r, pf, "generation " + r.gen.id, auth.status, auth.text);
}

// Every node path the plan moves aside or writes lies within what this node backs up as it is
// configured now (its sources, etcd's data dir, the static pods' hostPath volumes), or, for a
// generation this node's key vouches for, within what that generation recorded. A playbook
// path or a recorded etcd data dir from an unauthenticated generation cannot reach elsewhere.
void check_targets_confined(const Runner& r, bool authentic, Preflight& pf) {
  std::vector<std::string> allowed = {r.ctx.config.etcd_data_dir, r.var(Var::static_pod_path)};
  const auto live = backup::plan_sources(r.ctx.config, r.ctx.root);
  for (const auto& src : live.sources) allowed.push_back(src.path);
  if (!live.etcd.data_dir.empty()) allowed.push_back(live.etcd.data_dir);
  if (authentic) {
    for (const auto& src : r.gen.meta.sources) allowed.push_back(src.path);
    if (r.gen.recorded_etcd_data_dir && !r.gen.recorded_etcd_data_dir->empty())
      allowed.push_back(*r.gen.recorded_etcd_data_dir);
  }
  const auto inside = [&](const std::string& p) {
    return std::any_of(allowed.begin(), allowed.end(),
                       [&](const std::string& a) { return !a.empty() && core::node_path_within(p, a); });
  };
  std::vector<std::string> targets;
  for (const auto& s : r.plan.steps)
    for (const auto& p : step_def(s.type).replaced_paths(s)) targets.push_back(p);
  if (r.etcd_on_node() && !r.plan.etcd.data_dir.empty()) targets.push_back(r.plan.etcd.data_dir);
  for (const auto& t : targets)
    if (!t.empty() && !inside(t))
      pf.fails.push_back(fmt::format("{} is outside everything this node backs up as configured now ({}): a restore "
                                     "never writes there",
                                     t, r.ctx.config.origin));
}

// The machine: its hostname and addresses against the backup's. Another machine altogether
// is an identity refusal; one of the two differing is a warning.
void check_machine(const Runner& r, Preflight& pf, std::vector<std::string>& identity, bool& same_host, bool& common) {
  const auto& host = *r.ctx.host;
  const auto recorded_host = r.gen.meta.hostname;
  // link-local addresses (recorded by an older kdr) name no machine: left out
  std::vector<std::string> recorded_ips;
  for (const auto& a : r.gen.meta.node.addresses)
    if (core::identity_address(a)) recorded_ips.push_back(a);
  const auto now_ips = host.addresses();
  common = recorded_ips.empty();
  for (const auto& ip : recorded_ips)
    if (std::find(now_ips.begin(), now_ips.end(), ip) != now_ips.end()) common = true;
  same_host = recorded_host.empty() || recorded_host == host.hostname();
  if (!same_host && !common)
    identity.push_back(fmt::format("this machine is '{}' (addresses {}), the backup was taken on '{}' (addresses {}): "
                                   "another machine (a replacement for it: rebuild-node --set address=IP --set "
                                   "node_name=NAME)",
                                   host.hostname(), core::list_text(now_ips), recorded_host, core::list_text(recorded_ips)));
  else if (!same_host)
    pf.warns.push_back(fmt::format("this machine is '{}', the backup was taken on '{}': certificates, kubeconfigs and "
                                   "manifests name the old node; kubeadm must renew them or the node must keep its name "
                                   "(rebuild-node --set node_name=NAME --set address=IP rebuilds it under a new one)",
                                   host.hostname(), recorded_host));
  else if (!common)
    pf.warns.push_back(fmt::format("none of the backed-up node's addresses ({}) is on this machine: the API server and "
                                   "etcd certificates name them; give the node its old address (or rebuild it under "
                                   "a new one: rebuild-node --set address=IP)",
                                   core::list_text(recorded_ips)));
}

// The node root and its etcd member: a root with nothing of a control-plane node (--root
// forgotten), another member of the cluster, or a node whose etcd manifest is gone.
void check_node_contents(const Runner& r, Preflight& pf, std::vector<std::string>& identity) {
  const auto& spp = r.var(Var::static_pod_path);
  const auto gen_pods = generation_pods(r.gen, spp);
  const bool had_pods = !gen_pods.pods.empty();
  const auto data_dir = r.plan.etcd.data_dir;
  const bool has_spp = core::present(r.host(spp));
  const bool has_data = !data_dir.empty() && core::present(r.host(data_dir));
  const bool has_kubelet = core::present(r.host("/var/lib/kubelet"));
  if (had_pods && !has_spp && !has_data && !has_kubelet)
    identity.push_back(fmt::format("{} does not look like a control-plane node: no {}, no {}, no /var/lib/kubelet "
                                   "(the backup's node had static pods); {}",
                                   r.ctx.root.root().string(), spp, data_dir.empty() ? "etcd data dir" : data_dir,
                                   r.ctx.root.is_real_root() ? "was --root forgotten?" : "is --root the right folder?"));

  const auto live_member = core::etcd_member(r.live_pods());
  const auto gen_member = core::etcd_member(gen_pods);
  if (live_member && gen_member && !live_member->name.empty() && !gen_member->name.empty() &&
      live_member->name != gen_member->name)
    identity.push_back(fmt::format("the node's etcd member is '{}' ({}), the backup's was '{}': a backup of another "
                                   "member; restore each member from its own backups",
                                   live_member->name, live_member->manifest, gen_member->name));
  // The node runs its own manifests again after the restore: etcd's must be there.
  const bool restarts_own = std::any_of(r.plan.steps.begin(), r.plan.steps.end(), [](const PlannedStep& s) {
    return step_def(s.type).starts_manifests_from(s.values) == "stopped";
  });
  if (gen_member && !live_member && has_spp) {
    if (restarts_own && r.etcd_on_node())
      pf.fails.push_back(fmt::format("{} has no etcd manifest (the backup's node had {}) and this playbook starts the "
                                     "node's own manifests again, so etcd would not start: put the manifests back "
                                     "first (restore-files)",
                                     spp, gen_member->manifest));
    else
      pf.warns.push_back(fmt::format("{} has no etcd manifest (the backup's node had {}); this restore puts the "
                                     "generation's back",
                                     spp, gen_member->manifest));
  }
  if (r.plan.etcd.loss) {
    const auto& loss = *r.plan.etcd.loss;
    if (loss.other_cluster())
      pf.warns.push_back(fmt::format("the live etcd is cluster {}, the backup's was {}: etcd was started again on an "
                                     "empty data dir or restored since the backup",
                                     loss.live_cluster_id, loss.backup_cluster_id));
  }
}

// Is this the node the generation came from? A forgotten --root, another machine or another
// member of the cluster is refused (same_node=true overrides, for a node that lost all of it);
// what a damaged node of the right identity lacks is only a warning.
void check_node_identity(Runner& r, Preflight& pf) {
  std::vector<std::string> identity;  // refusals same_node=true overrides
  bool same_host = false, common = false;
  if (r.var(Var::renames_node) == "true") {
    // address= or node_name= named the new machine: another machine is what this restore is for
    pf.ok(fmt::format("node identity: rebuilt as {} ({}), named by address= and node_name=; the backup's node was {} "
                      "({})",
                      r.var(Var::node_name), r.var(Var::address), r.var(Var::old_node_name),
                      r.var(Var::old_node_address)));
    same_host = common = true;
  } else {
    check_machine(r, pf, identity, same_host, common);
  }
  check_node_contents(r, pf, identity);
  if (identity.empty()) {
    if (same_host && common) pf.ok("node identity: hostname and an address match the backup");
    return;
  }
  if (r.flag(Var::same_node)) {
    for (const auto& i : identity) pf.warns.push_back("accepted (same_node=true): " + i);
    return;
  }
  for (const auto& i : identity)
    pf.fails.push_back(i + "; if this is the node the backup was taken on, run again with --set same_node=true");
}

void check_privileges_and_plan(const Runner& r, Preflight& pf) {
  const auto& ctx = r.ctx;
  if (ctx.root.is_real_root() && ctx.host->euid() != 0)
    pf.fails.push_back("restoring a real node needs root: run kdr with sudo");
  else
    pf.ok(ctx.root.is_real_root() ? "running as root" : "sandbox node under " + ctx.root.root().string());
  for (std::size_t i = 0; i < r.plan.steps.size(); ++i)
    if (!r.plan.steps[i].blocked.empty())
      pf.fails.push_back(fmt::format("step {} ({}) {}", i + 1, r.plan.steps[i].title, r.plan.steps[i].blocked));
  const auto& spp = r.var(Var::static_pod_path);
  auto strays = stray_manifests(ctx.root, spp);
  pf.fails.insert(pf.fails.end(), strays.begin(), strays.end());
  if (strays.empty()) pf.ok("nothing but real manifests in " + spp);
}

void check_free_space(const Runner& r, Preflight& pf) {
  std::uint64_t total = 0;
  for (const auto& [dir, bytes] : pf.need) {
    const auto free = r.ctx.host->free_bytes(dir);
    if (free < bytes)
      pf.fails.push_back(fmt::format("{} has {} MiB free; the restore needs about {} MiB there", dir, free >> 20,
                                     (bytes >> 20) + 1));
    total += bytes;
  }
  if (!pf.need.empty())
    pf.ok(fmt::format("free space for the {:.1f} MiB this restore writes", static_cast<double>(total) / 1048576.0));
}

// The generation checked whole (sizes, types, modes, owners, SHA256SUMS), and what the plan
// reads from it re-hashed.
void check_generation(const Runner& r, Preflight& pf) {
  verify::HashScope scope;
  scope.everything = false;
  for (const auto& s : r.plan.steps)
    if (s.blocked.empty()) step_def(s.type).reads(r, s, scope);
  verify::Findings findings;
  core::Progress hashing(r.ctx.out, "re-hashing", verify::bytes_to_hash(r.gen, scope));
  const auto stats = verify::check_integrity(r.gen, r.plan.etcd.data_dir, findings, &hashing, scope);
  hashing.finish();
  std::size_t errors = 0;
  for (const auto& f : findings.all()) {
    if (f.severity == verify::Severity::error) {
      if (++errors <= 5) pf.fails.push_back(fmt::format("generation {}: {}: {}", r.gen.id, f.path, f.detail));
    } else if (f.severity == verify::Severity::warning) {
      pf.warns.push_back(fmt::format("generation {}: {}: {}", r.gen.id, f.path, f.detail));
    }
  }
  if (errors > 5)
    pf.fails.push_back(fmt::format("... and {} more integrity errors (kdr verify {})", errors - 5, r.gen.id));
  if (errors == 0 && stats.files_hashed == 0)
    pf.ok(fmt::format("generation {} is intact: {} entries checked; none re-hashed here (a file this restore "
                      "reads is hashed as it is copied)",
                      r.gen.id, stats.entries));
  else if (errors == 0)
    pf.ok(fmt::format("generation {} is intact: {} entries checked, the {:.1f} MiB this restore reads re-hashed",
                      r.gen.id, stats.entries, static_cast<double>(stats.bytes_hashed) / 1048576.0));
}

// The certificates the restored control plane runs with: the generation's when the plan puts
// its files back, else the node's. An expired one that etcd, or kube-apiserver's way to it,
// needs (core/kubeadm_pki.hpp) refuses the restore before anything stops, with the kubeadm
// command that renews it; one the generation puts back is a warning saying when to renew it.
void check_certificates(const Runner& r, Preflight& pf) {
  verify::Findings certs;
  const bool files_back = plan_has(r.plan, &StepTraits::copies_files_back);
  const auto cstats = verify::check_certificates(r.ctx, r.gen, !files_back, core::now_epoch(), certs);
  std::vector<std::string> critical, renew;
  for (const auto& c : cstats.expired) {
    const auto name = core::kubeadm_renew_name(c.path);
    if (!name || c.where != "node") continue;  // the node's: what this restore keeps
    if (std::find(renew.begin(), renew.end(), *name) == renew.end()) renew.push_back(*name);
    if (core::control_plane_critical(*name))
      critical.push_back(fmt::format("{} ({}) expired on {}", c.path, c.subject, core::iso_time(c.not_after)));
  }
  if (!critical.empty()) {
    std::string list;
    for (const auto& c : critical) list += (list.empty() ? "" : "; ") + c;
    pf.fails.push_back(fmt::format(
        "certificates this node's etcd and kube-apiserver need have expired: {}. The restored control plane would "
        "not come back (etcd refuses them). Renew them on the node first: {} (kubeadm re-signs them with the cluster's "
        "CAs), then go on with this restore",
        list, core::kubeadm_renew_command(renew)));
  }
  for (const auto& f : certs.all()) {
    if (f.severity == verify::Severity::info) continue;
    const auto name = core::kubeadm_renew_name(f.path);
    const bool backup = f.detail.find("(backup)") != std::string::npos;
    if (f.kind == "expired" && !backup && name && core::control_plane_critical(*name)) continue;  // refused above
    pf.warns.push_back(fmt::format(
        "certificate {}: {}{}", f.path, f.detail,
        !name ? std::string(" (a CA, or not kubeadm's: renew it by hand)")
        : backup && files_back
            ? fmt::format(" (it comes back with the restore: renew it right after, before the control plane is "
                          "needed: kubeadm certs renew {}, then restart the static pods: kdr pods stop etcd "
                          "kube-apiserver --wait 120, then kdr pods start etcd kube-apiserver)",
                          *name)
            : fmt::format(" (kubeadm certs renew {})", *name)));
  }
  if (certs.count(verify::Severity::error) + certs.count(verify::Severity::warning) == 0)
    pf.ok(fmt::format("{} certificates {} are valid for 30 days or more", cstats.checked,
                      files_back ? "in the generation" : "in the generation and on the node"));
}

class PreflightStep final : public TypedStep<NoArgs> {
 public:
  StepType type() const override { return StepType::preflight; }
  StepTraits traits() const override { return {.checks_only = true}; }
  std::string_view name() const override { return "preflight"; }
  bool changes_node() const override { return false; }
  std::vector<StepKey> keys() const override { return {}; }

 protected:
  NoArgs read_args(const StepValues&) const override { return {}; }
  std::vector<std::string> plan_text(const Runner& r, const NoArgs&) const override {
    return {"check: privileges, stray files in " + r.var(Var::static_pod_path) +
                ", the generation's integrity (every SHA-256),",
            "       free space, tool versions, node identity, certificate expiry; changes nothing"};
  }
  void perform(Runner& r, const NoArgs&) const override { check_preflight(r); }
};

}  // namespace

void check_preflight(Runner& r) {
  Preflight pf{r.ctx, {}, {}, {}, {}};
  check_privileges_and_plan(r, pf);
  for (const auto& s : r.plan.steps)
    if (s.blocked.empty() && !step_def(s.type).traits().checks_only) step_def(s.type).check(r, s, pf);
  check_free_space(r, pf);
  check_targets_confined(r, check_authenticity(r, pf), pf);
  check_certificates(r, pf);
  check_node_identity(r, pf);
  check_etcd_loss(r, pf);
  // The generation last: in a restore that runs and passed every check so far, what a step
  // copies privately is hashed as it is copied (StepDef::check_by_copy), not re-hashed here
  // first; otherwise (a dry run, a restore refused anyway) everything it reads is re-hashed.
  r.copies_in_preflight = pf.fails.empty() && !r.dry_run && r.journal;
  check_generation(r, pf);
  if (r.copies_in_preflight && pf.fails.empty())
    for (const auto& s : r.plan.steps)
      if (s.blocked.empty()) step_def(s.type).check_by_copy(r, s, pf);
  r.copies_in_preflight = false;
  std::set<std::string> warned;
  for (const auto& w : pf.warns)
    if (warned.insert(w).second) r.ctx.out.warn("{}", w);
  std::set<std::string> failed;
  std::erase_if(pf.fails, [&](const std::string& f) { return !failed.insert(f).second; });
  if (!pf.fails.empty()) {
    for (const auto& copy : r.preflight_copies) {  // a resume copies again
      ::unlink(copy.c_str());
      r.copies_checked.erase(copy);
    }
    r.preflight_copies.clear();
    std::string text = fmt::format("preflight found {} problem{}; nothing was changed:", pf.fails.size(),
                                   pf.fails.size() == 1 ? "" : "s");
    for (const auto& f : pf.fails) text += "\n  - " + f;
    throw Error(text);
  }
}

const StepDef& preflight_step_def() {
  static const PreflightStep def;
  return def;
}

}  // namespace kdr::restore
