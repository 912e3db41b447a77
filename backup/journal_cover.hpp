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
#include "core/repository.hpp"

namespace kdr::backup {

struct JournalCover {
  std::uint32_t epoch = 0;
  std::string cluster_id;
  std::int64_t revision = 0;  // every change up to here is in the journal
  std::int64_t time_ms = 0;   // when the journal received it
  std::string base_generation;
  std::int64_t base_revision = 0;
  nlohmann::json to_json() const;
};

// Empty, with the reason in `why_not`, when this run must take a full snapshot.
std::optional<JournalCover> journal_cover(const core::Context& ctx, const std::vector<core::GenerationEntry>& generations,
                                          const std::string& live_cluster_id, std::int64_t live_revision,
                                          std::string& why_not);

}  // namespace kdr::backup
