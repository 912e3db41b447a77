// `kdr journal run`: follows the node's etcd member through a watch on the whole keyspace and
// appends every change to the journal (journal/store.hpp), flushed by group commit. It keeps
// going through etcd restarts, a full disk and compactions, and never leaves a gap unsaid:
// a break in the history begins a new epoch, and state.json and the metrics say so.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/exit_codes.hpp"
#include "etcd/client.hpp"
#include "journal/store.hpp"

namespace kdr::journal {

// What the follower last wrote in state.json (also read by `kdr journal status`).
// Every state the follower writes, for kdr_journal_state{state=...}.
inline constexpr std::array<const char*, 7> follower_states{
    "connecting", "following", "etcd-unreachable", "etcd-rewound", "disk-full", "stalled", "stopped"};

struct FollowerState {
  int pid = 0;
  std::string state = "starting";  // starting, one of follower_states, or failed
  std::string message;             // why, for every state but following
  std::int64_t updated_ms = 0;
  std::uint32_t epoch = 0;
  std::string cluster_id;
  std::int64_t position = 0;  // every change up to this revision is in the journal
  std::int64_t position_time_ms = 0;
  std::int64_t etcd_revision = 0;  // etcd's revision at the last look
  std::int64_t etcd_seen_ms = 0;
  std::int64_t lag_revisions = 0;
  double lag_seconds = 0;
  std::int64_t last_fsync_ms = 0;
  std::string digest;
  std::int64_t keys = 0;
  std::uint64_t events = 0;  // received by this run
  std::uint64_t bytes = 0;   // written by this run
  std::string full_snapshot;  // the last full snapshot the follower asked for: running, done, failed: ...

  nlohmann::json to_json() const;
  static FollowerState from_json(const nlohmann::json& j);
};

// Follows etcd at `endpoint` (the node's member, with the snapshot's client certificate) until
// SIGTERM or Ctrl-C (then exits ok, everything synced and the segment closed). Throws
// Error(locked) when another follower runs on the same backup folder.
core::ExitCode run_follower(const core::Context& ctx, const etcd::EtcdEndpoint& endpoint);

}  // namespace kdr::journal
