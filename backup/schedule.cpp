#include "backup/schedule.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/error.hpp"
#include "core/process.hpp"

namespace kdr::backup {

namespace {

constexpr const char* cron_path = "/etc/cron.d/kdr";
constexpr const char* service_path = "/etc/systemd/system/kdr-backup.service";
constexpr const char* timer_path = "/etc/systemd/system/kdr-backup.timer";
constexpr const char* journal_service_path = "/etc/systemd/system/kdr-journal.service";

bool written_by_kdr(const std::string& content) { return content.find(schedule_marker) != std::string::npos; }

}  // namespace

namespace {

// kdr and the options every scheduled command takes.
std::vector<std::string> kdr_with_options(const ScheduleSpec& spec) {
  std::vector<std::string> argv = {spec.kdr_path};
  if (!spec.config.empty()) argv.insert(argv.end(), {"--config", spec.config});
  if (!spec.backup_dir.empty()) argv.insert(argv.end(), {"--backup-dir", spec.backup_dir});
  return argv;
}

void refuse_control_characters(const std::vector<std::string>& argv) {
  for (const auto& word : argv)
    if (std::any_of(word.begin(), word.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      throw core::UsageError(fmt::format("'{}' holds a newline or another control character: it cannot be written "
                                         "into a schedule; choose another path",
                                         core::describe_argv({word})));
}

}  // namespace

std::vector<std::string> scheduled_argv(const ScheduleSpec& spec) {
  auto argv = kdr_with_options(spec);
  argv.insert(argv.begin() + 1, "-q");
  argv.insert(argv.end(), {"backup", "--verify"});
  return argv;
}

std::vector<std::string> journal_argv(const ScheduleSpec& spec, const std::string& action) {
  auto argv = kdr_with_options(spec);
  argv.insert(argv.end(), {"journal", action});
  return argv;
}

std::string cron_command(const std::vector<std::string>& argv) {
  refuse_control_characters(argv);
  std::string out;
  for (const char c : core::describe_argv(argv)) {  // single-quoted for the shell where needed
    if (c == '%') out += '\\';
    out += c;
  }
  return out;
}

std::string exec_start_command(const std::vector<std::string>& argv) {
  refuse_control_characters(argv);
  std::string out;
  for (const auto& word : argv) {
    if (!out.empty()) out += ' ';
    const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("/._-+=,:@").find(c) != std::string_view::npos;
    });
    if (plain) {
      out += word;
      continue;
    }
    out += '"';
    for (const char c : word) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '$' || c == '%') out += c;  // $$ and %% are a literal $ and %
      out += c;
    }
    out += '"';
  }
  return out;
}

std::vector<ScheduleFile> cron_files(const ScheduleSpec& spec) {
  if (spec.every_minutes < 1 || spec.every_minutes > 59) throw core::UsageError("--every: 1 to 59 minutes");
  const auto text = fmt::format(
      "{}\n"
      "# Backs up this control-plane node every {} minutes, at low CPU and idle I/O priority.\n"
      "# Output (warnings and errors only) goes to syslog/journald with the tag kdr; the\n"
      "# outcome of every run is also in kdr's metrics (docs/operations.md). pipefail: the\n"
      "# exit status cron sees (and logs when it is not 0) is kdr's, not logger's.\n"
      "SHELL=/bin/bash\n"
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
      "*/{} * * * * root set -o pipefail; nice -n 10 ionice -c 3 {} 2>&1 | logger -t kdr\n"
      "# The etcd change journal: started again within a minute whenever it is not running\n"
      "# (`kdr journal start` does nothing while it runs; its own log is <backup_dir>/journal/follower.log).\n"
      "* * * * * root set -o pipefail; nice -n 10 ionice -c 2 -n 7 {} -q 2>&1 | logger -t kdr-journal\n",
      schedule_marker, spec.every_minutes, spec.every_minutes, cron_command(scheduled_argv(spec)),
      cron_command(journal_argv(spec, "start")));
  return {{cron_path, text}};
}

std::vector<ScheduleFile> systemd_files(const ScheduleSpec& spec) {
  if (spec.every_minutes < 1 || spec.every_minutes > 59) throw core::UsageError("--every: 1 to 59 minutes");
  auto journal_run = journal_argv(spec, "run");
  journal_run.push_back("-q");
  const auto service = fmt::format(
      "{}\n"
      "[Unit]\n"
      "Description=kdr: back up the Kubernetes control plane (etcd, /etc/kubernetes)\n"
      "After=local-fs.target\n"
      "\n"
      "[Service]\n"
      "Type=oneshot\n"
      "ExecStart={}\n"
      "Nice=10\n"
      "CPUSchedulingPolicy=batch\n"
      "IOSchedulingClass=idle\n"
      "TimeoutStartSec=30min\n"
      "# 0: done; 3: partial; 4: verify found problems. All are recorded in the metrics.\n"
      "SuccessExitStatus=3 4\n",
      schedule_marker, exec_start_command(scheduled_argv(spec)));
  const auto timer = fmt::format(
      "{}\n"
      "[Unit]\n"
      "Description=kdr: back up the Kubernetes control plane every {} minutes\n"
      "\n"
      "[Timer]\n"
      "OnCalendar=*:0/{}\n"
      "AccuracySec=10s\n"
      "Persistent=true\n"
      "\n"
      "[Install]\n"
      "WantedBy=timers.target\n",
      schedule_marker, spec.every_minutes, spec.every_minutes);
  const auto journal = fmt::format(
      "{}\n"
      "[Unit]\n"
      "Description=kdr: the etcd change journal (every change etcd makes, on the backup disk)\n"
      "After=local-fs.target network-online.target\n"
      "\n"
      "[Service]\n"
      "Type=simple\n"
      "ExecStart={}\n"
      "Restart=always\n"
      "RestartSec=2\n"
      "Nice=10\n"
      "CPUSchedulingPolicy=batch\n"
      "IOSchedulingClass=best-effort\n"
      "IOSchedulingPriority=7\n"
      "\n"
      "[Install]\n"
      "WantedBy=multi-user.target\n",
      schedule_marker, exec_start_command(journal_run));
  return {{service_path, service}, {timer_path, timer}, {journal_service_path, journal}};
}

void install_schedule(const core::Context& ctx, const std::vector<ScheduleFile>& files) {
  for (const auto& f : files) {
    const auto host = ctx.root.host(f.node_path);
    if (core::lstat_path(host) && !written_by_kdr(core::read_file(host)))
      throw core::Error(fmt::format("{} exists and was not written by kdr; remove it or merge by hand", f.node_path));
  }
  for (const auto& f : files) {
    const auto host = ctx.root.host(f.node_path);
    core::make_dirs(host.parent_path(), 0755);
    core::write_file_atomic(host, f.content, 0644);
  }
}

std::vector<std::string> remove_schedule(const core::Context& ctx) {
  std::vector<std::string> removed;
  for (const char* p : {cron_path, service_path, timer_path, journal_service_path}) {
    const auto host = ctx.root.host(p);
    if (!core::lstat_path(host)) continue;
    if (!written_by_kdr(core::read_file(host))) continue;
    if (::unlink(host.c_str()) != 0) core::throw_errno("unlink", host.string(), errno);
    removed.push_back(p);
  }
  return removed;
}

std::vector<ScheduleFile> installed_schedule(const core::Context& ctx) {
  std::vector<ScheduleFile> out;
  for (const char* p : {cron_path, service_path, timer_path, journal_service_path}) {
    const auto host = ctx.root.host(p);
    if (core::lstat_path(host)) out.push_back({p, core::read_file(host)});
  }
  return out;
}

}  // namespace kdr::backup
