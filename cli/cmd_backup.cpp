// kdr backup [--dry-run] [--allow-shrink] [--verify] [--offsite]; kdr sources
// (jobs/backup_job.hpp does the work)
#include "backup/sources.hpp"
#include "cli/command.hpp"
#include "jobs/backup_job.hpp"

namespace kdr::cli {

Command backup_command() {
  auto flags = std::make_shared<jobs::BackupJobOptions>();
  Command c;
  c.name = "backup";
  c.help = "write a new generation of the node's control-plane data to the backup folder";
  c.add_options = [flags](CLI::App& sub) {
    sub.add_flag("--dry-run", flags->dry_run, "show what would be backed up and why; write nothing");
    sub.add_flag("--allow-shrink", flags->allow_shrink,
                 "publish even if a source shrank below guard.min_ratio of the previous generation");
    sub.add_flag("--verify", flags->verify, "run kdr verify on the new generation afterwards (config: verify.after_backup)");
    sub.add_flag("--offsite", flags->offsite, "push to the off-site repository right after (config: offsite.push)");
  };
  c.run = [flags](const core::Context& ctx) { return jobs::run_backup_job(ctx, *flags); };
  return c;
}

Command sources_command() {
  Command c;
  c.name = "sources";
  c.help = "list what a backup covers and why each path is in it";
  c.add_options = [](CLI::App&) {};
  c.run = [](const core::Context& ctx) {
    jobs::print_source_plan(ctx, backup::plan_sources(ctx.config, ctx.root));
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
