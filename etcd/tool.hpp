// The consistent etcd snapshot of a generation: streamed by kdr over gRPC (EtcdApi::snapshot),
// or by `etcdctl snapshot save` where that is not served, into a temporary name, renamed into
// place only once its SHA-256 trailer and its bbolt structure check out,
// optionally compressed with zstd. Failures are classified so the operator knows what to
// fix: etcdctl missing, certificate refused, etcd unreachable, timeout, bad snapshot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/control_plane.hpp"
#include "core/generation_facts.hpp"
#include "core/process.hpp"
#include "etcd/client.hpp"
#include "etcd/layout.hpp"

namespace kdr::etcd {

struct EtcdEndpointStatus {
  std::string version;  // server version, e.g. 3.4.23
  std::uint64_t db_size = 0;
  std::int64_t revision = 0;
  std::string cluster_id;  // hex, as etcdctl prints member ids
  std::string member_id;   // the member that answered
};

// The snapshot saved in a generation, as meta.json records it (core/generation_facts.hpp).
using SnapshotInfo = core::EtcdSnapshotRecord;

// How many keys a recorded snapshot (meta.json's etcd.snapshot) holds, said the same way
// everywhere: "3 keys (7 key revisions)", or "7 key revisions" when the live count is unknown.
std::string snapshot_keys_text(const core::EtcdSnapshotRecord& snapshot);

// disk_full: the backup disk ran out of space while the snapshot was written; the run
// fails (a generation without its snapshot would only push good ones out of retention).
// tls_file_missing: a client certificate, key or CA file named by the config or the node is not there.
// stream_cut: etcd's connection closed before the snapshot's end (etcd restarted, or stalled
// short of memory until the client gave up on it).
enum class SnapshotFailure { none, missing_tool, tls_file_missing, certificate, unreachable, timeout, stream_cut, invalid, disk_full, other };
std::string_view to_string(SnapshotFailure failure);

struct SnapshotOutcome {
  std::optional<SnapshotInfo> info;
  SnapshotFailure failure = SnapshotFailure::none;
  std::string error;  // the operator's message
};

struct EtcdTarget {
  std::string endpoint;
  std::vector<std::string> other_endpoints;  // tried in turn when `endpoint` cannot be reached
  EtcdClientTls tls;                   // node paths, and where they were chosen from
  std::string cacert, cert, key;             // the same as host paths; empty: not passed
  // --cacert ... --cert ... --key ... for the files that are set
  std::vector<std::string> tls_args() const;
};

// etcdctl's argv up to the command: endpoint, TLS files, timeouts.
std::vector<std::string> etcdctl_argv(const core::Context& ctx, const EtcdTarget& target, std::uint64_t timeout_s);
// Runs `etcdctl <endpoint and TLS> COMMAND...` against the target (API v3), killed after
// `deadline`; etcdctl itself gives up on the request after `command_timeout`.
core::ProcessResult run_etcdctl(const core::Context& ctx, const EtcdTarget& target,
                                const std::vector<std::string>& command, std::chrono::seconds command_timeout,
                                std::chrono::seconds deadline);
// Where and how to reach etcd: the layout's endpoints and client certificate (the config
// overrides both, etcd/layout.hpp).
EtcdTarget etcd_target(const core::Context& ctx, const EtcdLayout& layout);
// The same target for kdr's own gateway client (etcd/client.hpp).
EtcdEndpoint client_endpoint(const EtcdTarget& target);
// The node's etcd as the layout finds it now, for the gateway client.
EtcdEndpoint node_etcd_endpoint(const core::Context& ctx);

// The snapshot may take this long: base + per GiB of database.
std::chrono::seconds snapshot_timeout(const core::EtcdConfig& config, std::uint64_t db_size);

// Classifies etcdctl's complaint.
SnapshotFailure classify_etcdctl_error(const std::string& stderr_text);

// etcd's status from the first endpoint that answers; that endpoint becomes the target's.
std::optional<EtcdEndpointStatus> endpoint_status(const core::Context& ctx, EtcdTarget& target,
                                                  SnapshotOutcome& failure);

// Takes the snapshot into <generation>/etcd/. Never leaves a partial file behind.
SnapshotOutcome take_snapshot(const core::Context& ctx, const EtcdTarget& target, const EtcdEndpointStatus& status,
                              const core::bfs::path& generation_dir);

// What a snapshot file holds, read by kdr itself (etcd/bbolt.hpp) instead of `snapshot
// status`, which maps the whole database and walks every page: the revision (the greatest in
// etcd's key bucket) and the pairs in every bucket (totalKey). Throws Error naming the file
// when it is not a whole etcd database.
struct SnapshotFacts {
  std::int64_t revision = 0;
  std::uint64_t total_keys = 0;
  std::uint64_t key_revisions = 0;  // in the key bucket alone
};
SnapshotFacts read_snapshot_facts(const core::bfs::path& file);

// The cluster's members as etcd lists them: [{id (hex), name, peer_urls, client_urls,
// learner}]; empty on failure. A restore of etcd elsewhere (external etcd) names them.
std::optional<std::vector<core::EtcdMemberRecord>> member_list(const core::Context& ctx, const EtcdTarget& target);

// etcd's HashKV at `revision`, of the member `target`; empty when its gateway has none (3.4)
// or it could not say (a compaction past `revision`: said in detail).
std::optional<core::EtcdSnapshotRecord::HashKV> hash_kv_at(const core::Context& ctx, const EtcdTarget& target,
                                                            std::int64_t revision);

// The number of live keys at `revision` (0: now), counted by etcd itself (a count-only range
// through the gateway); empty on failure.
// `serializable`: the member's own copy, which answers without a quorum.
std::optional<std::uint64_t> count_keys(const core::Context& ctx, const EtcdTarget& target, std::int64_t revision,
                                        bool serializable = false);
// Throws Error when the backup disk has less than `needed` bytes free.
void check_free_space(const core::Context& ctx, const core::bfs::path& backup_dir, std::uint64_t needed);

// Checks the 32-byte SHA-256 trailer `etcdctl snapshot save` appends; returns the SHA-256
// of the whole file too. Throws Error when the file cannot be read.
struct TrailerCheck {
  bool ok = false;
  std::string problem;
  std::string file_sha256;
  std::uint64_t size = 0;
};
TrailerCheck check_snapshot_trailer(const core::bfs::path& file);

// A snapshot of the etcd at `target` (its database `db_size` bytes) saved to `file`: streamed by
// kdr over gRPC, or by `etcdctl snapshot save` where the endpoint does not serve the stream;
// 0600, flushed to disk, its SHA-256 trailer checked (what take_snapshot does for a
// generation, without the generation's records). Throws Error saying what failed, the file
// removed.
TrailerCheck save_snapshot_file(const core::Context& ctx, const EtcdTarget& target, const core::bfs::path& file,
                                std::uint64_t db_size);

}  // namespace kdr::etcd
