// The live etcd against the generation: does it answer, and does it still hold what the
// backup held? A crash-looping etcd on a truncated database, or one serving far fewer keys
// than the snapshot, is an error, not "etcd kept writing".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "etcd/member_data.hpp"
#include "verify/findings.hpp"
#include "verify/integrity.hpp"

namespace kdr::verify {

struct EtcdLiveFacts {
  // the generation's
  std::int64_t backup_revision = 0;
  std::optional<std::uint64_t> backup_keys;
  std::uint64_t backup_db_size = 0;  // etcd's database file as the backup copied it (or the snapshot's size)
  std::string backup_cluster_id;
  // the node's
  bool answered = false;
  std::string error;  // why it does not answer
  std::string endpoint;
  std::int64_t revision = 0;
  std::optional<std::uint64_t> keys;
  std::string cluster_id;
  std::string data_dir;  // node path; its member/snap/db is etcd's database file
  std::optional<std::uint64_t> db_file_size;
  // the change journal's last revision of the live etcd's cluster (0: none), and who accepted
  // an etcd that went back since the backup (a kdr restore here, kdr backup --allow-shrink)
  std::int64_t journal_revision = 0;
  std::string went_back_accepted_by;
  // When it does not answer: its data dir read offline (etcd/member_data.hpp)
  std::optional<etcd::MemberData> offline;
  std::string db_path() const { return data_dir + "/member/snap/db"; }
  nlohmann::json to_json() const;
};

// etcd's database file (PATH is <data dir>/member/snap/db) far smaller than the backup's: less
// than a quarter, more than a defragmentation frees in a Kubernetes cluster.
bool etcd_db_shrank(const std::string& path, const std::string& etcd_data_dir, std::uint64_t live_size,
                    std::uint64_t backup_size);

// The findings the facts call for (check "live-etcd": down, db-shrunk, data-dir-lost, keys-missing, rolled-back).
void judge_etcd_live(const EtcdLiveFacts& facts, Findings& findings);

// Asks the node's etcd (as etcd/layout finds it); empty when there is no etcd to ask
// (the generation has no snapshot and the node shows no etcd).
std::optional<EtcdLiveFacts> check_etcd_live(const core::Context& ctx, const GenerationView& g, Findings& findings);

}  // namespace kdr::verify
