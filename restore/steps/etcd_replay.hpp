// The etcd-replay step (restore-etcd-snapshot and rebuild-node with `to`): the keyspace at a
// point in time, made off the node from a full snapshot and the change journal
// (etcd/replay), saved as <restore dir>/replayed.db for the etcd-snapshot-restore
// step that follows (source: replayed). It changes nothing on the node: a digest that does not
// match refuses the restore before anything was stopped or moved.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "etcd/wal_replay.hpp"
#include "etcd/replay.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

// What the playbook parameter `to` means for this restore: "snapshot" (the generation's
// snapshot as it is) or the journal revision to restore to, with the replay planned for it.
struct PointChoice {
  std::string value;  // "snapshot", or a revision number
  std::optional<etcd::ReplayPlan> replay;
  std::string note;   // what `auto` chose, and why
};

// `to`: auto | snapshot | latest | REVISION | RFC 3339 time. auto is latest when the journal
// reaches past the generation's snapshot, else snapshot. A generation the journal covered (no
// snapshot of its own) has its point in the journal: snapshot means that revision. Throws
// Error when an explicit point cannot be reached. `generation_etcd`: the generation's etcd facts.
PointChoice resolve_point(const core::Context& ctx, const std::string& to, const core::EtcdFacts& generation_etcd,
                          const core::NodeKey* key, bool accept_gap = false);

// The point `target` as <dir>/replayed.db (and its record, replayed.json), unless it is there
// already: replayed off the node and checked against the journal's digest, its encrypted values
// against kube-apiserver's keys (restore/decryptable.hpp). Returns its SHA-256. `dir`: the
// restore's folder (the etcd-replay step), or a scratch folder (a dry run's preflight).
std::string make_replayed(const Runner& r, const etcd::ReplayTarget& target, const core::bfs::path& dir);

// The snapshot's encrypted values must decrypt with the keys kube-apiserver will have: throws
// Error saying which do not (restore/decryptable.hpp); `what` names the point in it.
void refuse_undecryptable(const Runner& r, const core::bfs::path& snapshot, const std::string& what);
// The same for the key use already counted off it (a replay's result).
void refuse_undecryptable(const Runner& r, const core::EncryptionKeyUse& use, const std::string& what);

// Where the etcd-replay step leaves the snapshot it made: <restore dir>/replayed.db.
core::bfs::path replayed_snapshot(const Runner& r);
// The SHA-256 the etcd-replay step recorded for it; empty before it ran.
std::string replayed_sha256(const Runner& r);
// The revision its file holds (the private etcd's numbering, which is below the journal's
// when the replay started from a journal base); empty before the step ran, or when the
// record predates it.
std::optional<std::int64_t> replayed_file_revision(const Runner& r);

// What the node's etcd must show once it has applied the changes a replay into this node's
// member wrote into its WAL (etcd/wal_replay.hpp); empty for a replay made otherwise.
std::optional<etcd::WalReplayCheck> replayed_wal_check(const Runner& r);

}  // namespace kdr::restore
