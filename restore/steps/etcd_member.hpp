// What the etcd membership steps share (etcd-member-remove, etcd-member-add, etcd-member-join,
// etcd-member-promote; playbook replace-etcd-member): the cluster as this node sees it.
#pragma once

#include "restore/etcd_cluster.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

// The node's etcd client certificate (from its manifest, or the one this restore took out of
// the static pod folder), the other members the generation recorded and what they answer,
// and this node's member as the plan names it.
ClusterAccess cluster_access(const Runner& r);
// The same with the other members given (a rollback asks those its action recorded, not the
// generation's).
ClusterAccess cluster_access(const Runner& r, const std::vector<core::EtcdMemberRecord>& members);

// The other members as an action records them ({name, client_urls}), and read back.
nlohmann::json members_json(const ClusterAccess& c);
std::vector<core::EtcdMemberRecord> members_from_json(const nlohmann::json& j);

// The preflight's check that the others keep quorum without this node (each member step needs a
// member that serves); the access, or empty after adding the refusal.
std::optional<ClusterAccess> check_cluster(Runner& r, Preflight& pf);

}  // namespace kdr::restore
