// `kdr backup` end to end, as cron or the systemd timer runs it: the refusals before anything
// is read (no root, a restore running or left half-done), the backup (backup/backup.hpp), its
// metrics, a look at the journal's follower, verify when asked, and the off-site push when
// asked or due. cli/ only reads the flags.
#pragma once

#include "backup/sources.hpp"
#include "core/context.hpp"
#include "core/exit_codes.hpp"

namespace kdr::jobs {

struct BackupJobOptions {
  bool dry_run = false;       // show what would be backed up and why; write nothing
  bool allow_shrink = false;  // publish although a source shrank below guard.min_ratio
  bool verify = false;        // verify the new generation afterwards (also: config verify.after_backup)
  bool offsite = false;       // push off-site right after (also: when offsite.push says it is due)
};

// The exit code: the backup's, or verify's when it is worse, or the push's when it failed.
// Throws Error for what stops the backup itself (after writing the failure's metrics).
core::ExitCode run_backup_job(const core::Context& ctx, const BackupJobOptions& o);

// The newest point proven restorable once every verify.restore_test_hours, after the
// generation is published (the backup's lock released: a test of a large database takes
// minutes, and reads under a shared lock). A failed test is reported as verify's findings
// are: `code`, or findings (4) when `code` is ok. A test locked out by another kdr run is a
// warning, `code` unchanged: it stays due, and the next backup runs it.
core::ExitCode restore_test_if_due(const core::Context& ctx, core::ExitCode code);

// What a backup covers and why (`kdr sources`, `kdr backup --dry-run`).
void print_source_plan(const core::Context& ctx, const backup::SourcePlan& plan);

// A backup while a restore runs, or of a node a restore left half-done, would record a state
// nobody wants back (and retention could then drop a good generation): Error(locked) naming
// the restore and the commands that finish or undo it.
void refuse_during_restore(const core::Context& ctx);

}  // namespace kdr::jobs
