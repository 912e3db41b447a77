// The guard for etcd that the shrink guard is for files: an etcd whose revision went back, or
// whose keyspace collapsed, since the last point kdr holds of the same cluster (the newest
// generation's snapshot or journal revision, the change journal's position) lost its data dir;
// a backup of it would publish an empty cluster as the newest generation. Such a run is
// refused, naming what happened and the journal's last revision, unless a restore kdr ran on
// this node since put etcd back, or the operator accepts it (`kdr backup --allow-shrink`):
// then it is the new normal, backed up as the base of the journal's next epoch, and the
// generation's warnings say which of the two it was (etcd/rewind.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/repository.hpp"
#include "etcd/rewind.hpp"

namespace kdr::backup {

// What kdr last held of etcd: the newest generation that recorded it, and the journal.
struct EtcdHistory {
  std::vector<etcd::EtcdPoint> points;
  std::int64_t newest_ms = 0;  // when the newest of them was taken: an acceptance must be later
  std::int64_t journal_revision = 0;  // the journal's last revision of that cluster (0: none)
};
EtcdHistory etcd_history(const core::Context& ctx, const std::vector<core::GenerationEntry>& generations);

// Throws Error (exit 1) when `now` went back or collapsed and nobody accepted it; otherwise
// adds to `warnings` what was accepted, and by whom. `allow_shrink` records the operator's
// acceptance for the journal's follower.
void refuse_etcd_went_back(const core::Context& ctx, const EtcdHistory& history, const etcd::EtcdPoint& now,
                           bool allow_shrink, std::vector<std::string>& warnings);

}  // namespace kdr::backup
