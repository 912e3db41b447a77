#include "core/exit_codes.hpp"

#include <array>

namespace kdr::core {

std::span<const ExitCodeInfo> exit_code_table() {
  static constexpr std::array table{
      ExitCodeInfo{ExitCode::ok, "ok", "the command did everything it was asked"},
      ExitCodeInfo{ExitCode::failed, "failed", "failed; nothing was published (restore: nothing was changed)"},
      ExitCodeInfo{ExitCode::usage, "usage", "bad command line or configuration"},
      ExitCodeInfo{ExitCode::partial, "partial", "done but incomplete; read the warnings"},
      ExitCodeInfo{ExitCode::findings, "findings", "verify found problems"},
      ExitCodeInfo{ExitCode::incomplete, "incomplete",
                   "a restore stopped before its end; it printed the resume and rollback commands"},
      ExitCodeInfo{ExitCode::no_backup, "no-backup", "no backup folder or no such generation"},
      ExitCodeInfo{ExitCode::locked, "locked", "another kdr run holds the lock"},
      ExitCodeInfo{ExitCode::offsite_unreachable, "offsite-unreachable",
                   "the off-site store did not answer; the next push catches up"},
      ExitCodeInfo{ExitCode::offsite_denied, "offsite-denied", "the off-site repository refused the password or keys"},
      ExitCodeInfo{ExitCode::offsite_locked, "offsite-locked", "the off-site repository is locked by another client"},
      ExitCodeInfo{ExitCode::offsite_full, "offsite-full", "the off-site store has no space left, or refused to store data"},
      ExitCodeInfo{ExitCode::interrupted, "interrupted", "stopped by a signal"},
  };
  return table;
}

}  // namespace kdr::core
