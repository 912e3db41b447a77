// The metrics a backup run leaves for Prometheus (kdr_backup.prom).
#pragma once

#include <optional>

#include "core/context.hpp"
#include "core/exit_codes.hpp"
#include "core/generation.hpp"

namespace kdr::backup {

// After every run, failed ones included: the last success comes from the backup folder,
// so an alert on its age catches backups that fail silently.
void write_backup_metrics(const core::Context& ctx, core::ExitCode code, double duration_s,
                          const std::optional<core::GenerationMeta>& published);

}  // namespace kdr::backup
