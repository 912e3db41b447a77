// When etcd's history on this node may start again lower: a restore kdr ran here put etcd's
// data back (etcd 3.4 cannot bump the revision past the old one), or the operator accepted an
// etcd that went back or lost most of its keys (`kdr backup --allow-shrink`). Anything else
// that makes etcd's revision go back, or its keyspace collapse, is a lost or emptied data dir:
// the journal's follower keeps the history it has and `kdr backup` refuses it.
//
// <state_dir>/etcd-rewind.json on the node (root's, 0600), written by whoever accepts, read by
// the follower and by `kdr backup`. It stands for rewinds seen after it was written only: each
// reader compares its time with the last time it saw the old history.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/context.hpp"

namespace kdr::etcd {

// A point of etcd's history that kdr holds: where a generation or the journal saw it.
struct EtcdPoint {
  std::string cluster_id;          // hex; empty: unknown (counts as the same cluster)
  std::int64_t revision = 0;       // 0: unknown
  std::optional<std::uint64_t> keys;
  std::string where;               // "generation 2026-12-04T031200Z", "the change journal"
};

// What went wrong between `before` and `now`: "etcd's revision went back from 55 (the change
// journal) to 1" (the same cluster), or "etcd's keyspace collapsed from 120 keys (generation
// ...) to 3" (fewer than `min_ratio` of them, from at least 8; of any cluster: a cluster id
// that changed is no proof of a restore). Empty when etcd went on.
std::optional<std::string> etcd_went_back(const EtcdPoint& before, const EtcdPoint& now, double min_ratio);

struct RewindAcceptance {
  std::string by;           // "kdr restore 20261204-0312 (restore-etcd-snapshot)" or "kdr backup --allow-shrink"
  std::int64_t time_ms = 0; // when
  std::string text() const;  // "kdr restore ... at 2026-12-04T03:12:09Z"
};

core::bfs::path rewind_acceptance_file(const core::Context& ctx);
// Records that etcd's data was put back or accepted now, by `by`.
void accept_etcd_rewind(const core::Context& ctx, const std::string& by);
// The last acceptance, if one was recorded after `after_ms`; a damaged record counts as none.
std::optional<RewindAcceptance> etcd_rewind_accepted(const core::Context& ctx, std::int64_t after_ms);

}  // namespace kdr::etcd
