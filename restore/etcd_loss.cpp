#include "restore/etcd_loss.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "core/control_plane.hpp"
#include "core/error.hpp"
#include "core/generation.hpp"
#include "core/static_pods.hpp"
#include "etcd/client.hpp"
#include "etcd/tool.hpp"
#include "journal/inspect.hpp"
#include "k8s/resources.hpp"

namespace kdr::restore {

using nlohmann::json;

bool EtcdLoss::other_cluster() const {
  return !live_cluster_id.empty() && !backup_cluster_id.empty() && live_cluster_id != backup_cluster_id;
}

bool EtcdLoss::live_went_back() const {
  return answered && !other_cluster() && journal_revision > 0 && live_revision < journal_revision;
}

bool EtcdLoss::journal_past_backup() const { return journal_revision > 0 && journal_revision > backup_revision; }

bool EtcdLoss::loses_data() const { return journal_past_backup() || loses_live_data(); }

bool EtcdLoss::loses_live_data() const {
  if (!answered || live_went_back()) return false;
  if (backup_revision == 0) return true;  // cannot be compared: assume the worst
  // Another cluster (etcd started again on an emptied data dir, or restored since) counts its
  // revisions anew: a live revision below the backup's holds less than the backup does.
  return live_revision > backup_revision;
}

namespace {

std::string live_text(const EtcdLoss& l) {
  if (!l.answered)
    return fmt::format("cannot tell what is lost: the live etcd does not answer ({})", l.unknown_because);
  const auto keys = l.live_keys ? fmt::format("{} keys", *l.live_keys) : std::string("its keys");
  if (l.other_cluster())
    return fmt::format("the live etcd at {} is cluster {}, not cluster {} the backup was taken from (started again on "
                       "an empty data dir, or restored since): its revision {} and {} are replaced by the backup's "
                       "revision {}",
                       l.endpoint, l.live_cluster_id, l.backup_cluster_id, l.live_revision, keys, l.backup_revision);
  if (l.live_went_back())
    return fmt::format("the live etcd at {} went back to revision {} with {}, below the change journal's {}: it lost "
                       "its data dir (or was restored by hand), so it holds nothing newer; it is replaced",
                       l.endpoint, l.live_revision, keys, l.journal_revision);
  if (l.backup_revision == 0)
    return fmt::format("the live etcd at {} answers at revision {} with {}; the generation recorded no revision, so "
                       "what was written since the backup cannot be counted: assume it is lost",
                       l.endpoint, l.live_revision, keys);
  if (l.live_revision <= l.backup_revision)
    return fmt::format("live etcd at revision {}, the backup at revision {}", l.live_revision, l.backup_revision);
  const auto changes = l.live_revision - l.backup_revision;
  return fmt::format("live etcd at revision {}, the backup at revision {}: {} change{} and {} written since the backup "
                     "will be lost",
                     l.live_revision, l.backup_revision, changes, changes == 1 ? "" : "s",
                     l.keys_changed ? fmt::format("{} key{}", *l.keys_changed, *l.keys_changed == 1 ? "" : "s")
                                    : std::string("an unknown number of keys"));
}

}  // namespace

std::string EtcdLoss::text() const {
  auto out = live_text(*this);
  if (!objects_changed.empty()) {
    std::string per;
    for (const auto& [resource, n] : changed_per_resource) per += fmt::format("{}{} {}", per.empty() ? "" : ", ", n, resource);
    std::string newest;
    for (const auto& o : objects_changed) newest += (newest.empty() ? "" : ", ") + o;
    out += fmt::format(" ({} since the backup{}: {}; the newest: {})",
                       objects_from_journal ? "objects written or deleted" : "objects changed",
                       objects_from_journal ? ", from the change journal" : "", per, newest);
  }
  if (journal_past_backup()) {
    const auto n = journal_revision - backup_revision;
    out += fmt::format("; the change journal holds {} more revision{} of this cluster, up to revision {}{}: "
                       "acknowledged writes this restore does not bring back (--set to=latest restores them)",
                       n, n == 1 ? "" : "s", journal_revision,
                       journal_time_ms > 0 ? fmt::format(" (received {})", core::iso_time(journal_time_ms / 1000))
                                           : std::string());
  } else if (!loses_data() && answered) {
    out += journal_revision > 0 ? "; the point restored is the change journal's end: nothing acknowledged is lost"
                                : ": nothing written since the backup is lost";
  }
  return out;
}

json EtcdLoss::to_json() const {
  auto opt = [](const std::optional<std::uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  json out = {{"answered", answered},
          {"unknown_because", unknown_because},
          {"endpoint", endpoint},
          {"live_revision", live_revision},
          {"backup_revision", backup_revision},
          {"live_cluster_id", live_cluster_id},
          {"backup_cluster_id", backup_cluster_id},
          {"keys_changed", opt(keys_changed)},
          {"live_keys", opt(live_keys)},
          {"journal_revision", journal_revision},
          {"journal_time_ms", journal_time_ms},
          {"loses_data", loses_data()},
          {"text", text()}};
  if (!objects_changed.empty()) {
    out["objects_changed"] = objects_changed;
    out["changed_per_resource"] = changed_per_resource;
    out["objects_from_journal"] = objects_from_journal;
  }
  return out;
}

EtcdLoss EtcdLoss::from_json(const json& j) {
  EtcdLoss l;
  l.answered = j.value("answered", false);
  l.unknown_because = j.value("unknown_because", "");
  l.endpoint = j.value("endpoint", "");
  l.live_revision = j.value("live_revision", std::int64_t{0});
  l.backup_revision = j.value("backup_revision", std::int64_t{0});
  l.live_cluster_id = j.value("live_cluster_id", "");
  l.backup_cluster_id = j.value("backup_cluster_id", "");
  if (j.contains("keys_changed") && j["keys_changed"].is_number()) l.keys_changed = j["keys_changed"].get<std::uint64_t>();
  if (j.contains("live_keys") && j["live_keys"].is_number()) l.live_keys = j["live_keys"].get<std::uint64_t>();
  l.journal_revision = j.value("journal_revision", std::int64_t{0});
  l.journal_time_ms = j.value("journal_time_ms", std::int64_t{0});
  if (j.contains("objects_changed") && j["objects_changed"].is_array())
    l.objects_changed = j["objects_changed"].get<std::vector<std::string>>();
  if (j.contains("changed_per_resource") && j["changed_per_resource"].is_object())
    l.changed_per_resource = j["changed_per_resource"].get<std::map<std::string, std::uint64_t>>();
  l.objects_from_journal = j.value("objects_from_journal", false);
  return l;
}

namespace {

// The journal's last revision of the backup's cluster: the end of its newest epoch of it.
void read_journal_end(const core::Context& ctx, EtcdLoss& loss) {
  if (loss.backup_cluster_id.empty()) return;
  const journal::JournalStore store(ctx.backup_dir);
  if (!store.exists()) return;
  try {
    if (const auto end = journal::journal_end(journal::journal_status(store), loss.backup_cluster_id)) {
      loss.journal_revision = end->revision;
      loss.journal_time_ms = end->time_ms;
    }
  } catch (const core::Error&) {
    // an unreadable journal: the restore's replay (or verify) says so
  }
}

}  // namespace

namespace {

// The keys changed since the backup, as the objects they are (kube-apiserver's prefix).
void name_objects(const core::Context& ctx, std::vector<etcd::EtcdKeyValue>& changed, EtcdLoss& loss) {
  const auto prefix = core::apiserver_etcd_prefix(core::scan_static_pods(ctx.root, ctx.config.static_pod_path));
  std::sort(changed.begin(), changed.end(), [](const auto& a, const auto& b) { return a.mod_revision > b.mod_revision; });
  constexpr std::size_t shown = 10;
  for (const auto& kv : changed) {
    const auto where = k8s::parse_object_key(kv.key, prefix);
    if (!where) continue;
    ++loss.changed_per_resource[where->type.qualified()];
    if (loss.objects_changed.size() < shown)
      loss.objects_changed.push_back(fmt::format("{} {}", where->type.qualified(),
                                                 where->namespace_.empty() ? where->name : where->namespace_ + "/" + where->name));
  }
}

}  // namespace

namespace {

// What the change journal changed past the backup, up to its end: each key's newest change
// (its revision, and whether it was a deletion), and whether the journal's epoch holds every
// change since the backup (its history starts at or before it; a later epoch misses some).
// Empty when the journal has nothing past the backup, or cannot be read (the replay, or
// verify, says so).
struct JournalChange {
  std::int64_t revision = 0;
  bool deleted = false;
};
struct JournalChanges {
  std::map<std::string, JournalChange> keys;
  bool since_backup = false;
};
JournalChanges journal_changes(const core::Context& ctx, const EtcdLoss& loss, const core::NodeKey* key) {
  JournalChanges out;
  if (!loss.journal_past_backup() || loss.backup_revision <= 0) return out;
  try {
    const journal::JournalStore store(ctx.backup_dir);
    const auto end = journal::journal_end(journal::journal_status(store), loss.backup_cluster_id);
    if (!end) return out;
    for (const auto& epoch : store.epochs())
      if (epoch.number == end->epoch) out.since_backup = store.chain_start(epoch).revision <= loss.backup_revision;
    journal::ChangeFilter all;
    all.prefix = "/";  // kube-apiserver's keys (name_objects keeps those under its prefix)
    all.epoch = end->epoch;
    journal::for_each_change(store, all, key, [&](std::uint32_t, const journal::Event& e) {
      if (e.revision > loss.backup_revision) out.keys[e.key] = {e.revision, e.kind == journal::EventKind::del};
    });
  } catch (const core::Error&) {
    return {};
  }
  return out;
}

// The keys (names and revisions only) whose newest change `keep` says to keep.
template <class Keep>
std::vector<etcd::EtcdKeyValue> key_values(const JournalChanges& changes, Keep keep) {
  std::vector<etcd::EtcdKeyValue> out;
  for (const auto& [k, change] : changes.keys) {
    if (!keep(change)) continue;
    etcd::EtcdKeyValue kv;
    kv.key = k;
    kv.mod_revision = change.revision;
    out.push_back(std::move(kv));
  }
  return out;
}

// The keys written since the backup that the live etcd still holds, from the change journal,
// when it holds every change from the backup to the live etcd's revision (etcd compacted its
// own history of them away).
std::optional<std::vector<etcd::EtcdKeyValue>> written_from_journal(const core::Context& ctx, const EtcdLoss& loss,
                                                                    const core::NodeKey* key) {
  if (loss.journal_revision < loss.live_revision) return std::nullopt;
  const auto changes = journal_changes(ctx, loss, key);
  if (!changes.since_backup || changes.keys.empty()) return std::nullopt;
  return key_values(changes, [&](const JournalChange& c) { return !c.deleted && c.revision <= loss.live_revision; });
}

// The keys the change journal holds past the backup, up to its end, newest change first: what
// a restore to the backup's point loses when the live etcd cannot say (down, or gone back).
void name_objects_from_journal(const core::Context& ctx, EtcdLoss& loss, const core::NodeKey* key) {
  auto changed = key_values(journal_changes(ctx, loss, key), [](const JournalChange&) { return true; });
  if (changed.empty()) return;
  name_objects(ctx, changed, loss);
  loss.objects_from_journal = !loss.objects_changed.empty();
}

}  // namespace

EtcdLoss measure_etcd_loss(const core::Context& ctx, const etcd::EtcdLayout& layout, const BackupPoint& backup,
                           const core::NodeKey* key) {
  EtcdLoss loss;
  loss.backup_revision = backup.revision;
  loss.backup_cluster_id = backup.cluster_id;
  read_journal_end(ctx, loss);
  auto target = etcd::etcd_target(ctx, layout);
  etcd::SnapshotOutcome failure;
  const auto status = etcd::endpoint_status(ctx, target, failure);
  if (!status) {
    loss.unknown_because = failure.error;
    name_objects_from_journal(ctx, loss, key);
    return loss;
  }
  loss.answered = true;
  loss.endpoint = target.endpoint;
  loss.live_revision = status->revision;
  loss.live_cluster_id = status->cluster_id;
  // The member's own copy: a member whose cluster lost quorum still says what it holds.
  loss.live_keys = etcd::count_keys(ctx, target, 0, true);
  if (loss.backup_revision > 0 && !loss.other_cluster() && loss.live_revision > loss.backup_revision) {
    // The names of the keys written since: off etcd's history (only the changes are read);
    // once that is compacted, off the change journal when it reaches the live revision; else
    // filtered by etcd (min_mod_revision), which reads every value.
    try {
      const auto client = ctx.etcd->connect(etcd::client_endpoint(target), std::chrono::seconds(60));
      auto written = client->written_since(loss.backup_revision, loss.live_revision);
      if (!written) written = written_from_journal(ctx, loss, key);
      auto changed = written ? std::move(*written)
                             : client->prefix("", {.keys_only = true, .min_mod_revision = loss.backup_revision + 1,
                                                   .serializable = true});
      loss.keys_changed = changed.size();
      name_objects(ctx, changed, loss);
    } catch (const core::Error&) {
      // unknown: the text says "an unknown number of keys"
    }
  }
  if (loss.objects_changed.empty()) name_objects_from_journal(ctx, loss, key);
  return loss;
}

}  // namespace kdr::restore
