#include "backup/etcd_guard.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "journal/inspect.hpp"

namespace kdr::backup {

EtcdHistory etcd_history(const core::Context& ctx, const std::vector<core::GenerationEntry>& generations) {
  EtcdHistory h;
  for (auto it = generations.rbegin(); it != generations.rend(); ++it) {
    if (!it->meta) continue;
    const auto& etcd = it->meta->etcd;
    const auto where = "generation " + it->id;
    if (etcd.snapshot)
      h.points.push_back({etcd.snapshot->cluster_id, etcd.snapshot->revision, etcd.snapshot->keys, where});
    else if (etcd.journal)
      h.points.push_back({etcd.journal->cluster_id, etcd.journal->revision, std::nullopt, where});
    else
      continue;
    h.newest_ms = it->meta->time * 1000;
    break;
  }
  const journal::JournalStore store(ctx.backup_dir);
  if (store.exists()) {
    const auto status = journal::journal_status(store);
    if (status.state && status.state->position > 0) {
      const auto& s = *status.state;
      h.points.push_back({s.cluster_id, s.position,
                          s.keys > 0 ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(s.keys)) : std::nullopt,
                          fmt::format("the change journal, epoch {}", s.epoch)});
      h.journal_revision = s.position;
      h.newest_ms = std::max(h.newest_ms, s.position_time_ms);
    }
  }
  return h;
}

void refuse_etcd_went_back(const core::Context& ctx, const EtcdHistory& history, const etcd::EtcdPoint& now,
                           bool allow_shrink, std::vector<std::string>& warnings) {
  std::optional<std::string> what;
  for (const auto& before : history.points)
    if ((what = etcd::etcd_went_back(before, now, ctx.config.guard_min_ratio))) break;
  if (!what) return;
  if (allow_shrink) {
    etcd::accept_etcd_rewind(ctx, "kdr backup --allow-shrink");
    warnings.push_back(fmt::format("{}: accepted by the operator (kdr backup --allow-shrink) as the new normal; the "
                                   "change journal begins a new epoch from it",
                                   *what));
    return;
  }
  if (const auto accepted = etcd::etcd_rewind_accepted(ctx, history.newest_ms)) {
    warnings.push_back(fmt::format("{}: etcd was put back by {}; this is the new normal, and the change journal "
                                   "begins a new epoch from it",
                                   *what, accepted->text()));
    return;
  }
  const auto point = history.journal_revision > 0
                         ? fmt::format("the change journal holds every change up to revision {}: kdr restore "
                                       "restore-etcd-snapshot (to=auto) brings etcd back to it",
                                       history.journal_revision)
                         : std::string("kdr restore restore-etcd-snapshot brings back the newest generation's snapshot");
  throw core::Error(fmt::format(
      "not publishing a generation of an etcd that lost its data: {}. Its data dir was lost or emptied (or it was "
      "restored by hand from an older copy); {} (docs/runbook.md, the row \"lost data dir\"). If etcd is meant to be "
      "as it is now, run 'kdr backup --allow-shrink'\nno generation written; the older ones are untouched",
      *what, point));
}

}  // namespace kdr::backup
