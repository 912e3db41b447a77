// `kdr backup`: one new generation in the backup folder, built aside, checked against
// the guards, made durable, then published atomically; retention afterwards.
#pragma once

#include <optional>

#include "backup/prune.hpp"
#include "backup/sources.hpp"
#include "core/context.hpp"
#include "core/exit_codes.hpp"
#include "core/generation.hpp"
#include "core/repository.hpp"

namespace kdr::backup {

struct BackupOptions {
  DryRun dry_run = DryRun::no;
  bool allow_shrink = false;  // the operator accepts a source much smaller than last time
  bool keep_lock = false;     // hand the backup folder's exclusive lock to the caller (backup --verify)
};

struct BackupResult {
  core::ExitCode code = core::ExitCode::ok;
  SourcePlan plan;
  std::optional<core::GenerationMeta> generation;  // the published generation
  std::optional<PruneResult> pruned;
  std::vector<std::string> leftovers_removed;
  std::optional<core::RepositoryLock> lock;  // with keep_lock: still held
};

BackupResult run_backup(const core::Context& ctx, const BackupOptions& options);

// The guards against publishing damage as a good generation (missing, empty or shrunk
// sources). Returns one message per violation; empty when the generation may be published.
std::vector<std::string> check_guards(const std::vector<core::SourceStats>& now, const SourcePlan& plan,
                                      const core::GenerationMeta* previous, double min_ratio);

}  // namespace kdr::backup
