// Ctrl-C and SIGTERM set a flag that long work checks; it then stops cleanly and the command
// exits with ExitCode::interrupted. And the fault tests' hooks: KDR_FAILPOINT kills kdr at an
// exact point, KDR_PAUSEPOINT stops it there.
#pragma once

#include <cstddef>
#include <string_view>

namespace kdr::core {

void install_interrupt_handlers();
bool interrupted();
// Throws Error(interrupted) if a signal arrived.
void check_interrupted();

// KDR_FAILPOINT=<name>:<n> kills kdr with SIGKILL at that point: the fault tests use it to
// stop a restore, or the journal's follower, at exact moments (docs/playbooks.md, "Fault
// injection"). failpoint_armed says whether it is set for that point, for a point that must
// do something first (write half a record).
bool failpoint_armed(std::string_view name, std::size_t n);
void failpoint(std::string_view name, std::size_t n);

// KDR_PAUSEPOINT=<name>: kdr stops itself (SIGSTOP) there until it gets SIGCONT, so that a
// test can look at it mid-run (docs/reliability.md).
void pausepoint(std::string_view name);

}  // namespace kdr::core
