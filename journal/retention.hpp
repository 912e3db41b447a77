// Retention of the change journal, applied with the generations' (backup::prune): a replay
// starts from a full snapshot, so the journal's history only serves from the oldest full
// snapshot retention keeps. Removed: an epoch's closed segments that end before its oldest
// kept base (the history left then starts at the first segment kept: epoch-N/pruned.json),
// and whole epochs, but the newest, that no kept full snapshot extends. Never a segment being
// written, never anything after an epoch's oldest kept base.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "journal/store.hpp"

namespace kdr::journal {

// A full snapshot that retention keeps: a generation's (its cluster and revision).
struct KeptBase {
  std::string cluster_id;
  std::int64_t revision = 0;
};

struct JournalPrune {
  struct Item {
    bfs::path path;       // a segment file or an epoch folder
    std::string why;
    std::uint32_t epoch = 0;
  };
  std::vector<Item> remove;
};

JournalPrune plan_journal_prune(const JournalStore& store, const std::vector<KeptBase>& kept);
// Removes what the plan names; an epoch that lost its oldest segments records where its
// history now starts, before they go.
void apply_journal_prune(const JournalStore& store, const JournalPrune& plan);

}  // namespace kdr::journal
