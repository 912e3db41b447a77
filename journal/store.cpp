#include "journal/store.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::journal {

using nlohmann::json;

namespace {

std::optional<std::uint32_t> epoch_number(const std::string& name) {
  constexpr std::string_view prefix = "epoch-";
  if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const auto digits = name.substr(prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return static_cast<std::uint32_t>(std::stoul(digits));
}

}  // namespace

json EpochInfo::to_json() const {
  json j = {{"epoch", number},
            {"cluster_id", cluster_id},
            {"member_id", member_id},
            {"endpoint", endpoint},
            {"base_revision", base_revision},
            {"base_digest", base.hex()},
            {"base_keys", base.keys},
            {"base_generation", base_generation},
            {"started_ms", started_ms},
            {"reason", reason}};
  j["previous_last"] = previous_last ? json(*previous_last) : json(nullptr);
  j["previous_cluster_id"] = previous_cluster_id;
  return j;
}

bool EpochInfo::holds_snapshot(const std::string& id, std::int64_t time_s, const std::string& cluster,
                               std::int64_t revision) const {
  if (cluster != cluster_id || revision < base_revision) return false;
  return id == base_generation || time_s >= started_ms / 1000;
}

EpochInfo EpochInfo::from_json(const json& j, const bfs::path& dir) {
  EpochInfo e;
  e.dir = dir;
  try {
    e.number = j.at("epoch").get<std::uint32_t>();
    e.cluster_id = j.at("cluster_id").get<std::string>();
    e.member_id = j.value("member_id", "");
    e.endpoint = j.value("endpoint", "");
    e.base_revision = j.at("base_revision").get<std::int64_t>();
    e.base = etcd::KeyspaceDigest::from_hex(j.at("base_digest").get<std::string>(), j.at("base_keys").get<std::int64_t>());
    e.base_generation = j.value("base_generation", "");
    e.started_ms = j.value("started_ms", std::int64_t{0});
    e.reason = j.value("reason", "");
    if (j.contains("previous_last") && j["previous_last"].is_number()) e.previous_last = j["previous_last"].get<std::int64_t>();
    e.previous_cluster_id = j.value("previous_cluster_id", "");
  } catch (const json::exception& ex) {
    throw core::Error(fmt::format("{}: {}", (dir / "epoch.json").string(), ex.what()));
  } catch (const core::Error& ex) {
    throw core::Error(fmt::format("{}: {}", (dir / "epoch.json").string(), ex.what()));
  }
  return e;
}

JournalStore::JournalStore(const bfs::path& backup_dir) : dir_(backup_dir / "journal") {}

bool JournalStore::exists() const {
  const auto st = core::lstat_path(dir_);
  return st && st->type == core::FileType::directory;
}

void JournalStore::create() const { core::make_dir(dir_, 0700); }

std::vector<EpochInfo> JournalStore::epochs() const {
  std::vector<EpochInfo> out;
  if (!exists()) return out;
  for (const auto& name : core::list_dir(dir_)) {
    const auto n = epoch_number(name);
    if (!n) continue;
    const auto file = dir_ / name / "epoch.json";
    json j;
    try {
      j = json::parse(core::read_backup_file(file));
    } catch (const json::exception& e) {
      throw core::Error(fmt::format("{}: not JSON: {}", file.string(), e.what()));
    }
    auto e = EpochInfo::from_json(j, dir_ / name);
    if (e.number != *n) throw core::Error(fmt::format("{}: says epoch {}, its folder {}", file.string(), e.number, *n));
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<SegmentFile> JournalStore::segments(const EpochInfo& epoch) const {
  std::vector<SegmentFile> out;
  for (const auto& name : core::list_dir(epoch.dir))
    if (auto n = parse_segment_name(name)) out.push_back({epoch.dir / name, *n});
  std::sort(out.begin(), out.end(), [](const SegmentFile& a, const SegmentFile& b) {
    return a.name.first != b.name.first ? a.name.first < b.name.first : !a.name.open() && b.name.open();
  });
  return out;
}

std::vector<Gap> JournalStore::gaps() const {
  std::vector<Gap> out;
  for (const auto& e : epochs())
    if (e.number > 1 || e.previous_last)
      out.push_back({e.number, e.previous_last, e.base_revision, e.reason, e.previous_cluster_id, e.cluster_id});
  return out;
}

ChainStart JournalStore::chain_start(const EpochInfo& epoch) const {
  const auto file = epoch.dir / "pruned.json";
  if (!core::lstat_path(file)) return {epoch.base_revision, epoch.base};
  try {
    const auto j = json::parse(core::read_backup_file(file));
    return {j.at("revision").get<std::int64_t>(),
            etcd::KeyspaceDigest::from_hex(j.at("digest").get<std::string>(), j.at("keys").get<std::int64_t>())};
  } catch (const std::exception& e) {
    throw core::Error(fmt::format("{}: {}", file.string(), e.what()));
  }
}

void JournalStore::set_chain_start(const EpochInfo& epoch, const ChainStart& start) const {
  core::write_file_atomic(epoch.dir / "pruned.json",
                          json{{"revision", start.revision}, {"digest", start.digest.hex()}, {"keys", start.digest.keys}}
                                  .dump(2) +
                              "\n");
}

std::string Gap::text() const {
  if (!previous_cluster_id.empty() && previous_cluster_id != cluster_id)
    return fmt::format("etcd became cluster {} (restored or replaced): the history of cluster {} ends{}, the new one "
                       "begins at revision {}",
                       cluster_id, previous_cluster_id, after ? fmt::format(" at revision {}", *after) : std::string(),
                       until);
  if (after && until > *after)
    return fmt::format("revisions {} to {} are not in the journal", *after + 1, until);
  if (after) return fmt::format("the history begins again at revision {} (it had reached {})", until, *after);
  return fmt::format("the history begins again at revision {}", until);
}

EpochInfo JournalStore::begin_epoch(EpochInfo info) const {
  create();
  const auto existing = epochs();
  info.number = existing.empty() ? 1 : existing.back().number + 1;
  const auto name = fmt::format("epoch-{:06}", info.number);
  info.dir = dir_ / name;
  const auto tmp = dir_ / ("." + name + ".tmp");
  if (core::lstat_path(tmp)) core::remove_tree(tmp);
  core::make_dir(tmp, 0700);
  core::write_file_atomic(tmp / "epoch.json", info.to_json().dump(2) + "\n");
  if (::rename(tmp.c_str(), info.dir.c_str()) != 0) core::throw_errno("rename", tmp.string(), errno);
  core::fsync_path(dir_);
  return info;
}

}  // namespace kdr::journal
