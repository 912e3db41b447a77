// Step type `etcd-member-join` (playbook replace-etcd-member): this node's etcd manifest, as
// stop-static-pods took it out, with --initial-cluster set to the cluster's members (from a
// member that serves) and --initial-cluster-state=existing, as kubeadm join writes it; put in
// the static pod folder, the kubelet starts etcd, which joins the cluster and gets its data from
// the leader. The original manifest stays in the restore's folder: a rollback takes the
// rewritten one out, and stop-static-pods' undo puts the original back.
// On a replacement machine under another name or address (address=, node_name=) the manifest
// is the generation's, with the old address and name replaced by the new ones (its flags,
// URLs and annotation), so that the member starts as the one etcd-member-add added.
#include <sys/stat.h>

#include <algorithm>
#include <regex>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/manifest.hpp"
#include "core/static_pods.hpp"
#include "restore/node_identity.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"
#include "restore/steps/etcd_member.hpp"

namespace kdr::restore {

using core::bfs::path;
using core::Error;

namespace {

// "name=peer,name=peer" of every member; this node's (not started yet: no name) by its own name.
std::string initial_cluster(const std::vector<etcd::EtcdClusterMember>& members, const ClusterAccess& c) {
  std::string out;
  for (const auto& m : members) {
    const bool mine = std::find(m.peer_urls.begin(), m.peer_urls.end(), c.peer_url) != m.peer_urls.end();
    const auto name = mine ? c.name : m.name;
    if (name.empty()) continue;  // another member added and not started: etcd names it when it starts
    for (const auto& url : m.peer_urls) out += fmt::format("{}{}={}", out.empty() ? "" : ",", name, url);
  }
  return out;
}

// The manifest with both flags set; throws Error naming `origin` when it has no --initial-cluster.
std::string rewritten(const std::string& text, const std::string& cluster, const std::string& origin) {
  static const std::regex cluster_line(R"(^(\s*-\s*)--initial-cluster=.*$)");
  static const std::regex state_line(R"(^(\s*-\s*)--initial-cluster-state=.*$)");
  std::string out, prefix;
  bool found = false, state = false;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    std::smatch m;
    if (std::regex_match(line, m, cluster_line)) {
      prefix = m[1];
      line = prefix + "--initial-cluster=" + cluster;
      found = true;
      if (!state) line += "\n" + prefix + "--initial-cluster-state=existing";
      state = true;
    } else if (std::regex_match(line, m, state_line)) {
      if (state) {
        start = end + 1;
        continue;  // written beside --initial-cluster
      }
      line = std::string(m[1]) + "--initial-cluster-state=existing";
      state = true;
    }
    out += line + "\n";
    start = end + 1;
  }
  if (!found) throw Error(fmt::format("{}: etcd's command has no --initial-cluster= line to rewrite", origin));
  return out;
}

class EtcdMemberJoin final : public TypedStep<MemberArgs> {
 public:
  StepType type() const override { return StepType::etcd_member_join; }
  StepTraits traits() const override { return {.rejoins_cluster = true}; }
  std::string_view name() const override { return "etcd-member-join"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override { return member_keys(); }

 protected:
  MemberArgs read_args(const StepValues& v) const override { return member_args(v); }

  std::vector<std::string> plan_text(const Runner& r, const MemberArgs&) const override {
    const auto c = r.renaming();
    const auto source = c.changes() ? fmt::format("the generation's etcd manifest, for {} at {} (every {} and {} in "
                                                  "it replaced)",
                                                  c.to.name, c.to.address, c.from.name, c.from.address)
                                    : std::string("this node's etcd manifest (the one stop-static-pods took out)");
    return {fmt::format("write {} with --initial-cluster set to the cluster's members and "
                        "--initial-cluster-state=existing, into {}: the kubelet starts etcd, which joins the cluster "
                        "on an empty data dir and gets its data from the leader",
                        source, r.var(Var::static_pod_path)),
            "a rollback takes it out again; the original manifest goes back with stop-static-pods' undo"};
  }

  void check_generation_manifest(Runner& r, Preflight& pf) const {
    const auto file = generation_manifest(r);
    if (!file) {
      pf.fails.push_back(fmt::format("generation {} holds no etcd manifest in {}: the new member's manifest is made "
                                     "from it",
                                     r.gen.id, r.var(Var::static_pod_path)));
      return;
    }
    try {
      const auto text = renamed_text(core::read_backup_file(*file), r.renaming());
      (void)rewritten(text, "x=https://127.0.0.1:2380", file->string());
      pf.ok(fmt::format("the new member's manifest is made from the generation's {}", file->filename().string()));
    } catch (const Error& e) {
      pf.fails.push_back(e.what());
    }
  }

  void preflight(Runner& r, const MemberArgs& a, Preflight& pf) const override {
    check_cluster(r, a, pf);
    if (r.renaming().changes()) check_generation_manifest(r, pf);
  }

  // The generation's copy of the etcd manifest (its file in the generation), when it has one.
  static std::optional<path> generation_manifest(const Runner& r) {
    const auto pods = core::generation_pods(r.gen, r.var(Var::static_pod_path));
    if (const auto* pod = core::find_pod(pods, "etcd")) return r.gen.dir / core::generation_relative_path(pod->file);
    return std::nullopt;
  }

  std::vector<std::string> temporaries(const Runner& r, const PlannedStep&) const override {
    return {r.temp_path(r.plan.etcd.data_dir)};
  }

  // The data dir etcd fills as it joins is this restore's: an empty one (mode 0700) is placed,
  // journaled, before etcd starts, so that a rollback takes it away and the old one (moved
  // aside) comes back. Without it the kubelet would create it for the pod, and a rollback would
  // find two data dirs and not choose between them.
  static void place_empty_data_dir(Runner& r) {
    const auto data = r.host(r.plan.etcd.data_dir);
    const path tmp = r.temp_path(r.plan.etcd.data_dir);
    if (core::lstat_path(data)) {
      if (r.placed_earlier(data, tmp)) return;
      throw Error(fmt::format("{} exists again after it was moved aside (a pod's DirectoryOrCreate volume?): kdr will "
                              "not let etcd join on a data dir it did not make; look at it, move it away, and resume",
                              data.string()));
    }
    if (!core::lstat_path(tmp)) core::make_dir(tmp, 0700);
    Action act;
    act.from = tmp.string();
    act.to = data.string();
    r.place(act);
    r.ctx.out.info("      {} made empty for etcd to fill as it joins", data.string());
  }

  void perform(Runner& r, const MemberArgs& a) const override {
    const auto live_dir = r.host(r.var(Var::static_pod_path));
    const auto held = r.held_pods();
    const auto* pod = core::find_pod(held, "etcd");
    const auto target = live_dir / (pod ? path(pod->file).filename() : path("etcd.yaml"));
    const auto staged = r.restore_dir() / "staged" / target.filename();
    if (core::lstat_path(target) && r.placed_earlier(target, staged)) {
      r.ctx.out.info("      {} is in place (written earlier)", target.string());
      return;
    }
    const auto change = r.renaming();
    std::optional<path> source;
    if (change.changes()) source = generation_manifest(r);
    else if (pod) source = path(pod->file);
    if (!source)
      throw Error(change.changes()
                      ? fmt::format("generation {} holds no etcd manifest to make the new member's from", r.gen.id)
                      : fmt::format("no etcd manifest was taken out of {} by this restore: stop-static-pods with "
                                    "pods [etcd] must come before {}",
                                    r.var(Var::static_pod_path), name()));
    const auto c = cluster_access(r, a);
    const auto cluster = initial_cluster(c.healthy(r.ctx)->members(), c);
    const auto text = rewritten(renamed_text(core::read_backup_file(*source), change), cluster, source->string());
    const auto check = core::parse_static_pod(text, staged.string());
    if (check.flag("initial-cluster") != cluster || check.flag("initial-cluster-state") != "existing")
      throw Error(fmt::format("{}: the rewritten manifest does not read back with the new flags", staged.string()));
    place_empty_data_dir(r);
    const auto st = core::lstat_path(*source);
    core::make_dir(staged.parent_path(), 0700);
    core::write_file_atomic(staged, text, st ? st->mode & 07777 : 0600);
    Action act;
    act.from = staged.string();
    act.to = target.string();
    act.manifest = true;
    act.pod = "etcd";
    r.place(act);
    r.ctx.out.info("      {} written with --initial-cluster={} --initial-cluster-state=existing (etcd starts and "
                   "joins)",
                   target.string(), cluster);
  }
};

}  // namespace

const StepDef& etcd_member_join_step_def() {
  static const EtcdMemberJoin def;
  return def;
}

}  // namespace kdr::restore
