#include "etcd/replay.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/generation.hpp"
#include "core/interrupt.hpp"
#include "core/process.hpp"
#include "core/repository.hpp"
#include "core/sha256.hpp"
#include "etcd/keyspace_digest.hpp"
#include "etcd/private_etcd.hpp"
#include "etcd/served_snapshot.hpp"
#include "etcd/snapshot_tool.hpp"
#include "etcd/tool.hpp"
#include "journal/segment.hpp"

namespace kdr::etcd {

using journal::Event;
using nlohmann::json;

namespace {

constexpr std::size_t max_ops_per_txn = 10000;
// A transaction's keys and values; the private etcd takes requests of up to twice that, or of
// the journal's largest change with room to spare (a change larger than this goes alone).
constexpr std::size_t max_txn_bytes = 8u << 20;
constexpr std::size_t collapse_bytes = 64u << 20;

std::string ms_text(std::int64_t ms) { return ms > 0 ? core::iso_time(ms / 1000) : std::string("-"); }

std::string journal_base_message(const std::string& cluster_id, std::int64_t revision, const std::string& file,
                                 const std::string& db_sha256) {
  return fmt::format("kdr journal base v1\n{}\n{}\n{}\n{}\n", cluster_id, revision, file, db_sha256);
}

// What vouches for a generation's snapshot as a base.
ReplayAuth generation_base_auth(const core::GenerationEntry& g, const core::NodeKey* key) {
  ReplayAuth a;
  const auto auth = core::authenticate_listed_generation(g.path, g.id, g.meta_sha256, key);
  a.add(auth.status, fmt::format("the base, generation {}, {}", g.id, auth.text));
  return a;
}

// What vouches for a journal base: its record's HMAC.
ReplayAuth journal_base_auth(const json& j, const std::string& cluster_id, const ReplayBase& b, const core::NodeKey* key) {
  ReplayAuth a;
  const auto what = fmt::format("the base, {}", b.source);
  const auto* signature = j.contains("auth") && j["auth"].is_object() ? &j["auth"] : nullptr;
  if (signature == nullptr) {
    a.add(core::AuthStatus::unsigned_, what + " is not signed (made before kdr signed journal bases)");
  } else if (key == nullptr) {
    a.add(core::AuthStatus::no_key, what + ": no key here to check it with");
  } else if (signature->value("key_id", "") != key->id()) {
    a.add(core::AuthStatus::other_key, fmt::format("{}: signed with key {}, not this node's {}", what,
                                                   signature->value("key_id", ""), key->id()));
  } else if (!key->check_hex(journal_base_message(cluster_id, b.revision, b.file.filename().string(), b.db_sha256),
                             signature->value("hmac", ""))) {
    a.add(core::AuthStatus::forged, what + ": its signature does not match its record");
  }
  return a;
}

// Full snapshots that hold this epoch's cluster at one of its revisions, from the generations
// and from `kdr journal compact` (epoch-N/bases/<revision>.json). One that `key` shows forged
// is left out.
std::vector<ReplayBase> bases_for(const core::Context& ctx, const journal::EpochInfo& epoch,
                                  std::int64_t history_from, const core::NodeKey* key) {
  std::vector<ReplayBase> out;
  try {
    for (const auto& g : core::Repository::open(ctx.backup_dir).generations()) {
      if (!g.meta) continue;
      const auto& snap = g.meta->etcd.snapshot;
      if (!snap || !epoch.holds_snapshot(g.id, g.meta->time, snap->cluster_id, snap->revision)) continue;
      if (snap->revision < history_from) continue;
      auto b = generation_base(g, key);
      if (b && b->auth.status != core::AuthStatus::forged) out.push_back(*b);
    }
  } catch (const core::Error&) {
    // no backup folder: only the journal's own bases
  }
  const auto dir = epoch.dir / "bases";
  if (core::lstat_path(dir))
    for (const auto& name : core::list_dir(dir)) {
      if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;
      try {
        const auto j = json::parse(core::read_backup_file(dir / name));
        ReplayBase b;
        b.revision = j.at("revision").get<std::int64_t>();
        b.source = fmt::format("journal base {} (kdr journal compact)", b.revision);
        const auto file = j.at("file").get<std::string>();
        if (file != fmt::format("{:020}.db", b.revision)) continue;  // names nothing else in the folder
        b.file = dir / file;
        b.db_sha256 = j.value("db_sha256", "");
        const auto st = core::lstat_path(b.file);
        if (b.revision < history_from || !st) continue;
        b.db_size = st->size;
        b.auth = journal_base_auth(j, epoch.cluster_id, b, key);
        if (b.auth.status != core::AuthStatus::forged) out.push_back(b);
      } catch (const std::exception&) {
        // a base being written, or damaged: kdr journal verify says so
      }
    }
  return out;
}

// Reads an epoch's events in order, one whole revision at a time.
class RevisionWalk {
 public:
  RevisionWalk(const journal::JournalStore& store, const journal::EpochInfo& epoch, const core::NodeKey* key)
      : segments_(store.segments(epoch)), position_(store.chain_start(epoch).revision), key_(key) {}

  // What vouches for the revisions returned so far.
  const ReplayAuth& auth() const { return auth_; }

  // The checkpoints read since the last call: each says what the keyspace digest was at its
  // revision when the follower wrote it (the revisions before the group just returned).
  std::vector<journal::Checkpoint> take_checkpoints() { return std::exchange(checkpoints_, {}); }

  // The next whole revision's events; false at the end of what is whole.
  bool next(std::vector<Event>& group) {
    group.clear();
    for (;;) {
      if (!reader_) {
        if (index_ >= segments_.size()) return false;
        reader_ = std::make_unique<journal::SegmentReader>(segments_[index_++].path, key_);
      }
      auto record = reader_->next();
      const auto& file = segments_[index_ - 1].path;
      if (reader_->auth() == core::AuthStatus::forged)
        throw core::Error(fmt::format("the journal segment {} is refused: {}", file.string(), reader_->auth_text()));
      if (record && reader_->auth() != core::AuthStatus::authentic)
        auth_.add(reader_->auth(), fmt::format("the journal segment {} is {}", file.filename().string(),
                                               reader_->auth_text()));
      if (!record) {
        reader_.reset();
        pending_.clear();  // half a revision at a segment's end is not whole
        continue;
      }
      if (auto* c = std::get_if<journal::Checkpoint>(&*record)) {
        if (pending_.empty()) checkpoints_.push_back(*c);
        continue;
      }
      auto* e = std::get_if<Event>(&*record);
      if (e == nullptr) continue;
      pending_.push_back(std::move(*e));
      if (!pending_.back().last_in_revision) continue;
      const auto revision = pending_.front().revision;
      if (revision != position_ + 1)
        throw core::Error(fmt::format("the journal is damaged: revision {} follows revision {} in {} (kdr journal verify)",
                                      revision, position_, segments_[index_ - 1].path.string()));
      position_ = revision;
      group.swap(pending_);
      pending_.clear();
      return true;
    }
  }

 private:
  std::vector<journal::SegmentFile> segments_;
  std::size_t index_ = 0;
  std::unique_ptr<journal::SegmentReader> reader_;
  std::vector<Event> pending_;
  std::vector<journal::Checkpoint> checkpoints_;
  std::int64_t position_;
  const core::NodeKey* key_;
  ReplayAuth auth_;
};

// What one epoch can reach for the target.
struct EpochReach {
  bool reached = false;  // the target lies in this epoch
  std::int64_t revision = 0, time_ms = 0;
  KeyspaceDigest digest;
  std::uint64_t events = 0;                        // after the epoch's base, up to `revision`
  std::map<std::int64_t, std::uint64_t> events_at;  // events up to each base candidate's revision
  std::map<std::int64_t, KeyspaceDigest> digest_at;  // the digest at each base candidate's revision
  std::size_t largest_change = 0;                   // the largest key and value put, up to `revision`
  ReplayAuth auth;                                  // of the segments read
};

EpochReach reach(const journal::JournalStore& store, const journal::EpochInfo& epoch, const ReplayTarget& target,
                 const std::vector<ReplayBase>& bases, const core::NodeKey* key) {
  EpochReach r;
  const auto start = store.chain_start(epoch);
  r.revision = start.revision;
  r.digest = start.digest;
  std::set<std::int64_t> wanted;
  for (const auto& b : bases) wanted.insert(b.revision);
  if (wanted.count(r.revision)) {
    r.events_at[r.revision] = 0;
    r.digest_at[r.revision] = r.digest;
  }
  RevisionWalk walk(store, epoch, key);
  std::vector<Event> group;
  // Every checkpoint against the digest the events give at its revision: a journal whose
  // events were written wrong (sealed, so not by someone else) replays to a keyspace etcd never had.
  const auto check_checkpoints = [&] {
    for (const auto& c : walk.take_checkpoints())
      if (c.revision == r.revision && !(c.digest == r.digest))
        throw core::Error(fmt::format("the journal's events do not give the digest its checkpoint at revision {} "
                                      "recorded ({} keys, {}; the events give {} keys, {}): kdr journal verify",
                                      c.revision, c.digest.keys, c.digest.hex(), r.digest.keys, r.digest.hex()));
  };
  while (walk.next(group)) {
    check_checkpoints();
    const auto rev = group.front().revision;
    if (target.kind == ReplayTarget::Kind::revision && rev > target.revision) break;
    if (target.kind == ReplayTarget::Kind::time && group.front().time_ms > target.time_ms) break;
    for (const auto& e : group)
      if (!journal::apply_to_digest(e, r.digest))
        throw core::Error(fmt::format("the journal's digest cannot be followed at revision {} (kdr journal verify)", rev));
    r.revision = rev;
    r.time_ms = group.front().time_ms;
    r.events += group.size();
    for (const auto& e : group) r.largest_change = std::max(r.largest_change, e.key.size() + e.value.size());
    if (wanted.count(rev)) {
      r.events_at[rev] = r.events;
      r.digest_at[rev] = r.digest;
    }
  }
  check_checkpoints();
  r.auth = walk.auth();
  switch (target.kind) {
    case ReplayTarget::Kind::latest: r.reached = true; break;
    case ReplayTarget::Kind::revision: r.reached = r.revision == target.revision; break;
    case ReplayTarget::Kind::time: r.reached = r.time_ms > 0 || epoch.started_ms <= target.time_ms; break;
  }
  return r;
}

std::string epoch_range(const journal::EpochInfo& e, std::int64_t from, std::int64_t last) {
  return fmt::format("epoch {} holds revisions {} to {}", e.number, from, last);
}

// Keeps every lease of the private etcd alive while the replay runs: a lease from the base
// snapshot with a short TTL must not expire and take its keys with it half-way.
class LeaseKeeper {
 public:
  LeaseKeeper(const core::Context& ctx, const std::string& url, std::set<std::int64_t> leases)
      : client_(ctx.etcd->connect(EtcdEndpoint{url, "", "", ""}, std::chrono::seconds(10))),
        leases_(std::move(leases)),
        thread_([this] { loop(); }) {}
  ~LeaseKeeper() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  bool known(std::int64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    return leases_.count(id) > 0;
  }
  void add(std::int64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    leases_.insert(id);
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      const auto ids = leases_;
      lock.unlock();
      for (const auto id : ids) {
        try {
          client_->keep_alive(id);
        } catch (const core::Error&) {
          // gone or etcd busy: the digest check says whether it mattered
        }
      }
      lock.lock();
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
    }
  }
  std::unique_ptr<EtcdApi> client_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<std::int64_t> leases_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

std::optional<ReplayBase> generation_base(const core::GenerationEntry& g, const core::NodeKey* key) {
  if (!g.meta || !g.meta->etcd.snapshot) return std::nullopt;
  const auto& snap = *g.meta->etcd.snapshot;
  ReplayBase b;
  b.source = "generation " + g.id;
  b.file = g.path / snap.file;
  b.zstd = snap.compression == "zstd";
  b.revision = snap.revision;
  b.db_sha256 = snap.db_sha256;
  const auto st = core::lstat_path(b.file);
  if (!st) return std::nullopt;
  // a compressed snapshot recorded without its size: zstd shrinks etcd's pages about fourfold
  b.db_size = snap.db_size > 0 ? snap.db_size : (b.zstd ? 4 * st->size : st->size);
  b.auth = generation_base_auth(g, key);
  return b;
}

void for_each_planned_event(const core::Context& ctx, const ReplayPlan& plan, const core::NodeKey* key,
                            const std::function<void(journal::Event&)>& visit) {
  const journal::JournalStore store(ctx.backup_dir);
  RevisionWalk walk(store, plan.epoch, key);
  std::vector<Event> group;
  std::uint64_t events = 0;
  while (walk.next(group)) {
    const auto rev = group.front().revision;
    if (rev <= plan.base.revision) continue;
    if (rev > plan.target_revision) break;
    core::check_interrupted();
    for (auto& e : group) {
      visit(e);
      ++events;
    }
  }
  if (events != plan.events)
    throw core::Error(fmt::format("the replay applied {} change(s), the plan counted {}: the journal changed underneath "
                                  "(kdr journal verify)",
                                  events, plan.events));
  if (plan.auth.status == core::AuthStatus::authentic && walk.auth().status != core::AuthStatus::authentic)
    throw core::Error(fmt::format("the journal changed underneath: {}; nothing was read from it", walk.auth().text));
}

ReplayTarget parse_replay_target(const std::string& text) {
  ReplayTarget t;
  t.text = text;
  if (text == "latest") return t;
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    t.kind = ReplayTarget::Kind::revision;
    t.revision = std::stoll(text);
    return t;
  }
  if (auto ms = core::parse_rfc3339_ms(text)) {
    t.kind = ReplayTarget::Kind::time;
    t.time_ms = *ms;
    return t;
  }
  throw core::UsageError(fmt::format("to={}: expected latest, a revision number, or an RFC 3339 time such as "
                                     "2026-11-28T08:17:08Z",
                                     text));
}

std::string ReplayResult::phases() const {
  if (made == Made::data_dir)  // nothing saved: the data dir is the point
    return fmt::format("base opened {:.1f} s, changes applied {:.1f} s, its digest read {:.1f} s", open_s, apply_s,
                       digest_s);
  return fmt::format("base opened {:.1f} s, changes applied {:.1f} s, snapshot saved {:.1f} s, its digest read {:.1f} s",
                     open_s, apply_s, save_s, digest_s);
}

std::string ReplayPlan::describe() const {
  return fmt::format("the full snapshot of {} (revision {}), then {} change(s) of the journal's epoch {} up to revision "
                     "{}{}, replayed off the node; the result must match the journal's digest there ({} keys)",
                     base.source, base.revision, events, epoch.number, target_revision,
                     target_time_ms > 0 ? fmt::format(" (received {})", ms_text(target_time_ms)) : std::string(),
                     digest.keys);
}

json ReplayPlan::to_json() const {
  return {{"epoch", epoch.number},          {"cluster_id", epoch.cluster_id},   {"base", base.source},
          {"base_revision", base.revision}, {"target_revision", target_revision}, {"target_time_ms", target_time_ms},
          {"events", events},               {"digest", digest.hex()},          {"keys", digest.keys},
          {"auth", core::to_string(auth.status)}, {"auth_text", auth.text}};
}

void sign_journal_base(json& record, const std::string& cluster_id, const core::NodeKey& key) {
  const auto message = journal_base_message(cluster_id, record.at("revision").get<std::int64_t>(),
                                            record.at("file").get<std::string>(), record.at("db_sha256").get<std::string>());
  record["auth"] = {{"key_id", key.id()}, {"hmac", key.mac_hex(message)}};
}

ReplayPlan plan_replay(const core::Context& ctx, const ReplayTarget& target, const core::NodeKey* key) {
  const journal::JournalStore store(ctx.backup_dir);
  const auto epochs = store.epochs();
  if (epochs.empty())
    throw core::Error(fmt::format("no change journal in {}: restore to a point needs `kdr journal run` to have followed "
                                  "etcd (use to=snapshot for the generation's snapshot as it is)",
                                  store.dir().string()));
  std::string passed;  // what the newer epochs hold, for the message when nothing reaches the target
  const auto gaps = store.gaps();
  const journal::Gap* gap_after = nullptr;  // the gap between this epoch and the newer one, if any
  for (auto it = epochs.rbegin(); it != epochs.rend(); ++it) {
    const auto& epoch = *it;
    if (it != epochs.rbegin()) {
      gap_after = nullptr;
      const auto newer = std::prev(it)->number;
      for (const auto& g : gaps)
        if (g.epoch == newer && !g.new_cluster()) gap_after = &g;
    }
    const auto from = store.chain_start(epoch).revision;
    if (target.kind == ReplayTarget::Kind::revision && target.revision < from) {
      passed += fmt::format("; epoch {} begins at revision {}", epoch.number, from);
      continue;
    }
    const auto bases = bases_for(ctx, epoch, from, key);
    const auto r = reach(store, epoch, target, bases, key);
    if (!r.reached) {
      // Revision numbers start again in a restored cluster: an older epoch may hold it.
      passed += target.kind == ReplayTarget::Kind::revision
                    ? "; " + epoch_range(epoch, from, r.revision)
                    : fmt::format("; epoch {} begins {}", epoch.number, ms_text(epoch.started_ms));
      continue;
    }
    // The newest base the journal can extend; of two at one revision, the better vouched for.
    const ReplayBase* best = nullptr;
    for (const auto& b : bases)
      if (b.revision <= r.revision && r.events_at.count(b.revision) &&
          (best == nullptr || b.revision > best->revision ||
           (b.revision == best->revision && b.auth.status == core::AuthStatus::authentic)))
        best = &b;
    if (best == nullptr) {
      const auto none = fmt::format("no full snapshot of cluster {} lies between revision {} and {}, where the "
                                    "journal's epoch {} could extend it",
                                    epoch.cluster_id, from, r.revision, epoch.number);
      // latest: the newest epoch that can be restored (one that began since, as etcd was
      // restored, may have no snapshot yet)
      if (target.kind == ReplayTarget::Kind::latest) {
        passed += "; " + none;
        continue;
      }
      throw core::Error(none + ": take one (kdr backup) or choose a later point");
    }
    // A time after this epoch's last change, before the newer epoch began after a gap: what
    // happened then is not in the journal, and the point would be older than asked.
    if (target.kind == ReplayTarget::Kind::time && gap_after != nullptr && target.time_ms > r.time_ms &&
        !target.accept_gap)
      throw core::Error(fmt::format(
          "{} falls in a gap of the change journal ({}, {}): the last point before it is revision {}{}. Give "
          "--set to={} for that point, or --set accept_gap=true to take it for this time",
          target.text, gap_after->text(), gap_after->reason, r.revision,
          r.time_ms > 0 ? fmt::format(", received {}", ms_text(r.time_ms)) : std::string(), r.revision));
    ReplayPlan p;
    p.epoch = epoch;
    p.base = *best;
    p.target_revision = r.revision;
    p.target_time_ms = r.revision > from ? r.time_ms : 0;
    p.events = r.events - r.events_at.at(best->revision);
    p.digest = r.digest;
    p.largest_change = r.largest_change;
    p.auth = best->auth;
    p.auth.add(r.auth.status, r.auth.text);
    return p;
  }
  if (target.kind == ReplayTarget::Kind::revision)
    throw core::Error(fmt::format("revision {} is not in the change journal{}", target.revision,
                                  passed.empty() ? std::string() : " (" + passed.substr(2) + ")"));
  if (target.kind == ReplayTarget::Kind::latest)
    throw core::Error(fmt::format("no epoch of the change journal can be restored ({}): take a full snapshot (kdr "
                                  "backup), or restore a generation's snapshot as it is (to=snapshot)",
                                  passed.empty() ? std::string("it holds none") : passed.substr(2)));
  throw core::Error(fmt::format("{} is before everything in the change journal{}", target.text,
                                passed.empty() ? std::string() : " (" + passed.substr(2) + ")"));
}

SurvivorReplay plan_survivor_replay(const core::Context& ctx, const ReplayTarget& target, const core::NodeKey* key,
                                   const std::string& cluster_id, std::int64_t survivor_revision,
                                   std::int64_t generation_revision) {
  const journal::JournalStore store(ctx.backup_dir);
  const auto epochs = store.epochs();
  const journal::EpochInfo* epoch = nullptr;
  for (auto it = epochs.rbegin(); it != epochs.rend() && epoch == nullptr; ++it)
    if (it->cluster_id == cluster_id) epoch = &*it;
  if (epoch == nullptr)
    throw core::Error(fmt::format("the change journal in {} holds no epoch of cluster {}", store.dir().string(),
                                  cluster_id));
  const auto from = store.chain_start(*epoch).revision;
  if (survivor_revision < from)
    throw core::Error(fmt::format("the change journal's epoch {} of cluster {} begins at revision {}, after the "
                                  "survivor's {}: the changes between are in no journal",
                                  epoch->number, cluster_id, from, survivor_revision));
  ReplayBase survivor;
  survivor.revision = survivor_revision;
  std::vector<ReplayBase> wanted{survivor};
  if (generation_revision >= from) {
    ReplayBase g;
    g.revision = generation_revision;
    wanted.push_back(g);
  }
  const auto r = reach(store, *epoch, target, wanted, key);
  SurvivorReplay out;
  out.journal_end = r.revision;
  out.journal_end_ms = r.time_ms;
  if (const auto it = r.events_at.find(generation_revision); it != r.events_at.end())
    out.lost_from_generation = r.events - it->second;
  ReplayPlan& p = out.plan;
  p.epoch = *epoch;
  p.base = survivor;
  p.largest_change = r.largest_change;
  p.auth = r.auth;
  if (!r.events_at.count(survivor_revision)) {
    // The journal ends before the survivor's revision: the survivor holds all the journal does.
    if (target.kind != ReplayTarget::Kind::latest)
      throw core::Error(fmt::format("the change journal of cluster {} ends at revision {}, before the survivor's {}: "
                                    "{} cannot be reached from the survivor",
                                    cluster_id, r.revision, survivor_revision, target.text));
    p.target_revision = survivor_revision;
    return out;
  }
  out.base_digest = r.digest_at.at(survivor_revision);
  if (!r.reached || r.revision < survivor_revision)
    throw core::Error(fmt::format("{} is before the survivor's revision {}: a survivor restore does not go back in "
                                  "time (--set from=backup with this point)",
                                  target.text, survivor_revision));
  p.target_revision = r.revision;
  p.target_time_ms = r.revision > survivor_revision ? r.time_ms : 0;
  p.events = r.events - r.events_at.at(survivor_revision);
  p.digest = r.digest;
  out.lost_alone = p.events;
  return out;
}

namespace {

// The private etcd's flags for a replay. The quota: the point may hold more than its base (the
// journal's changes), up to etcd's suggested largest database (8 GiB), or twice the base's size
// past that. A request: a transaction of `max_txn_bytes`, or the largest single change the
// journal holds (it goes alone), with room for the request's framing.
std::vector<std::string> replay_server_args(const ReplayPlan& plan) {
  const auto request_bytes = std::max(2 * max_txn_bytes, plan.largest_change + (1u << 20));
  return {"--max-txn-ops", std::to_string(max_ops_per_txn), "--max-request-bytes", std::to_string(request_bytes),
          "--quota-backend-bytes", std::to_string(std::max<std::uint64_t>(8ull << 30, private_quota_bytes(plan.base.db_size)))};
}

}  // namespace

void batch_planned_events(const core::Context& ctx, const ReplayPlan& plan, const core::NodeKey* key,
                          const std::function<void(std::int64_t)>& lease,
                          const std::function<void(std::vector<EtcdOp>&)>& send, ReplayResult& result) {
  // Only the keyspace at the target is kept (the restore bumps the revision and marks it
  // compacted: no watcher can read the history between), so each key's last change in a run of
  // revisions is all that is applied: pending changes are collapsed per key and written when
  // they weigh `collapse_bytes`, in transactions of at most `max_ops_per_txn` operations and
  // `max_txn_bytes`.
  std::map<std::string, EtcdOp> pending;
  std::size_t pending_bytes = 0;
  auto flush = [&] {
    std::vector<EtcdOp> batch;
    std::size_t bytes = 0;
    auto send_batch = [&] {
      if (batch.empty()) return;
      send(batch);
      ++result.transactions;
      batch.clear();
      bytes = 0;
    };
    for (auto& [name, op] : pending) {
      const auto size = op.key.size() + op.value.size();
      if (batch.size() >= max_ops_per_txn || (bytes + size > max_txn_bytes && !batch.empty())) send_batch();
      bytes += size;
      batch.push_back(std::move(op));
    }
    send_batch();
    pending.clear();
    pending_bytes = 0;
  };
  for_each_planned_event(ctx, plan, key, [&](Event& e) {
    // (at once: before the transaction that will hold the put)
    if (e.kind == journal::EventKind::put && e.lease != 0) lease(e.lease);
    EtcdOp op{e.kind == journal::EventKind::del, e.key, std::move(e.value),
              e.kind == journal::EventKind::put ? e.lease : 0};
    auto [it, inserted] = pending.try_emplace(std::move(e.key));
    if (!inserted) pending_bytes -= it->second.key.size() + it->second.value.size();
    pending_bytes += op.key.size() + op.value.size();
    it->second = std::move(op);
    ++result.events;
    if (pending_bytes >= collapse_bytes) flush();
  });
  flush();
}

namespace {

// The journal's events after the base up to the target, applied to the private etcd that
// serves the base, then etcd stopped: the database file it closed.
core::bfs::path apply_and_stop(const core::Context& ctx, const ReplayPlan& plan, PrivateEtcd& etcd,
                               const core::NodeKey* key, ReplayResult& result) {
  auto& client = etcd.client();
  const auto existing = client.leases();
  auto keeper = std::make_unique<LeaseKeeper>(ctx, etcd.url(), std::set<std::int64_t>(existing.begin(), existing.end()));
  result.revision = plan.target_revision;

  const double t_apply = core::monotonic_seconds();
  batch_planned_events(
      ctx, plan, key,
      [&](std::int64_t lease) {
        if (keeper->known(lease)) return;
        client.grant_lease(lease, recreated_lease_ttl_s);
        keeper->add(lease);
      },
      [&](std::vector<EtcdOp>& batch) { client.apply(batch); }, result);
  result.apply_s = core::monotonic_seconds() - t_apply;
  keeper.reset();
  result.file_revision = client.status().revision;
  return etcd.stop_serving();
}

// The keyspace `file` holds must be the journal's at the target: what is restored is what is
// checked.
// `read` reads it and says how long that took.
struct TimedKeyspace {
  SnapshotKeyspace keyspace;
  double seconds = 0;
};
template <class Read>
TimedKeyspace timed_keyspace(Read read) {
  const double t0 = core::monotonic_seconds();
  auto keyspace = read();
  return {std::move(keyspace), core::monotonic_seconds() - t0};
}

void check_replayed(const ReplayPlan& plan, const core::bfs::path& file, TimedKeyspace read, ReplayResult& result) {
  result.digest = read.keyspace.digest;
  result.encryption = std::move(read.keyspace.encryption);
  result.digest_s = read.seconds;
  if (!(result.digest == plan.digest))
    throw core::Error(fmt::format("the replayed point does not match the journal: at revision {} the journal's digest "
                                  "is {} ({} keys), {} holds {} ({} keys); nothing was restored from it",
                                  plan.target_revision, plan.digest.hex(), plan.digest.keys, file.string(),
                                  result.digest.hex(), result.digest.keys));
}

}  // namespace

ReplayResult replay_to_snapshot(const core::Context& ctx, const ReplayPlan& plan, const core::bfs::path& out,
                                const core::NodeKey* key) {
  const double t0 = core::monotonic_seconds();
  const bool copied = !plan.base.checked_copy.empty();
  PrivateEtcd etcd(ctx, copied ? plan.base.checked_copy : plan.base.file, copied ? false : plan.base.zstd,
                   plan.base.db_sha256, replay_server_args(plan), "etcd-replay", copied);
  ReplayResult result;
  result.open_s = core::monotonic_seconds() - t0;
  const auto db = apply_and_stop(ctx, plan, etcd, key, result);

  // Saved off the database file once etcd has closed it (etcd/served_snapshot.hpp): the
  // snapshot `etcdctl snapshot save` would stream, without the stream. Its keyspace is read at
  // the same time, on the other core, off the file as etcd left it (open before the save
  // renames it, or copies it to another file system): the save reads every page to hash it,
  // the walk reads the key bucket's pages, below the last page the save keeps.
  core::Fd read_fd(::open(db.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!read_fd) core::throw_errno("open", db.string(), errno);
  auto walk = std::async(std::launch::async, [&read_fd, name = out.string()] {
    return timed_keyspace([&] { return keyspace_of_snapshot(read_fd, name); });
  });
  const double t_save = core::monotonic_seconds();
  ServedSnapshot saved;
  try {
    saved = write_served_snapshot(db, out);
  } catch (...) {
    walk.wait();
    throw;
  }
  result.size = saved.size;
  result.sha256 = saved.sha256;
  result.save_s = core::monotonic_seconds() - t_save;
  check_replayed(plan, out, walk.get(), result);
  result.seconds = core::monotonic_seconds() - t0;
  return result;
}


}  // namespace kdr::etcd
