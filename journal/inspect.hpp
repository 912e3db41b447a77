// Reading the journal back: `kdr journal status`, `kdr journal verify` and `kdr journal find`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/node_key.hpp"
#include "journal/follower.hpp"
#include "journal/store.hpp"

namespace kdr::journal {

struct EpochSummary {
  EpochInfo info;
  std::size_t segments = 0;
  std::uint64_t bytes = 0;
  std::int64_t last_revision = 0;  // from the segment names (the open one: from state.json)
  bool open = false;               // has the segment being written
};

struct JournalStatus {
  bool exists = false;
  std::vector<EpochSummary> epochs;
  std::vector<Gap> gaps;
  std::optional<FollowerState> state;  // state.json, when there is one
  std::string follower;                // who holds the journal's lock: empty when no follower runs
  std::uint64_t bytes = 0;
  nlohmann::json to_json() const;
};

// Cheap: folder listings, file sizes, state.json and the lock; no segment is read.
JournalStatus journal_status(const JournalStore& store);

// Where the journal's history of one cluster ends: its newest epoch of that cluster.
struct JournalEnd {
  std::uint32_t epoch = 0;
  std::int64_t revision = 0;  // every change up to here is in the journal
  std::int64_t time_ms = 0;   // when the journal received it (0: not known without reading segments)
};
std::optional<JournalEnd> journal_end(const JournalStatus& status, const std::string& cluster_id);

struct JournalCheck {
  std::uint32_t epochs = 0;
  std::uint64_t segments = 0, events = 0, bytes = 0, checkpoints = 0;
  std::vector<std::string> problems;  // each names its file
  std::vector<std::string> notes;     // a torn end of the segment being written, gaps: said, not failures
  std::uint64_t sealed = 0;           // segments whose seals `key` checked
  std::vector<std::string> unauthenticated;  // segments it could not check, and why (a forged one is a problem)
};

// Every segment read through: its seals under `key` (null: none here), record checksums,
// continuous revisions within and across segments, and every checkpoint's digest recomputed
// from the epoch's base.
JournalCheck verify_journal(const JournalStore& store, const core::NodeKey* key);

struct FoundChange {
  std::uint32_t epoch = 0;
  std::int64_t revision = 0;
  std::int64_t time_ms = 0;
  EventKind kind = EventKind::put;
  std::string key;
  std::size_t value_size = 0;
};

// Which changes to list: keys under a prefix, or every key of a namespace (its own object and
// its objects of every resource: core/registry_keys.hpp), or both.
struct ChangeFilter {
  std::string prefix;
  std::string namespace_name;
  std::uint32_t epoch = 0;  // only this epoch's changes; 0: every epoch
  bool matches(std::string_view key) const;
};

// Every change to the keys `filter` picks, oldest first, epoch by epoch, with its value.
// `key`: the node's key, which checks the segments' seals (null: none here).
void for_each_change(const JournalStore& store, const ChangeFilter& filter, const core::NodeKey* key,
                     const std::function<void(std::uint32_t epoch, const Event& e)>& visit);

// Changes to the keys `filter` picks, newest first, at most `limit` (0: all).
std::vector<FoundChange> find_in_journal(const JournalStore& store, const ChangeFilter& filter, std::size_t limit);

// When the newest deletion of something began, as the journal saw it.
struct Deletion {
  std::uint32_t epoch = 0;
  std::int64_t started = 0;  // the revision that began it
  std::int64_t time_ms = 0;
  std::string how;           // "its deletionTimestamp was set", "the first delete of one of its objects (KEY)"
  std::int64_t key_deleted = 0;  // the revision that deleted its key; 0: still being deleted
  // "namespace team-9 began to be deleted at revision 812 (...)": `what` names it.
  std::string text(const std::string& what) const;
};

// When the newest deletion of a namespace began, from the journal: the first put that set its
// deletionTimestamp (kubectl delete namespace: the API server puts it Terminating first, the
// controllers then delete its contents, it is put again without finalizers and its key is
// deleted), or, where that put cannot be read (an encrypted or unknown value), the first delete
// of one of its objects since it was last seen alive.
std::optional<Deletion> find_namespace_deletion(const JournalStore& store, const std::string& name,
                                                const core::NodeKey* key);

// When the newest deletion of one object (its etcd key) began: the first put that set its
// deletionTimestamp (an object with finalizers: the API server sets it, the controllers
// finish and take the finalizers off, then the key is deleted), or the delete of its key.
std::optional<Deletion> find_object_deletion(const JournalStore& store, const std::string& object_key,
                                             const core::NodeKey* key);

}  // namespace kdr::journal
