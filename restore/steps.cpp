// The step types of a playbook (docs/playbooks.md): what each one shows in the plan and
// what it does, idempotently where the step allows it, so that a resumed restore can run
// a half-done step again.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "backup/etcd_snapshot.hpp"
#include "backup/node_facts.hpp"
#include "core/control_plane.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "core/sha256.hpp"
#include "core/wait.hpp"
#include "core/zstd_file.hpp"
#include "restore/etcd_loss.hpp"
#include "restore/materialize.hpp"
#include "restore/pods.hpp"
#include "restore/runner.hpp"
#include "restore/snapshot_tool.hpp"
#include "restore/step_etcd_put_keys.hpp"
#include "restore/step_etcd_replay.hpp"
#include "verify/certificates.hpp"

namespace kdr::restore {

using core::bfs::path;
using core::Error;
using nlohmann::json;

namespace {

bool exists(const path& p) { return core::lstat_path(p).has_value(); }

std::string file_name(const std::string& p) { return path(p).filename().string(); }

bool same_file_content(const path& a, const path& b) {
  try {
    return core::read_file(a) == core::read_file(b);
  } catch (const Error&) {
    return false;
  }
}

void fsync_parent(const path& p) { core::fsync_path(p.parent_path()); }

// rename(2); a file moved across file systems (kdr's state folder and /etc may be on
// different ones) is copied through a hidden temporary beside the target (the kubelet
// ignores hidden files), flushed, renamed into place, and only then removed at the source.
void rename_or_copy(const path& from, const path& to) {
  if (::rename(from.c_str(), to.c_str()) == 0) {
    fsync_parent(to);
    if (from.parent_path() != to.parent_path()) fsync_parent(from);
    return;
  }
  if (errno != EXDEV) core::throw_errno(fmt::format("rename to {}", to.string()), from.string(), errno);
  auto st = core::lstat_path(from);
  if (!st || st->type != core::FileType::file)
    throw Error(fmt::format("cannot move {} to {}: they are on different file systems", from.string(), to.string()));
  const auto tmp = to.parent_path() / ("." + to.filename().string() + ".kdr-tmp");
  ::unlink(tmp.c_str());
  core::write_file_atomic(tmp, core::read_file(from), st->mode);
  if (::lchown(tmp.c_str(), st->uid, st->gid) != 0 && errno != EPERM) core::throw_errno("lchown", tmp.string(), errno);
  if (::rename(tmp.c_str(), to.c_str()) != 0) core::throw_errno("rename", tmp.string(), errno);
  fsync_parent(to);
  if (::unlink(from.c_str()) != 0) core::throw_errno("unlink", from.string(), errno);
  fsync_parent(from);
}

std::size_t action_counter = 0;

int timeout_arg(const PlannedStep& s, int fallback) { return s.args.value("timeout", fallback); }

// The generation's etcd snapshot record (null when it has none).
json gen_etcd_snapshot(const Runner& r) {
  const auto etcd = r.gen.meta.extra.value("etcd", json::object());
  auto it = etcd.find("snapshot");
  return it == etcd.end() || !it->is_object() ? json() : *it;
}

core::StaticPodScan live_pods(const Runner& r) { return core::scan_static_pods(r.ctx.root, r.var("static_pod_path")); }

// The manifests kdr holds for this restore (taken out by stop-static-pods).
core::StaticPodScan held_pods(const Runner& r) {
  core::StaticPodScan scan;
  const auto dir = r.restore_dir() / "manifests";
  if (!exists(dir)) return scan;
  for (const auto& name : core::list_dir(dir)) {
    if (name.empty() || name[0] == '.') continue;
    try {
      auto pod = core::parse_static_pod(core::read_file(dir / name), (dir / name).string());
      pod.file = (dir / name).string();
      scan.pods.push_back(pod);
    } catch (const Error& e) {
      scan.problems.push_back(e.what());
    }
  }
  return scan;
}

bool wanted(const std::vector<std::string>& names, const std::string& pod) {
  return names.empty() || std::find(names.begin(), names.end(), pod) != names.end();
}

// etcd first, then the order given (the API server needs etcd).
template <typename T>
void etcd_first(std::vector<T>& pods) {
  std::stable_partition(pods.begin(), pods.end(), [](const T& p) { return p.name == "etcd"; });
}

// ---- snapshot restore ------------------------------------------------------------------

struct SnapshotSource {
  path file;        // what the tool reads
  bool raw = false;  // a copy of member/snap/db: no hash trailer
  path packed;      // the zstd file in the generation, when compressed
};

SnapshotSource snapshot_source(const Runner& r, const PlannedStep& s) {
  SnapshotSource src;
  if (s.args.value("source", "snapshot") == "raw") {
    src.raw = true;
    src.file = r.gen.dir / core::generation_relative_path(r.plan_etcd_data_dir() + "/member/snap/db");
    return src;
  }
  if (s.args.value("source", "snapshot") == "replayed") {
    src.file = path(r.var("restore_dir")) / "replayed.db";  // written by the etcd-replay step
    return src;
  }
  const auto snap = gen_etcd_snapshot(r);
  if (snap.is_null())
    throw Error(fmt::format("generation {} has no etcd snapshot ({}); choose another generation (kdr list) or "
                            "restore the raw copy (--set etcd_source=raw)",
                            r.gen.id, r.gen.meta.extra.value("etcd", json::object()).value("snapshot_error", "none taken")));
  const auto file = r.gen.dir / snap.value("file", "etcd/snapshot.db");
  if (snap.value("compression", "none") == "zstd") {
    src.packed = file;
    src.file = r.restore_dir() / "snapshot.db";
  } else {
    src.file = file;
  }
  return src;
}

std::vector<std::string> snapshot_restore_argv(const Runner& r, const PlannedStep& s, const SnapshotTool& tool,
                                               const SnapshotSource& src) {
  const auto& e = r.plan_etcd();
  auto argv = tool.argv;
  argv.insert(argv.end(), {"snapshot", "restore", src.file.string(), "--data-dir", r.temp_path(e.at("data_dir")),
                           "--name", e.at("name"), "--initial-cluster",
                           fmt::format("{}={}", e.at("name").get<std::string>(), e.at("peer_url").get<std::string>()),
                           "--initial-cluster-token", "kdr-" + r.plan.id, "--initial-advertise-peer-urls",
                           e.at("peer_url")});
  if (src.raw) argv.push_back("--skip-hash-check");
  if (tool.bump && s.args.value("bump_revision", "true") == "true")
    argv.insert(argv.end(), {"--bump-revision", "1000000000", "--mark-compacted"});
  return argv;
}

void chown_tree(const path& p, std::uint32_t uid, std::uint32_t gid) {
  if (::lchown(p.c_str(), uid, gid) != 0 && errno != EPERM) core::throw_errno("lchown", p.string(), errno);
  auto st = core::lstat_path(p);
  if (st && st->type == core::FileType::directory)
    for (const auto& name : core::list_dir(p)) chown_tree(p / name, uid, gid);
}

// ---- health -----------------------------------------------------------------------------

struct HealthGoal {
  bool compare = false;
  std::int64_t revision = 0;
  std::optional<std::uint64_t> keys;
};

// What a restored etcd must serve: the revision and keys of the snapshot it came from, or of
// the journal's point for a replayed one.
HealthGoal health_goal(const Runner& r) {
  HealthGoal goal;
  const auto from = r.plan.vars.count("etcd_restored_from") ? r.var("etcd_restored_from") : std::string();
  const auto snap = gen_etcd_snapshot(r);
  if (from == "snapshot" && !snap.is_null()) {
    goal.compare = true;
    goal.revision = snap.value("revision", std::int64_t{0});
    if (snap.contains("keys") && !snap["keys"].is_null()) goal.keys = snap["keys"].get<std::uint64_t>();
  } else if (from == "replayed" && r.plan.etcd.contains("replay")) {
    const auto& replay = r.plan.etcd["replay"];
    goal.compare = true;
    goal.revision = replay.value("base_revision", std::int64_t{0});
    goal.keys = replay.value("keys", std::uint64_t{0});
  }
  return goal;
}

struct EtcdHealth {
  bool healthy = false;
  std::int64_t revision = 0;
  std::optional<std::uint64_t> keys;
  std::string problem;
  std::string serving_data_dir;
};

// etcd as the node's manifests (or the config) describe it now.
EtcdHealth etcd_health(const Runner& r, const core::StaticPodScan& scan) {
  EtcdHealth h;
  auto target = backup::etcd_target(r.ctx, core::detect_etcd_layout(r.ctx.config, r.ctx.root, scan));
  backup::SnapshotOutcome failure;
  auto st = backup::endpoint_status(r.ctx, target, failure);
  if (!st) {
    h.problem = failure.error;
    return h;
  }
  h.healthy = true;
  h.revision = st->revision;
  h.keys = backup::count_keys(r.ctx, target, 0);
  return h;
}

}  // namespace

void failpoint(std::string_view name, std::size_t n) {
  static const char* spec = std::getenv("KDR_FAILPOINT");
  if (spec && std::string(spec) == fmt::format("{}:{}", name, n)) ::kill(::getpid(), SIGKILL);
}

// ---- Runner -------------------------------------------------------------------------------

std::string Runner::aside_path(const std::string& node_path) const {
  return host(node_path).string() + ".kdr-" + plan.id;
}

std::string Runner::temp_path(const std::string& node_path) const {
  return host(node_path).string() + ".kdr-" + plan.id + ".new";
}

void Runner::move(Action a) {
  a.op = "move";
  a.step = step;
  const bool to_exists = exists(a.to), from_exists = exists(a.from);
  if (to_exists && !from_exists) return;  // done before (a resumed step)
  if (!from_exists) throw Error(fmt::format("cannot move {}: it is not there", a.from));
  if (to_exists) {
    if (a.manifest && same_file_content(a.from, a.to)) {  // a cross-device move stopped before its unlink
      if (::unlink(a.from.c_str()) != 0) core::throw_errno("unlink", a.from, errno);
      return;
    }
    throw Error(fmt::format("cannot move {} to {}: the target exists; kdr never overwrites", a.from, a.to));
  }
  journal->action(a);
  rename_or_copy(a.from, a.to);
  failpoint("restore-after-action", ++action_counter);
}

bool Runner::placed_earlier(const path& target, const path& tmp) const {
  if (exists(tmp)) return false;  // the copy was not renamed into place yet
  const auto summary = journal->summary();
  return std::any_of(summary.actions.begin(), summary.actions.end(),
                     [&](const Action& a) { return a.op == "place" && a.to == target.string(); });
}

void Runner::act(Action a, const std::function<void()>& change) {
  a.step = step;
  journal->action(a);
  change();
  failpoint("restore-after-action", ++action_counter);
}

void Runner::place(Action a) {
  a.op = "place";
  a.step = step;
  if (!exists(a.from) && exists(a.to)) return;  // done before
  if (exists(a.to)) throw Error(fmt::format("{} exists; kdr never overwrites (move it aside first)", a.to));
  journal->action(a);
  rename_or_copy(a.from, a.to);
  failpoint("restore-after-action", ++action_counter);
}

std::vector<std::string> pod_names(const nlohmann::json& pods) {
  std::vector<std::string> out;
  if (pods.is_array())
    for (const auto& p : pods) out.push_back(p.get<std::string>());
  return out;  // empty: all
}

core::StaticPodScan generation_pods(const verify::GenerationView& g, const std::string& static_pod_path) {
  core::StaticPodScan scan;
  if (!g.manifest) return scan;
  for (const auto& e : g.manifest->entries) {
    if (e.type != core::FileType::file) continue;
    if (path(e.path).parent_path().string() != static_pod_path) continue;
    const auto name = file_name(e.path);
    if (name.empty() || name[0] == '.') continue;
    try {
      auto pod = core::parse_static_pod(core::read_file(g.dir / core::generation_relative_path(e.path)), e.path);
      pod.file = e.path;
      scan.pods.push_back(pod);
    } catch (const Error& err) {
      scan.problems.push_back(err.what());
    }
  }
  return scan;
}

// ---- describing ---------------------------------------------------------------------------

namespace {

// "all static pods", or the names: what a step's `pods` says, in words.
std::string pods_text(const json& pods) {
  if (pods.is_string()) return "all static pods";
  std::string out;
  for (const auto& p : pods) out += (out.empty() ? "" : ", ") + p.get<std::string>();
  return out;
}

// Whether wait-healthy can ask kube-apiserver's /livez, and through what; or why not.
struct LivezCheck {
  bool possible = false;
  std::string why;  // the kubeconfig used, or the reason it is not checked
};

LivezCheck livez_check(const Runner& r, bool apiserver_expected) {
  const auto& kubeconfig = r.ctx.config.kubeconfig;
  if (!apiserver_expected) return {false, "no kube-apiserver manifest on this node"};
  if (kubeconfig.empty()) return {false, "no kubeconfig in the config"};
  if (core::find_program("kubectl").empty()) return {false, "kubectl not found"};
  return {true, kubeconfig};
}

}  // namespace

std::vector<std::string> describe_step(const Runner& r, const PlannedStep& s) {
  std::vector<std::string> out;
  if (!s.blocked.empty()) return {"CANNOT RUN: " + s.blocked};
  const auto& spp = r.var("static_pod_path");
  switch (s.type) {
    case StepType::preflight:
      out.push_back("check: privileges, stray files in " + spp + ", the generation's integrity (every SHA-256),");
      out.push_back("       free space, tool versions, node identity, certificate expiry; changes nothing");
      break;
    case StepType::stop_static_pods: {
      const auto names = pod_names(s.args.value("pods", json("all")));
      for (const auto& pod : live_pods(r).pods)
        if (wanted(names, pod.name))
          out.push_back(fmt::format("move {} -> <journal>/manifests/  (stops {})", pod.file, pod.name));
      if (out.empty()) out.push_back("no matching manifest in " + spp + " now (nothing to stop)");
      break;
    }
    case StepType::wait_stopped:
      out.push_back(fmt::format("wait up to {} s until {} no longer run ({})", timeout_arg(s, 120),
                                pods_text(s.args.value("pods", json("all"))),
                                r.ctx.root.is_real_root() && !core::find_program("crictl").empty() ? "crictl"
                                                                                                   : "process table"));
      break;
    case StepType::move_aside: {
      const auto p = s.args.at("path").get<std::string>();
      out.push_back(fmt::format("rename {} -> {}  (kept; never deleted by kdr)", r.host(p).string(), r.aside_path(p)));
      break;
    }
    case StepType::copy_back: {
      const auto p = s.args.at("path").get<std::string>();
      std::vector<std::string> ex;
      for (const auto& x : s.args.value("exclude", json::array())) ex.push_back(x.get<std::string>());
      std::uint64_t n = 0, bytes = 0;
      if (r.gen.manifest)
        for (const auto* e : entries_under(*r.gen.manifest, p, ex)) {
          ++n;
          bytes += e->size;
        }
      out.push_back(fmt::format("copy {} entries ({:.1f} MiB) of {} from generation {} into {},", n,
                                static_cast<double>(bytes) / 1048576.0, p, r.gen.id, r.temp_path(p)));
      out.push_back(fmt::format("checking every SHA-256, owners, modes, times; then rename it to {}", r.host(p).string()));
      for (const auto& x : ex) out.push_back(fmt::format("{} is left empty here (its manifests go back last)", x));
      break;
    }
    case StepType::etcd_replay:
      out = describe_etcd_replay(r, s);
      break;
    case StepType::etcd_snapshot_restore: {
      const auto& tool = r.snapshot_tool();
      try {
        const auto src = snapshot_source(r, s);
        if (!src.packed.empty())
          out.push_back(fmt::format("decompress {} -> {}", src.packed.string(), src.file.string()));
        out.push_back(core::describe_argv(snapshot_restore_argv(r, s, tool, src)));
      } catch (const Error& e) {
        out.push_back(std::string("cannot run: ") + e.what());
      }
      out.push_back(fmt::format("then rename {} -> {}", r.temp_path(r.plan_etcd_data_dir()),
                                r.host(r.plan_etcd_data_dir()).string()));
      if (!tool.bump)
        out.push_back(fmt::format("note: {} {} has no --bump-revision/--mark-compacted (etcdutl 3.5+ has): the "
                                  "revision is not bumped, so the control-plane pods must restart (this playbook "
                                  "restarts them)",
                                  tool.name, tool.version.empty() ? "" : tool.version));
      break;
    }
    case StepType::etcd_put_keys:
      out = describe_etcd_put_keys(r, s);
      break;
    case StepType::start_static_pods: {
      const auto from = s.args.value("from", "stopped");
      out.push_back(fmt::format("put the manifests of {} back into {} ({}), etcd first",
                                pods_text(s.args.value("pods", json("all"))), spp,
                                from == "generation" ? "the generation's copies, SHA-256 checked"
                                                     : "the ones kdr took out, from <journal>/manifests/"));
      break;
    }
    case StepType::wait_healthy: {
      const auto snap = gen_etcd_snapshot(r);
      std::string bar;
      const auto goal = health_goal(r);
      if (goal.compare) bar = fmt::format(", revision >= {}", goal.revision);
      if (goal.keys) bar += fmt::format(", keys >= {}", *goal.keys);
      const auto layout = core::detect_etcd_layout(r.ctx.config, r.ctx.root, live_pods(r));
      if (r.etcd_on_node())
        out.push_back(fmt::format("wait up to {} s: etcd answers with the manifest's data dir{}", timeout_arg(s, 300), bar));
      else
        out.push_back(fmt::format("wait up to {} s: etcd answers ({})", timeout_arg(s, 300), layout.summary()));
      // kube-apiserver runs after the restore if the node or the generation has its manifest
      const bool apiserver = core::find_pod(live_pods(r), "kube-apiserver") != nullptr ||
                             core::find_pod(generation_pods(r.gen, spp), "kube-apiserver") != nullptr;
      const auto livez = livez_check(r, apiserver);
      out.push_back(livez.possible ? "then kube-apiserver /livez through " + livez.why
                                   : "kube-apiserver /livez: not checked (" + livez.why + ")");
      break;
    }
    case StepType::kubeadm: {
      std::vector<std::string> argv = {"kubeadm"};
      for (const auto& a : s.args.at("args")) argv.push_back(a.get<std::string>());
      out.push_back("run: " + core::describe_argv(argv));
      break;
    }
    case StepType::run: {
      std::vector<std::string> argv;
      for (const auto& a : s.args.at("argv")) argv.push_back(a.get<std::string>());
      out.push_back("run: " + core::describe_argv(argv));
      break;
    }
    case StepType::manual:
      out.push_back(s.args.at("instruction").get<std::string>());
      break;
  }
  return out;
}

bool replaces_etcd_data(const PlannedStep& s, const Plan& plan) {
  if (s.type == StepType::etcd_snapshot_restore) return true;
  if (s.type != StepType::move_aside && s.type != StepType::copy_back) return false;
  const auto data_dir = plan.etcd.value("data_dir", std::string());
  return !data_dir.empty() && core::node_path_within(data_dir, s.args.value("path", std::string()));
}

// ---- running ------------------------------------------------------------------------------

namespace {

// A path the plan would restore that the generation does not hold, named with what the
// generation did back up there.
std::string not_in_generation(const Runner& r, const std::string& p) {
  std::string sources;
  for (const auto& s : r.gen.meta.sources)
    if (s.present) sources += (sources.empty() ? "" : ", ") + s.path;
  const auto recorded = r.gen.recorded_etcd_data_dir;
  return fmt::format("generation {} holds nothing for {}: it was not backed up{} (the generation's sources: {})",
                     r.gen.id, p,
                     recorded && !recorded->empty() && *recorded != p
                         ? fmt::format("; etcd's data dir was {} when the backup ran", *recorded)
                         : std::string(),
                     sources);
}

// Replacing etcd's data while the live etcd answers with newer data rolls the cluster back:
// refused unless accept_loss=true, and then journaled.
void check_etcd_loss(Runner& r, Preflight& pf) {
  if (!r.plan.etcd.contains("loss")) return;
  const auto loss = EtcdLoss::from_json(r.plan.etcd["loss"]);
  if (!loss.loses_data()) {
    pf.ok("etcd data: " + loss.text());
    return;
  }
  if (r.var("accept_loss") != "true") {
    pf.fails.push_back(fmt::format(
        "the live etcd answers and holds data the backup does not: {}. This restore rolls etcd back to the backup. To "
        "put back only what was deleted (one namespace, some keys) with the cluster running, use the playbook "
        "restore-etcd-keys; to roll back anyway, run again with --set accept_loss=true",
        loss.text()));
    return;
  }
  pf.warns.push_back("accepted (accept_loss=true): " + loss.text());
  if (r.journal) r.journal->record({{"event", "loss-accepted"}, {"loss", r.plan.etcd["loss"]}});
}

// Is this the node the generation came from? A forgotten --root, another machine or another
// member of the cluster is refused (same_node=true overrides, for a node that lost all of it);
// what a damaged node of the right identity lacks is only a warning.
void check_node_identity(Runner& r, Preflight& pf) {
  const auto& ctx = r.ctx;
  std::vector<std::string> identity;  // refusals same_node=true overrides
  const auto& spp = r.var("static_pod_path");

  const auto recorded_host = r.gen.meta.hostname;
  std::vector<std::string> recorded_ips;
  for (const auto& a : r.gen.meta.extra.value("node", json::object()).value("addresses", json::array()))
    recorded_ips.push_back(a.get<std::string>());
  const auto now_ips = backup::node_addresses();
  bool common = recorded_ips.empty();
  for (const auto& ip : recorded_ips)
    if (std::find(now_ips.begin(), now_ips.end(), ip) != now_ips.end()) common = true;
  const bool same_host = recorded_host.empty() || recorded_host == core::hostname();
  auto list = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
    return out.empty() ? std::string("none") : out;
  };
  if (!same_host && !common)
    identity.push_back(fmt::format("this machine is '{}' (addresses {}), the backup was taken on '{}' (addresses {}): "
                                   "another machine",
                                   core::hostname(), list(now_ips), recorded_host, list(recorded_ips)));
  else if (!same_host)
    pf.warns.push_back(fmt::format("this machine is '{}', the backup was taken on '{}': certificates, kubeconfigs and "
                                   "manifests name the old node; kubeadm must renew them or the node must keep its name",
                                   core::hostname(), recorded_host));
  else if (!common)
    pf.warns.push_back(fmt::format("none of the backed-up node's addresses ({}) is on this machine: the API server and "
                                   "etcd certificates name them; give the node its old address",
                                   list(recorded_ips)));

  // A node root with nothing of a control-plane node: --root forgotten, or the wrong folder.
  const auto gen_pods = generation_pods(r.gen, spp);
  const bool had_pods = !gen_pods.pods.empty();
  const auto data_dir = r.plan.etcd.value("data_dir", std::string());
  const bool has_spp = exists(r.host(spp));
  const bool has_data = !data_dir.empty() && exists(r.host(data_dir));
  const bool has_kubelet = exists(r.host("/var/lib/kubelet"));
  if (had_pods && !has_spp && !has_data && !has_kubelet)
    identity.push_back(fmt::format("{} does not look like a control-plane node: no {}, no {}, no /var/lib/kubelet "
                                   "(the backup's node had static pods); {}",
                                   ctx.root.root().string(), spp, data_dir.empty() ? "etcd data dir" : data_dir,
                                   ctx.root.is_real_root() ? "was --root forgotten?" : "is --root the right folder?"));

  // Another member of the same cluster: its own etcd name.
  const auto live_member = core::etcd_member(live_pods(r));
  const auto gen_member = core::etcd_member(gen_pods);
  if (live_member && gen_member && !live_member->name.empty() && !gen_member->name.empty() &&
      live_member->name != gen_member->name)
    identity.push_back(fmt::format("the node's etcd member is '{}' ({}), the backup's was '{}': a backup of another "
                                   "member; restore each member from its own backups",
                                   live_member->name, live_member->manifest, gen_member->name));
  // The node runs its own manifests again after the restore: etcd's must be there.
  const bool restarts_own = std::any_of(r.plan.steps.begin(), r.plan.steps.end(), [](const PlannedStep& s) {
    return s.type == StepType::start_static_pods && s.args.value("from", "stopped") == "stopped";
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

  if (r.plan.etcd.contains("loss")) {
    const auto loss = EtcdLoss::from_json(r.plan.etcd["loss"]);
    if (loss.other_cluster())
      pf.warns.push_back(fmt::format("the live etcd is cluster {}, the backup's was {}: etcd was started again on an "
                                     "empty data dir or restored since the backup",
                                     loss.live_cluster_id, loss.backup_cluster_id));
  }

  if (identity.empty()) {
    if (same_host && common) pf.ok("node identity: hostname and an address match the backup");
    return;
  }
  if (r.var("same_node") == "true") {
    for (const auto& i : identity) pf.warns.push_back("accepted (same_node=true): " + i);
    return;
  }
  for (const auto& i : identity)
    pf.fails.push_back(i + "; if this is the node the backup was taken on, run again with --set same_node=true");
}

void run_preflight(Runner& r) {
  const auto& ctx = r.ctx;
  Preflight pf{ctx, {}, {}};
  auto& fails = pf.fails;
  auto& warns = pf.warns;
  auto ok = [&](const std::string& what) { pf.ok(what); };

  if (ctx.root.is_real_root() && ::geteuid() != 0)
    fails.push_back("restoring a real node needs root: run kdr with sudo");
  else
    ok(ctx.root.is_real_root() ? "running as root" : "sandbox node under " + ctx.root.root().string());

  for (std::size_t i = 0; i < r.plan.steps.size(); ++i)
    if (!r.plan.steps[i].blocked.empty())
      fails.push_back(fmt::format("step {} ({}) {}", i + 1, r.plan.steps[i].title, r.plan.steps[i].blocked));

  const auto& spp = r.var("static_pod_path");
  auto strays = stray_manifests(ctx.root, spp);
  fails.insert(fails.end(), strays.begin(), strays.end());
  if (strays.empty()) ok("nothing but real manifests in " + spp);

  // Paths the plan replaces: not mount points, not holding kdr's own state.
  const auto state = ctx.config.state_dir;
  std::uint64_t need_at_targets = 0;
  std::map<std::string, std::uint64_t> need;  // host folder -> bytes
  for (const auto& s : r.plan.steps) {
    if (s.type == StepType::move_aside) {
      const auto p = s.args.at("path").get<std::string>();
      auto st = core::lstat_path(r.host(p));
      auto parent = core::lstat_path(r.host(p).parent_path());
      if (st && parent && st->dev != parent->dev)
        fails.push_back(fmt::format("{} is a mount point: kdr cannot rename it aside. Unmount it (or restore into a "
                                    "folder below it) first",
                                    p));
    }
    if (s.type == StepType::copy_back && r.gen.manifest) {
      const auto p = s.args.at("path").get<std::string>();
      std::vector<std::string> ex;
      for (const auto& x : s.args.value("exclude", json::array())) ex.push_back(x.get<std::string>());
      auto entries = entries_under(*r.gen.manifest, p, ex);
      if (entries.empty() || entries.front()->path != p)
        fails.push_back(not_in_generation(r, p));
      std::uint64_t bytes = 0;
      for (const auto* e : entries) bytes += e->size;
      need[r.host(p).parent_path().string()] += bytes;
    }
    // The replay makes a snapshot file in the restore's folder; its size is the base's, give or
    // take the changes.
    const auto replayed_db = [&] {
      const auto snap = gen_etcd_snapshot(r);
      const auto db = snap.is_object() ? snap.value("db_size", std::uint64_t{0}) : 0;
      return db + db / 5;
    };
    if (s.type == StepType::etcd_replay) {
      check_etcd_replay(r, s, pf);
      need[core::bfs::path(r.var("restore_dir")).parent_path().string()] += replayed_db();
    }
    if (s.type == StepType::etcd_snapshot_restore && s.args.value("source", "snapshot") == "replayed") {
      const auto replay = r.plan_etcd().value("replay", json::object());
      need[r.host(r.plan_etcd_data_dir()).parent_path().string()] += replayed_db();
      ok(fmt::format("etcd is restored to journal revision {} (replayed by the step before)",
                     replay.value("target_revision", std::int64_t{0})));
    } else if (s.type == StepType::etcd_snapshot_restore) {
      try {
        const auto src = snapshot_source(r, s);
        if (!src.raw && !exists(src.packed.empty() ? src.file : src.packed))
          fails.push_back(fmt::format("the snapshot file {} is missing from the generation",
                                      (src.packed.empty() ? src.file : src.packed).string()));
        if (src.raw && !exists(src.file))
          fails.push_back(not_in_generation(r, r.plan_etcd_data_dir() + "/member/snap/db"));
        const auto snap = gen_etcd_snapshot(r);
        std::uint64_t db = src.raw ? (exists(src.file) ? core::lstat_path(src.file)->size : 0)
                                   : snap.value("db_size", std::uint64_t{0});
        need[r.host(r.plan_etcd_data_dir()).parent_path().string()] += db + db / 5;
        if (!src.packed.empty()) need[core::bfs::path(r.var("restore_dir")).parent_path().string()] += db;
        if (src.raw) warns.push_back("restoring etcd from the raw copy of its data dir, which etcd was writing while "
                                     "it was copied; the consistent snapshot is the safer choice");
        else ok(fmt::format("etcd snapshot at revision {} in the generation", snap.value("revision", 0)));
      } catch (const Error& e) {
        fails.push_back(e.what());
      }
      const auto& tool = r.snapshot_tool();
      if (core::find_program(tool.argv.front()).empty()) {
        fails.push_back(fmt::format("{} not found: it is needed to restore the snapshot (etcd.etcdctl / etcd.etcdutl "
                                    "in the config)",
                                    tool.argv.front()));
      } else {
        const auto snap = gen_etcd_snapshot(r);
        const auto server = snap.is_object() ? snap.value("server_version", "") : std::string();
        if (!server.empty() && !tool.version.empty() && minor_of(server) != minor_of(tool.version))
          warns.push_back(fmt::format("the snapshot comes from etcd {}, the restore runs {} {}: a snapshot restores "
                                      "into the same etcd minor version",
                                      server, tool.name, tool.version));
        else
          ok(fmt::format("{} {} for the snapshot (etcd {} took it)", tool.name, tool.version, server.empty() ? "?" : server));
        if (!tool.bump)
          warns.push_back(fmt::format("{} cannot bump the revision (--bump-revision needs etcdutl 3.5+): after the "
                                      "restore, kube-apiserver and the controllers must restart; this playbook "
                                      "restarts the control-plane pods, restart the kubelets of other nodes too",
                                      tool.name));
      }
    }
    if (s.type == StepType::etcd_put_keys) check_etcd_put_keys(r, s, pf);
    if (s.type == StepType::kubeadm) {
      if (core::find_program("kubeadm").empty()) {
        fails.push_back("kubeadm not found in PATH: install the kubeadm package of the cluster's version first");
      } else {
        core::ProcessOptions opts;
        opts.timeout = std::chrono::seconds(20);
        opts.env["KDR_ROOT"] = ctx.root.root().string();
        auto v = core::run_process({"kubeadm", "version", "-o", "short"}, opts);
        std::string recorded;
        for (const auto& p : r.gen.meta.extra.value("node", json::object()).value("static_pods", json::array()))
          if (p.value("name", "") == "kube-apiserver" && !p.value("images", json::array()).empty())
            recorded = p["images"][0].value("version", "");
        auto have = v.ok() ? v.out.substr(0, v.out.find('\n')) : std::string("unknown");
        if (!recorded.empty() && minor_of(have) != minor_of(recorded))
          warns.push_back(fmt::format("kubeadm is {}, the cluster ran {}: install kubeadm {} to rebuild it", have,
                                      recorded, recorded));
        else
          ok(fmt::format("kubeadm {} (the cluster ran {})", have, recorded.empty() ? "?" : recorded));
      }
    }
  }
  for (const auto& [dir, bytes] : need) {
    const auto free = core::free_bytes(dir);
    if (free < bytes)
      fails.push_back(fmt::format("{} has {} MiB free; the restore needs about {} MiB there", dir, free >> 20,
                                  (bytes >> 20) + 1));
  }
  for (const auto& [dir, bytes] : need) need_at_targets += bytes;
  if (!need.empty()) ok(fmt::format("free space for the {:.1f} MiB this restore writes",
                                    static_cast<double>(need_at_targets) / 1048576.0));
  for (const auto& s : r.plan.steps)
    if (s.type == StepType::move_aside || s.type == StepType::copy_back) {
      const auto p = s.args.at("path").get<std::string>();
      if (core::node_path_within(state, p))
        fails.push_back(fmt::format("kdr's state folder {} is inside {}, which this restore replaces; set state_dir "
                                    "elsewhere in the config",
                                    state, p));
    }

  verify::Findings findings;
  std::uint64_t to_hash = 0;
  if (r.gen.manifest)
    for (const auto& e : r.gen.manifest->entries) to_hash += e.size;
  core::Progress hashing(ctx.out, "re-hashing", to_hash);
  const auto stats = verify::check_integrity(r.gen, r.plan_etcd_data_dir(), findings, &hashing);
  hashing.finish();
  std::size_t errors = 0;
  for (const auto& f : findings.all()) {
    if (f.severity == verify::Severity::error) {
      if (++errors <= 5) fails.push_back(fmt::format("generation {}: {}: {}", r.gen.id, f.path, f.detail));
    } else if (f.severity == verify::Severity::warning) {
      warns.push_back(fmt::format("generation {}: {}: {}", r.gen.id, f.path, f.detail));
    }
  }
  if (errors > 5) fails.push_back(fmt::format("... and {} more integrity errors (kdr verify {})", errors - 5, r.gen.id));
  if (errors == 0)
    ok(fmt::format("generation {} is intact: {} entries, {:.1f} MiB re-hashed", r.gen.id, stats.entries,
                   static_cast<double>(stats.bytes_hashed) / 1048576.0));

  verify::Findings certs;
  auto cstats = verify::check_certificates(ctx, r.gen, false, core::now_epoch(), certs);
  for (const auto& f : certs.all())
    if (f.severity != verify::Severity::info)
      warns.push_back(fmt::format("certificate {}: {} (renew with `kubeadm certs renew` after the restore)", f.path,
                                  f.detail));
  if (certs.count(verify::Severity::error) + certs.count(verify::Severity::warning) == 0)
    ok(fmt::format("{} certificates in the generation are valid for 30 days or more", cstats.checked));

  check_node_identity(r, pf);

  check_etcd_loss(r, pf);

  for (const auto& w : warns) ctx.out.warn("{}", w);
  if (!fails.empty()) {
    std::string text = fmt::format("preflight found {} problem{}; nothing was changed:", fails.size(),
                                   fails.size() == 1 ? "" : "s");
    for (const auto& f : fails) text += "\n  - " + f;
    throw Error(text);
  }
}

}  // namespace

void check_preflight(Runner& r) { run_preflight(r); }

namespace {

void run_stop_static_pods(Runner& r, const PlannedStep& s) {
  const auto names = pod_names(s.args.value("pods", json("all")));
  const auto held = r.restore_dir() / "manifests";
  core::make_dir(held, 0700);
  auto live = live_pods(r).pods;
  std::vector<std::string> stopped;
  for (const auto& pod : live) {
    if (!wanted(names, pod.name)) continue;
    Action a;
    a.from = r.host(pod.file).string();
    a.to = (held / file_name(pod.file)).string();
    a.manifest = true;
    a.pod = pod.name;
    r.move(a);
    stopped.push_back(pod.name);
    r.ctx.out.info("      moved {} out of {} ({} will stop)", pod.file, r.var("static_pod_path"), pod.name);
  }
  for (const auto& n : names)
    if (std::find(stopped.begin(), stopped.end(), n) == stopped.end()) {
      auto h = held_pods(r);
      bool held_already = std::any_of(h.pods.begin(), h.pods.end(), [&](const auto& p) { return p.name == n; });
      r.ctx.out.info("      {}: {}", n, held_already ? "taken out earlier" : "no manifest on the node (not running)");
    }
}

void run_wait_stopped(Runner& r, const PlannedStep& s) {
  const auto names = pod_names(s.args.value("pods", json("all")));
  for (const auto& pod : live_pods(r).pods)
    if (!names.empty() && wanted(names, pod.name))
      throw Error(fmt::format("{}'s manifest is still in {}: the kubelet keeps it running. The playbook must stop it "
                              "first (stop-static-pods)",
                              pod.name, r.var("static_pod_path")));
  std::vector<core::StaticPod> pods;
  for (const auto& p : held_pods(r).pods)
    if (wanted(names, p.name)) pods.push_back(p);
  const int timeout = timeout_arg(s, 120);
  std::string how;
  const auto waited = core::wait_until(
      {.timeout_s = static_cast<double>(timeout)},
      [&]() -> std::optional<std::string> {
        std::string still;
        for (const auto& p : pods) {
          auto check = pod_running(r.ctx.root, p);
          how = check.how;
          if (check.running) still += (still.empty() ? "" : "; ") + p.name + ": " + check.detail;
        }
        if (still.empty()) return std::nullopt;
        return still;
      },
      [&](double seconds, const std::string& still) { r.ctx.out.info("      waiting ({:.0f} s): {}", seconds, still); });
  if (!waited.done)
    throw Error(fmt::format("still running {} s after their manifests were taken out: {}. Is the kubelet running "
                            "(systemctl status kubelet)? It stops a static pod within about 20 s of its manifest "
                            "leaving {}. Nothing else was changed yet",
                            timeout, waited.still, r.var("static_pod_path")));
  std::string names_text;
  for (const auto& p : pods) names_text += (names_text.empty() ? "" : ", ") + p.name;
  r.ctx.out.info("      stopped: {} ({}, {:.1f} s)", pods.empty() ? std::string("nothing was running") : names_text,
                 how.empty() ? "process table" : how, waited.seconds);
}

void run_move_aside(Runner& r, const PlannedStep& s) {
  const auto p = s.args.at("path").get<std::string>();
  const auto live = r.host(p);
  Action a;
  a.from = live.string();
  a.to = r.aside_path(p);
  if (!exists(live) && !exists(a.to)) {
    r.ctx.out.info("      nothing at {} (nothing to move aside)", p);
    return;
  }
  if (exists(live) && exists(a.to))
    throw Error(fmt::format("{} was moved aside to {} already, and {} exists again: something recreated it (the "
                            "kubelet does for a running pod's hostPath). Stop the pods, look at both, remove the new "
                            "one, then resume",
                            p, a.to, p));
  if (exists(live)) {
    auto st = core::lstat_path(live);
    auto parent = core::lstat_path(live.parent_path());
    if (st && parent && st->dev != parent->dev)
      throw Error(fmt::format("{} is a mount point: kdr cannot rename it aside", p));
  }
  r.move(a);
  r.ctx.out.info("      {} -> {} (kept)", p, a.to);
}

void run_copy_back(Runner& r, const PlannedStep& s) {
  const auto p = s.args.at("path").get<std::string>();
  std::vector<std::string> ex;
  for (const auto& x : s.args.value("exclude", json::array())) ex.push_back(x.get<std::string>());
  const auto target = r.host(p);
  const auto tmp = path(r.temp_path(p));
  if (exists(target)) {
    if (r.placed_earlier(target, tmp)) {
      r.ctx.out.info("      {} was copied back earlier", p);
      return;
    }
    throw Error(fmt::format("{} exists: copy-back writes only where nothing is (a move-aside step must come first)", p));
  }
  if (!r.gen.manifest) throw Error(fmt::format("generation {} has no readable manifest", r.gen.id));
  if (exists(tmp)) core::remove_tree(tmp);  // a copy interrupted earlier; it is kdr's own
  const auto entries = entries_under(*r.gen.manifest, p, ex);
  core::make_dirs(target.parent_path(), 0755);
  const double t0 = core::monotonic_seconds();
  std::uint64_t bytes = 0;
  for (const auto* e : entries) bytes += e->size;
  core::Progress progress(r.ctx.out, "restoring", bytes);
  const auto stats = materialize(entries, p, r.gen.dir, tmp, &progress);
  progress.finish();
  Action a;
  a.from = tmp.string();
  a.to = target.string();
  r.place(a);
  r.ctx.out.info("      {}: {} files, {} folders, {} symlinks, {:.1f} MiB, every SHA-256 checked ({:.1f} s)", p,
                 stats.files, stats.dirs, stats.symlinks, static_cast<double>(stats.bytes) / 1048576.0,
                 core::monotonic_seconds() - t0);
}

void run_etcd_snapshot_restore(Runner& r, const PlannedStep& s) {
  const auto data_dir = r.plan_etcd_data_dir();
  const auto target = r.host(data_dir);
  const auto tmp = path(r.temp_path(data_dir));
  if (exists(target)) {
    if (r.placed_earlier(target, tmp)) {
      r.ctx.out.info("      {} was restored earlier", data_dir);
      return;
    }
    throw Error(fmt::format("etcd's data dir {} exists: `snapshot restore` needs it gone (a move-aside step must "
                            "come first)",
                            data_dir));
  }
  const auto& tool = r.snapshot_tool();
  const auto src = snapshot_source(r, s);
  const auto snap = gen_etcd_snapshot(r);
  if (!src.packed.empty()) {
    const auto want = snap.value("db_sha256", "");
    if (!exists(src.file) || core::sha256_file(src.file.string()) != want) {
      ::unlink(src.file.c_str());
      const auto part = src.file.string() + ".part";
      ::unlink(part.c_str());
      core::zstd_decompress_file(src.packed, part);
      if (::rename(part.c_str(), src.file.c_str()) != 0) core::throw_errno("rename", part, errno);
    }
  }
  // The snapshot's own SHA-256 trailer is checked by `snapshot restore` itself (no
  // --skip-hash-check), and the preflight re-hashed the whole generation: no third read.
  if (exists(tmp)) core::remove_tree(tmp);  // an earlier attempt; kdr's own
  core::make_dirs(tmp.parent_path(), 0755);
  const auto argv = snapshot_restore_argv(r, s, tool, src);
  r.ctx.out.info("      {}", core::describe_argv(argv));
  const double t0 = core::monotonic_seconds();
  auto res = core::run_process(argv, core::etcd_tool_options(std::chrono::minutes(30)));
  core::write_file_atomic(r.restore_dir() / fmt::format("step-{}.log", r.step + 1), res.out + res.err, 0600);
  if (!res.ok()) {
    if (exists(tmp)) core::remove_tree(tmp);
    auto why = res.started ? (res.timed_out ? std::string("timed out") : res.err) : res.start_error;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    throw Error(fmt::format("{} snapshot restore failed: {}", tool.name, why));
  }
  // Owner and mode of the data dir as the backup recorded them (etcd may run as non-root).
  std::uint32_t uid = 0, gid = 0, mode = 0700;
  if (r.gen.manifest)
    for (const auto& e : r.gen.manifest->entries)
      if (e.path == data_dir) {
        uid = e.uid;
        gid = e.gid;
        mode = e.mode;
      }
  chown_tree(tmp, uid, gid);
  if (::chmod(tmp.c_str(), mode) != 0) core::throw_errno("chmod", tmp.string(), errno);
  core::Fd fd(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd && ::syncfs(fd.get()) != 0) core::throw_errno("syncfs", tmp.string(), errno);
  Action a;
  a.from = tmp.string();
  a.to = target.string();
  r.place(a);
  if (!src.packed.empty()) ::unlink(src.file.c_str());
  r.ctx.out.info("      etcd data restored into {} as member {} with cluster token kdr-{} ({:.1f} s){}", data_dir,
                 r.plan_etcd().at("name").get<std::string>(), r.plan.id, core::monotonic_seconds() - t0,
                 tool.bump && s.args.value("bump_revision", "true") == "true" ? ", revision bumped by 1e9" : "");
}

void run_start_static_pods(Runner& r, const PlannedStep& s) {
  const auto names = pod_names(s.args.value("pods", json("all")));
  const auto from = s.args.value("from", "stopped");
  const auto& spp = r.var("static_pod_path");
  const auto live_dir = r.host(spp);
  if (!exists(live_dir)) {
    std::uint32_t mode = 0755;
    if (r.gen.manifest)
      for (const auto& e : r.gen.manifest->entries)
        if (e.path == spp) mode = e.mode;
    core::make_dirs(live_dir, mode);
  }
  if (from == "stopped") {
    auto pods = held_pods(r).pods;
    etcd_first(pods);
    for (const auto& pod : pods) {
      if (!wanted(names, pod.name)) continue;
      Action a;
      a.from = pod.file;
      a.to = (live_dir / file_name(pod.file)).string();
      a.manifest = true;
      a.pod = pod.name;
      r.move(a);
      r.ctx.out.info("      {}/{} is back ({} starts)", spp, file_name(pod.file), pod.name);
    }
    return;
  }
  auto pods = generation_pods(r.gen, spp).pods;
  etcd_first(pods);
  const auto staged = r.restore_dir() / "staged";
  core::make_dir(staged, 0700);
  const auto index = r.gen.manifest->index();
  for (const auto& pod : pods) {
    if (!wanted(names, pod.name)) continue;
    const auto& e = r.gen.manifest->entries.at(index.at(pod.file));
    const auto live = live_dir / file_name(pod.file);
    const auto stage = staged / file_name(pod.file);
    if (exists(live) && !exists(stage)) {
      r.ctx.out.info("      {} is in place", pod.file);
      continue;
    }
    if (!exists(stage)) {
      const auto part = path(stage.string() + ".part");
      ::unlink(part.c_str());
      copy_generation_file(e, r.gen.dir, part);
      apply_metadata(part, e);
      core::fsync_path(part);
      if (::rename(part.c_str(), stage.c_str()) != 0) core::throw_errno("rename", part.string(), errno);
    }
    Action a;
    a.from = stage.string();
    a.to = live.string();
    a.manifest = true;
    a.pod = pod.name;
    r.place(a);
    r.ctx.out.info("      {} is back from the generation ({} starts)", pod.file, pod.name);
  }
  // The folder's own time as the backup recorded it (placing files changed it).
  if (auto it = index.find(spp); it != index.end()) apply_metadata(live_dir, r.gen.manifest->entries.at(it->second));
}

namespace {

// What etcd must serve once the restore is done: the backup's revision and key count when
// the data came from its snapshot.

// Why etcd is not ready yet, or nothing once it serves what the goal says (and a line that
// tells the operator so in `report`).
std::optional<std::string> etcd_not_ready(const Runner& r, const HealthGoal& goal, std::string& report) {
  const auto scan = live_pods(r);
  const auto layout = core::detect_etcd_layout(r.ctx.config, r.ctx.root, scan);
  std::string where = "data dir " + layout.data_dir;
  if (layout.kind == core::EtcdKind::static_pod) {
    const auto& member = *layout.member;
    const auto* pod = core::find_pod(scan, "etcd");
    auto procs = pod ? pod_processes(r.ctx.root, *pod) : std::vector<PodProcess>{};
    const auto expect_host = r.host(member.data_dir_host).string();
    std::string serving;
    bool right_dir = procs.empty();  // no process view (containers elsewhere): rely on etcd's answers
    for (const auto& p : procs) {
      const auto d = data_dir_argument(p.argv);
      serving = d;
      if (d == expect_host || (r.ctx.root.is_real_root() && d == member.data_dir)) right_dir = true;
    }
    if (!right_dir)
      return fmt::format("the running etcd uses --data-dir {}, the manifest says {}", serving, member.data_dir_host);
  } else if (layout.kind == core::EtcdKind::unknown) {
    return "no etcd manifest in " + r.var("static_pod_path");
  } else {
    where = layout.summary();  // etcd elsewhere or under systemd: its answers are all kdr can check
  }
  auto h = etcd_health(r, scan);
  if (!h.healthy) return h.problem;
  if (h.revision < goal.revision)
    return fmt::format("etcd serves revision {}, the backup's snapshot is at {}: it is not serving the restored data",
                       h.revision, goal.revision);
  if (goal.keys && (!h.keys || *h.keys < *goal.keys))
    return fmt::format("etcd serves {} keys, the backup had {}", h.keys ? *h.keys : 0, *goal.keys);
  report = fmt::format("etcd is healthy: revision {}{}, {} keys{}, {}", h.revision,
                       goal.compare ? fmt::format(" (backup: {})", goal.revision) : "", h.keys ? *h.keys : 0,
                       goal.keys ? fmt::format(" (backup: {})", *goal.keys) : "", where);
  return std::nullopt;
}

}  // namespace

void run_wait_healthy(Runner& r, const PlannedStep& s) {
  const int timeout = timeout_arg(s, 300);
  const double start = core::monotonic_seconds();
  const auto goal = health_goal(r);
  auto waiting = [&](double seconds, const std::string& still) {
    r.ctx.out.info("      waiting ({:.0f} s): {}", seconds, still);
  };
  std::string report;
  const auto healthy = core::wait_until(
      {.timeout_s = static_cast<double>(timeout), .every = std::chrono::milliseconds(200)},
      [&] { return etcd_not_ready(r, goal, report); }, waiting);
  if (!healthy.done)
    throw Error(fmt::format("etcd is not healthy after {} s: {}. Look at the etcd container's log (crictl logs, "
                            "or journalctl -u kubelet)",
                            timeout, healthy.still));
  r.ctx.out.info("      {} ({:.1f} s)", report, healthy.seconds);
  // kube-apiserver, when kdr can reach it.
  const auto scan = live_pods(r);
  auto livez = livez_check(r, core::find_pod(scan, "kube-apiserver") != nullptr);
  if (livez.possible && !core::lstat_path(r.host(r.ctx.config.kubeconfig)))
    livez = {false, fmt::format("no kubeconfig at {}", r.ctx.config.kubeconfig)};
  if (!livez.possible) {
    r.ctx.out.info("      kube-apiserver /livez not checked ({})", livez.why);
    return;
  }
  const auto kubeconfig = r.host(r.ctx.config.kubeconfig).string();
  std::string answer;
  const double left = std::max(0.0, timeout - (core::monotonic_seconds() - start));
  const auto live = core::wait_until(
      {.timeout_s = left, .every = std::chrono::milliseconds(500)},
      [&]() -> std::optional<std::string> {
        core::ProcessOptions opts;
        opts.timeout = std::chrono::seconds(15);
        auto res = core::run_process({"kubectl", "--kubeconfig", kubeconfig, "--request-timeout", "5s", "get",
                                      "--raw", "/livez"},
                                     opts);
        if (res.ok()) {
          answer = res.out.substr(0, res.out.find('\n'));
          return std::nullopt;
        }
        return res.started ? res.err : res.start_error;
      },
      [&](double seconds, const std::string&) {
        r.ctx.out.info("      waiting ({:.0f} s) for kube-apiserver /livez", seconds + (timeout - left));
      });
  if (!live.done)
    throw Error(fmt::format("kube-apiserver /livez does not answer after {} s: {}", timeout, live.still));
  r.ctx.out.info("      kube-apiserver /livez: {}", answer);
}

void run_command(Runner& r, std::vector<std::string> argv, int timeout_s) {
  const auto program = argv.front();
  if (core::find_program(program).empty()) throw Error(fmt::format("{} not found in PATH", program));
  core::ProcessOptions opts;
  opts.timeout = std::chrono::seconds(timeout_s);
  opts.env["KDR_ROOT"] = r.ctx.root.root().string();
  opts.env["KDR_RESTORE_ID"] = r.plan.id;
  opts.env["KDR_GENERATION_DIR"] = r.plan.generation_dir;
  r.ctx.out.info("      running: {}", core::describe_argv(argv));
  auto res = core::run_process(argv, opts);
  const auto log = r.restore_dir() / fmt::format("step-{}.log", r.step + 1);
  core::write_file_atomic(log, res.out + res.err, 0600);
  // The last lines of what it printed, indented.
  auto text = res.out + res.err;
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  const std::size_t first = lines.size() > 15 ? lines.size() - 15 : 0;
  for (std::size_t i = first; i < lines.size(); ++i) r.ctx.out.info("      | {}", lines[i]);
  if (!res.ok())
    throw Error(fmt::format("{} {} (its output: {})", program,
                            !res.started    ? res.start_error
                            : res.timed_out ? fmt::format("did not finish in {} s", timeout_s)
                                            : fmt::format("exited with {}", res.exit_code),
                            log.string()));
}

}  // namespace

void run_step(Runner& r, const PlannedStep& s) {
  if (!s.blocked.empty()) throw Error(fmt::format("step '{}' {}", s.title, s.blocked));
  switch (s.type) {
    case StepType::preflight: return run_preflight(r);
    case StepType::stop_static_pods: return run_stop_static_pods(r, s);
    case StepType::wait_stopped: return run_wait_stopped(r, s);
    case StepType::move_aside: return run_move_aside(r, s);
    case StepType::copy_back: return run_copy_back(r, s);
    case StepType::etcd_replay: return run_etcd_replay(r, s);
    case StepType::etcd_snapshot_restore: return run_etcd_snapshot_restore(r, s);
    case StepType::etcd_put_keys: return run_etcd_put_keys(r, s);
    case StepType::start_static_pods: return run_start_static_pods(r, s);
    case StepType::wait_healthy: return run_wait_healthy(r, s);
    case StepType::kubeadm: {
      std::vector<std::string> argv = {"kubeadm"};
      for (const auto& a : s.args.at("args")) argv.push_back(a.get<std::string>());
      return run_command(r, argv, timeout_arg(s, 900));
    }
    case StepType::run: {
      std::vector<std::string> argv;
      for (const auto& a : s.args.at("argv")) argv.push_back(a.get<std::string>());
      return run_command(r, argv, timeout_arg(s, 900));
    }
    case StepType::manual:
      r.ctx.out.info("      {}", s.args.at("instruction").get<std::string>());
      return;
  }
}

// ---- undo -----------------------------------------------------------------------------------

void undo_actions(Runner& r, const std::vector<Action>& actions) {
  const auto spp = r.host(r.var("static_pod_path")).string();
  auto in_spp = [&](const std::string& p) { return path(p).parent_path().string() == spp; };
  std::size_t undone = 0;
  auto undo = [&](const Action& a) {
    if (a.op == "etcd-put") {
      failpoint("rollback-before-action", ++undone);
      undo_etcd_put(r, a);
      failpoint("rollback-after-action", undone);
      return;
    }
    const bool to_exists = exists(a.to), from_exists = exists(a.from);
    if (to_exists || (a.op == "place" && from_exists)) failpoint("rollback-before-action", ++undone);
    if (a.op == "move") {
      if (to_exists && !from_exists) {
        rename_or_copy(a.to, a.from);
        r.ctx.out.info("      {} -> {}", a.to, a.from);
      } else if (to_exists && from_exists) {
        if (a.manifest && same_file_content(a.from, a.to)) {
          if (::unlink(a.to.c_str()) != 0) core::throw_errno("unlink", a.to, errno);
        } else {
          throw Error(fmt::format("both {} and {} exist; kdr will not choose between them: look at both, keep the "
                                  "right one at {}, and run the rollback again",
                                  a.from, a.to, a.from));
        }
      }
    } else {  // place: the placed tree is kdr's own copy of the backup
      if (to_exists) {
        core::remove_tree(a.to);
        fsync_parent(a.to);
        r.ctx.out.info("      removed {} (restored from the backup by this restore)", a.to);
      }
      if (from_exists) core::remove_tree(a.from);
    }
    if (to_exists || (a.op == "place" && from_exists)) failpoint("rollback-after-action", undone);
  };
  // 1. Manifests this restore put into the static pod folder come out, and their pods stop.
  // Also when an earlier, interrupted rollback took the manifests out already: their pods
  // may still run, and the data must not change under them.
  std::vector<core::StaticPod> stopping;
  for (auto it = actions.rbegin(); it != actions.rend(); ++it) {
    if (!it->manifest || !in_spp(it->to)) continue;
    for (const auto& where : {it->to, it->from}) {
      if (!exists(where)) continue;
      try {
        stopping.push_back(core::parse_static_pod(core::read_file(where), where));
      } catch (const Error&) {
      }
      break;
    }
    undo(*it);
  }
  const auto stopped = core::wait_until(
      {.timeout_s = 120},
      [&]() -> std::optional<std::string> {
        std::string still;
        for (const auto& p : stopping) {
          auto c = pod_running(r.ctx.root, p);
          if (c.running) still += (still.empty() ? "" : "; ") + p.name + ": " + c.detail;
        }
        if (still.empty()) return std::nullopt;
        return still;
      },
      [&](double seconds, const std::string& still) { r.ctx.out.info("      waiting ({:.0f} s): {}", seconds, still); });
  if (!stopped.done)
    throw Error("still running 120 s after their manifests were taken out: " + stopped.still +
                "; is the kubelet running? Run the rollback again once they stopped");
  // 2. Data: restored copies removed, moved-aside originals renamed back.
  for (auto it = actions.rbegin(); it != actions.rend(); ++it)
    if (!it->manifest) undo(*it);
  // 3. The original manifests go back last.
  for (auto it = actions.rbegin(); it != actions.rend(); ++it)
    if (it->manifest && !in_spp(it->to)) undo(*it);
}

}  // namespace kdr::restore
