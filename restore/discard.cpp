// `kdr restore --discard ID`: the explicit operator command that deletes what a finished
// restore kept aside.
#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "restore/restore_run.hpp"

namespace kdr::restore {

using core::ExitCode;
using core::UsageError;

// The explicit operator command that deletes what a finished restore kept aside
// (`<path>.kdr-<id>`); after it, the restore can no longer be rolled back.
ExitCode discard_restore(const core::Context& ctx, const RestoreOptions& o) {
  RestoreLock lock(restores_dir(ctx));
  auto journal = Journal::open(restores_dir(ctx) / o.discard);
  const auto summary = journal.summary();
  if (summary.discarded) {
    ctx.out.info("restore {}: its replaced data was discarded already", o.discard);
    return ExitCode::ok;
  }
  if (summary.state != RestoreState::done)
    throw UsageError(fmt::format("restore {} is {}: only a finished restore's replaced data can be discarded "
                                 "(resume or roll it back first)",
                                 o.discard, to_string(summary.state)));
  std::vector<std::string> aside;
  for (const auto& a : summary.actions)
    if (a.op == ActionOp::move && !a.manifest && core::lstat_path(a.to)) aside.push_back(a.to);
  if (aside.empty()) {
    ctx.out.info("restore {} kept nothing aside", o.discard);
  } else {
    ctx.out.info("Restore {} kept the data it replaced:", o.discard);
    for (const auto& p : aside) ctx.out.info("  {}", p);
    ctx.out.info("Deleting it makes `kdr restore --rollback {}` impossible.", o.discard);
    if (!o.yes && ctx.host->ask("Delete it?") == core::Answer::no) {
      ctx.out.warn("nothing was deleted");
      return ExitCode::failed;
    }
  }
  journal.record(JournalEvent::discarded, {{"paths", aside}});
  for (const auto& p : aside) {
    core::remove_tree(p);
    ctx.out.info("deleted {}", p);
  }
  if (const auto n = journal.scrub_replaced_values(); n > 0)
    ctx.out.info("removed the {} etcd value(s) it replaced from its journal (their hashes stay)", n);
  return ExitCode::ok;
}

}  // namespace kdr::restore
