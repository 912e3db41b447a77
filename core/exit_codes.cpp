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
      ExitCodeInfo{ExitCode::interrupted, "interrupted", "stopped by a signal"},
  };
  return table;
}

}  // namespace kdr::core
