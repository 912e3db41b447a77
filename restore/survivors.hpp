// The survivors of an etcd cluster that lost quorum, as `restore-etcd-cluster --set
// from=survivor` ranks them: every member's revision, raft term and committed index and its
// cluster, asked where it answers, read offline from its data dir where it is stopped (this
// node's own, and another node's through `kdr etcd state` over SSH when `nodes:` names it).
// The most advanced member of the cluster is the one raft would have elected: the highest
// committed index (a stopped member applies what its WAL committed when it starts).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "etcd/member_data.hpp"

namespace kdr::restore {

struct Runner;

struct MemberState {
  enum class Source { asked, offline, none };
  std::string name;   // the member's name ("" when not known)
  std::string where;  // "this node", "over ssh root@10.0.0.12", "https://10.0.0.12:2379"
  Source source = Source::none;
  bool this_node = false;
  std::string cluster_id, member_id;  // hex, as etcdctl prints them
  std::int64_t revision = 0;  // asked: its revision; offline: its store's (the WAL may add more)
  std::uint64_t raft_term = 0;
  std::uint64_t raft_index = 0;  // committed: what it serves once started alone
  std::string problem;  // why it was not read (source none), or what in its data is damaged

  bool has_data() const { return source != Source::none && !cluster_id.empty(); }
  nlohmann::json to_json() const;
  // Throws Error naming `where` when `j` is not one (another kdr's `kdr etcd state --json`).
  static MemberState from_json(const nlohmann::json& j, const std::string& where);
};

std::string_view to_string(MemberState::Source s);

// A stopped member's data, read offline, as a state: its committed index is the larger of the
// WAL's last commit and what its store applied.
MemberState from_member_data(const etcd::MemberData& d);

// This node's member: asked through the node's etcd endpoint when it answers within `timeout`,
// else its data dir read offline; `problem` says when it has neither. `data_dir` (a node path):
// the data dir a restore's plan recorded (the etcd manifest may be out of its folder by then);
// empty: the one the node's layout names.
MemberState local_member_state(const core::Context& ctx, const std::string& data_dir = "",
                               std::chrono::milliseconds timeout = std::chrono::seconds(3));

struct SurvivorChoice {
  std::vector<MemberState> members;  // this node's first
  std::string cluster_id;            // the cluster a survivor must belong to
  std::string cluster_origin;        // where that id comes from ("the change journal", "generation X")
  int best = -1;                     // index into members: the most advanced of the cluster
  std::vector<std::string> refusals; // why this node's member cannot be the survivor
  const MemberState* chosen() const { return best < 0 ? nullptr : &members[static_cast<std::size_t>(best)]; }
  std::vector<std::string> table() const;  // the plan's table, one line per member
};

// Ranks `members` (this node's among them): of those holding data of `cluster_id`, the highest
// committed raft index, then term, then revision. Refuses (refusals) when no member holds data
// of the cluster, when this node's belongs to another cluster or holds none, and when another
// member is more advanced than this node's (the restore must run there).
SurvivorChoice rank_survivors(std::vector<MemberState> members, const std::string& cluster_id,
                              const std::string& cluster_origin);

// Every member of the generation's cluster: this node's (local_member_state), each other one
// through its client URL, and, when it does not answer and `nodes:` names it, through
// `kdr etcd state --json` run there over SSH; the others are left unread (and said so).
SurvivorChoice look_for_survivors(const Runner& r, const std::string& cluster_id, const std::string& cluster_origin);

// What etcd's known bugs around --force-new-cluster mean for `version` of the etcd server that
// opens the survivor's data ("" or unparsable: both are named).
std::vector<std::string> force_new_cluster_notes(const std::string& version);

}  // namespace kdr::restore
