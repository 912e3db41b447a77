// `kdr restore --resume ID`: a journaled restore continued from its first step not done, with
// what it ran with (its plan.json).
#include <fmt/format.h>

#include "core/error.hpp"
#include "restore/restore_run.hpp"

namespace kdr::restore {

using core::ExitCode;
using core::UsageError;

// A journaled restore continued from the first step not done, with what it ran with.
ExitCode resume_restore(const core::Context& ctx, const RestoreOptions& o) {
  RestoreLock lock(restores_dir(ctx));
  auto journal = Journal::open(restores_dir(ctx) / o.resume);
  auto summary = journal.summary();
  if (summary.state == RestoreState::done) {
    ctx.out.info("restore {} finished already", o.resume);
    return ExitCode::ok;
  }
  if (summary.rollback_started)
    throw UsageError(fmt::format("restore {} was rolled back (or its rollback began): start a new restore instead",
                                 o.resume));
  auto [run_ctx, plan] = reopen(ctx, journal);
  auto repo = core::Repository::open(run_ctx.backup_dir);
  const auto repo_lock = repo.read_lock(ctx.out);
  const auto entry = find_generation(repo, plan.generation);
  Runner r{run_ctx,
           plan,
           std::move(journal),
           core::load_generation(entry.id, entry.path, *entry.meta, entry.meta_sha256),
           0,
           false,
           look_up_tools(run_ctx, plan)};
  print_plan(r, &summary);
  run_ctx.out.info("Resuming restore {}.", plan.id);
  return execute(r, o.yes);
}

}  // namespace kdr::restore
