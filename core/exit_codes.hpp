// The exit codes of every kdr command, in one place. `kdr --help` prints this table.
#pragma once

#include <span>
#include <string_view>

namespace kdr::core {

enum class ExitCode : int {
  ok = 0,            // the command did everything it was asked
  failed = 1,        // the command failed; nothing was published or changed
  usage = 2,         // bad command line or configuration
  partial = 3,       // done, but incomplete: read the warnings (e.g. no etcd snapshot)
  findings = 4,      // verify ran and found problems
  incomplete = 5,    // a restore stopped before its end (a step failed or was declined): resume or roll back
  no_backup = 10,    // no backup folder or no such generation
  locked = 11,       // another kdr run holds the lock
  offsite_unreachable = 20,  // the off-site store did not answer (network or server down)
  offsite_denied = 21,       // the off-site repository refused the password or the credentials
  offsite_locked = 22,       // the off-site repository is locked by another client
  offsite_full = 23,         // the off-site store has no space left
  interrupted = 130  // stopped by a signal (Ctrl-C, SIGTERM)
};

struct ExitCodeInfo {
  ExitCode code;
  std::string_view name;
  std::string_view meaning;
};

std::span<const ExitCodeInfo> exit_code_table();

constexpr int to_int(ExitCode code) { return static_cast<int>(code); }

}  // namespace kdr::core
