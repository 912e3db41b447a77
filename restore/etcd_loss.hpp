// What a restore that replaces etcd's data would lose: measured on the live etcd before
// anything stops, and on the change journal's end, against the revision the restore puts back. The plan and the
// confirmation print it; the preflight refuses a restore that would roll back a live,
// newer etcd unless accept_loss=true; the journal keeps it (in the plan).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "etcd/layout.hpp"

namespace kdr::restore {

struct EtcdLoss {
  bool answered = false;       // the live etcd answered
  std::string unknown_because;  // why nothing could be measured (when it did not answer)
  std::string endpoint;
  std::int64_t live_revision = 0;
  std::int64_t backup_revision = 0;  // 0: the generation recorded none
  std::string live_cluster_id, backup_cluster_id;  // hex; empty: unknown
  std::optional<std::uint64_t> keys_changed;      // live keys last changed after the backup
  // Those keys as Kubernetes objects: the newest first ("deployments.apps payments/api", at most
  // 10), and how many per resource. From the live etcd when it answers with newer data of the
  // backup's cluster (keys written since, still there); else from the change journal past the
  // backup (every key written or deleted since, up to the journal's end).
  std::vector<std::string> objects_changed;
  std::map<std::string, std::uint64_t> changed_per_resource;
  bool objects_from_journal = false;
  std::optional<std::uint64_t> live_keys;
  // The change journal's last revision of the backup's cluster (0: no journal of it), and when
  // the journal received it: the changes after the backup's revision up to there are
  // acknowledged writes that this restore does not bring back.
  std::int64_t journal_revision = 0;
  std::int64_t journal_time_ms = 0;
  // The live etcd is the backup's cluster at a revision below the journal's end: it started
  // again on an empty data dir (or was restored by hand); what it holds is not newer data.
  bool live_went_back() const;
  bool journal_past_backup() const;
  // The live etcd answers with changes newer than the restored point.
  bool loses_live_data() const;

  bool other_cluster() const;
  // The live etcd, or the change journal, holds data the restored point does not have.
  bool loses_data() const;
  // "live etcd at revision N, the backup at M: N-M changes and K keys written since the backup will be lost"
  std::string text() const;
  nlohmann::json to_json() const;
  static EtcdLoss from_json(const nlohmann::json& j);
};

// The point a restore puts etcd back to: the backup's revision and cluster (revision 0: not
// recorded).
struct BackupPoint {
  std::int64_t revision = 0;
  std::string cluster_id;
};

// Asks the node's etcd (as the layout finds it, with its client certificate), and reads the
// change journal's end (its state.json) and, when the live etcd cannot say, the journal's
// changes past the backup (segments checked with `key`, the node's key; null: none here).
EtcdLoss measure_etcd_loss(const core::Context& ctx, const etcd::EtcdLayout& layout, const BackupPoint& backup,
                           const core::NodeKey* key = nullptr);

}  // namespace kdr::restore
