// restic's repository locks, and the only ones kdr removes: this host's, whose process is gone.
//
// A push that was killed (a reboot, a cron timeout, kill -9) leaves its lock behind. restic's
// backups go on beside it, but forget, prune and check want the repository to themselves and
// stop at it. kdr then lists the locks (`restic list locks` and `restic cat lock`) and removes
// the stale ones with `restic unlock` only when every lock restic would remove is this host's
// and its process is gone. A lock of another node sharing the repository, or of a process
// still running here, is never removed: kdr names it, with what the operator can do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "offsite/restic.hpp"

namespace kdr::offsite {

struct ResticLock {
  std::string id;        // its storage id
  std::int64_t time = 0; // when it was made or last refreshed (seconds since the epoch)
  bool exclusive = false;
  std::string hostname;  // the machine's host name, as restic records it
  std::string username;
  int pid = 0;
};

enum class LockKind {
  own_stale,    // this host's, its process gone: kdr removes it
  own_running,  // this host's, its process running
  other_host,   // another host's: kdr cannot tell whether it is running
};

// restic takes a lock older than this for stale whoever holds it (a running restic refreshes
// its lock every 5 minutes), so `restic unlock` would remove it.
constexpr std::int64_t restic_stale_seconds = 30 * 60;

LockKind kind_of(const ResticLock& lock, const core::Host& host);
// "lock 1df73599: PID 13460 on cp-2 (root), exclusive, 3 min old"
std::string describe(const ResticLock& lock, std::int64_t now);
// `restic cat lock` JSON; nullopt when it is not a lock. Times in RFC 3339.
std::optional<ResticLock> parse_lock(const std::string& id, const std::string& json_text);
std::optional<std::int64_t> parse_rfc3339(const std::string& text);

std::vector<ResticLock> list_locks(const Restic& restic);

struct UnlockOutcome {
  std::vector<ResticLock> removed;
  std::vector<ResticLock> kept;  // with the reason in `why`
  std::string why;
};
// Removes this host's stale locks, when `restic unlock` would remove nothing else.
UnlockOutcome remove_own_stale_locks(const core::Context& ctx, const Restic& restic);

}  // namespace kdr::offsite
