// kdr schedule install --cron|--systemd [--every N] [--no-enable] | show | remove
#include <unistd.h>

#include "backup/schedule.hpp"
#include "cli/command.hpp"
#include "core/error.hpp"
#include "core/process.hpp"

namespace kdr::cli {

namespace {

struct ScheduleFlags {
  std::string action;
  bool cron = false, systemd = false, no_enable = false;
  int every = 5;
  std::string binary;
};

backup::ScheduleSpec spec_for(const core::Context& ctx, const ScheduleFlags& f) {
  backup::ScheduleSpec s;
  s.kdr_path = !f.binary.empty() ? f.binary : core::read_link("/proc/self/exe").value_or("/usr/bin/kdr");
  s.every_minutes = f.every;
  // A config file given elsewhere than the default is passed on, as a node path.
  const auto& origin = ctx.config.origin;
  const auto root = ctx.root.root().string();
  if (origin.find('/') != std::string::npos) {
    std::string node = origin;
    if (!ctx.root.is_real_root() && node.rfind(root + "/", 0) == 0) node = node.substr(root.size());
    if (node != "/etc/kdr/kdr.yaml") s.config = node;
  }
  if (ctx.backup_dir.string() != ctx.config.backup_dir) s.backup_dir = ctx.backup_dir.string();
  return s;
}

bool run_systemctl(const core::Context& ctx, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"systemctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = ctx.programs->run(argv);
  if (!r.ok()) ctx.out.warn("{} failed: {}", core::describe_argv(argv), r.started ? r.err : r.start_error);
  return r.ok();
}

}  // namespace

Command schedule_command() {
  auto f = std::make_shared<ScheduleFlags>();
  Command c;
  c.name = "schedule";
  c.help = "install, show or remove the schedule that runs `kdr backup --verify` every 5 minutes (cron or systemd)";
  c.add_options = [f](CLI::App& sub) {
    sub.require_subcommand(1);
    auto* install = sub.add_subcommand("install", "write a cron.d entry or a systemd service and timer");
    auto* cron = install->add_flag("--cron", f->cron, "/etc/cron.d/kdr");
    auto* systemd = install->add_flag("--systemd", f->systemd, "/etc/systemd/system/kdr-backup.{service,timer}");
    cron->excludes(systemd);
    install->add_option("--every", f->every, "minutes between backups")->capture_default_str()->check(CLI::Range(1, 59));
    install->add_flag("--no-enable", f->no_enable, "systemd: write the units but do not enable the timer");
    install->add_option("--binary", f->binary, "the kdr to run (default: this one), e.g. /usr/bin/kdr in an image");
    install->callback([f] { f->action = "install"; });
    sub.add_subcommand("show", "print what is installed")->callback([f] { f->action = "show"; });
    sub.add_subcommand("remove", "remove the files kdr wrote")->callback([f] { f->action = "remove"; });
  };
  c.run = [f](const core::Context& ctx) {
    if (f->action == "show") {
      auto files = backup::installed_schedule(ctx);
      if (files.empty()) ctx.out.info("no kdr schedule on this node (kdr schedule install --cron or --systemd)");
      for (const auto& file : files) {
        ctx.out.info("== {}{}", file.node_path,
                     file.content.find(backup::schedule_marker) == std::string::npos ? " (not written by kdr)" : "");
        ctx.out.raw(file.content);
      }
      if (ctx.root.is_real_root() && !ctx.programs->find("systemctl").empty() &&
          core::lstat_path("/etc/systemd/system/kdr-backup.timer")) {
        auto r = ctx.programs->run({"systemctl", "is-enabled", "kdr-backup.timer"});
        ctx.out.info("kdr-backup.timer: {}", r.out.empty() ? "unknown" : r.out.substr(0, r.out.find('\n')));
      }
      return core::ExitCode::ok;
    }
    if (f->action == "remove") {
      if (ctx.root.is_real_root() && !ctx.programs->find("systemctl").empty() &&
          core::lstat_path("/etc/systemd/system/kdr-backup.timer"))
        run_systemctl(ctx, {"disable", "--now", "kdr-backup.timer"});
      if (ctx.root.is_real_root() && !ctx.programs->find("systemctl").empty() &&
          core::lstat_path("/etc/systemd/system/kdr-journal.service"))
        run_systemctl(ctx, {"disable", "--now", "kdr-journal.service"});
      auto removed = backup::remove_schedule(ctx);
      for (const auto& p : removed) ctx.out.info("removed {}", p);
      if (removed.empty()) ctx.out.info("nothing to remove");
      return core::ExitCode::ok;
    }
    if (f->cron == f->systemd) throw core::UsageError("schedule install: choose --cron or --systemd");
    const auto spec = spec_for(ctx, *f);
    const auto files = f->cron ? backup::cron_files(spec) : backup::systemd_files(spec);
    backup::install_schedule(ctx, files);
    for (const auto& file : files) ctx.out.info("wrote {}", ctx.root.host(file.node_path).string());
    ctx.out.info("every {} minutes: {}", spec.every_minutes, core::describe_argv(backup::scheduled_argv(spec)));
    if (f->systemd) {
      const bool can = ctx.root.is_real_root() && !f->no_enable && !ctx.programs->find("systemctl").empty() &&
                       ::access("/run/systemd/system", F_OK) == 0;
      if (can && run_systemctl(ctx, {"daemon-reload"}) &&
          run_systemctl(ctx, {"enable", "--now", "kdr-backup.timer", "kdr-journal.service"}))
        ctx.out.info("enabled and started kdr-backup.timer and kdr-journal.service");
      else
        ctx.out.info(
            "to activate it: systemctl daemon-reload && systemctl enable --now kdr-backup.timer kdr-journal.service");
    } else {
      ctx.out.info("every minute, unless it runs: {}", core::describe_argv(backup::journal_argv(spec, "start")));
      ctx.out.info("cron reads /etc/cron.d by itself; nothing else to do");
    }
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
