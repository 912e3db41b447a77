// The journal folder in the backup folder (docs/backup-format.md):
//   journal/.lock                   flock(2): held by the one `kdr journal run`
//   journal/state.json              the follower's last word: position, lag, last fsync, state
//   journal/epoch-000001/epoch.json where an epoch's history starts, and why
//   journal/epoch-000001/*.seg      its segments (journal/segment.hpp)
// An epoch is one unbroken history of one etcd cluster. A new epoch begins where the history
// breaks (etcd compacted past the journal, a new cluster id, a revision that went back, a
// damaged segment); the revisions between two epochs are the journal's gaps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "etcd/keyspace_digest.hpp"
#include "journal/segment.hpp"

namespace kdr::journal {

struct EpochInfo {
  std::uint32_t number = 0;
  bfs::path dir;
  std::string cluster_id;
  std::string member_id;
  std::string endpoint;
  std::int64_t base_revision = 0;  // the history starts after this revision...
  etcd::KeyspaceDigest base;             // ... from this keyspace, read from etcd at base_revision
  std::string base_generation;     // the generation whose snapshot is at base_revision, if one is
  std::int64_t started_ms = 0;
  std::string reason;
  std::optional<std::int64_t> previous_last;  // where the epoch before it ended
  std::string previous_cluster_id;            // its cluster: another one when etcd was restored

  nlohmann::json to_json() const;
  static EpochInfo from_json(const nlohmann::json& j, const bfs::path& dir);
  // Whether generation `id`'s snapshot (taken at `time_s`, of `cluster` at `revision`) lies in
  // this epoch's history: its base, or one taken after the epoch began, at or past its base. A
  // snapshot of an older epoch of the same cluster (before etcd went back) never does.
  bool holds_snapshot(const std::string& id, std::int64_t time_s, const std::string& cluster,
                      std::int64_t revision) const;
};

// Where an epoch's history that is still on disk begins: its base, or, once retention removed
// its oldest segments, the start of the first one left (epoch-N/pruned.json).
struct ChainStart {
  std::int64_t revision = 0;
  etcd::KeyspaceDigest digest;
};

struct SegmentFile {
  bfs::path path;
  SegmentName name;
};

// A break in the history: the revisions after `after` up to `until` (inclusive) are not in
// the journal, or the history of another cluster begins.
struct Gap {
  std::uint32_t epoch = 0;  // the epoch that begins after the gap
  std::optional<std::int64_t> after;
  std::int64_t until = 0;
  std::string reason;
  std::string previous_cluster_id, cluster_id;  // differ when etcd became another cluster
  // "revisions 57 to 80 are not in the journal", or what a new cluster means
  std::string text() const;
  // etcd became another cluster (restored): the old history is whole up to its end, nothing of
  // it is missing; the boundary is listed, but it is not a loss.
  bool new_cluster() const { return !previous_cluster_id.empty() && previous_cluster_id != cluster_id; }
};

class JournalStore {
 public:
  explicit JournalStore(const bfs::path& backup_dir);
  const bfs::path& dir() const { return dir_; }
  bfs::path lock_file() const { return dir_ / ".lock"; }
  bfs::path state_file() const { return dir_ / "state.json"; }
  // Where `kdr journal compact` opens its private etcd (0700, its own .lock): on the backup
  // disk beside the bases it makes, so that the result is moved into place, not copied.
  bfs::path compact_scratch() const { return dir_ / "compacting"; }
  bool exists() const;
  void create() const;

  // Oldest first. Throws Error naming the file when an epoch.json cannot be read.
  std::vector<EpochInfo> epochs() const;
  std::vector<SegmentFile> segments(const EpochInfo& epoch) const;
  // The gaps between the epochs.
  std::vector<Gap> gaps() const;
  ChainStart chain_start(const EpochInfo& epoch) const;
  // Records that the history of `epoch` on disk now begins at `start` (retention).
  void set_chain_start(const EpochInfo& epoch, const ChainStart& start) const;
  // Numbers the epoch after the newest, writes its epoch.json durably, returns it.
  EpochInfo begin_epoch(EpochInfo info) const;

 private:
  bfs::path dir_;
};

}  // namespace kdr::journal
