// The machine's process table (/proc), for what kdr must know about running programs: the
// processes of a static pod, an etcd that runs outside the static pods. Under a sandbox
// root only processes whose arguments name a path under that root belong to the node, so
// a sandbox never mistakes the machine's own processes (or another sandbox's) for its own.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/node_root.hpp"

namespace kdr::core {

struct ProcessEntry {
  int pid = 0;
  std::uint32_t uid = 0;  // who runs it (the owner of /proc/PID)
  std::vector<std::string> argv;
};

// The processes (but this one) whose argv[0] has one of these base names, that belong to the
// node under `root`, and that root (or kdr's own user) runs: any local user can start a
// process named etcd, and none may choose where kdr thinks etcd's data is, or keep a restore
// waiting for it to stop.
std::vector<ProcessEntry> node_processes(const NodeRoot& root, const std::vector<std::string>& commands);

// A process's environment (/proc/PID/environ); empty when it cannot be read.
std::map<std::string, std::string> process_environment(int pid);

// A process's working folder (/proc/PID/cwd); empty when it cannot be read.
std::string process_cwd(int pid);

// "etcd" for "/usr/local/bin/etcd".
std::string base_name(const std::string& path);

// The value of --FLAG among a process's arguments (`--flag=v` or `--flag v`); "" if none.
std::string flag_argument(const std::vector<std::string>& argv, std::string_view flag);

}  // namespace kdr::core
