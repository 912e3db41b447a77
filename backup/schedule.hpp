// `kdr schedule`: the files that run `kdr backup --verify` every few minutes and keep the etcd
// change journal running, as a cron.d entry or systemd units (a timer, kdr-journal.service), at low CPU and idle I/O priority. Files are
// written under the node root (so --root works for sandboxes and images) and carry a
// marker line: kdr only ever replaces or removes files it wrote.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/context.hpp"

namespace kdr::backup {

struct ScheduleFile {
  std::string node_path;
  std::string content;
};

struct ScheduleSpec {
  std::string kdr_path = "/usr/bin/kdr";  // the binary to run
  std::string config;                     // node path of a config other than /etc/kdr/kdr.yaml; empty: none
  std::string backup_dir;                 // a --backup-dir to pass; empty: the config's
  int every_minutes = 5;
};

inline constexpr std::string_view schedule_marker = "# Written by `kdr schedule install`";

// /usr/bin/kdr -q [--config F] [--backup-dir D] backup --verify
std::vector<std::string> scheduled_argv(const ScheduleSpec& spec);
// /usr/bin/kdr [--config F] [--backup-dir D] journal ACTION (run under systemd, start from cron)
std::vector<std::string> journal_argv(const ScheduleSpec& spec, const std::string& action);
// An argv as a line for the shell cron runs it with: every word quoted where the shell would
// read it otherwise, and '%' escaped (cron turns it into a newline). A word with a newline or
// another control character cannot be written on one line: UsageError naming it.
std::string cron_command(const std::vector<std::string>& argv);
// The same for systemd's ExecStart=: quoted, '$' and '%' doubled (systemd expands them).
std::string exec_start_command(const std::vector<std::string>& argv);
std::vector<ScheduleFile> cron_files(const ScheduleSpec& spec);
std::vector<ScheduleFile> systemd_files(const ScheduleSpec& spec);

// Writes the files under the node root (mode 0644). Throws Error naming a file that exists
// and was not written by kdr.
void install_schedule(const core::Context& ctx, const std::vector<ScheduleFile>& files);
// Removes the files of both kinds that kdr wrote; returns the node paths removed.
std::vector<std::string> remove_schedule(const core::Context& ctx);
// The schedule files present on the node (node path, content), kdr's or not.
std::vector<ScheduleFile> installed_schedule(const core::Context& ctx);

}  // namespace kdr::backup
