// The typed sections of a generation's meta.json that restores, verify, prune and show read:
// "etcd" (the consistent snapshot, or why there is none, the change journal's revision, the
// cluster's members) and "node" (hostname, addresses, static pods, how etcd ran, the member,
// the saved kubeadm configuration). Parsed once, in GenerationMeta::from_json; a field of the
// wrong type is an error naming the file and the field, a field left out (older generations)
// keeps its default. docs/backup-format.md describes them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kdr::core {

// etcd.snapshot: the consistent snapshot saved in the generation.
struct EtcdSnapshotRecord {
  std::string file = "etcd/snapshot.db";  // relative to the generation: etcd/snapshot.db[.zst]
  std::uint64_t size = 0;                 // of that file
  std::string sha256;                     // of that file
  std::string compression = "none";       // none | zstd
  std::uint64_t db_size = 0;              // the snapshot itself (uncompressed)
  std::string db_sha256;
  std::int64_t revision = 0;
  std::uint64_t total_keys = 0;       // pairs in every bucket, as `snapshot status` counts them
  std::optional<std::uint64_t> keys;  // live keys at `revision` (what a restore must serve)
  // live values encrypted at rest, per key they name ("aescbc:key1" -> 120; core/encryption.hpp);
  // empty: not counted (a generation from before kdr counted them)
  std::optional<std::map<std::string, std::uint64_t>> encrypted_values;
  // etcd's HashKV at `revision`, asked of the member that served the snapshot right after it
  // (etcd 3.5 and later; empty before, or when that member could not say): a restore test
  // compares the restored etcd's with it
  struct HashKV {
    std::uint32_t hash = 0;
    std::int64_t compact_revision = 0;
  };
  std::optional<HashKV> hashkv;
  // The keyspace digest (etcd/keyspace_digest.hpp) of the snapshot's live keys at `revision`,
  // computed off the file as it was saved: the change journal starts an epoch from it without
  // reading the keyspace from etcd again. Empty: not computed (a generation from before kdr
  // recorded it).
  struct KeyspaceDigest {
    std::string hex;  // 64 hex digits
    std::uint64_t keys = 0;
  };
  std::optional<KeyspaceDigest> keyspace_digest;
  std::string endpoint;
  std::string server_version;
  std::string cluster_id;  // of the cluster that served it (hex)
  std::string member_id;   // the member that served it (hex)
  double duration_s = 0;
  nlohmann::json to_json() const;
  static EtcdSnapshotRecord from_json(const nlohmann::json& j, const std::string& where);
};

// etcd.journal: the change journal's revision that stands for etcd in a generation without
// a snapshot of its own.
struct JournalPointRecord {
  std::uint64_t epoch = 0;
  std::string cluster_id;
  std::int64_t revision = 0;
  std::int64_t time_ms = 0;
  std::string base_generation;  // the generation whose snapshot the journal extends
  std::int64_t base_revision = 0;
  nlohmann::json to_json() const;
  static JournalPointRecord from_json(const nlohmann::json& j, const std::string& where);
};

// etcd.members[]: the cluster's members as `etcdctl member list` gave them.
struct EtcdMemberRecord {
  std::string id;  // hex
  std::string name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool learner = false;
  std::string first_peer_url() const { return peer_urls.empty() ? std::string() : peer_urls.front(); }
  nlohmann::json to_json() const;
  static EtcdMemberRecord from_json(const nlohmann::json& j, const std::string& where);
};

// meta.json "etcd".
struct EtcdFacts {
  bool recorded = false;  // the generation has the section (generations of early kdr versions lack it)
  std::optional<EtcdSnapshotRecord> snapshot;
  bool snapshot_disabled = false;  // etcd.snapshot: false in the config
  std::string snapshot_error;      // why no snapshot was taken
  std::string snapshot_failure;    // its kind (missing-tool, certificate, unreachable, ...)
  std::optional<JournalPointRecord> journal;
  std::string full_because;  // why a full snapshot was taken although the journal runs
  std::vector<EtcdMemberRecord> members;
  // Why there is no snapshot, in words ("none taken" when nothing says).
  std::string no_snapshot_reason() const;
  // The member that served the snapshot, as the member list names it (none when it is not in
  // the list, or nothing was recorded).
  const EtcdMemberRecord* snapshot_member() const;
  // Why the snapshot may not be the cluster's state: taken on a learner (it may lag behind the
  // voting members), or on a member the cluster's list does not hold (it fell out of the
  // cluster); "" when neither, or when no member list was recorded.
  std::string snapshot_member_problem() const;
  // "cluster 5e1a..., 3 members: cp-1, cp-2 (learner), cp-3; the snapshot from cp-2" ("" without
  // a member list).
  std::string cluster_text() const;
  nlohmann::json to_json() const;
  static EtcdFacts from_json(const nlohmann::json& j, const std::string& where);
};

// node.static_pods[].
struct StaticPodRecord {
  struct Image {
    std::string image;
    std::string version;  // its tag: v1.31.2
  };
  std::string name;
  std::string manifest;
  std::vector<Image> images;
};

// node.etcd: how etcd ran (etcd/layout.hpp's EtcdLayout::to_json, the parts read back).
struct EtcdLayoutRecord {
  std::string kind;  // static-pod | systemd | local | external | unknown ("" when not recorded)
  std::string summary;
  std::optional<std::string> data_dir;  // null when etcd runs elsewhere
  std::string systemd_unit;
  std::map<std::string, std::string> systemd_env;
  nlohmann::json raw = nlohmann::json::object();  // everything else it recorded, as written
  static EtcdLayoutRecord from_json(const nlohmann::json& j, const std::string& where);
};

// node.etcd_member: the member as the node's etcd manifest described it.
struct EtcdMemberFacts {
  std::string name;
  std::string data_dir;       // as the container sees it
  std::string data_dir_host;  // on the node
  std::vector<std::string> client_urls, advertise_client_urls, peer_urls;
  std::string initial_cluster;
  std::string image, image_version;
  std::string manifest;
  std::string first_peer_url() const { return peer_urls.empty() ? std::string() : peer_urls.front(); }
};

// meta.json "node".
struct NodeFacts {
  bool recorded = false;  // the generation has the section
  std::string hostname;
  std::vector<std::string> addresses;
  std::vector<StaticPodRecord> static_pods;
  std::optional<EtcdLayoutRecord> etcd;
  std::optional<EtcdMemberFacts> etcd_member;
  std::string etcd_server_version;
  std::string kubeadm_config;  // relative to the generation; empty: not saved
  std::vector<std::string> not_captured;
  // The image version of a static pod's first container ("" when not recorded).
  std::string pod_version(const std::string& pod) const;
  // etcd's data dir as the backup recorded it: node.etcd.data_dir ("" when etcd's data was not
  // on the node), or the member's host data dir in generations written before layouts were
  // recorded; nothing when it recorded neither.
  std::optional<std::string> recorded_etcd_data_dir() const;
  nlohmann::json to_json() const;
  static NodeFacts from_json(const nlohmann::json& j, const std::string& where);
};

// meta.json "artifacts": files kdr wrote into the generation besides the copied ones.
struct ArtifactRecord {
  std::string path;  // relative to the generation
  std::string sha256;
  std::uint64_t size = 0;
};

}  // namespace kdr::core
