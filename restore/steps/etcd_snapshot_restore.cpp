// Step type `etcd-snapshot-restore`: `etcdutl snapshot restore` (etcdctl on 3.4) of the
// generation's snapshot (or its raw copy of member/snap/db, or the point an etcd-replay step
// made) into <data dir>.kdr-<id>.new as a new one-member cluster, owners and mode as the
// backup recorded them, then renamed into place. Undone by removing the placed copy.
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/progress.hpp"
#include "core/sha256.hpp"
#include "core/zstd_file.hpp"
#include "etcd/snapshot_tool.hpp"
#include "etcd/tool.hpp"
#include "restore/decryptable.hpp"
#include "restore/etcd_cluster.hpp"
#include "restore/steps/etcd_replay.hpp"
#include "restore/steps/etcd_snapshot_restore.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::bfs::path;
using core::Error;
using nlohmann::json;

namespace {

enum class Source { snapshot, raw, replayed };

struct SnapshotRestoreArgs : StepArgs {
  Source source = Source::snapshot;
  bool bump_revision = true;
  bool force_new_cluster = false;  // even while the other members keep quorum
};

struct SnapshotSource {
  path file;           // what the tool reads: a private copy in the restore's folder
  bool raw = false;    // a copy of member/snap/db: no hash trailer
  path shipped;        // the file in the generation it is copied from; empty: the replayed point
  bool zstd = false;   // shipped compressed
  std::string sha256;  // what the copy must hash to, as the generation recorded it
  std::uint64_t db_size = 0;  // what the tool reads, as recorded (the replayed point's file: as it is)
};


SnapshotSource snapshot_source(const Runner& r, const SnapshotRestoreArgs& a) {
  SnapshotSource src;
  if (a.source == Source::raw) {
    src.raw = true;
    const auto db = r.plan.etcd.data_dir + "/member/snap/db";
    src.shipped = r.gen.dir / core::generation_relative_path(db);
    src.file = r.restore_dir() / "snapshot.db";
    if (r.gen.manifest)
      for (const auto& e : r.gen.manifest->entries)
        if (e.path == db) {
          src.sha256 = e.sha256;
          src.db_size = e.size;
        }
    return src;
  }
  if (a.source == Source::replayed) {
    src.file = path(r.var(Var::restore_dir)) / "replayed.db";  // written by the etcd-replay step
    src.sha256 = replayed_sha256(r);                            // as it recorded it (none yet: the plan)
    if (const auto st = core::lstat_path(src.file)) {
      src.db_size = st->size;
    } else if (const auto& snap = r.gen_snapshot()) {
      src.db_size = snap->db_size;  // not made yet (the plan): about the generation's, as the preflight counts it
    }
    return src;
  }
  const auto& snap = r.gen_snapshot();
  if (!snap)
    throw Error(fmt::format("generation {} has no etcd snapshot ({}); choose another generation (kdr list) or "
                            "restore the raw copy (--set etcd_source=raw)",
                            r.gen.id, r.gen.meta.etcd.no_snapshot_reason()));
  src.shipped = r.gen.dir / snap->file;
  src.zstd = snap->compression == "zstd";
  src.sha256 = snap->db_sha256;
  src.db_size = snap->db_size;
  src.file = r.restore_dir() / "snapshot.db";
  return src;
}

// `file` restored as this node's member into <data dir>.kdr-<id>.new.part. `hashed`: kdr
// hashed what the tool reads and it matched the record (check_source): the tool's own check of
// the snapshot's trailer would read it all again for nothing (a raw copy has none).
std::vector<std::string> restore_argv(const Runner& r, bool bump_revision, const etcd::SnapshotTool& tool,
                                      const path& file, std::uint64_t db_size, bool hashed = true) {
  const auto& e = r.plan.etcd;
  auto argv = tool.argv;
  argv.insert(argv.end(), {"snapshot", "restore", file.string(), "--data-dir", r.temp_path(e.data_dir) + ".part",
                           "--name", e.name, "--initial-cluster", fmt::format("{}={}", e.name, e.peer_url),
                           "--initial-cluster-token", "kdr-" + r.plan.id, "--initial-advertise-peer-urls",
                           e.peer_url});
  if (hashed) argv.push_back("--skip-hash-check");
  const auto sizing = tool.sizing_args(db_size);
  argv.insert(argv.end(), sizing.begin(), sizing.end());
  if (tool.bump && bump_revision) argv.insert(argv.end(), {"--bump-revision", "1000000000", "--mark-compacted"});
  return argv;
}

std::vector<std::string> restore_argv(const Runner& r, const SnapshotRestoreArgs& a, const etcd::SnapshotTool& tool,
                                      const SnapshotSource& src) {
  return restore_argv(r, a.bump_revision, tool, src.file, src.db_size);
}

void chown_tree(const path& p, std::uint32_t uid, std::uint32_t gid) {
  if (::lchown(p.c_str(), uid, gid) != 0 && errno != EPERM) core::throw_errno("lchown", p.string(), errno);
  auto st = core::lstat_path(p);
  if (st && st->type == core::FileType::directory)
    for (const auto& name : core::list_dir(p)) chown_tree(p / name, uid, gid);
}

// The snapshot's tool, as looked up for this run.
const etcd::SnapshotTool& tool_of(const Runner& r) {
  if (!r.tools.snapshot) throw Error("the snapshot tool was not looked up for this restore (look_up_tools)");
  return *r.tools.snapshot;
}

// Owner and mode of the data dir as the backup recorded them (etcd may run as non-root),
// then the tree flushed (its files, and the names and owners of its folders); the data
// itself was flushed by `snapshot restore`, so this is quick.
void set_owner_and_mode(const Runner& r, const std::string& data_dir, const path& tmp) {
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
  core::fsync_tree(tmp);
}

// The restore `argv` (restore_argv) run into <data dir>.kdr-<id>.new.part, an earlier
// attempt's part removed first (kdr's own); the tool's output is step `log_step`'s log.
path run_restore(const Runner& r, std::size_t log_step, const std::vector<std::string>& argv, std::uint64_t db_size) {
  const auto part = path(r.temp_path(r.plan.etcd.data_dir) + ".part");
  const auto& tool = tool_of(r);
  if (core::present(part)) core::remove_tree(part);
  core::make_dirs(part.parent_path(), 0755);
  auto res = r.ctx.programs->run(argv, core::etcd_tool_options(etcd::snapshot_restore_timeout(db_size)));
  core::write_file_atomic(r.step_log(log_step), core::describe_argv(argv) + "\n" + res.out + res.err, 0600);
  if (!res.ok()) {
    if (core::present(part)) core::remove_tree(part);
    auto why = res.started ? (res.timed_out ? std::string("timed out") : res.err) : res.start_error;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    throw Error(fmt::format("{} snapshot restore failed: {}", tool.name, why));
  }
  if (!core::present(part))
    throw Error(fmt::format("{} snapshot restore succeeded but wrote nothing at {}", tool.name, part.string()));
  return part;
}

// The etcd-replay step before restores its point as this step's data dir itself
// (restore/steps/etcd_snapshot_restore.hpp): this step only renames it into place.
bool made_by_replay(const Runner& r, const SnapshotRestoreArgs& a) {
  if (a.source != Source::replayed) return false;
  for (std::size_t i = 0; i < r.plan.steps.size(); ++i)
    if (const auto how = member_restore_after(r, i); how && r.plan.steps[how->step].typed.get() == &a) return true;
  return false;
}

// A snapshot restore makes this node a new one-member cluster. While the other members of the
// cluster it belonged to keep quorum, that is a second cluster beside the first (a split
// brain): refused unless force_new_cluster=true.
void check_no_split_brain(Runner& r, const SnapshotRestoreArgs& a, Preflight& pf) {
  const auto& members = r.gen.meta.etcd.members;
  if (members.empty()) {
    pf.warns.push_back("the generation recorded no etcd member list (etcdctl member list failed at the backup): "
                       "whether other members of this node's cluster still keep quorum was not checked; make sure "
                       "they are stopped, or restore every member");
    return;
  }
  if (members.size() == 1) {
    pf.ok("the generation's etcd cluster had this one member: no other member to split from");
    return;
  }
  const auto this_member = r.plan.etcd.name;
  etcd::EtcdEndpoint tls;
  try {
    tls = etcd::node_etcd_endpoint(r.ctx);
  } catch (const Error& e) {
    pf.warns.push_back(fmt::format("the generation's cluster has {} members; the others could not be asked whether "
                                   "they still keep quorum ({}): make sure they are stopped, or restore every member",
                                   members.size(), e.what()));
    return;
  }
  const auto look = look_at_other_members(r.ctx, members, this_member, tls);
  std::string lines;
  for (const auto& m : look.others) lines += fmt::format("\n        {}", m.text());
  if (!look.quorum()) {
    pf.ok(fmt::format("no other member of the generation's {}-member cluster serves reads: no quorum to split "
                      "from{}",
                      members.size(), lines));
    return;
  }
  const auto text = fmt::format(
      "the other members of this node's etcd cluster still keep quorum:{}\n      a snapshot restore here would "
      "start a second, one-member cluster beside it (a split brain: each kube-apiserver would see other data). "
      "To rebuild this member, remove it and join it again from the healthy members (docs/runbook.md, \"One "
      "member of three lost\"); to take the whole cluster back, stop etcd on every member first",
      lines);
  if (a.force_new_cluster) {
    pf.warns.push_back(text + "; going ahead (force_new_cluster=true)");
    return;
  }
  pf.fails.push_back(text + "; --set force_new_cluster=true restores anyway");
}

class EtcdSnapshotRestore final : public TypedStep<SnapshotRestoreArgs> {
 public:
  StepType type() const override { return StepType::etcd_snapshot_restore; }
  StepTraits traits() const override { return {.restores_snapshot = true}; }
  std::optional<std::string> etcd_restored_from(const PlannedStep& s) const override {
    return s.values.value("source", "snapshot");
  }
  ReadsReplayed reads_replayed(const PlannedStep& s) const override {
    return s.typed && s.args<SnapshotRestoreArgs>().source == Source::replayed ? ReadsReplayed::member_dir
                                                                                : ReadsReplayed::no;
  }
  std::string_view name() const override { return "etcd-snapshot-restore"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override {
    return {{"source", false}, {"bump_revision", false}, {"force_new_cluster", false}};
  }

 protected:
  SnapshotRestoreArgs read_args(const StepValues& v) const override {
    SnapshotRestoreArgs a;
    const auto source = v.choice("source", {"snapshot", "raw", "replayed"}, "snapshot");
    a.source = source == "raw" ? Source::raw : source == "replayed" ? Source::replayed : Source::snapshot;
    if (a.source == Source::replayed && !v.facts().replay_before)
      v.fail("source", "replayed reads the point an etcd-replay step makes, and no etcd-replay step comes before it "
                       "in this plan");
    a.bump_revision = v.flag("bump_revision", true);
    a.force_new_cluster = v.flag("force_new_cluster", false);
    return a;
  }
  bool replaces_etcd(const SnapshotRestoreArgs&, const Plan&) const override { return true; }

 public:
  std::optional<std::string> cannot_serve(const GenerationOffer& offer, const json& values) const override {
    if (!offer.etcd_on_node) return "etcd did not run on the node as a static pod";
    const auto source = values.value("source", std::string("snapshot"));
    if (source == "raw" && !offer.etcd_files) return "it holds no raw copy of etcd's data dir";
    if (source == "snapshot" && !offer.etcd_snapshot) return "it holds no etcd snapshot";
    return std::nullopt;
  }

 protected:

  std::vector<std::string> plan_text(const Runner& r, const SnapshotRestoreArgs& a) const override {
    std::vector<std::string> out;
    const auto& tool = tool_of(r);
    if (made_by_replay(r, a)) {
      out.push_back(fmt::format("rename {} (the etcd-replay step restored its base as member {} and replayed the "
                                "journal in it) to {}",
                                r.temp_path(r.plan.etcd.data_dir), r.plan.etcd.name,
                                r.host(r.plan.etcd.data_dir).string()));
    } else {
      try {
        const auto src = snapshot_source(r, a);
        if (!src.shipped.empty())
          out.push_back(fmt::format("{} {} -> {}, checked against its recorded SHA-256", src.zstd ? "decompress" : "copy",
                                    src.shipped.string(), src.file.string()));
        out.push_back(core::describe_argv(restore_argv(r, a, tool, src)));
      } catch (const Error& e) {
        out.push_back(std::string("cannot run: ") + e.what());
      }
      out.push_back(fmt::format("then rename it to {} (restored ahead, while the pods stop, in a restore confirmed as "
                                "a whole)",
                                r.host(r.plan.etcd.data_dir).string()));
    }
    if (!tool.bump)
      out.push_back(fmt::format("note: {} {} has no --bump-revision/--mark-compacted (etcdutl 3.5+ has): the "
                                "revision is not bumped, so the control-plane pods must restart (this playbook "
                                "restarts them)",
                                tool.name, tool.version.empty() ? "" : tool.version));
    return out;
  }

  // A dry run (or a preflight that failed already) re-hashes the file the tool will read; a
  // restore that runs copies it instead, hashed as it is written (copy_checked): one read of
  // it, not two.
  void reads_from(const Runner& r, const SnapshotRestoreArgs& a, verify::HashScope& scope) const override {
    if (r.copies_in_preflight && a.source != Source::replayed) return;
    if (a.source == Source::raw) scope.paths.push_back(r.plan.etcd.data_dir + "/member/snap/db");
    if (a.source == Source::snapshot && r.gen_snapshot()) scope.artifacts.insert(r.gen_snapshot()->file);
  }

  void copy_checked(Runner& r, const SnapshotRestoreArgs& a, Preflight& pf) const override {
    if (a.source == Source::replayed) return;
    try {
      const auto src = snapshot_source(r, a);
      const double t0 = core::monotonic_seconds();
      core::Progress progress(r.ctx.out, "copying the snapshot", src.db_size);
      take_private_copy(r, src, &progress);
      progress.finish();
      r.copies_checked.insert(src.file.string());
      r.preflight_copies.insert(src.file.string());
      pf.ok(fmt::format("{} copied into the restore's folder, its SHA-256 as the generation recorded it ({:.1f} s)",
                        src.shipped.string(), core::monotonic_seconds() - t0));
    } catch (const Error& e) {
      pf.fails.push_back(e.what());
    }
  }

  void preflight(Runner& r, const SnapshotRestoreArgs& a, Preflight& pf) const override {
    const auto parent = r.host(r.plan.etcd.data_dir).parent_path().string();
    const auto& snap = r.gen_snapshot();
    if (a.source == Source::replayed) {
      const std::uint64_t db = snap ? snap->db_size : 0;
      pf.need[parent] += db + db / 5;
      if (r.plan.etcd.replay)
        pf.ok(fmt::format("etcd is restored to journal revision {} (replayed by the step before)",
                          r.plan.etcd.replay->target_revision));
      else
        pf.ok("etcd is restored from the point the step before makes (the survivor's data, with the journal past it)");
    } else {
      check_source(r, a, pf);
    }
    check_tool(r, a, pf);
    check_no_split_brain(r, a, pf);
  }

  // The restore into <data dir>.kdr-<id>.part, renamed to .new once whole: kdr's own files
  // beside the data dir, so it can run while the pods still stop.
  // A replayed point exists once the etcd-replay steps before this one have run.
  bool prepares(const Runner& r, const PlannedStep& s) const override {
    if (s.args<SnapshotRestoreArgs>().source != Source::replayed) return true;
    for (std::size_t i = r.step; i < r.index_of(s); ++i)
      if (step_def(r.plan.steps[i].type).traits().replays_journal) return false;
    return true;
  }
  std::vector<std::string> temporaries(const Runner& r, const PlannedStep&) const override {
    const auto tmp = r.temp_path(r.plan.etcd.data_dir);
    const auto copy = (r.restore_dir() / "snapshot.db").string();
    return {tmp, tmp + ".part", copy, copy + ".part"};
  }

  void prepare_ahead(const Runner& r, const PlannedStep& s, const SnapshotRestoreArgs& a) const override {
    const auto data_dir = r.plan.etcd.data_dir;
    const auto ready = path(r.temp_path(data_dir));
    if (core::present(ready) || (core::present(r.host(data_dir)) && r.placed_earlier(r.host(data_dir), ready))) return;
    if (made_by_replay(r, a))
      throw Error(fmt::format("{}, the data dir the etcd-replay step made, is gone: roll this restore back (kdr "
                              "restore --rollback) and run it again",
                              ready.string()));
    const auto src = snapshot_source(r, a);
    check_source(r, src);
    finish_member_part(r, run_restore(r, r.index_of(s), restore_argv(r, a, tool_of(r), src), src.db_size));
    if (!src.shipped.empty()) ::unlink(src.file.c_str());
  }

  void perform(Runner& r, const SnapshotRestoreArgs& a) const override {
    const auto data_dir = r.plan.etcd.data_dir;
    const auto target = r.host(data_dir);
    const auto ready = path(r.temp_path(data_dir));
    if (core::present(target)) {
      if (r.placed_earlier(target, ready)) {
        r.ctx.out.info("      {} was restored earlier", data_dir);
        return;
      }
      throw Error(fmt::format("etcd's data dir {} exists: `snapshot restore` needs it gone (a move-aside step must "
                              "come first)",
                              data_dir));
    }
    const double t0 = core::monotonic_seconds();
    const bool ahead = r.preparing.count(r.step) != 0;
    r.finish_preparing(r.step);
    prepare_ahead(r, r.plan.steps[r.step], a);  // nothing left to do when it ran ahead
    Action act;
    act.from = ready.string();
    act.to = target.string();
    r.place(act);
    const auto& tool = tool_of(r);
    r.ctx.out.info("      etcd data restored into {} as member {} with cluster token kdr-{} ({:.1f} s{}){}", data_dir,
                   r.plan.etcd.name, r.plan.id, core::monotonic_seconds() - t0,
                   made_by_replay(r, a) ? ", by the etcd-replay step"
                   : ahead              ? ", restored while the pods stopped"
                                        : "",
                   tool.bump && a.bump_revision ? ", revision bumped by 1e9" : "");
  }

 private:
  void check_source(const Runner& r, const SnapshotRestoreArgs& a, Preflight& pf) const {
    const auto& snap = r.gen_snapshot();
    try {
      const auto src = snapshot_source(r, a);
      if (!src.raw && !core::present(src.shipped))
        pf.fails.push_back(fmt::format("the snapshot file {} is missing from the generation", src.shipped.string()));
      if (src.raw && !core::present(src.shipped))
        pf.fails.push_back(r.not_in_generation(r.plan.etcd.data_dir + "/member/snap/db"));
      const std::uint64_t db = src.raw ? (core::present(src.shipped) ? core::lstat_path(src.shipped)->size : 0)
                                       : snap->db_size;
      pf.need[r.host(r.plan.etcd.data_dir).parent_path().string()] += db + db / 5;
      pf.need[path(r.var(Var::restore_dir)).parent_path().string()] += db;  // the private copy
      if (src.raw)
        pf.warns.push_back("restoring etcd from the raw copy of its data dir, which etcd was writing while it was "
                           "copied; the consistent snapshot is the safer choice");
      else
        pf.ok(fmt::format("etcd snapshot at revision {} in the generation", snap->revision));
      check_decryptable(r, src.raw, pf);
    } catch (const Error& e) {
      pf.fails.push_back(e.what());
    }
  }

  // The snapshot's encrypted values, as the backup counted them, against the keys
  // kube-apiserver will have (restore/decryptable.hpp).
  static void check_decryptable(const Runner& r, bool raw, Preflight& pf) {
    const auto& snap = r.gen_snapshot();
    const auto what = fmt::format("generation {}'s snapshot", r.gen.id);
    if (raw || !snap || !snap->encrypted_values) {
      pf.warns.push_back(fmt::format("{} did not count its values encrypted at rest (a generation from before kdr "
                                     "counted them, or the raw copy): whether kube-apiserver can read them is not "
                                     "checked",
                                     raw ? "the raw copy" : what));
      return;
    }
    std::string warning;
    if (const auto refusal = undecryptable_refusal(r, *snap->encrypted_values, what, warning))
      pf.fails.push_back(*refusal);
    else if (!warning.empty())
      pf.warns.push_back(warning);
    else if (!snap->encrypted_values->empty())
      pf.ok(fmt::format("{} in the snapshot: kube-apiserver holds every key", core::key_use_text(*snap->encrypted_values)));
  }

  void check_tool(const Runner& r, const SnapshotRestoreArgs& a, Preflight& pf) const {
    const auto& tool = tool_of(r);
    if (r.ctx.programs->find(tool.argv.front()).empty()) {
      pf.fails.push_back(fmt::format("{} not found: it is needed to restore the snapshot (etcd.etcdctl / etcd.etcdutl "
                                     "in the config)",
                                     tool.argv.front()));
      return;
    }
    if (a.source == Source::replayed) {
      // made here, by this machine's etcd and etcdctl, from the journal
      pf.ok(fmt::format("{} {} for the replayed point (saved by this machine's etcd)", tool.name, tool.version));
    } else {
      const auto& snap = r.gen_snapshot();
      const auto server = snap ? snap->server_version : std::string();
      if (!server.empty() && !tool.version.empty() && etcd::minor_of(server) != etcd::minor_of(tool.version))
        pf.warns.push_back(fmt::format(
            "the snapshot was taken by etcd {}, {} {} restores it: etcd 3.4 and 3.5 read each other's snapshots "
            "(kdr's tests restore both ways), and the etcd that runs afterwards is the node's own. Should {} refuse "
            "it, install the etcdutl (3.5) or etcdctl (3.4) of etcd {} and name it in the config (etcd.etcdutl or "
            "etcd.etcdctl)",
            server, tool.name, tool.version, tool.name, etcd::minor_of(server)));
      else
        pf.ok(fmt::format("{} {} for the snapshot (etcd {} took it)", tool.name, tool.version,
                          server.empty() ? "of an unrecorded version" : server));
    }
    if (!tool.bump)
      pf.warns.push_back(fmt::format("{} cannot bump the revision (--bump-revision needs etcdutl 3.5+): after the "
                                     "restore, kube-apiserver, the controllers and every kubelet must restart (the "
                                     "shipped playbooks restart the control-plane pods, and restart-kubelets the "
                                     "kubelets or shows their commands)",
                                     tool.name));
  }

  // What the tool reads is what was checked: the generation's snapshot (or raw copy), copied
  // (decompressed) into the restore's folder and hashed as it is written, whatever the backup
  // disk holds by then; the replayed point, hashed against what the etcd-replay step recorded
  // (unless this process wrote it).
  static void check_source(const Runner& r, const SnapshotSource& src) {
    if (!src.shipped.empty()) return take_private_copy(r, src);
    if (r.copies_checked.count(src.file.string()) != 0) return;
    const auto sha256 = core::sha256_file(src.file.string());
    if (src.sha256.empty() || sha256 != src.sha256)
      throw Error(fmt::format("{}: its content hashes to {}, the etcd-replay step recorded {}: it changed after "
                              "the replay made it; not restored",
                              src.file.string(), sha256, src.sha256.empty() ? std::string("nothing") : src.sha256));
  }

  // The generation's file, copied into the restore's folder and hashed as it is written. Kept
  // when this process made it (the preflight's copy), or across a resume when its SHA-256 is
  // still right.
  static void take_private_copy(const Runner& r, const SnapshotSource& src, core::Progress* progress = nullptr) {
    if (src.sha256.empty())
      throw Error(fmt::format("{}: the generation records no SHA-256 for it; not restored", src.shipped.string()));
    if (core::present(src.file) && (r.copies_checked.count(src.file.string()) != 0 ||
                                    core::sha256_file(src.file.string()) == src.sha256))
      return;
    ::unlink(src.file.c_str());
    core::checked_private_copy_renamed(*r.ctx.host, src.shipped, src.file, src.zstd, src.sha256, progress);
  }
};

}  // namespace

std::optional<MemberRestore> member_restore_after(const Runner& r, std::size_t replay) {
  std::optional<MemberRestore> found;
  if (replay >= r.plan.steps.size() || r.plan.steps[replay].type != StepType::etcd_replay) return std::nullopt;
  for (std::size_t i = replay + 1; i < r.plan.steps.size(); ++i) {
    const auto& s = r.plan.steps[i];
    const auto& def = step_def(s.type);
    if (def.traits().replays_journal) break;  // a later point: read by the steps after it
    switch (def.reads_replayed(s)) {
      case ReadsReplayed::no: break;
      case ReadsReplayed::file: return std::nullopt;
      case ReadsReplayed::member_dir:
        if (found || s.type != StepType::etcd_snapshot_restore) return std::nullopt;
        found = MemberRestore{i, s.args<SnapshotRestoreArgs>().bump_revision};
        break;
    }
  }
  return found;
}

path member_dir_ready(const Runner& r) { return r.temp_path(r.plan.etcd.data_dir); }

std::vector<std::string> member_restore_argv(const Runner& r, const MemberRestore& how, const path& snapshot,
                                             std::uint64_t db_size, bool hashed) {
  return restore_argv(r, how.bump_revision, tool_of(r), snapshot, db_size, hashed);
}

path restore_member_part(const Runner& r, const MemberRestore& how, const path& snapshot, std::uint64_t db_size,
                         bool hashed) {
  return run_restore(r, r.step, member_restore_argv(r, how, snapshot, db_size, hashed), db_size);
}

void finish_member_part(const Runner& r, const path& part) {
  const auto ready = member_dir_ready(r);
  set_owner_and_mode(r, r.plan.etcd.data_dir, part);
  if (::rename(part.c_str(), ready.c_str()) != 0) core::throw_errno("rename", part.string(), errno);
  core::fsync_path(ready.parent_path());
}

const StepDef& etcd_snapshot_restore_step_def() {
  static const EtcdSnapshotRestore def;
  return def;
}

}  // namespace kdr::restore
