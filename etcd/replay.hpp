// Restore to a point: the keyspace etcd held at a revision (or a time), made off the node from
// a full snapshot and the change journal. The base snapshot is opened in a private etcd on
// loopback, the journal's changes up to the target are applied to it, the result must have the
// journal's keyspace digest at the target, and only then is it saved as a snapshot that the
// etcd playbooks restore like any other (docs/architecture.md, The change journal).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/encryption.hpp"
#include "core/generation_auth.hpp"
#include "core/node_key.hpp"
#include "core/repository.hpp"
#include "etcd/api.hpp"
#include "journal/store.hpp"

namespace kdr::etcd {

struct ReplayTarget {
  enum class Kind { latest, revision, time };
  Kind kind = Kind::latest;
  std::int64_t revision = 0;
  std::int64_t time_ms = 0;
  std::string text;  // as given
  bool accept_gap = false;  // a time in a gap of the journal: the last revision before it
};

// "latest", a revision number, or an RFC 3339 time (2026-11-28T08:17:08Z, with fractions or
// an offset: core::parse_rfc3339); throws UsageError naming the value.
ReplayTarget parse_replay_target(const std::string& text);

// What vouches for a replay's inputs (its base and the journal's segments it reads): the
// first one that is not authenticated under the node's key, if any.
struct ReplayAuth {
  core::AuthStatus status = core::AuthStatus::authentic;
  std::string text;
  void add(core::AuthStatus s, const std::string& what) {
    if (status == core::AuthStatus::authentic && s != core::AuthStatus::authentic) {
      status = s;
      text = what;
    }
  }
};

// A full snapshot a replay can start from.
struct ReplayBase {
  std::string source;      // "generation 2026-11-28T081853Z" or "journal base 4711"
  core::bfs::path file;
  bool zstd = false;
  std::int64_t revision = 0;  // the keyspace it holds
  std::string db_sha256;      // of the (uncompressed) snapshot file, when recorded
  std::uint64_t db_size = 0;  // the uncompressed snapshot's size (recorded, else the file's)
  ReplayAuth auth;
  // A private copy of `file` (uncompressed) this process wrote and hashed to db_sha256: the
  // replay opens it where it lies instead of copying `file` again (empty: none).
  core::bfs::path checked_copy;
};

struct ReplayPlan {
  journal::EpochInfo epoch;
  ReplayBase base;
  std::int64_t target_revision = 0;
  std::int64_t target_time_ms = 0;  // when the journal received the target revision (0: the base)
  std::uint64_t events = 0;         // to apply: after the base, up to the target
  KeyspaceDigest digest;   // the journal's, at the target
  std::size_t largest_change = 0;   // bytes of the largest key and value the journal puts up to the target
  ReplayAuth auth;                  // of the base and of the segments read
  std::string describe() const;
  nlohmann::json to_json() const;
};

// The base and the journal range for `target`; throws Error saying why the journal cannot
// reach it (no journal, a revision in a gap or past the end, no full snapshot before it, a
// segment whose seal does not match). `key`: the node's key, which checks the segments' seals
// and the bases (a forged base is never used); null: none here (plan.auth says so).
ReplayPlan plan_replay(const core::Context& ctx, const ReplayTarget& target, const core::NodeKey* key);

// A journal base's record (epoch-N/bases/<revision>.json, written by `kdr journal compact`)
// signed under the node's key: its cluster, revision, file and SHA-256.
void sign_journal_base(nlohmann::json& record, const std::string& cluster_id, const core::NodeKey& key);

struct ReplayResult {
  std::int64_t revision = 0;  // the target
  // the revision the snapshot file holds: the private etcd's own numbering, below the target
  // when the base was a journal base (its file holds the numbering of the etcd that made it)
  std::int64_t file_revision = 0;
  KeyspaceDigest digest;
  std::uint64_t events = 0, transactions = 0;
  std::uint64_t size = 0;
  // Where the point was made: a snapshot file (its SHA-256 in sha256), or a member's data dir
  // (etcd::WalReplay: nothing saved, sha256 empty).
  enum class Made { snapshot_file, data_dir } made = Made::snapshot_file;
  std::string sha256;  // of the snapshot file written
  core::EncryptionKeyUse encryption;  // the encryption keys its live values name, counted
  double seconds = 0;
  // where the time went: the base opened in the private etcd, the changes applied, etcd
  // stopped and its database written and hashed, its keyspace read back off the file (at the
  // same time as the save, when a snapshot file is made)
  double open_s = 0, apply_s = 0, digest_s = 0, save_s = 0;
  std::string phases() const;
};

// A generation's snapshot as a base: its file, revision, recorded hash, and what vouches for it
// under `key`. Empty when the generation has no snapshot.
std::optional<ReplayBase> generation_base(const core::GenerationEntry& g, const core::NodeKey* key);

// The journal's events after `plan.base` up to `plan.target_revision`, in order, read and
// checked as the replay reads them (whole revisions, continuous; a forged segment refused).
// Throws Error when the journal changed underneath the plan.
void for_each_planned_event(const core::Context& ctx, const ReplayPlan& plan, const core::NodeKey* key,
                            const std::function<void(journal::Event&)>& visit);

// A lease granted after the base comes back with this TTL: etcd's watch does not say its TTL
// (docs/architecture.md).
inline constexpr std::int64_t recreated_lease_ttl_s = 3600;

// The planned events (for_each_planned_event) as the transactions a replay applies, in order:
// each key's last change in a run of revisions (changes are collapsed per key until 64 MiB are
// pending), in transactions of at most 10,000 operations and 8 MiB of keys and values (a larger
// change goes alone). `lease(id)` is called for each lease a put names, before the
// transaction that holds the put is sent. Counts result.events and result.transactions.
void batch_planned_events(const core::Context& ctx, const ReplayPlan& plan, const core::NodeKey* key,
                          const std::function<void(std::int64_t)>& lease,
                          const std::function<void(std::vector<EtcdOp>&)>& send, ReplayResult& result);

// A survivor restore's replay: the journal of the survivor's cluster past the survivor's
// revision, up to `target`. `plan.base` holds the survivor's revision only (its file is made
// once the survivor is opened); `base_digest`, the journal's digest at that revision (absent
// when the journal ends before it: then the target is the survivor's revision, nothing to
// replay). The changes after the survivor's revision and after `generation_revision` (the newest
// generation's), up to the journal's end, are what each of those would lose. Throws Error when
// the journal holds no epoch of `cluster_id`, begins after the survivor, or `target` lies
// before the survivor's revision.
struct SurvivorReplay {
  ReplayPlan plan;
  std::optional<KeyspaceDigest> base_digest;
  std::int64_t journal_end = 0, journal_end_ms = 0;
  std::uint64_t lost_alone = 0;                        // changes the survivor alone lacks
  std::optional<std::uint64_t> lost_from_generation;  // ... the generation lacks (when in this epoch)
};
SurvivorReplay plan_survivor_replay(const core::Context& ctx, const ReplayTarget& target, const core::NodeKey* key,
                                   const std::string& cluster_id, std::int64_t survivor_revision,
                                   std::int64_t generation_revision);

// The replay: `plan.base` in a private etcd, the journal's events up to the target applied in
// order (each key's last change in a run of revisions, in few transactions), etcd stopped and
// its database written to `out` as a snapshot file (etcd/served_snapshot.hpp), whose keyspace
// is read back (bbolt, off the file) and must have the journal's digest at the target. Throws Error when a digest differs, or a segment
// is less authenticated than the plan said: no snapshot is left then.
ReplayResult replay_to_snapshot(const core::Context& ctx, const ReplayPlan& plan, const core::bfs::path& out,
                                const core::NodeKey* key);


}  // namespace kdr::etcd
