// What the pushes so far did, kept in <state_dir>/offsite.json, and the metrics made from it
// (<textfile_dir>/kdr_offsite.prom): the last successful push, the newest generation off site,
// the bytes sent, and the problem of the last failed push. It also decides whether a backup
// pushes (config offsite.push: manual, after-backup, every N minutes).
#pragma once

#include <cstdint>
#include <string>

#include "core/context.hpp"
#include "offsite/offsite.hpp"

namespace kdr::offsite {

struct PushState {
  std::int64_t last_attempt = 0;  // seconds since the epoch
  std::int64_t last_success = 0;
  std::string last_problem;       // ResticProblem of the last failed push ("" after a success)
  int last_exit_code = 0;
  std::string newest_generation;  // this node's newest generation off site
  std::int64_t newest_generation_time = 0;
  std::uint64_t last_bytes_added = 0;   // stored anew off site by the last push
  std::uint64_t bytes_added_total = 0;  // ... by every push so far
  std::int64_t journal_position = 0;    // the change journal off site is complete up to this revision
  std::int64_t journal_pushed = 0;      // ... as of this push (seconds since the epoch)
  std::string repository;               // where the last successful push went
  std::int64_t listed = 0;              // when a push last asked that repository what it holds
};

// A push asks the repository what it holds at least this often; in between, it trusts what
// its last successful push to the same repository left there.
constexpr std::int64_t relist_seconds = 24 * 3600;

PushState read_push_state(const core::Context& ctx);

// Whether a backup that just published should push, by offsite.push (a manual push always does).
bool push_due(const core::Context& ctx, const PushState& state);

// `kdr offsite init` created `repository`: it holds nothing of this node, as if listed now.
void record_new_repository(const core::Context& ctx, const std::string& repository);

// push(), with its outcome recorded in the state and the metrics whatever happens. It lists the
// repository unless the last push succeeded into the same repository and it was listed less
// than relist_seconds ago.
PushResult push_and_record(const core::Context& ctx, const std::string& only = "");

}  // namespace kdr::offsite
