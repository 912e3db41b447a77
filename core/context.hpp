// What every command runs with: the configuration, the node's root, the backup folder,
// the output, and the seams to the machine (the programs kdr starts, the host's facts, the
// etcds it talks to).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/host.hpp"
#include "core/node_key.hpp"
#include "core/node_root.hpp"
#include "core/output.hpp"

namespace kdr::core {

// The seam to the etcds kdr talks to (etcd/api.hpp); the real one is etcd/client.cpp's.
class EtcdConnector;
std::shared_ptr<const EtcdConnector> real_etcd();

struct Context {
  Config config;
  NodeRoot root;
  bfs::path backup_dir;  // the second disk; never under the node root
  Output out;
  std::shared_ptr<const Host> host = real_host();
  std::shared_ptr<const Programs> programs = real_programs();
  std::shared_ptr<const EtcdConnector> etcd = real_etcd();
};

// "kdr" and the global options this run was given (--root, --config, --backup-dir), so
// that a printed command runs against the same node, config and backup folder.
std::vector<std::string> kdr_argv(const Context& ctx);

// The node's key file (config key_file, under --root): core/node_key.hpp.
bfs::path node_key_file(const Context& ctx);
// The node's key for what kdr writes (a generation, a journal segment): made the first time,
// with a warning that says to copy it off the node.
NodeKey load_or_create_node_key(const Context& ctx);

// Seconds since the epoch. KDR_NOW (seconds since the epoch) replaces the clock, for
// drills and tests of retention over days and weeks.
std::int64_t now_epoch();

// Monotonic seconds, for durations.
double monotonic_seconds();

std::string hostname();

// Ctrl-C and SIGTERM set a flag that long work checks; it then stops cleanly and the
// command exits with ExitCode::interrupted.
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
