#include "journal/retention.hpp"

#include <unistd.h>

#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace kdr::journal {

namespace {

// The last revision an epoch's closed segments reach; empty while a segment is open.
std::optional<std::int64_t> closed_end(const std::vector<SegmentFile>& segments) {
  std::optional<std::int64_t> end;
  for (const auto& s : segments) {
    if (s.name.open()) return std::nullopt;
    end = std::max(end.value_or(0), *s.name.last);
  }
  return end;
}

// The oldest full snapshot an epoch can replay from: a kept generation's of its cluster within
// its history, or a base `kdr journal compact` made in it.
std::optional<std::int64_t> oldest_base(const JournalStore& store, const EpochInfo& epoch,
                                        const std::vector<SegmentFile>& segments, const std::vector<KeptBase>& kept) {
  const auto from = store.chain_start(epoch).revision;
  const auto end = closed_end(segments);
  std::optional<std::int64_t> oldest;
  auto consider = [&](std::int64_t r) {
    if (r >= from && (!end || r <= *end) && (!oldest || r < *oldest)) oldest = r;
  };
  for (const auto& k : kept)
    if (k.cluster_id == epoch.cluster_id) consider(k.revision);
  const auto bases = epoch.dir / "bases";
  if (core::lstat_path(bases))
    for (const auto& name : core::list_dir(bases)) {
      if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;
      try {
        consider(nlohmann::json::parse(core::read_backup_file(bases / name)).at("revision").get<std::int64_t>());
      } catch (const std::exception&) {
        // unreadable: it keeps nothing alive, and is not removed here either
      }
    }
  return oldest;
}

}  // namespace

JournalPrune plan_journal_prune(const JournalStore& store, const std::vector<KeptBase>& kept) {
  JournalPrune plan;
  if (!store.exists()) return plan;
  const auto epochs = store.epochs();
  for (std::size_t i = 0; i < epochs.size(); ++i) {
    const auto& epoch = epochs[i];
    const auto segments = store.segments(epoch);
    const auto base = oldest_base(store, epoch, segments, kept);
    if (!base) {
      if (i + 1 < epochs.size())
        plan.remove.push_back({epoch.dir,
                               fmt::format("epoch {} (cluster {}): no full snapshot that retention keeps lies in its history",
                                           epoch.number, epoch.cluster_id),
                               epoch.number});
      continue;
    }
    for (const auto& seg : segments)
      if (!seg.name.open() && *seg.name.last < *base)
        plan.remove.push_back({seg.path,
                               fmt::format("{}: revisions {} to {}, before epoch {}'s oldest kept full snapshot (revision {})",
                                           seg.path.filename().string(), seg.name.first, *seg.name.last, epoch.number,
                                           *base),
                               epoch.number});
  }
  return plan;
}

void apply_journal_prune(const JournalStore& store, const JournalPrune& plan) {
  std::set<std::uint32_t> cut;  // epochs that lose segments, not the whole folder
  for (const auto& item : plan.remove)
    if (item.path.filename().string().rfind("epoch-", 0) != 0) cut.insert(item.epoch);
  for (const auto& epoch : store.epochs()) {
    if (!cut.count(epoch.number)) continue;
    // The first segment that stays says where the history left begins.
    for (const auto& seg : store.segments(epoch)) {
      const bool removed = std::any_of(plan.remove.begin(), plan.remove.end(),
                                       [&](const JournalPrune::Item& i) { return i.path == seg.path; });
      if (removed) continue;
      SegmentReader reader(seg.path);
      auto first = reader.next();
      const auto* start = first ? std::get_if<SegmentStart>(&*first) : nullptr;
      if (start == nullptr)
        throw core::Error(fmt::format("{}: no start record; the journal's older segments are kept", seg.path.string()));
      store.set_chain_start(epoch, {start->first_revision - 1, start->before});
      break;
    }
  }
  for (const auto& item : plan.remove) {
    const auto st = core::lstat_path(item.path);
    if (!st) continue;
    if (st->type == core::FileType::directory) core::remove_tree(item.path);
    else if (::unlink(item.path.c_str()) != 0) core::throw_errno("unlink", item.path.string(), errno);
  }
  if (!plan.remove.empty()) core::fsync_path(store.dir());
}

}  // namespace kdr::journal
