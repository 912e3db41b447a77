// `kdr journal start` (for cron): `kdr journal run` started in the background, detached so that
// it outlives cron's job, unless a follower already holds the journal. Its output goes to
// <backup>/journal/follower.log.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/exit_codes.hpp"

namespace kdr::journal {

// `run_argv`: the command that follows etcd (kdr's own binary, its global options, `journal
// run`). Waits up to `wait` for the follower to hold the journal; throws Error naming the log
// when it does not.
core::ExitCode start_follower(const core::Context& ctx, const std::vector<std::string>& run_argv,
                              std::chrono::milliseconds wait = std::chrono::seconds(5));

// kdr's own binary with this run's global options, then `journal run`.
std::vector<std::string> follower_argv(const core::Context& ctx);

}  // namespace kdr::journal
