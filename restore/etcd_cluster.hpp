// The other members of the etcd cluster this node belonged to, as the generation recorded
// them (etcd.members), asked through their client URLs with the node's etcd client
// certificate: which of them answer, and whether they still form a cluster with quorum (one of
// them serves a linearizable read, which etcd answers only with a leader backed by a majority).
// A snapshot restore on a node whose cluster still has quorum would start a second,
// one-member cluster beside it: a split brain.
#pragma once

#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/generation_facts.hpp"

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
                                  const std::string& this_member, const core::EtcdEndpoint& tls,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace kdr::restore
