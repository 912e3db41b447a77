// kdr prune [--dry-run]
#include <nlohmann/json.hpp>

#include "backup/prune.hpp"
#include "cli/command.hpp"
#include "core/clock.hpp"

namespace kdr::cli {

Command prune_command() {
  auto dry_run = std::make_shared<bool>(false);
  Command c;
  c.name = "prune";
  c.help = "apply the retention rules: remove generations no rule keeps";
  c.add_options = [dry_run](CLI::App& sub) {
    sub.add_flag("--dry-run", *dry_run, "show what would be kept and removed; remove nothing");
  };
  c.run = [dry_run](const core::Context& ctx) {
    auto repo = core::Repository::open(ctx.backup_dir);
    auto lock = repo.lock(core::LockMode::exclusive);
    auto result = backup::prune(repo, ctx.config.retention, core::now_epoch(),
                                *dry_run ? backup::DryRun::yes : backup::DryRun::no);
    if (ctx.out.json()) {
      ctx.out.raw(nlohmann::json{{"keep", result.plan.keep},
                                 {"remove", result.plan.remove},
                                 {"reasons", result.plan.reasons},
                                 {"removed", result.removed},
                                 {"journal", result.journal},
                                 {"leftovers", result.leftovers},
                                 {"dry_run", *dry_run}}
                      .dump(2));
      return core::ExitCode::ok;
    }
    for (const auto& id : result.plan.keep)
      ctx.out.info("keep    {}  ({})", id, fmt::join(result.plan.reasons.at(id), ", "));
    for (const auto& id : result.plan.remove) ctx.out.info("{} {}", *dry_run ? "would remove" : "removed", id);
    for (const auto& j : result.journal) ctx.out.info("{} journal {}", *dry_run ? "would remove" : "removed", j);
    for (const auto& l : result.leftovers) ctx.out.info("removed {} (left by an interrupted run)", l);
    ctx.out.info("{} kept, {} {}", result.plan.keep.size(), result.plan.remove.size(),
                 *dry_run ? "would be removed (dry run)" : "removed");
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
