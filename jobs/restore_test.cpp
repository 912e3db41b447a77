#include "jobs/restore_test.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/fs.hpp"
#include "core/generation.hpp"
#include "core/host.hpp"
#include "core/metrics.hpp"
#include "core/node_key.hpp"
#include "core/priority.hpp"
#include "core/repository.hpp"
#include "etcd/backend_hash.hpp"
#include "etcd/keyspace_digest.hpp"
#include "etcd/private_etcd.hpp"
#include "etcd/replay.hpp"
#include "etcd/snapshot_keys.hpp"
#include "jobs/restore_proof.hpp"
#include "journal/store.hpp"
#include "k8s/decode.hpp"
#include "objects/point.hpp"

namespace kdr::jobs {

using verify::Severity;

namespace {

constexpr const char* check_name = "restore-test";
// Findings named one by one; past that, counted in one line.
constexpr std::size_t listed_per_kind = 20;

// The point to restore, as a snapshot file and what its keyspace must be.
struct Point {
  std::string generation;
  std::string text;
  std::int64_t revision = 0;
  core::bfs::path snapshot;
  bool zstd = false;
  std::string sha256;
  std::optional<etcd::KeyspaceDigest> journal_digest;  // the journal's at `revision`
  std::optional<core::EtcdSnapshotRecord::HashKV> hashkv;  // the live member's at `revision`, at backup time
  std::uint64_t db_size = 0;                               // the snapshot's, uncompressed
  std::optional<etcd::ReplayPlan> replay;               // the journal replayed to make it
  std::unique_ptr<core::ScratchDir> scratch;               // holds a replayed snapshot
};

// The journal's digest at `revision`, when its journal holds it (else empty).
std::optional<etcd::KeyspaceDigest> journal_digest_at(const core::Context& ctx, std::int64_t revision,
                                                         const core::NodeKey* key) {
  if (!journal::JournalStore(ctx.backup_dir).exists()) return std::nullopt;
  try {
    etcd::ReplayTarget target;
    target.kind = etcd::ReplayTarget::Kind::revision;
    target.revision = revision;
    target.text = std::to_string(revision);
    return etcd::plan_replay(ctx, target, key).digest;
  } catch (const core::Error&) {
    return std::nullopt;
  }
}

Point generation_point(const core::Context& ctx, const core::Repository& repo, const std::string& which,
                       const core::NodeKey* key, RestoreTestReport& r) {
  const auto entry = repo.find(which);
  const auto base = etcd::generation_base(entry, key);
  if (!base)
    throw core::Error(fmt::format("generation {} has no etcd snapshot to restore (kdr show {} says why)", entry.id,
                                  entry.id));
  if (base->auth.status != core::AuthStatus::authentic)
    r.findings.add(Severity::warning, check_name, "not-authenticated", base->file.string(), base->auth.text);
  Point p;
  p.generation = entry.id;
  p.revision = base->revision;
  p.text = fmt::format("generation {} (etcd revision {}, {})", entry.id, base->revision,
                       entry.meta ? core::iso_time(entry.meta->time) : std::string("time not known"));
  p.snapshot = base->file;
  p.zstd = base->zstd;
  p.sha256 = base->db_sha256;
  p.db_size = base->db_size;
  p.journal_digest = journal_digest_at(ctx, base->revision, key);
  if (entry.meta && entry.meta->etcd.snapshot && entry.meta->etcd.snapshot->revision == base->revision)
    p.hashkv = entry.meta->etcd.snapshot->hashkv;
  return p;
}

// The journal's point at `spec`, planned: its base, the journal range over it and the digest
// it must have. make_point replays it.
Point journal_point(const core::Context& ctx, const core::Repository& repo, const objects::PointSpec& spec,
                    const core::NodeKey* key, RestoreTestReport& r) {
  etcd::ReplayTarget target;
  target.text = spec.text;
  if (spec.kind == objects::PointSpec::Kind::revision) {
    target.kind = etcd::ReplayTarget::Kind::revision;
    target.revision = spec.revision;
  } else if (spec.kind == objects::PointSpec::Kind::time) {
    target.kind = etcd::ReplayTarget::Kind::time;
    target.time_ms = spec.time_ms;
  }
  auto plan = etcd::plan_replay(ctx, target, key);
  if (plan.auth.status != core::AuthStatus::authentic)
    r.findings.add(Severity::warning, check_name, "not-authenticated", "journal", plan.auth.text);
  Point p;
  const std::string prefix = "generation ";
  p.generation = plan.base.source.rfind(prefix, 0) == 0 ? plan.base.source.substr(prefix.size())
                                                        : repo.latest_id().value_or("");
  p.revision = plan.target_revision;
  p.text = fmt::format("revision {} of the change journal ({}), over {} (revision {}) and {} change{}",
                       plan.target_revision,
                       plan.target_time_ms > 0 ? core::iso_time(plan.target_time_ms / 1000) : "time not known",
                       plan.base.source, plan.base.revision, plan.events, plan.events == 1 ? "" : "s");
  p.db_size = plan.base.db_size;
  p.journal_digest = plan.digest;
  p.replay = std::move(plan);
  return p;
}

// A planned journal point replayed over its base into a scratch folder: replay_to_snapshot
// checks the result against the journal's digest, then the file's own.
void make_point(const core::Context& ctx, Point& p, const core::NodeKey* key) {
  p.scratch = std::make_unique<core::ScratchDir>("restore-test-point");
  p.snapshot = p.scratch->path() / "point.db";
  const auto result = etcd::replay_to_snapshot(ctx, *p.replay, p.snapshot, key);
  p.sha256 = result.sha256;
  p.db_size = result.size;
}

// Room on the backup disk for what the test writes there, checked before it writes any: the
// private etcd's copy of the snapshot and the data dir etcd restores it into take about the
// database's size each, a point replayed from the journal a third (its base opened the same
// way, then the point's own file). etcd preallocates its first 64 MiB log segment; a fifth of
// the database and 16 MiB more cover what it writes as it starts.
bool room_for(const core::Context& ctx, const Point& p, RestoreTestReport& r) {
  const auto dir = core::ScratchDir::root();
  const std::uint64_t copies = p.replay ? 3 : 2;
  const std::uint64_t need = copies * p.db_size + p.db_size / 5 + (80ull << 20);
  const auto free = ctx.host->free_bytes(dir);
  if (free >= need) return true;
  r.findings.add(Severity::error, check_name, "no-room", dir.string(),
                 fmt::format("the backup disk has {} MiB free here; the restore test needs about {} MiB ({} copies of "
                             "the {} MiB database{}, and etcd's 64 MiB log segment): nothing was restored. Free space "
                             "on the backup disk (or lower retention)",
                             free >> 20, (need >> 20) + 1, copies, (p.db_size >> 20) + 1,
                             p.replay ? ", one of them the point replayed from the journal" : ""));
  return false;
}

// Every key the private etcd serves: digested, and each object decoded and decrypted.
class KeyspaceCheck {
 public:
  // `with_digest`: the keyspace digest is wanted (a journal's to compare it with).
  KeyspaceCheck(const objects::PointInfo& facts, bool with_digest, RestoreTestReport& r)
      : facts_(facts), r_(r), digest_wanted_(with_digest) {
    options_.prefix = facts.etcd_prefix;
    options_.encryption = facts.encryption ? &*facts.encryption : nullptr;
    options_.check_only = true;  // counted and checked, never printed
  }

  void visit(const etcd::EtcdKeyValue& kv) {
    if (digest_wanted_) digest.add(etcd::pair_hash(kv.key, kv.value));
    ++r_.keys;
    if (kv.key.rfind(facts_.etcd_prefix + "/", 0) != 0) {
      ++r_.other_keys;
      return;
    }
    const auto o = k8s::decode_stored(kv.key, kv.value, kv.mod_revision, kv.create_revision, options_);
    switch (o.problem_kind) {
      case k8s::DecodeProblem::none:
        ++r_.objects;
        if (o.where) ++r_.per_resource[o.where->type.qualified()];
        if (o.kind == "Secret") ++r_.secrets;
        if (o.decryption.outcome == k8s::DecryptOutcome::decrypted) ++r_.encrypted;
        return;
      case k8s::DecodeProblem::not_decrypted:
        if (o.decryption.outcome == k8s::DecryptOutcome::kms) {
          ++r_.kms;
          return;
        }
        fail("not-decrypted", o, fmt::format("{} does not decrypt: {}", what(o), o.problem));
        return;
      case k8s::DecodeProblem::damaged: fail("damaged", o, fmt::format("{} does not decode: {}", what(o), o.problem)); return;
      case k8s::DecodeProblem::unknown_type: ++r_.unknown_types; return;
      case k8s::DecodeProblem::not_an_object: ++r_.other_keys; return;
    }
  }

  // The counts of failures past those listed.
  void finish() {
    for (const auto& [kind, n] : failed_)
      if (n > listed_per_kind)
        r_.findings.add(Severity::error, check_name, kind, "",
                        fmt::format("{} more values like these ({} in all)", n - listed_per_kind, n));
  }

  etcd::KeyspaceDigest digest;

 private:
  static std::string what(const k8s::StoredObject& o) {
    if (!o.where) return o.key;
    const auto& ns = o.where->namespace_;
    return fmt::format("{} {}{}", o.where->type.kind.empty() ? o.where->type.qualified() : o.where->type.kind,
                       ns.empty() ? "" : ns + "/", o.where->name);
  }
  void fail(const std::string& kind, const k8s::StoredObject& o, const std::string& detail) {
    if (++failed_[kind] <= listed_per_kind) r_.findings.add(Severity::error, check_name, kind, o.key, detail);
  }

  const objects::PointInfo& facts_;
  RestoreTestReport& r_;
  bool digest_wanted_;
  k8s::DecodeOptions options_;
  std::map<std::string, std::size_t> failed_;
};

// The restored keyspace against the journal's digest at that revision; without one, the
// restored history (HashKV, computed off both files) against the snapshot file's it was
// restored from: what etcdutl and etcd made of the snapshot is what the snapshot holds.
void check_digest(const Point& p, const KeyspaceCheck& keys, const core::bfs::path& snapshot_copy,
                  const etcd::BackendHashes& restored, RestoreTestReport& r) {
  if (p.journal_digest) {
    if (keys.digest == *p.journal_digest) {
      r.digest_check = fmt::format("the journal's digest at revision {} ({} keys): matches", p.revision,
                                   p.journal_digest->keys);
      return;
    }
    r.digest_check = "the journal's digest: DIFFERS";
    r.findings.add(Severity::error, check_name, "digest", p.snapshot.string(),
                   fmt::format("the restored keyspace at revision {} ({} keys, digest {}) is not the one the change "
                               "journal recorded there ({} keys, digest {})",
                               p.revision, keys.digest.keys, keys.digest.hex(), p.journal_digest->keys,
                               p.journal_digest->hex()));
    return;
  }
  const auto own = etcd::backend_hashes(snapshot_copy, restored.hash_kv_revision);
  if (own.hash_kv == restored.hash_kv) {
    r.digest_check = fmt::format("no journal digest at this revision; the snapshot file's own history (HashKV {} at "
                                 "revision {}): matches",
                                 own.hash_kv, own.hash_kv_revision);
    return;
  }
  r.digest_check = "the snapshot file's own history: DIFFERS";
  r.findings.add(Severity::error, check_name, "digest", p.snapshot.string(),
                 fmt::format("the restored etcd holds a history (HashKV {} at revision {}) that is not the snapshot "
                             "file's (HashKV {})",
                             restored.hash_kv, restored.hash_kv_revision, own.hash_kv));
}

// What the restored etcd says it holds, asked while it serves: its Hash of the whole database
// and, where its gateway has it (3.5), its HashKV at its revision.
struct Served {
  std::int64_t revision = 0;
  etcd::EtcdHash hash;
  std::optional<etcd::EtcdHashKV> hash_kv;
  std::string hash_kv_problem;  // why there is none, when etcd refused it
};

Served ask_served(etcd::EtcdApi& etcd, std::int64_t revision) {
  Served s;
  s.revision = revision;
  try {
    // At its newest revision (0): etcd 3.5 answers a revision it compacted to with the hash
    // it kept from before that compaction, which the file no longer holds.
    s.hash_kv = etcd.hash_kv(0);
    if (s.hash_kv) s.revision = s.hash_kv->revision;
  } catch (const etcd::EtcdApiError& e) {
    s.hash_kv_problem = e.what();
  }
  s.hash = etcd.hash();
  return s;
}

// etcd's own hash of the restored history against the live member's at backup time. Only a
// generation's snapshot has one (a replayed point is a history of its own).
void check_hashkv(const Point& p, const Served& served, RestoreTestReport& r) {
  if (!p.hashkv) {
    r.hashkv_check = p.scratch ? "not compared: a point replayed from the journal has a history of its own"
                               : "not compared: the backup recorded none (etcd 3.4's gateway has no HashKV)";
    return;
  }
  if (!served.hash_kv_problem.empty()) {
    r.hashkv_check = "not compared: the restored etcd gave none";
    r.findings.add(Severity::warning, check_name, "hashkv", "",
                   fmt::format("the restored etcd's HashKV: {}", served.hash_kv_problem));
    return;
  }
  const auto& restored = served.hash_kv;
  if (!restored) {
    r.hashkv_check = "not compared: the etcd that restored it has no HashKV in its gateway";
    return;
  }
  if (restored->revision != p.revision) {
    r.hashkv_check = fmt::format("not compared: the restored etcd is at revision {}, the backup's HashKV at {}",
                                 restored->revision, p.revision);
    return;
  }
  if (restored->compact_revision != p.hashkv->compact_revision) {
    r.hashkv_check = fmt::format("not compared: the live member was compacted to {} when it gave its HashKV, the "
                                 "snapshot to {}",
                                 p.hashkv->compact_revision, restored->compact_revision);
    return;
  }
  if (restored->hash == p.hashkv->hash) {
    r.hashkv_check = fmt::format("etcd's HashKV at revision {} ({}) matches the live member's at backup time",
                                 p.revision, restored->hash);
    return;
  }
  r.hashkv_check = "etcd's HashKV: DIFFERS";
  r.findings.add(Severity::error, check_name, "hashkv", p.snapshot.string(),
                 fmt::format("the restored etcd's HashKV at revision {} is {}, not the one the live member gave at "
                             "backup time ({}): the snapshot does not hold the history etcd had",
                             p.revision, restored->hash, p.hashkv->hash));
}

// The database file the restored etcd served, read once it stopped, against what etcd said of
// it while it served: the keys and values the test reads off the file are those etcd served.
// HashKV covers exactly those (the key bucket up to etcd's revision); where the gateway has
// none (3.4), the Hash of the whole file does.
etcd::BackendHashes check_served_file(const core::bfs::path& db, const Served& served, RestoreTestReport& r) {
  const auto file = etcd::backend_hashes(db, served.revision);
  const bool by_kv = served.hash_kv.has_value();
  const auto asked = by_kv ? served.hash_kv->hash : served.hash.hash;
  const auto read = by_kv ? file.hash_kv : file.hash;
  const auto what = by_kv ? fmt::format("HashKV at revision {}", served.revision) : std::string("Hash");
  if (asked == read) {
    r.served_check = fmt::format("etcd's {} ({}), asked while it served, matches its database file read after it "
                                 "stopped",
                                 what, asked);
    return file;
  }
  r.served_check = fmt::format("etcd's {}: DIFFERS from the file's", what);
  r.findings.add(Severity::error, check_name, "served", db.string(),
                 fmt::format("the restored etcd's {} was {} while it served; its database file, read after it stopped, "
                             "hashes to {}: what the test read is not what etcd served",
                             what, asked, read));
  return file;
}

RestoreProof proof_of(const RestoreTestReport& r) {
  RestoreProof p;
  p.generation = r.generation;
  p.point = r.point_text.empty() ? r.point : r.point_text;
  p.revision = r.revision;
  p.time = r.started;
  p.success = r.success();
  p.duration_s = r.duration_s;
  p.keys = r.keys;
  p.objects = r.objects;
  p.secrets = r.secrets;
  for (const auto& f : r.findings.all())
    if (f.severity == Severity::error) {
      p.failure = f.path.empty() ? f.detail : fmt::format("{}: {}", f.path, f.detail);
      break;
    }
  return p;
}

void run_test(const core::Context& ctx, const core::Repository& repo, const objects::PointSpec& spec,
              RestoreTestReport& r) {
  const auto key = core::node_key_if_any(ctx);
  const core::NodeKey* k = key ? &*key : nullptr;
  const bool journal = journal::JournalStore(ctx.backup_dir).exists();
  double t = core::monotonic_seconds();
  auto point = spec.kind == objects::PointSpec::Kind::generation || !journal
                   ? generation_point(ctx, repo, spec.kind == objects::PointSpec::Kind::generation ? spec.text : "latest",
                                      k, r)
                   : journal_point(ctx, repo, spec, k, r);
  r.generation = point.generation;
  r.point_text = point.text;
  r.revision = point.revision;
  if (!room_for(ctx, point, r)) return;
  core::pausepoint("restore-test-after-room-check");  // KDR_PAUSEPOINT: tests take the room here
  if (point.replay) make_point(ctx, point, k);
  r.make_s = core::monotonic_seconds() - t;

  objects::PointInfo facts;
  if (!point.generation.empty()) objects::add_generation_facts(ctx, repo.find(point.generation), facts);
  for (const auto& w : facts.warnings) r.findings.add(Severity::warning, check_name, "encryption-config", "", w);

  t = core::monotonic_seconds();
  etcd::PrivateEtcd etcd(ctx, point.snapshot, point.zstd, point.sha256, {}, "restore-test");
  const auto status = etcd.client().status();
  r.restore_s = core::monotonic_seconds() - t;
  // A replayed point is the journal's keyspace at its revision in fewer transactions (its
  // etcd's own revision is lower): its digest is what says it is that point.
  // (A snapshot of an etcd that never had a key says revision 0; etcd serves it at 1.)
  if (!point.scratch && status.revision != std::max<std::int64_t>(point.revision, 1))
    r.findings.add(Severity::error, check_name, "revision", point.snapshot.string(),
                   fmt::format("the restored etcd is at revision {}, the point is revision {}", status.revision,
                               point.revision));

  // What etcd served, read back off the database file it served once it has stopped: the
  // same keys and values as through its gateway (check_served_file proves it), read at the
  // speed of the disk rather than a JSON page at a time.
  t = core::monotonic_seconds();
  const auto served = ask_served(etcd.client(), status.revision);
  check_hashkv(point, served, r);
  const auto db = etcd.stop_serving();
  const auto restored = check_served_file(db, served, r);
  KeyspaceCheck keys(facts, point.journal_digest.has_value(), r);
  etcd::read_snapshot_keys(db, {}, [&](const etcd::EtcdKeyValue& kv) { keys.visit(kv); });
  keys.finish();
  check_digest(point, keys, etcd.snapshot_copy(), restored, r);
  r.check_s = core::monotonic_seconds() - t;
  if (r.unknown_types > 0)
    r.findings.add(Severity::info, check_name, "unknown-type", "",
                   fmt::format("{} values are protobuf of types kdr's schema lacks: read, not decoded", r.unknown_types));
}

}  // namespace

core::ExitCode RestoreTestReport::exit_code() const {
  return success() ? core::ExitCode::ok : core::ExitCode::findings;
}

nlohmann::json RestoreTestReport::to_json() const {
  auto findings_json = nlohmann::json::array();
  for (const auto& f : findings.all()) findings_json.push_back(verify::to_json(f));
  return {{"point", point},
          {"point_text", point_text},
          {"generation", generation},
          {"revision", revision},
          {"success", success()},
          {"started", core::iso_time(started)},
          {"seconds", {{"make", make_s}, {"restore", restore_s}, {"check", check_s}, {"total", duration_s}}},
          {"keys", keys},
          {"objects", objects},
          {"secrets", secrets},
          {"encrypted_values", encrypted},
          {"kms_values", kms},
          {"unknown_types", unknown_types},
          {"other_keys", other_keys},
          {"per_resource", per_resource},
          {"digest", digest_check},
          {"hashkv", hashkv_check},
          {"served", served_check},
          {"findings", findings_json},
          {"exit_code", core::to_int(exit_code())}};
}

RestoreTestReport run_restore_test(const core::Context& ctx, const RestoreTestOptions& options) {
  const auto spec = objects::parse_point(options.point);
  if (spec.kind == objects::PointSpec::Kind::live)
    throw core::UsageError("--restore-test proves a point of the backup restorable: latest, a generation, a revision "
                           "or a time, not live");
  const auto repo = core::Repository::open(ctx.backup_dir);
  std::optional<core::RepositoryLock> lock;
  if (!options.caller_holds_lock) lock.emplace(repo.read_lock(ctx.out));
  core::lower_io_priority(ctx);
  RestoreTestReport r;
  r.point = options.point;
  r.started = core::now_epoch();
  const double t0 = core::monotonic_seconds();
  // On the backup disk, which has room for what it holds; what an interrupted test left goes.
  const auto scratch = repo.restore_test_scratch();
  if (core::lstat_path(scratch)) core::remove_tree(scratch);
  core::make_dir(scratch.parent_path(), 0700);
  core::make_dir(scratch, 0700);
  try {
    core::ScratchRedirect redirect(scratch);
    run_test(ctx, repo, spec, r);
  } catch (const core::Error& e) {
    const bool not_a_test = dynamic_cast<const core::UsageError*>(&e) != nullptr || e.code() == core::ExitCode::no_backup;
    if (not_a_test) {
      core::remove_tree(scratch);
      throw;
    }
    r.findings.add(Severity::error, check_name, "failed", "", e.what());
  }
  core::remove_tree(scratch);
  if (core::lstat_path(scratch))
    r.findings.add(Severity::warning, check_name, "left-behind", scratch.string(), "could not be removed");
  r.duration_s = core::monotonic_seconds() - t0;
  if (!r.generation.empty()) save_proof(ctx, proof_of(r));
  return r;
}

void print_restore_test(const core::Context& ctx, const RestoreTestReport& r) {
  if (ctx.out.json()) {
    ctx.out.raw(r.to_json().dump(2));
    return;
  }
  ctx.out.info("Restore test of {}", r.point_text.empty() ? r.point : r.point_text);
  if (r.keys > 0 || r.restore_s > 0) {
    ctx.out.info("  made        {:.1f} s; restored into a private etcd and serving: {:.1f} s; read back: {:.1f} s",
                 r.make_s, r.restore_s, r.check_s);
    ctx.out.info("  keys        {} ({} Kubernetes objects decoded, {} Secrets, {} values decrypted{}{})", r.keys,
                 r.objects, r.secrets, r.encrypted, r.kms ? fmt::format(", {} KMS values not checked", r.kms) : "",
                 r.other_keys ? fmt::format(", {} other keys", r.other_keys) : "");
    if (!r.digest_check.empty()) ctx.out.info("  digest      {}", r.digest_check);
    if (!r.hashkv_check.empty()) ctx.out.info("  hashkv      {}", r.hashkv_check);
    if (!r.served_check.empty()) ctx.out.info("  served      {}", r.served_check);
    std::vector<std::pair<std::string, std::uint64_t>> top(r.per_resource.begin(), r.per_resource.end());
    std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::string list;
    for (std::size_t i = 0; i < top.size() && i < 8; ++i)
      list += fmt::format("{}{} {}", list.empty() ? "" : ", ", top[i].second, top[i].first);
    if (top.size() > 8) list += fmt::format(", and {} more resources", top.size() - 8);
    if (!list.empty()) ctx.out.info("  objects     {}", list);
  }
  for (const auto& f : r.findings.all()) {
    const auto line = f.path.empty() ? f.detail : fmt::format("{}: {}", f.path, f.detail);
    if (f.severity == Severity::error) ctx.out.error(fmt::format("{}: {}", f.kind, line));
    else if (f.severity == Severity::warning) ctx.out.warn("{}: {}", f.kind, line);
    else ctx.out.info("  note        {}", line);
  }
  if (r.success())
    ctx.out.info("PROVEN: {} restores, and every object in it reads ({:.1f} s in all; everything it made is removed)",
                 r.point_text, r.duration_s);
  else
    ctx.out.info("FAILED: {} did not prove restorable ({} error(s)); kdr verify {} tells more about the generation",
                 r.point_text.empty() ? r.point : r.point_text, r.findings.count(Severity::error),
                 r.generation.empty() ? "latest" : r.generation);
}

void write_restore_test_metrics(const core::Context& ctx, const RestoreTestReport& r) {
  core::MetricsText m;
  m.gauge("kdr_restore_test_success", "1 when the last restore test proved its point restorable.", r.success() ? 1 : 0);
  m.gauge("kdr_restore_test_last_run_timestamp_seconds", "When the last restore test ran.",
          static_cast<double>(r.started));
  const auto history = proof_history(ctx);
  if (history.last_success)
    m.gauge("kdr_restore_test_last_success_timestamp_seconds", "When a restore test last succeeded.",
            static_cast<double>(history.last_success->time));
  m.gauge("kdr_restore_test_duration_seconds", "Duration of the last restore test.", r.duration_s);
  m.gauge("kdr_restore_test_restore_seconds", "Snapshot restore and private etcd start of the last restore test.",
          r.restore_s);
  m.gauge("kdr_restore_test_objects", "Kubernetes objects the last restore test decoded.", static_cast<double>(r.objects));
  m.gauge("kdr_restore_test_secrets", "Secrets the last restore test read.", static_cast<double>(r.secrets));
  m.gauge("kdr_restore_test_keys", "etcd keys the last restore test read back.", static_cast<double>(r.keys));
  m.gauge("kdr_restore_test_revision", "The etcd revision the last restore test restored.",
          static_cast<double>(r.revision));
  try {
    core::write_metrics(ctx, "kdr_restore_test.prom", m);
  } catch (const core::Error& e) {
    ctx.out.warn("cannot write metrics: {}", e.what());
  }
}

bool restore_test_due(const core::Context& ctx) {
  const int hours = ctx.config.restore_test_hours;
  if (hours <= 0) return false;
  // Only etcd's data is restored by a test: a generation without it has nothing to prove.
  const auto repo = core::Repository::open(ctx.backup_dir);
  const auto latest = repo.latest_id();
  if (!latest) return false;
  const auto entry = repo.find(*latest);
  if (!entry.meta || (!entry.meta->etcd.snapshot && !entry.meta->etcd.journal)) return false;
  const auto history = proof_history(ctx);
  return !history.last || core::now_epoch() - history.last->time >= static_cast<std::int64_t>(hours) * 3600;
}

}  // namespace kdr::jobs
