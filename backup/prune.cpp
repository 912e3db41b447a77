#include "backup/prune.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "journal/retention.hpp"

namespace kdr::backup {

PruneResult prune(const core::Repository& repo, const core::RetentionPolicy& policy, std::int64_t now, DryRun dry_run) {
  std::vector<std::string> leftovers;
  if (dry_run == DryRun::no) leftovers = repo.remove_leftovers();
  std::vector<RetentionCandidate> candidates;
  for (const auto& g : repo.generations()) {
    if (g.meta)
      candidates.push_back({g.id, g.meta->time, g.meta->status == core::GenerationStatus::complete, true,
                            g.meta->etcd.journal ? g.meta->etcd.journal->base_generation : std::string()});
    else
      candidates.push_back({g.id, 0, false, false, ""});
  }
  PruneResult result{plan_retention(std::move(candidates), policy, now), {}, std::move(leftovers), {}};
  // The journal follows: its history is kept from the oldest full snapshot that stays.
  std::vector<journal::KeptBase> kept;
  for (const auto& g : repo.generations()) {
    if (!g.meta || std::find(result.plan.keep.begin(), result.plan.keep.end(), g.id) == result.plan.keep.end()) continue;
    if (const auto& snap = g.meta->etcd.snapshot) kept.push_back({snap->cluster_id, snap->revision});
  }
  const journal::JournalStore store(repo.dir());
  const auto journal_plan = journal::plan_journal_prune(store, kept);
  for (const auto& item : journal_plan.remove) result.journal.push_back(fmt::format("{} ({})", item.path.string(), item.why));
  if (dry_run == DryRun::yes) return result;
  for (const auto& id : result.plan.remove) {
    repo.remove_generation(id);
    result.removed.push_back(id);
  }
  journal::apply_journal_prune(store, journal_plan);
  return result;
}

}  // namespace kdr::backup
