// The other members of the etcd cluster this node belonged to, as the generation recorded
// them (etcd.members), asked through their client URLs with the node's etcd client
// certificate: which of them answer, and whether they still form a cluster with quorum (one of
// them serves a linearizable read, which etcd answers only with a leader backed by a majority).
// A snapshot restore on a node whose cluster still has quorum would start a second,
// one-member cluster beside it: a split brain.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/generation_facts.hpp"
#include "etcd/api.hpp"

namespace kdr::restore {

struct OtherMember {
  core::EtcdMemberRecord record;
  std::string url;         // the client URL asked
  bool answers = false;    // its status came back
  bool serves = false;     // it answered a linearizable read: its cluster has quorum
  std::string cluster_id;  // as it answered
  std::string problem;     // why not, when it did not
  std::string text() const;  // "cp-2 (https://127.0.0.12:2379): answers, cluster 5e1a…, serves reads"
};

struct ClusterLook {
  std::vector<OtherMember> others;  // every recorded member but this node's, learners included
  // One of the others serves linearizable reads: the cluster goes on without this node.
  bool quorum() const;
  std::vector<const OtherMember*> serving() const;
};

// `this_member`: the name of this node's member (the etcd manifest's --name). `tls`: the node's
// etcd endpoint, whose certificate files are used for every member. Each member gets
// `timeout` (a member that is down costs that much once).
ClusterLook look_at_other_members(const core::Context& ctx, const std::vector<core::EtcdMemberRecord>& members,
                                  const std::string& this_member, const etcd::EtcdEndpoint& tls,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(3));

// A client to the first of the other members that serves reads. Throws Error listing what each
// member answered when none does (the cluster has lost quorum).
std::unique_ptr<etcd::EtcdApi> healthy_member(const core::Context& ctx, const ClusterLook& look,
                                              const etcd::EtcdEndpoint& tls);

// The member of the live cluster that is this node's: by name, else by peer URL.
std::optional<etcd::EtcdClusterMember> find_member(const std::vector<etcd::EtcdClusterMember>& members, const std::string& name,
                                            const std::string& peer_url);

// The cluster as the restore's member steps see it: the node's etcd client certificate, the
// other members (from the generation) and this node's member (from the plan).
struct ClusterAccess {
  etcd::EtcdEndpoint tls;
  ClusterLook look;
  std::string name, peer_url;  // this node's member
  // The member it replaces: the backup's, under its old name and peer URL when the node comes
  // back under another identity; else name and peer_url again.
  std::string replaces_name, replaces_peer_url;
  std::string cluster_id;      // the cluster it must be (empty: any)
  // Throws Error naming each member when none serves, or when the one that serves is another
  // cluster than `cluster_id`.
  std::unique_ptr<etcd::EtcdApi> healthy(const core::Context& ctx) const;
  // "cp-2 (https://...), cp-3 (https://...)": the members that serve.
  std::string serving_text() const;
};

}  // namespace kdr::restore
