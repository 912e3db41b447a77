#include "restore/steps/etcd_replay.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "core/progress.hpp"
#include "core/sha256.hpp"
#include "core/zstd_file.hpp"
#include "etcd/keyspace_digest.hpp"
#include "etcd/wal_replay.hpp"
#include "restore/decryptable.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"
#include "restore/steps/etcd_snapshot_restore.hpp"

namespace kdr::restore {

using nlohmann::json;

namespace {

struct ReplayArgs : StepArgs {
  etcd::ReplayTarget target;
};

core::bfs::path replayed_record(const Runner& r) { return r.restore_dir() / "replayed.json"; }

// Where the preflight puts its private copy of the replay's base, named by the base's SHA-256
// (the step plans the replay again when it runs: it takes the copy only if the base is the same).
core::bfs::path base_copy(const Runner& r, const etcd::ReplayBase& base) {
  return r.restore_dir() / fmt::format("replay-base-{}.db", base.db_sha256.substr(0, 16));
}

// Removes `file` when it goes (a private copy used once).
struct Unlink {
  core::bfs::path file;
  explicit Unlink(core::bfs::path f) : file(std::move(f)) {}
  Unlink(const Unlink&) = delete;
  Unlink& operator=(const Unlink&) = delete;
  ~Unlink() {
    if (!file.empty()) ::unlink(file.c_str());
  }
};

// The replay planned again for `target` when the step runs; throws Error when its inputs are
// less authenticated than the preflight found them.
etcd::ReplayPlan replay_to_run(const Runner& r, const etcd::ReplayTarget& target, const core::NodeKey* key) {
  auto plan = etcd::plan_replay(r.ctx, target, key);
  if (plan.auth.status != core::AuthStatus::authentic && !r.flag(Var::unauthenticated))
    throw core::Error(fmt::format("{}: not replayed (the preflight found it authenticated; it changed since)",
                                  plan.auth.text));
  r.ctx.out.info("      {}", plan.describe());
  return plan;
}

// The replay's record (replayed.json: what a resume finds made, and the revision wait-healthy
// waits for), with `made` naming what it made (the snapshot's SHA-256, or the member's data
// dir); and its line, `made_text` saying where the point is.
void record_replay(const Runner& r, const core::bfs::path& record, const etcd::ReplayPlan& plan,
                   const etcd::ReplayResult& result, const json& made, const std::string& made_text) {
  auto j = plan.to_json();
  j["revision"] = plan.target_revision;
  j.update(made);
  j["size"] = result.size;
  j["file_revision"] = result.file_revision;
  core::write_file_atomic(record, j.dump(2) + "\n");
  r.ctx.out.info(
      "      {} changes in {} transaction(s); keyspace digest matches the journal's at revision {} ({} keys); "
      "{} ({:.1f} s: {})",
      result.events, result.transactions, plan.target_revision, result.digest.keys, made_text, result.seconds,
      result.phases());
}

}  // namespace

void refuse_undecryptable(const Runner& r, const core::bfs::path& snapshot, const std::string& what) {
  refuse_undecryptable(r, etcd::encryption_keys_of_snapshot(snapshot.string()), what);
}

void refuse_undecryptable(const Runner& r, const core::EncryptionKeyUse& use, const std::string& what) {
  std::string warning;
  if (const auto refusal = undecryptable_refusal(r, use, what, warning)) throw core::Error(*refusal);
  if (!warning.empty()) r.ctx.out.warn("      {}", warning);
}

PointChoice resolve_point(const core::Context& ctx, const std::string& to, const core::EtcdFacts& generation_etcd,
                          const core::NodeKey* key, bool accept_gap) {
  PointChoice c;
  const auto& generation_snapshot = generation_etcd.snapshot;
  const auto& covered = generation_etcd.journal;
  if (to == "snapshot" && !generation_snapshot && covered) {
    // No snapshot of its own: the generation's etcd is its revision of the journal.
    auto plan = etcd::plan_replay(ctx, etcd::parse_replay_target(std::to_string(covered->revision)), key);
    c.value = std::to_string(plan.target_revision);
    c.note = fmt::format("to=snapshot: the generation recorded the change journal's revision {} instead of a snapshot",
                         plan.target_revision);
    c.replay = std::move(plan);
    return c;
  }
  if (to == "snapshot") {
    c.value = "snapshot";
    return c;
  }
  const auto gen_revision = generation_snapshot ? generation_snapshot->revision : covered ? covered->revision : 0;
  if (to == "auto") {
    try {
      auto plan = etcd::plan_replay(ctx, etcd::parse_replay_target("latest"), key);
      if (plan.target_revision <= gen_revision && generation_snapshot) {
        c.value = "snapshot";
        c.note = fmt::format(
            "to=auto: the journal reaches no further than the generation's snapshot (revision {}): "
            "the snapshot as it is",
            gen_revision);
        return c;
      }
      c.value = std::to_string(plan.target_revision);
      c.note = fmt::format(
          "to=auto: the change journal reaches revision {}, past the generation's snapshot ({}): etcd "
          "is restored to revision {}; --set to=snapshot restores the generation's snapshot as it is, "
          "--set to=REVISION or to=TIME an earlier point (kdr journal find)",
          plan.target_revision, gen_revision, plan.target_revision);
      c.replay = std::move(plan);
    } catch (const core::Error& e) {
      c.value = "snapshot";
      if (core::lstat_path(ctx.backup_dir / "journal"))
        c.note = fmt::format("to=auto: the change journal cannot be used ({}): the generation's snapshot as it is",
                             e.what());
    }
    return c;
  }
  auto target = etcd::parse_replay_target(to);
  target.accept_gap = accept_gap;
  auto plan = etcd::plan_replay(ctx, target, key);
  c.value = std::to_string(plan.target_revision);
  if (to != c.value) c.note = fmt::format("to={}: journal revision {}", to, plan.target_revision);
  c.replay = std::move(plan);
  return c;
}

std::string make_replayed(const Runner& r, const etcd::ReplayTarget& target, const core::bfs::path& dir) {
  const auto out = dir / "replayed.db";
  const auto record = dir / "replayed.json";
  // Made before (by the preflight, or a run that was resumed): the snapshot is still the one recorded.
  if (core::lstat_path(record) && core::lstat_path(out)) {
    const auto j = json::parse(core::read_file(record));
    const auto sha256 = core::sha256_file(out.string());
    if (j.value("revision", std::int64_t{0}) == target.revision && j.value("sha256", "") == sha256) {
      r.ctx.out.info("      replayed earlier: {} (revision {})", out.string(), target.revision);
      refuse_undecryptable(r, out, fmt::format("the change journal's revision {}", target.revision));
      return sha256;
    }
  }
  const auto key = r.node_key();
  auto plan = replay_to_run(r, target, key ? &*key : nullptr);
  // the preflight's copy of the base (a resume copies it again)
  const auto copy = base_copy(r, plan.base);
  if (!plan.base.db_sha256.empty() && r.copies_checked.count(copy.string()) != 0) plan.base.checked_copy = copy;
  const Unlink done_with_copy{plan.base.checked_copy};
  const auto tmp = dir / "replayed.db.tmp";
  ::unlink(tmp.c_str());
  etcd::ReplayResult result;
  try {
    result = etcd::replay_to_snapshot(r.ctx, plan, tmp, key ? &*key : nullptr);
    refuse_undecryptable(r, result.encryption, fmt::format("the change journal's revision {}", plan.target_revision));
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  core::fsync_path(tmp);
  if (::rename(tmp.c_str(), out.c_str()) != 0) core::throw_errno("rename", tmp.string(), errno);
  record_replay(r, record, plan, result, {{"sha256", result.sha256}}, out.string());
  return result.sha256;
}

namespace {

// The point as this node's new member data dir (<data dir>.kdr-<id>.new), which the
// etcd-snapshot-restore step `how` renames into place: the base restored as that step would
// restore the point, the changes applied in it by a private etcd, its keyspace checked off
// its database (etcd::replay_in_data_dir). Nothing of the node is touched.
void make_replayed_member(const Runner& r, const etcd::ReplayTarget& target, const MemberRestore& how) {
  const auto record = replayed_record(r);
  const auto ready = member_dir_ready(r);
  const auto data_dir = r.host(r.plan.etcd.data_dir);
  // Made before, by a run that was resumed: the data dir is still there (or placed).
  if (core::lstat_path(record)) {
    const auto j = json::parse(core::read_file(record));
    if (j.value("revision", std::int64_t{0}) == target.revision && j.value("member_dir", "") == ready.string() &&
        (core::present(ready) || (core::present(data_dir) && r.placed_earlier(data_dir, ready)))) {
      r.ctx.out.info("      replayed earlier into {} (revision {})", ready.string(), target.revision);
      return;
    }
  }
  ::unlink(record.c_str());
  if (core::present(ready)) core::remove_tree(ready);  // kdr's own, for another point
  const auto key = r.node_key();
  const auto plan = replay_to_run(r, target, key ? &*key : nullptr);
  const double t0 = core::monotonic_seconds();
  // The base the restore tool reads: the preflight's private copy, or one made now (a resume),
  // hashed as it is written; gone once restored and read (the replay reads it while the tool
  // does: it goes before the copy).
  const auto copy = base_copy(r, plan.base);
  const Unlink done_with_copy{copy};
  const bool hashed = !plan.base.db_sha256.empty();
  if (!hashed || r.copies_checked.count(copy.string()) == 0) {
    ::unlink(copy.c_str());
    core::checked_private_copy(*r.ctx.host, plan.base.file, copy, plan.base.zstd, plan.base.db_sha256);
  }
  auto wal = std::make_unique<etcd::WalReplay>(r.ctx, plan, copy, r.restore_dir(), key ? &*key : nullptr);
  const auto part = restore_member_part(r, how, copy, plan.base.db_size, hashed);
  etcd::ReplayResult result;
  etcd::WalReplayCheck check;
  try {
    result = wal->write_into(part, core::monotonic_seconds() - t0, check);
    wal.reset();
    refuse_undecryptable(r, result.encryption, fmt::format("the change journal's revision {}", plan.target_revision));
  } catch (...) {
    wal.reset();
    core::remove_tree(part);
    throw;
  }
  finish_member_part(r, part);
  record_replay(r, record, plan, result, {{"member_dir", ready.string()}, {"wal_check", check.to_json()}},
                ready.string() + ", this node's etcd data dir to be, the changes in its WAL for etcd to apply as it starts");
}

}  // namespace

std::optional<etcd::WalReplayCheck> replayed_wal_check(const Runner& r) {
  const auto record = replayed_record(r);
  if (!core::lstat_path(record)) return std::nullopt;
  const auto j = json::parse(core::read_file(record));
  if (!j.contains("wal_check")) return std::nullopt;
  return etcd::WalReplayCheck::from_json(j["wal_check"]);
}

core::bfs::path replayed_snapshot(const Runner& r) { return r.restore_dir() / "replayed.db"; }

std::optional<std::int64_t> replayed_file_revision(const Runner& r) {
  const auto record = replayed_record(r);
  if (!core::lstat_path(record)) return std::nullopt;
  const auto j = json::parse(core::read_file(record));
  if (!j.contains("file_revision") || !j["file_revision"].is_number_integer()) return std::nullopt;
  return j["file_revision"].get<std::int64_t>();
}

std::string replayed_sha256(const Runner& r) {
  const auto record = replayed_record(r);
  if (!core::lstat_path(record)) return {};
  return json::parse(core::read_file(record)).value("sha256", "");
}

namespace {

// The step's place in the plan: the one whose arguments these are.
std::size_t index_of(const Runner& r, const ReplayArgs& a) {
  for (std::size_t i = 0; i < r.plan.steps.size(); ++i)
    if (r.plan.steps[i].typed.get() == &a) return i;
  throw core::Error("the etcd-replay step is not in its plan");
}

// The replay planned for `target`, walked once for the plan shown and its preflight.
const etcd::ReplayPlan& planned_replay(const Runner& r, const etcd::ReplayTarget& target) {
  const auto id = fmt::format("{} {}", target.text, target.accept_gap);
  if (const auto found = r.planned_replays.find(id); found != r.planned_replays.end()) return found->second;
  const auto key = r.node_key();
  return r.planned_replays.emplace(id, etcd::plan_replay(r.ctx, target, key ? &*key : nullptr)).first->second;
}

class EtcdReplay final : public TypedStep<ReplayArgs> {
 public:
  StepType type() const override { return StepType::etcd_replay; }
  StepTraits traits() const override { return {.replays_journal = true}; }
  std::string_view name() const override { return "etcd-replay"; }
  bool changes_node() const override { return false; }
  std::vector<StepKey> keys() const override { return {{"to", true}}; }

  // `to: auto` falls back to the generation's own snapshot or journal revision.
  std::optional<std::string> cannot_serve(const GenerationOffer& offer, const json& values) const override {
    if (values.value("to", std::string()) == "auto" && !offer.etcd_snapshot && !offer.etcd_point)
      return "it holds neither an etcd snapshot nor a journal revision";
    return std::nullopt;
  }

 protected:
  ReplayArgs read_args(const StepValues& v) const override {
    ReplayArgs a;
    try {
      a.target = etcd::parse_replay_target(v.text("to", "snapshot"));
    } catch (const core::Error& e) {
      v.fail("to", e.what());
    }
    return a;
  }

  std::vector<std::string> plan_text(const Runner& r, const ReplayArgs& a) const override {
    std::vector<std::string> out;
    try {
      const auto& plan = planned_replay(r, a.target);
      out.push_back(plan.describe());
      if (const auto how = member_restore_after(r, index_of(r, a))) {
        out.push_back(fmt::format("into {}, this node's etcd data dir to be: the base restored as member {}, as the "
                                  "etcd-snapshot-restore step restores, the changes written into its WAL as committed "
                                  "entries once the keyspace they make has the journal's digest; etcd applies them as "
                                  "it starts, before it serves (the node is not touched: that step renames it into "
                                  "place)",
                                  member_dir_ready(r).string(), r.plan.etcd.name));
        const auto copy = core::bfs::path(r.var(Var::restore_dir)) / base_copy(r, plan.base).filename();
        out.push_back(core::describe_argv(
            member_restore_argv(r, *how, copy, plan.base.db_size, !plan.base.db_sha256.empty())));
      } else {
        out.push_back(fmt::format("into {} (a private etcd on a unix socket only root reaches; the node is not touched)",
                                  (core::bfs::path(r.var(Var::restore_dir)) / "replayed.db").string()));
      }
    } catch (const core::Error& e) {
      out.push_back(std::string("cannot run: ") + e.what());
    }
    return out;
  }

  // A dry run (or a preflight that failed already) re-hashes the snapshot; a restore that runs
  // copies the replay's base instead, hashed as it is written (copy_checked), and the replay
  // opens that copy: one read of it, not two.
  void reads_from(const Runner& r, const ReplayArgs&, verify::HashScope& scope) const override {
    if (r.copies_in_preflight) return;
    if (r.gen_snapshot()) scope.artifacts.insert(r.gen_snapshot()->file);
  }

  void copy_checked(Runner& r, const ReplayArgs& a, Preflight& pf) const override {
    if (core::present(replayed_snapshot(r))) return;  // replayed by the preflight already (restore-etcd-keys)
    try {
      const auto& base = planned_replay(r, a.target).base;
      if (base.db_sha256.empty()) return;  // nothing to check a copy against: the replay copies it as it runs
      const auto copy = base_copy(r, base);
      const double t0 = core::monotonic_seconds();
      core::Progress progress(r.ctx.out, "copying the replay's base", base.db_size);
      ::unlink(copy.c_str());
      core::checked_private_copy(*r.ctx.host, base.file, copy, base.zstd, base.db_sha256, &progress);
      progress.finish();
      r.copies_checked.insert(copy.string());
      r.preflight_copies.insert(copy.string());
      pf.ok(fmt::format("{} ({}) copied into the restore's folder for the replay, its SHA-256 as recorded ({:.1f} s)",
                        base.file.string(), base.source, core::monotonic_seconds() - t0));
    } catch (const core::Error& e) {
      pf.fails.push_back(e.what());
    }
  }

  void preflight(Runner& r, const ReplayArgs& a, Preflight& pf) const override {
    // The replay makes a snapshot file in the restore's folder; its size is the base's, give or
    // take the changes.
    const auto& snap = r.gen_snapshot();
    const std::uint64_t db = snap ? snap->db_size : 0;
    // Replayed in the member's data dir: the base's copy alone (the etcd-snapshot-restore step
    // counts the data dir).
    pf.need[core::bfs::path(r.var(Var::restore_dir)).parent_path().string()] +=
        member_restore_after(r, index_of(r, a)) ? db : 2 * db + db / 5;
    try {
      const auto& plan = planned_replay(r, a.target);
      pf.ok(fmt::format("the change journal reaches revision {} from {} ({} changes to replay)", plan.target_revision,
                        plan.base.source, plan.events));
      judge_authenticity(r, pf, "the replay's base and journal", plan.auth.status,
                         plan.auth.status == core::AuthStatus::authentic
                             ? std::string("sealed and signed with this node's key")
                             : plan.auth.text);
      const auto& server = r.ctx.config.etcd.server;
      if (!member_restore_after(r, index_of(r, a)) && (server.empty() || r.ctx.programs->find(server.front()).empty()))
        pf.fails.push_back(
            fmt::format("the etcd server program ({}) is not installed: the replay runs it privately on "
                        "loopback (Debian's etcd-server package, or etcd.server in the config)",
                        server.empty() ? "etcd.server" : server.front()));
    } catch (const core::Error& e) {
      pf.fails.push_back(e.what());
    }
  }

  // The point this process wrote (or re-hashed against its record) is trusted by the restore
  // step that follows, which would otherwise read it all once more while the pods are down.
  void perform(Runner& r, const ReplayArgs& a) const override {
    if (const auto how = member_restore_after(r, r.step)) return make_replayed_member(r, a.target, *how);
    make_replayed(r, a.target, r.restore_dir());
    r.copies_checked.insert(replayed_snapshot(r).string());
  }

};

}  // namespace

const StepDef& etcd_replay_step_def() {
  static const EtcdReplay def;
  return def;
}

}  // namespace kdr::restore
