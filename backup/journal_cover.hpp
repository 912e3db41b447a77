// Whether the change journal covers this backup run's etcd, so that it records the journal's
// position instead of taking a full snapshot (etcd.full_every_minutes): the follower runs and
// follows this cluster, a full snapshot of its epoch exists and is recent enough, and the
// journal has caught up with etcd's revision at the start of the run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/generation_facts.hpp"
#include "core/repository.hpp"

namespace kdr::backup {

// The journal's revision that stands for etcd in a run without a snapshot, as meta.json
// records it (core/generation_facts.hpp).
using JournalCover = core::JournalPointRecord;

// Empty, with the reason in `why_not`, when this run must take a full snapshot.
std::optional<JournalCover> journal_cover(const core::Context& ctx, const std::vector<core::GenerationEntry>& generations,
                                          const std::string& live_cluster_id, std::int64_t live_revision,
                                          std::string& why_not);

}  // namespace kdr::backup
