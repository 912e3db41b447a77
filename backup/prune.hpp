// Retention applied to a backup folder (after each backup, and `kdr prune`).
#pragma once

#include "backup/retention.hpp"
#include "core/repository.hpp"

namespace kdr::backup {

enum class DryRun { no, yes };

struct PruneResult {
  RetentionPlan plan;
  std::vector<std::string> removed;
  std::vector<std::string> leftovers;  // what a killed run left (a half-removed generation) and this one removed
  std::vector<std::string> journal;  // what the journal's retention removes (or would): path and why
};

// The caller holds the folder's exclusive lock: no backup runs, so what a killed run left
// (.del-*, .tmp-*) is removed first.
PruneResult prune(const core::Repository& repo, const core::RetentionPolicy& policy, std::int64_t now, DryRun dry_run);

}  // namespace kdr::backup
