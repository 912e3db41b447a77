#include "backup/prune.hpp"

namespace kdr::backup {

PruneResult prune(const core::Repository& repo, const core::RetentionPolicy& policy, std::int64_t now, DryRun dry_run) {
  std::vector<RetentionCandidate> candidates;
  for (const auto& g : repo.generations()) {
    if (g.meta)
      candidates.push_back({g.id, g.meta->time, g.meta->status == core::GenerationStatus::complete, true,
                            g.meta->extra.value("etcd", nlohmann::json::object())
                                .value("journal", nlohmann::json::object())
                                .value("base_generation", "")});
    else
      candidates.push_back({g.id, 0, false, false, ""});
  }
  PruneResult result{plan_retention(std::move(candidates), policy, now), {}};
  if (dry_run == DryRun::yes) return result;
  for (const auto& id : result.plan.remove) {
    repo.remove_generation(id);
    result.removed.push_back(id);
  }
  return result;
}

}  // namespace kdr::backup
