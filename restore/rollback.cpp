// `kdr restore --rollback ID`: what a restore's journal says it did, undone most recent first;
// the node as it was before the restore (what a program step changed outside the journal is
// named, not undone).
#include <fmt/format.h>

#include "core/error.hpp"
#include "restore/restore_run.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::Error;
using core::ExitCode;
using core::UsageError;

namespace {

// kdr's own temporaries of the plan's steps (a snapshot restored ahead, a copy cut short).
void remove_temporaries(Runner& r) {
  for (const auto& s : r.plan.steps)
    for (const auto& t : step_def(s.type).temporaries(r, s))
      if (core::lstat_path(t)) {
        core::remove_tree(t);
        r.ctx.out.info("      removed {} (this restore's own temporary)", t);
      }
}

}  // namespace

ExitCode rollback_restore(const core::Context& ctx, const RestoreOptions& o) {
  RestoreLock lock(restores_dir(ctx));
  auto journal = Journal::open(restores_dir(ctx) / o.rollback);
  auto summary = journal.summary();
  if (summary.state == RestoreState::rolled_back) {
    ctx.out.info("restore {} was rolled back already", o.rollback);
    return ExitCode::ok;
  }
  if (summary.discarded)
    throw UsageError(fmt::format("the data restore {} replaced was discarded (kdr restore --discard): there is "
                                 "nothing to roll back to",
                                 o.rollback));
  auto [run_ctx, plan] = reopen(ctx, journal);
  Runner r{run_ctx, plan, std::move(journal), {}, 0, false, {}};
  ctx.out.info("Rolling back restore {} (playbook {}, generation {}):", plan.id, plan.playbook, plan.generation);
  if (summary.actions.empty()) ctx.out.info("  it changed nothing on the node");
  for (const auto& a : summary.actions) ctx.out.info("  undo: {}", describe_action(plan, a));
  std::vector<std::string> not_undone;
  for (std::size_t i = 0; i < plan.steps.size(); ++i)
    if (step_def(plan.steps[i].type).undo_kind() == Undo::untracked &&
        (summary.step_done(i) || (summary.failed_step && *summary.failed_step == i)))
      not_undone.push_back(fmt::format("step {} ({})", i + 1, plan.steps[i].title));
  for (const auto& s : not_undone)
    ctx.out.warn("{} changed the node outside kdr's journal (a program it ran, or an instruction carried out by hand); "
                 "the rollback does not undo it",
                 s);
  if (!o.yes && ctx.host->ask("Roll back?") == core::Answer::no) {
    ctx.out.warn("rollback declined: nothing was changed; restore {} is as it was (kdr restores)", plan.id);
    return ExitCode::failed;
  }
  r.journal->record(JournalEvent::rollback_begin);
  try {
    undo_actions(r, summary.actions);
  } catch (const Error& e) {
    r.journal->record(JournalEvent::rollback_failed, {{"error", e.what()}});
    ctx.out.error(fmt::format("rollback stopped: {}", e.what()));
    ctx.out.warn("it can be run again: {} restore --rollback {}", command_prefix(ctx), plan.id);
    return e.code() == ExitCode::interrupted ? ExitCode::interrupted : ExitCode::incomplete;
  }
  remove_temporaries(r);
  r.journal->record(JournalEvent::rolled_back);
  ctx.out.info("Rolled back: the node's data and manifests are as they were before restore {}.", plan.id);
  return ExitCode::ok;
}

}  // namespace kdr::restore
