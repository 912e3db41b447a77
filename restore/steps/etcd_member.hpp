// What the etcd membership steps share (etcd-member-remove, etcd-member-add, etcd-member-join,
// etcd-member-promote; playbook replace-etcd-member): the cluster as this node sees it.
#pragma once

#include "etcd/api.hpp"
#include "restore/etcd_cluster.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

// The keys every member step takes: `via`, a client URL of a member to go through (`auto`: the
// other members the generation recorded), and `cluster_id`, the cluster it must be (hex, or
// `any`), so that a node joining the cluster another node restored joins that one.
struct MemberArgs : StepArgs {
  std::string via;
  std::string cluster_id;
};
std::vector<StepKey> member_keys();
void read_member_keys(const StepValues& v, MemberArgs& a);
// The arguments of a member step that takes no other key.
MemberArgs member_args(const StepValues& v);

// The node's etcd client certificate (from its manifest, or the one this restore took out of
// the static pod folder), the other members the generation recorded and what they answer,
// and this node's member as the plan names it.
ClusterAccess cluster_access(const Runner& r, const MemberArgs& a);
// The same with the other members given (a rollback asks those its action recorded).
ClusterAccess cluster_access(const Runner& r, const std::vector<core::EtcdMemberRecord>& members,
                             const std::string& cluster_id);

// A member of those recorded that serves, asked again every half second for up to `timeout_s`
// (a member just stopped may have been the leader: the others elect a new one first); an
// Error with the last answer when none serves by then.
std::unique_ptr<etcd::EtcdApi> serving_member(const Runner& r, const std::vector<core::EtcdMemberRecord>& members,
                                              const std::string& cluster_id, double timeout_s);

// Removes the member `id` through `client`. etcd refuses a member change while the cluster has
// not settled since the last one ("etcdserver: unhealthy cluster": a member connected for less
// than 5 s), so a refusal as unavailable is asked again every half second for up to a minute; a
// member gone although the answer was an error (a leader that changed meanwhile) is removed.
// `what` names it in the progress lines.
void remove_member_when_ready(Runner& r, etcd::EtcdApi& client, std::uint64_t id, const std::string& what);

// The other members as an action records them ({name, client_urls}), and read back.
nlohmann::json members_json(const ClusterAccess& c);
std::vector<core::EtcdMemberRecord> members_from_json(const nlohmann::json& j);

// The preflight's check that the others keep quorum without this node (each member step needs a
// member that serves); the access, or empty after adding the refusal. The cluster is asked once
// per preflight (Preflight::cluster_looks), however many member steps the plan has.
std::optional<ClusterAccess> check_cluster(Runner& r, const MemberArgs& a, Preflight& pf);

}  // namespace kdr::restore
