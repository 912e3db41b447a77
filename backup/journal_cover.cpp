#include "backup/journal_cover.hpp"

#include <chrono>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/wait.hpp"
#include "journal/inspect.hpp"

namespace kdr::backup {

using nlohmann::json;

std::optional<JournalCover> journal_cover(const core::Context& ctx, const std::vector<core::GenerationEntry>& generations,
                                          const std::string& live_cluster_id, std::int64_t live_revision,
                                          std::string& why_not) {
  const journal::JournalStore store(ctx.backup_dir);
  if (!store.exists()) return std::nullopt;  // no journal: every run takes its snapshot, nothing to say
  const int every = ctx.config.etcd.full_every_minutes;
  if (every <= 0) {
    why_not = "etcd.full_every_minutes is 0";
    return std::nullopt;
  }
  auto status = journal::journal_status(store);
  if (status.follower.empty() || !status.state || status.state->state != "following" || status.epochs.empty()) {
    why_not = status.follower.empty() ? "the journal's follower does not run"
                                      : fmt::format("the journal is not following etcd ({})",
                                                    status.state ? status.state->state : std::string("no state"));
    return std::nullopt;
  }
  const auto epoch = status.epochs.back().info;  // a copy: `status` is read again below
  if (epoch.cluster_id != live_cluster_id) {
    why_not = fmt::format("the journal follows cluster {}, etcd is cluster {}", epoch.cluster_id, live_cluster_id);
    return std::nullopt;
  }
  const core::GenerationEntry* base = nullptr;
  std::int64_t base_revision = 0;
  for (auto it = generations.rbegin(); it != generations.rend() && base == nullptr; ++it) {
    if (!it->meta) continue;
    const auto& snap = it->meta->etcd.snapshot;
    if (!snap || !epoch.holds_snapshot(it->id, it->meta->time, snap->cluster_id, snap->revision)) continue;
    base_revision = snap->revision;
    base = &*it;
  }
  if (base == nullptr) {
    why_not = fmt::format("no full snapshot of the journal's epoch {} yet", epoch.number);
    return std::nullopt;
  }
  const auto age_min = (core::now_epoch() - base->meta->time) / 60;
  if (age_min >= every) {
    why_not = fmt::format("the newest full snapshot (generation {}) is {} min old (etcd.full_every_minutes: {})",
                          base->id, age_min, every);
    return std::nullopt;
  }
  // The generation stands for the moment it was taken: the journal must hold etcd's revision
  // of the start of this run (the follower writes its position every second).
  bool stopped = false;
  const auto caught_up = core::wait_until({.timeout_s = 10}, [&]() -> std::optional<std::string> {
    if (status.state->position >= live_revision) return std::nullopt;
    const auto behind = fmt::format("the journal is at revision {}, behind etcd's {}", status.state->position,
                                    live_revision);
    status = journal::journal_status(store);
    stopped = !status.state || status.state->state != "following";
    if (stopped) return std::nullopt;
    return behind;
  });
  if (stopped || !caught_up.done) {
    why_not = stopped ? "the journal stopped following etcd" : caught_up.still;
    return std::nullopt;
  }
  JournalCover c;
  c.epoch = epoch.number;
  c.cluster_id = epoch.cluster_id;
  c.revision = status.state->position;
  c.time_ms = status.state->position_time_ms;
  c.base_generation = base->id;
  c.base_revision = base_revision;
  return c;
}

}  // namespace kdr::backup
