#include "journal/follower.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/generation_auth.hpp"
#include "core/interrupt.hpp"
#include "core/metrics.hpp"
#include "core/process.hpp"
#include "core/repository.hpp"
#include "etcd/rewind.hpp"
#include "etcd/watch.hpp"

namespace kdr::journal {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::int64_t wall_ms() {
  return core::now_epoch_ms();
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Sleeps in short steps; false when Ctrl-C or SIGTERM came first.
bool sleep_unless_interrupted(milliseconds total) {
  const auto until = Clock::now() + total;
  while (Clock::now() < until) {
    if (core::interrupted()) return false;
    std::this_thread::sleep_for(std::min(milliseconds(100), std::chrono::duration_cast<milliseconds>(until - Clock::now())));
  }
  return !core::interrupted();
}

constexpr std::size_t state_file_size = 4096;

// Writes over the file's existing blocks (no new space needed); false when it cannot.
bool overwrite_in_place(const bfs::path& file, const std::string& text) {
  core::Fd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return false;
  const auto size = core::fstat_fd(fd.get(), file).size;
  if (text.size() > size) return false;
  return ::pwrite(fd.get(), text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
}

// The keyspace at a revision: where an epoch starts.
struct Base {
  std::int64_t revision = 0;
  etcd::KeyspaceDigest digest;
  std::string generation;  // whose snapshot is at this revision; empty: none yet
  bool recorded = false;   // the digest is the one the generation's backup recorded (not read from etcd)
};

Base read_base(etcd::EtcdClient& client, std::int64_t revision) {
  Base b;
  b.revision = client.scan("", {.revision = revision}, [&](etcd::EtcdKeyValue&& kv) { b.digest.add(etcd::pair_hash(kv.key, kv.value)); });
  return b;
}

Event to_event(const etcd::EtcdWatchEvent& w, std::int64_t now) {
  Event e;
  e.revision = w.kv.mod_revision;
  e.time_ms = now;
  e.kind = w.is_delete ? EventKind::del : EventKind::put;
  e.create_revision = w.kv.create_revision;
  e.mod_revision = w.kv.mod_revision;
  e.version = w.kv.version;
  e.lease = w.kv.lease;
  e.key = w.kv.key;
  if (!w.is_delete) e.value = w.kv.value;
  if (w.prev) e.previous = etcd::pair_hash(w.prev->key, w.prev->value);
  return e;
}

// Ends the follower instead of being retried.
class FatalError : public core::Error {
 public:
  using core::Error::Error;
};

class Follower {
 public:
  Follower(const core::Context& ctx, etcd::EtcdEndpoint endpoint)
      : ctx_(ctx),
        key_(core::load_or_create_node_key(ctx)),
        store_(ctx.backup_dir),
        endpoint_(std::move(endpoint)),
        status_client_(endpoint_, milliseconds(2000)) {}

  core::ExitCode run();

 private:
  void lock();
  void check_folder() const;
  void recover();
  bool connect();
  bool went_back(const etcd::EtcdStatus& live);
  bool behind_for_sure();
  void begin_epoch(const etcd::EtcdStatus& live, std::string reason);
  std::optional<Base> generation_base(etcd::EtcdClient& client, const std::string& cluster_id, std::int64_t at_least);
  std::optional<Base> recorded_base(const core::GenerationEntry& g, etcd::EtcdClient& client);
  void open_segment();
  void follow();
  void take(const etcd::EtcdWatchResponse& response);
  void tick();
  void checkpoint();
  void close_segment();
  void poll_status();
  void request_full_snapshot();
  void poll_full_snapshot();
  void set_state(std::string state, std::string message);
  void sync_segment();
  void write_state();
  void write_metrics();

  const core::Context& ctx_;
  core::NodeKey key_;  // seals every segment
  JournalStore store_;
  etcd::EtcdEndpoint endpoint_;
  etcd::EtcdClient status_client_;
  core::Fd lock_fd_;
  std::optional<EpochInfo> epoch_;
  std::optional<SegmentWriter> segment_;
  std::int64_t position_ = 0;
  std::optional<etcd::KeyspaceDigest> digest_;  // at position_; empty: lost, a new epoch begins
  std::int64_t checkpointed_ = 0;         // the revision of the last checkpoint written
  std::string break_reason_;              // the history broke: the next connect begins a new epoch
  std::int64_t history_seen_ms_ = 0;      // when etcd was last seen going on with this epoch's history
  std::string went_back_;                 // what the follower warned of last: etcd went back, and waits
  FollowerState state_;
  Clock::time_point last_sync_ = Clock::now(), last_checkpoint_ = Clock::now(), last_status_ = {}, last_state_ = {},
                    last_metrics_ = {}, status_ok_ = Clock::now();
  std::optional<Clock::time_point> behind_since_;
  std::unique_ptr<core::BackgroundProcess> snapshot_;
  bool snapshot_wanted_ = false;
  Clock::time_point snapshot_retry_ = Clock::now();
};

core::ExitCode Follower::run() {
  lock();
  state_.pid = static_cast<int>(::getpid());
  recover();
  milliseconds backoff(500);
  while (!core::interrupted()) {
    check_folder();
    try {
      if (connect()) {
        backoff = milliseconds(500);
        follow();
      }
    } catch (const FatalError&) {
      throw;
    } catch (const core::Error& e) {
      if (core::is_disk_full(e)) {
        set_state("disk-full", fmt::format("{}; the journal waits at revision {} and goes on once there is space",
                                           e.what(), position_));
        ctx_.out.warn("journal: {}", state_.message);
        backoff = milliseconds(5000);
      } else {
        set_state("etcd-unreachable", e.what());
        ctx_.out.warn("journal: {}; trying again in {} ms", e.what(), backoff.count());
      }
    }
    write_state();
    write_metrics();
    if (!sleep_unless_interrupted(backoff)) break;
    backoff = std::min(backoff * 2, milliseconds(5000));
  }
  close_segment();
  set_state("stopped", fmt::format("stopped by a signal at revision {}", position_));
  write_state();
  write_metrics();
  ctx_.out.info("journal: stopped at revision {}, everything synced", position_);
  return core::ExitCode::ok;
}

void Follower::lock() {
  auto repo = core::Repository::open_or_create(ctx_.backup_dir);
  store_.create();
  lock_fd_ = core::Fd(::open(store_.lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock_fd_) core::throw_errno("open lock", store_.lock_file().string(), errno);
  if (const auto holder = core::try_flock(lock_fd_.get(), true, store_.lock_file()))
    throw core::Error(fmt::format("the journal in {} is already being written: {}", store_.dir().string(), *holder),
                      core::ExitCode::locked);
}

// A journal folder that vanished (the backup disk unmounted, the folder removed) ends the
// follower: it must not go on writing into files nobody can find.
void Follower::check_folder() const {
  if (!store_.exists())
    throw FatalError(fmt::format("the journal folder {} is gone (backup disk unmounted or folder removed)",
                                 store_.dir().string()));
}

// The newest epoch's position and digest, from its segments; a torn tail is cut off.
void Follower::recover() {
  const auto epochs = store_.epochs();
  if (epochs.empty()) return;
  epoch_ = epochs.back();
  const auto start = store_.chain_start(*epoch_);
  position_ = start.revision;
  digest_ = start.digest;
  for (const auto& seg : store_.segments(*epoch_)) {
    auto scan = scan_segment(seg.path, &key_);
    const bool continues = scan.start && scan.start->first_revision == position_ + 1 && digest_ &&
                           scan.start->before == *digest_;
    if (scan.tail == TailState::damaged || !scan.problems.empty() || !continues) {
      const auto why = scan.tail == TailState::damaged ? scan.tail_problem
                       : !scan.problems.empty()        ? scan.problems.front()
                                                       : fmt::format("it does not continue revision {}", position_);
      break_reason_ = fmt::format("segment {} cannot be continued ({})", seg.path.filename().string(), why);
      if (seg.name.open()) {
        const auto kept = seg.path.string() + ".damaged";
        if (::rename(seg.path.c_str(), kept.c_str()) != 0) core::throw_errno("rename", seg.path.string(), errno);
        ctx_.out.warn("journal: {}; kept as {}", break_reason_, kept);
      }
      break;
    }
    if (scan.last_revision > 0) position_ = scan.last_revision;
    digest_ = scan.digest;
    if (scan.last_checkpoint) checkpointed_ = scan.last_checkpoint->revision;
    if (seg.name.open() && scan.auth != core::AuthStatus::authentic) {
      // From before seals, or sealed with a key this node no longer has: kept as it is, and
      // the history goes on in a new segment sealed with this node's key.
      const auto closed = close_as_is(scan);
      ctx_.out.warn("journal: {} is {}; closed as {}, a new segment goes on after revision {}", seg.path.string(),
                    scan.auth_text, closed.filename().string(), position_);
    } else if (seg.name.open()) {
      if (scan.tail == TailState::torn)
        ctx_.out.warn("journal: {}: a torn end was dropped ({}); the journal goes on after revision {}",
                      seg.path.string(), scan.tail_problem, position_);
      segment_ = SegmentWriter::reopen(scan, key_);
    }
  }
  state_.epoch = epoch_->number;
  state_.cluster_id = epoch_->cluster_id;
  history_seen_ms_ = epoch_->started_ms;
  try {
    const auto before = FollowerState::from_json(nlohmann::json::parse(core::read_file(store_.state_file())));
    if (before.epoch == epoch_->number && before.state != "etcd-rewound")
      history_seen_ms_ = std::max(history_seen_ms_, before.etcd_seen_ms);
  } catch (const std::exception&) {
    // no state yet: the epoch's start
  }
  ctx_.out.info("journal: epoch {} of cluster {}, at revision {}", epoch_->number, epoch_->cluster_id, position_);
}

// Asks etcd where it is, and decides whether the history goes on or a new epoch begins.
bool Follower::connect() {
  set_state("connecting", fmt::format("connecting to {}", endpoint_.url));
  const auto live = status_client_.status();
  state_.etcd_revision = live.revision;
  state_.etcd_seen_ms = wall_ms();
  if (!epoch_)
    begin_epoch(live, "the journal starts");
  else if (went_back(live))
    return false;
  else if (live.cluster_id != epoch_->cluster_id)
    begin_epoch(live, fmt::format("etcd is another cluster now ({}, the journal followed {}): restored or replaced",
                                  live.cluster_id, epoch_->cluster_id));
  else if (!break_reason_.empty())
    begin_epoch(live, break_reason_);
  else if (!digest_)
    begin_epoch(live, "the keyspace digest could not be followed");
  else if (!segment_)
    open_segment();
  history_seen_ms_ = wall_ms();
  went_back_.clear();
  return true;
}

// An etcd of this epoch's cluster whose revision went back, or one whose keyspace collapsed
// (another cluster id included: an etcd that started afresh after kdr restored it is yet
// another cluster), lost its data dir: its history is not the journal's any more, and the
// journal keeps what it has. Only a restore kdr ran here, or the operator (kdr backup
// --allow-shrink), makes it the new normal: then a new epoch begins from it. True only while
// the follower waits.
bool Follower::went_back(const etcd::EtcdStatus& live) {
  if (break_reason_.empty() && live.cluster_id == epoch_->cluster_id && live.revision < position_ &&
      !behind_for_sure())
    return false;  // a status answered while etcd's last write was being applied
  const etcd::EtcdPoint journal{epoch_->cluster_id, position_,
                                digest_ ? std::optional<std::uint64_t>(digest_->keys) : std::nullopt,
                                "the change journal"};
  etcd::EtcdPoint now{live.cluster_id, live.revision, std::nullopt, "etcd"};
  const bool broke = !break_reason_.empty() || live.cluster_id != epoch_->cluster_id;
  if (digest_ && (broke || live.revision < position_)) {
    etcd::EtcdClient client(endpoint_, std::chrono::seconds(60));
    now.keys = client.count("");
  }
  const auto what = etcd::etcd_went_back(journal, now, ctx_.config.guard_min_ratio);
  if (!what) return false;
  if (const auto accepted = etcd::etcd_rewind_accepted(ctx_, history_seen_ms_)) {
    begin_epoch(live, fmt::format("{}; the new normal, accepted by {}", *what, accepted->text()));
    went_back_.clear();
    return false;
  }
  set_state("etcd-rewound",
            fmt::format("{}: its data dir was lost or emptied, or it was restored by hand. The journal keeps epoch {} "
                        "whole up to revision {} and writes nothing until etcd is restored (kdr restore "
                        "restore-etcd-snapshot: to=auto brings back revision {}), or the operator accepts etcd as it "
                        "is now (kdr backup --allow-shrink)",
                        *what, epoch_->number, position_, position_));
  if (went_back_ != *what) ctx_.out.warn("journal: {}", state_.message);
  went_back_ = *what;
  return true;
}

void Follower::begin_epoch(const etcd::EtcdStatus& live, std::string reason) {  // a copy: it may be break_reason_
  close_segment();
  const bool same_cluster = epoch_ && epoch_->cluster_id == live.cluster_id;
  std::optional<std::int64_t> previous_last;
  std::string previous_cluster;
  if (epoch_) {
    previous_last = position_;
    previous_cluster = epoch_->cluster_id;
  }
  etcd::EtcdClient client(endpoint_, std::chrono::seconds(120));
  auto base = generation_base(client, live.cluster_id, same_cluster ? position_ : 0);
  if (!base) {
    base = read_base(client, 0);
    request_full_snapshot();
  }
  EpochInfo info;
  info.cluster_id = live.cluster_id;
  info.member_id = live.member_id;
  info.endpoint = endpoint_.url;
  info.base_revision = base->revision;
  info.base = base->digest;
  info.base_generation = base->generation;
  info.started_ms = wall_ms();
  info.reason = reason;
  info.previous_last = previous_last;
  info.previous_cluster_id = previous_cluster;
  epoch_ = store_.begin_epoch(info);
  position_ = base->revision;
  digest_ = base->digest;
  checkpointed_ = position_;
  break_reason_.clear();
  state_.epoch = epoch_->number;
  state_.cluster_id = epoch_->cluster_id;
  const auto from = base->generation.empty() ? std::string("etcd's keyspace now")
                                             : fmt::format("the snapshot of generation {}", base->generation);
  if (previous_last)
    ctx_.out.warn("journal: epoch {} begins at revision {} from {}: {}; {}", epoch_->number, position_, from, reason,
                  store_.gaps().back().text());
  else
    ctx_.out.info("journal: epoch {} begins at revision {} from {} ({} keys; its digest {})", epoch_->number,
                  position_, from, digest_->keys,
                  base->recorded ? "as the backup recorded it" : "read from etcd");
  open_segment();
}

// The keyspace digest the generation's backup computed off its snapshot file, when this node's
// key vouches for the generation and etcd still holds the snapshot's revision with as many keys:
// the epoch starts from it without reading the keyspace again (1 GiB: 30 s through etcd's
// gateway). Empty otherwise (read_base then).
std::optional<Base> Follower::recorded_base(const core::GenerationEntry& g, etcd::EtcdClient& client) {
  const auto& snap = *g.meta->etcd.snapshot;
  if (!snap.keyspace_digest) return std::nullopt;
  const auto auth = core::authenticate_listed_generation(g.path, g.id, g.meta_sha256, &key_);
  if (!auth.authentic()) {
    ctx_.out.detail("journal: generation {} {}: its keyspace is read from etcd", g.id, auth.text);
    return std::nullopt;
  }
  const auto held = client.count("", snap.revision);  // throws "compacted" when etcd no longer holds it
  if (held != snap.keyspace_digest->keys) {
    ctx_.out.warn("journal: etcd holds {} keys at revision {}, generation {} recorded {}: its keyspace is read from etcd",
                  held, snap.revision, g.id, snap.keyspace_digest->keys);
    return std::nullopt;
  }
  Base b;
  b.revision = snap.revision;
  b.recorded = true;
  b.digest = etcd::KeyspaceDigest::from_hex(snap.keyspace_digest->hex, static_cast<std::int64_t>(snap.keyspace_digest->keys));
  return b;
}

// The newest generation with a snapshot of this cluster at or after `at_least`, while etcd
// still holds that revision (so that its digest can be read).
std::optional<Base> Follower::generation_base(etcd::EtcdClient& client, const std::string& cluster_id,
                                              std::int64_t at_least) {
  std::vector<core::GenerationEntry> generations;
  try {
    generations = core::Repository::open(ctx_.backup_dir).generations();
  } catch (const core::Error&) {
    return std::nullopt;
  }
  for (auto it = generations.rbegin(); it != generations.rend(); ++it) {
    if (!it->meta) continue;
    const auto& snap = it->meta->etcd.snapshot;
    if (!snap || snap->cluster_id != cluster_id) continue;
    const auto revision = snap->revision;
    if (revision <= 0 || revision < at_least) return std::nullopt;
    try {
      auto base = recorded_base(*it, client);
      if (!base) base = read_base(client, revision);
      base->generation = it->id;
      return base;
    } catch (const etcd::EtcdApiError& e) {
      if (e.compacted()) return std::nullopt;
      throw;
    }
  }
  return std::nullopt;
}

void Follower::open_segment() {
  SegmentStart start;
  start.epoch = epoch_->number;
  start.first_revision = position_ + 1;
  start.time_ms = wall_ms();
  start.cluster_id = epoch_->cluster_id;
  start.before = *digest_;
  segment_ = SegmentWriter::create(epoch_->dir, start, key_);
  last_checkpoint_ = Clock::now();
}

void Follower::follow() {
  etcd::EtcdWatch watch(endpoint_, position_ + 1);
  set_state("following", "");
  ctx_.out.detail("journal: watching {} from revision {}", endpoint_.url, position_ + 1);
  while (!core::interrupted() && break_reason_.empty()) {
    for (const auto& response : watch.poll(milliseconds(std::min(100, ctx_.config.journal.sync_ms)))) {
      take(response);
      if (!break_reason_.empty()) break;
    }
    tick();
  }
}

// Appends the response's whole revisions that continue the history; anything else breaks it.
void Follower::take(const etcd::EtcdWatchResponse& response) {
  if (response.canceled) {
    if (response.compact_revision > 0) {
      break_reason_ = fmt::format("etcd compacted its history to revision {}, past the journal's revision {}",
                                  response.compact_revision, position_);
      return;
    }
    throw core::Error(fmt::format("etcd canceled the watch: {}", response.cancel_reason.empty() ? "no reason given" : response.cancel_reason));
  }
  if (response.cluster_id != epoch_->cluster_id && response.cluster_id != "0") {
    break_reason_ = fmt::format("etcd is another cluster now ({})", response.cluster_id);
    return;
  }
  const auto now = wall_ms();
  std::string batch;
  auto digest = *digest_;
  auto position = position_;
  std::uint64_t events = 0;
  const auto& evs = response.events;
  for (std::size_t i = 0; i < evs.size();) {
    const auto revision = evs[i].kv.mod_revision;
    std::size_t end = i;
    while (end < evs.size() && evs[end].kv.mod_revision == revision) ++end;
    if (revision <= position) {  // already journaled (a watch that started early)
      i = end;
      continue;
    }
    if (revision != position + 1) {
      break_reason_ = fmt::format("etcd sent revision {} after {}: revisions {} to {} never arrived", revision,
                                  position, position + 1, revision - 1);
      break;
    }
    std::string group;
    auto group_digest = digest;
    bool ok = true;
    for (std::size_t k = i; k < end && ok; ++k) {
      auto e = to_event(evs[k], now);
      e.last_in_revision = k + 1 == end;
      ok = apply_to_digest(e, group_digest);
      if (!ok)
        break_reason_ = fmt::format("revision {} changed key {} without its previous value (etcd compacted it)",
                                    revision, e.key);
      else
        encode_into(e, group);
    }
    if (!ok) break;
    batch += group;
    digest = group_digest;
    position = revision;
    events += end - i;
    i = end;
  }
  if (batch.empty()) return;
  segment_->append(batch);
  position_ = position;
  digest_ = digest;
  state_.position_time_ms = now;
  state_.events += events;
  state_.bytes += batch.size();
}

void Follower::tick() {
  const auto& cfg = ctx_.config.journal;
  if (segment_ && segment_->dirty() && Clock::now() - last_sync_ >= milliseconds(cfg.sync_ms)) sync_segment();
  if (position_ > checkpointed_ && seconds_since(last_checkpoint_) >= cfg.checkpoint_s) checkpoint();
  if (segment_ && position_ >= segment_->first_revision() &&
      (segment_->size() >= static_cast<std::uint64_t>(cfg.segment_mib) << 20 ||
       seconds_since(segment_->opened()) >= cfg.segment_minutes * 60.0)) {
    close_segment();
    open_segment();
  }
  if (seconds_since(last_status_) >= 1.0) {
    check_folder();
    poll_status();
  }
  poll_full_snapshot();
  if (seconds_since(last_state_) >= 1.0) write_state();
  if (seconds_since(last_metrics_) >= 10.0) write_metrics();
}

void Follower::checkpoint() {
  if (!segment_ || !digest_) return;
  segment_->append(encode(Checkpoint{position_, wall_ms(), *digest_}));
  checkpointed_ = position_;
  last_checkpoint_ = Clock::now();
}

void Follower::close_segment() {
  if (!segment_) return;
  try {
    if (digest_) {
      const auto closed = segment_->close(Checkpoint{position_, wall_ms(), *digest_});
      checkpointed_ = position_;
      ctx_.out.detail("journal: closed {}", closed.string());
    } else {
      segment_->sync();
    }
    state_.last_fsync_ms = wall_ms();
  } catch (const core::Error& e) {
    ctx_.out.warn("journal: cannot close {}: {} (the next start picks it up)", segment_->file().string(), e.what());
  }
  segment_.reset();
}

// etcd notifies its watchers of a write before its store's revision counts it (mvcc's
// watchableStoreTxnWrite.End): a status answered in between is one revision behind what the
// watch delivered. Only a revision still behind the journal a moment later went back.
bool Follower::behind_for_sure() {
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (status_client_.status().revision >= position_) return false;
  }
  return true;
}

// etcd's own revision, for the lag; a changed cluster id breaks the history.
void Follower::poll_status() {
  last_status_ = Clock::now();
  try {
    const auto live = status_client_.status();
    status_ok_ = Clock::now();
    state_.etcd_revision = live.revision;
    state_.etcd_seen_ms = wall_ms();
    if (epoch_ && live.cluster_id != epoch_->cluster_id)
      break_reason_ = fmt::format("etcd is another cluster now ({}, the journal followed {}): restored or replaced",
                                  live.cluster_id, epoch_->cluster_id);
    else if (live.revision < position_ && behind_for_sure())  // a watch on an etcd that started afresh waits
      break_reason_ = fmt::format("etcd's revision went back from {} to {}", position_, live.revision);  // for revisions it may never reach
    else
      history_seen_ms_ = state_.etcd_seen_ms;
  } catch (const core::Error& e) {
    // A watch can hang on an etcd that stopped answering: after 5 s without an answer it is dropped.
    if (seconds_since(status_ok_) > 5.0) throw core::Error(fmt::format("etcd does not answer: {}", e.what()));
  }
  state_.lag_revisions = std::max<std::int64_t>(0, state_.etcd_revision - position_);
  if (state_.lag_revisions == 0) behind_since_.reset();
  else if (!behind_since_) behind_since_ = Clock::now();
  state_.lag_seconds = behind_since_ ? seconds_since(*behind_since_) : 0.0;
}

// A new epoch that no snapshot covers yet: `kdr backup` takes one at once, beside the journal.
void Follower::request_full_snapshot() {
  snapshot_wanted_ = true;
  snapshot_retry_ = Clock::now();
}

void Follower::poll_full_snapshot() {
  if (snapshot_ && !snapshot_->running()) {
    const int code = snapshot_->exit_code();
    snapshot_.reset();
    if (code == core::to_int(core::ExitCode::locked)) {
      snapshot_wanted_ = true;  // a scheduled backup holds the folder: try again shortly
      snapshot_retry_ = Clock::now() + std::chrono::seconds(30);
      state_.full_snapshot = "waiting: another kdr run holds the backup folder";
    } else {
      state_.full_snapshot = code == 0 ? fmt::format("taken for epoch {}", state_.epoch)
                                       : fmt::format("kdr backup failed (exit {}), see {}", code,
                                                     (store_.dir() / "full-snapshot.log").string());
      if (code != 0) ctx_.out.warn("journal: {}", state_.full_snapshot);
    }
  }
  if (!snapshot_wanted_ || snapshot_ || Clock::now() < snapshot_retry_) return;
  snapshot_wanted_ = false;
  auto argv = core::kdr_argv(ctx_);
  argv[0] = core::read_link("/proc/self/exe").value_or("kdr");
  argv.insert(argv.end(), {"-q", "backup"});
  try {
    const auto log = store_.dir() / "full-snapshot.log";
    core::write_file_atomic(log, "", 0600);  // private from the start, like every file kdr writes
    snapshot_ = std::make_unique<core::BackgroundProcess>(argv, log, core::bfs::path());
    state_.full_snapshot = fmt::format("running (pid {}): {}", snapshot_->pid(), core::describe_argv(argv));
    ctx_.out.info("journal: a full snapshot for epoch {}: {}", state_.epoch, core::describe_argv(argv));
  } catch (const core::Error& e) {
    state_.full_snapshot = fmt::format("cannot start kdr backup: {}", e.what());
  }
}

void Follower::set_state(std::string state, std::string message) {
  state_.state = std::move(state);
  state_.message = std::move(message);
}

void Follower::sync_segment() {
  segment_->sync();
  last_sync_ = Clock::now();
  state_.last_fsync_ms = wall_ms();
}

// state.json says how far the journal reaches for whoever reads it (kdr journal status, the
// backup, a restore to latest): only what is sealed and on disk, since a reader with the node's
// key reads no further than the last seal. Whatever is still unsynced is synced first; when
// that fails (a full disk), the position stays at the last one synced.
void Follower::write_state() {
  last_state_ = Clock::now();
  state_.updated_ms = wall_ms();
  bool synced = !segment_ || !segment_->dirty();
  if (!synced) try {
      sync_segment();
      synced = true;
    } catch (const core::Error& e) {
      ctx_.out.detail("journal: cannot sync {}: {}", segment_->file().string(), e.what());
    }
  if (synced) {
    state_.position = position_;
    state_.digest = digest_ ? digest_->hex() : "";
    state_.keys = digest_ ? digest_->keys : 0;
  }
  // Padded to a fixed size, so that on a full disk it can still be written over in place.
  auto text = state_.to_json().dump(2) + "\n";
  if (text.size() < state_file_size) text.append(state_file_size - text.size(), ' ');
  try {
    core::write_file_atomic(store_.state_file(), text);
  } catch (const core::Error& e) {
    if (!core::is_disk_full(e) || !overwrite_in_place(store_.state_file(), text))
      ctx_.out.detail("journal: cannot write {}: {}", store_.state_file().string(), e.what());
  }
}

void Follower::write_metrics() {
  last_metrics_ = Clock::now();
  core::MetricsText m;
  m.gauge("kdr_journal_up", "1 while kdr journal run follows etcd, 0 once it stopped", state_.state == "stopped" ? 0 : 1);
  for (const char* s : follower_states)
    m.gauge("kdr_journal_state", "The follower's state (1 for the current one)", state_.state == s ? 1 : 0,
            fmt::format("state=\"{}\"", s));
  m.gauge("kdr_journal_position_revision", "Every change up to this etcd revision is in the journal", static_cast<double>(state_.position));
  m.gauge("kdr_journal_lag_revisions", "etcd revisions not yet in the journal", static_cast<double>(state_.lag_revisions));
  m.gauge("kdr_journal_lag_seconds", "How long the journal has been behind etcd", state_.lag_seconds);
  m.gauge("kdr_journal_last_fsync_timestamp_seconds", "When the journal was last flushed to disk", static_cast<double>(state_.last_fsync_ms) / 1000.0);
  m.gauge("kdr_journal_updated_timestamp_seconds", "When the follower last wrote its state",
          static_cast<double>(state_.updated_ms) / 1000.0);
  m.gauge("kdr_journal_written_bytes", "Bytes this follower appended since it started", static_cast<double>(state_.bytes));
  m.gauge("kdr_journal_epoch", "The journal's current epoch", state_.epoch);
  std::size_t gaps = 0;
  try {
    for (const auto& g : store_.gaps())
      if (!g.new_cluster()) ++gaps;
  } catch (const core::Error&) {
  }
  m.gauge("kdr_journal_gaps", "Changes missing from the journal's history: breaks that began a new epoch of the same "
          "cluster", static_cast<double>(gaps));
  try {
    core::write_metrics(ctx_, "kdr_journal.prom", m);
  } catch (const core::Error& e) {
    ctx_.out.detail("journal: metrics: {}", e.what());
  }
}

}  // namespace

json FollowerState::to_json() const {
  return {{"pid", pid},
          {"state", state},
          {"message", message},
          {"updated_ms", updated_ms},
          {"epoch", epoch},
          {"cluster_id", cluster_id},
          {"position", position},
          {"position_time_ms", position_time_ms},
          {"etcd_revision", etcd_revision},
          {"etcd_seen_ms", etcd_seen_ms},
          {"lag_revisions", lag_revisions},
          {"lag_seconds", lag_seconds},
          {"last_fsync_ms", last_fsync_ms},
          {"digest", digest},
          {"keys", keys},
          {"events", events},
          {"bytes", bytes},
          {"full_snapshot", full_snapshot}};
}

FollowerState FollowerState::from_json(const json& j) {
  FollowerState s;
  s.pid = j.value("pid", 0);
  s.state = j.value("state", "");
  s.message = j.value("message", "");
  s.updated_ms = j.value("updated_ms", std::int64_t{0});
  s.epoch = j.value("epoch", std::uint32_t{0});
  s.cluster_id = j.value("cluster_id", "");
  s.position = j.value("position", std::int64_t{0});
  s.position_time_ms = j.value("position_time_ms", std::int64_t{0});
  s.etcd_revision = j.value("etcd_revision", std::int64_t{0});
  s.etcd_seen_ms = j.value("etcd_seen_ms", std::int64_t{0});
  s.lag_revisions = j.value("lag_revisions", std::int64_t{0});
  s.lag_seconds = j.value("lag_seconds", 0.0);
  s.last_fsync_ms = j.value("last_fsync_ms", std::int64_t{0});
  s.digest = j.value("digest", "");
  s.keys = j.value("keys", std::int64_t{0});
  s.events = j.value("events", std::uint64_t{0});
  s.bytes = j.value("bytes", std::uint64_t{0});
  s.full_snapshot = j.value("full_snapshot", "");
  return s;
}

core::ExitCode run_follower(const core::Context& ctx, const etcd::EtcdEndpoint& endpoint) {
  return Follower(ctx, endpoint).run();
}

}  // namespace kdr::journal
