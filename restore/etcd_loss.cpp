#include "restore/etcd_loss.hpp"

#include <fmt/format.h>

#include "backup/etcd_snapshot.hpp"
#include "core/error.hpp"
#include "core/etcd_client.hpp"

namespace kdr::restore {

using nlohmann::json;

bool EtcdLoss::other_cluster() const {
  return !live_cluster_id.empty() && !backup_cluster_id.empty() && live_cluster_id != backup_cluster_id;
}

bool EtcdLoss::loses_data() const {
  if (!answered) return false;
  if (backup_revision == 0) return true;  // cannot be compared: assume the worst
  // Another cluster (etcd started again on an emptied data dir, or restored since) counts its
  // revisions anew: a live revision below the backup's holds less than the backup does.
  return live_revision > backup_revision;
}

std::string EtcdLoss::text() const {
  if (!answered)
    return fmt::format("cannot tell what is lost: the live etcd does not answer ({})", unknown_because);
  const auto keys = live_keys ? fmt::format("{} keys", *live_keys) : std::string("its keys");
  if (other_cluster())
    return fmt::format("the live etcd at {} is cluster {}, not cluster {} the backup was taken from (started again on "
                       "an empty data dir, or restored since): its revision {} and {} are replaced by the backup's "
                       "revision {}",
                       endpoint, live_cluster_id, backup_cluster_id, live_revision, keys, backup_revision);
  if (backup_revision == 0)
    return fmt::format("the live etcd at {} answers at revision {} with {}; the generation recorded no revision, so "
                       "what was written since the backup cannot be counted: assume it is lost",
                       endpoint, live_revision, keys);
  if (live_revision <= backup_revision)
    return fmt::format("live etcd at revision {}, the backup at revision {}: nothing written since the backup is lost",
                       live_revision, backup_revision);
  const auto changes = live_revision - backup_revision;
  return fmt::format("live etcd at revision {}, the backup at revision {}: {} change{} and {} written since the backup "
                     "will be lost",
                     live_revision, backup_revision, changes, changes == 1 ? "" : "s",
                     keys_changed ? fmt::format("{} key{}", *keys_changed, *keys_changed == 1 ? "" : "s")
                                  : std::string("an unknown number of keys"));
}

json EtcdLoss::to_json() const {
  auto opt = [](const std::optional<std::uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  return {{"answered", answered},
          {"unknown_because", unknown_because},
          {"endpoint", endpoint},
          {"live_revision", live_revision},
          {"backup_revision", backup_revision},
          {"live_cluster_id", live_cluster_id},
          {"backup_cluster_id", backup_cluster_id},
          {"keys_changed", opt(keys_changed)},
          {"live_keys", opt(live_keys)},
          {"loses_data", loses_data()},
          {"text", text()}};
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
  return l;
}

EtcdLoss measure_etcd_loss(const core::Context& ctx, const core::EtcdLayout& layout, const BackupPoint& backup) {
  EtcdLoss loss;
  loss.backup_revision = backup.revision;
  loss.backup_cluster_id = backup.cluster_id;
  auto target = backup::etcd_target(ctx, layout);
  backup::SnapshotOutcome failure;
  const auto status = backup::endpoint_status(ctx, target, failure);
  if (!status) {
    loss.unknown_because = failure.error;
    return loss;
  }
  loss.answered = true;
  loss.endpoint = target.endpoint;
  loss.live_revision = status->revision;
  loss.live_cluster_id = status->cluster_id;
  // The member's own copy: a member whose cluster lost quorum still says what it holds.
  loss.live_keys = backup::count_keys(ctx, target, 0, true);
  if (loss.backup_revision > 0 && !loss.other_cluster() && loss.live_revision > loss.backup_revision) {
    // Filtered by etcd itself (min_mod_revision): only the names of the keys changed since.
    try {
      const auto client = ctx.etcd->connect(backup::client_endpoint(target), std::chrono::seconds(60));
      loss.keys_changed =
          client->prefix("", {.keys_only = true, .min_mod_revision = loss.backup_revision + 1, .serializable = true})
              .size();
    } catch (const core::Error&) {
      // unknown: the text says "an unknown number of keys"
    }
  }
  return loss;
}

}  // namespace kdr::restore
