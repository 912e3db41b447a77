// The survivors of a cluster that lost quorum, ranked (restore/survivors.hpp): the most advanced
// member by committed raft index, and each refusal of restore-etcd-cluster --set from=survivor.
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "restore/survivors.hpp"
#include "restore_fixture.hpp"

using namespace kdr;
using restore::MemberState;

namespace {

const std::string cluster = "5e1a0c3b9f2d4a61";

MemberState member(const std::string& name, std::uint64_t index, std::uint64_t term, std::int64_t revision,
                   bool this_node = false, const std::string& cluster_id = cluster) {
  MemberState m;
  m.name = name;
  m.where = this_node ? "this node" : "https://10.0.0.1:2379";
  m.this_node = this_node;
  m.source = this_node ? MemberState::Source::offline : MemberState::Source::asked;
  m.cluster_id = cluster_id;
  m.raft_index = index;
  m.raft_term = term;
  m.revision = revision;
  return m;
}

MemberState unread(const std::string& name) {
  MemberState m;
  m.name = name;
  m.where = "https://10.0.0.9:2379";
  m.problem = "does not answer";
  return m;
}

std::string all(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace

TEST_CASE("the survivor is the member with the highest committed raft index, then term, then revision") {
  const auto c = restore::rank_survivors({member("cp-1", 900, 4, 700, true), member("cp-2", 880, 5, 710),
                                          unread("cp-3")},
                                         cluster, "generation G");
  REQUIRE(c.chosen() != nullptr);
  CHECK(c.chosen()->name == "cp-1");
  CHECK(c.refusals.empty());
  const auto table = all(c.table());
  CHECK_THAT(table, Catch::Contains("=> cp-1"));
  CHECK_THAT(table, Catch::Contains("cp-3") && Catch::Contains("not read: does not answer"));

  // equal index: the later term wins
  const auto t = restore::rank_survivors({member("cp-1", 900, 4, 700, true), member("cp-2", 900, 5, 690)}, cluster, "g");
  CHECK(t.chosen()->name == "cp-2");
}

TEST_CASE("a member more advanced than this node's refuses the restore here, naming where to run it") {
  const auto c = restore::rank_survivors({member("cp-1", 850, 4, 650, true), member("cp-2", 900, 4, 700)}, cluster, "g");
  REQUIRE(c.refusals.size() == 1);
  CHECK_THAT(c.refusals[0], Catch::Contains("cp-2") && Catch::Contains("more advanced than this node's member") &&
                                Catch::Contains("committed raft index 900") && Catch::Contains("on cp-2"));
}

TEST_CASE("a survivor of another cluster is refused, and is never ranked") {
  const auto c = restore::rank_survivors({member("cp-1", 99999, 9, 99999, true, "aaaa"), member("cp-2", 10, 2, 10)},
                                         cluster, "generation G's snapshot");
  CHECK(c.chosen()->name == "cp-2");
  REQUIRE(c.refusals.size() == 1);
  CHECK_THAT(c.refusals[0], Catch::Contains("this node's etcd data is cluster aaaa, not cluster " + cluster) &&
                                Catch::Contains("generation G's snapshot"));
  CHECK_THAT(all(c.table()), Catch::Contains("(another cluster)"));
}

TEST_CASE("no survivor at all is refused, naming the members that could not be read") {
  MemberState self;
  self.name = "cp-1";
  self.this_node = true;
  self.problem = "etcd does not answer and its data dir /var/lib/etcd holds no member/";
  auto c = restore::rank_survivors({self, unread("cp-2"), unread("cp-3")}, cluster, "g");
  CHECK(c.chosen() == nullptr);
  REQUIRE(c.refusals.size() == 1);
  CHECK_THAT(c.refusals[0], Catch::StartsWith("no survivor") && Catch::Contains("holds no member/") &&
                                Catch::Contains("not read: cp-2, cp-3") && Catch::Contains("--set from=backup"));
  // every member read and none holds data: a backup is the only way
  c = restore::rank_survivors({self}, cluster, "g");
  CHECK_THAT(c.refusals.at(0), Catch::Contains("restore from a backup instead"));
}

TEST_CASE("this node without data while another member has some: the restore runs there") {
  MemberState self;
  self.name = "cp-1";
  self.this_node = true;
  self.problem = "its data dir holds no member/";
  const auto c = restore::rank_survivors({self, member("cp-2", 10, 2, 10)}, cluster, "g");
  REQUIRE(c.refusals.size() == 1);
  CHECK_THAT(c.refusals[0], Catch::Contains("holds no data to restore from") && Catch::Contains("the survivor is cp-2"));
}

TEST_CASE("a stopped member's state: the larger of its WAL's commit and its store's applied index") {
  etcd::MemberData d;
  d.cluster_id = cluster;
  d.member_id = "8e9e05c52164694d";
  d.revision = 700;
  d.consistent_index = 880;
  d.commit = 900;
  d.term = 4;
  auto m = restore::from_member_data(d);
  CHECK(m.source == MemberState::Source::offline);
  CHECK(m.raft_index == 900);
  CHECK(m.raft_term == 4);
  CHECK(m.revision == 700);
  CHECK(m.problem.empty());
  // etcd can apply past what its WAL's last hard state says was committed (etcd#20009)
  d.consistent_index = 950;
  d.problems = {"member/wal/0.wal: torn tail at offset 4096"};
  m = restore::from_member_data(d);
  CHECK(m.raft_index == 950);
  CHECK(m.problem == "member/wal/0.wal: torn tail at offset 4096");
  CHECK(m.has_data());
}

TEST_CASE("kdr etcd state's JSON reads back as the state it printed, and anything else names where it came from") {
  const auto m = member("cp-2", 900, 5, 710);
  const auto back = MemberState::from_json(m.to_json(), "over ssh root@cp-2");
  CHECK(back.name == "cp-2");
  CHECK(back.where == "over ssh root@cp-2");
  CHECK(back.source == MemberState::Source::asked);
  CHECK(back.cluster_id == cluster);
  CHECK(back.raft_index == 900);
  CHECK(back.raft_term == 5);
  CHECK(back.revision == 710);
  CHECK_THROWS_WITH(MemberState::from_json(nlohmann::json::array(), "over ssh root@cp-2"),
                    Catch::StartsWith("over ssh root@cp-2: not an etcd member's state"));
}

TEST_CASE("etcd's --force-new-cluster bugs are named by version") {
  CHECK(restore::force_new_cluster_notes("3.5.26").empty());
  CHECK(restore::force_new_cluster_notes("v3.5.25").empty());
  const auto learners = restore::force_new_cluster_notes("3.5.22");
  REQUIRE(learners.size() == 2);
  CHECK_THAT(learners[0], Catch::Contains("etcd#20893"));
  const auto both = restore::force_new_cluster_notes("3.5.16");
  REQUIRE(both.size() == 3);
  CHECK_THAT(both[0], Catch::Contains("etcd 3.5.16") && Catch::Contains("etcd#20009"));
  CHECK_THAT(both[1], Catch::Contains("etcd#20893"));
  CHECK_THAT(both[2], Catch::Contains("private etcd"));
  CHECK(restore::force_new_cluster_notes("3.4.23").size() == 3);
  CHECK_THAT(restore::force_new_cluster_notes("")[0], Catch::Contains("its version unknown"));
}

TEST_CASE("this node's stopped member is read from the data dir the restore's plan names, not only the layout's") {
  test::RestoreFixture f;
  f.etcd->stop(test::RestoreFixture::node_etcd_url);
  // the restore's plan recorded /data/etcd; by the time the step runs, the etcd manifest that
  // names it is out of the static pod folder
  core::make_dirs(f.node("/data/etcd/member/snap"), 0700);
  const auto ctx = f.context();
  const auto m = restore::local_member_state(ctx, "/data/etcd");
  CHECK(m.this_node);
  CHECK(m.source == MemberState::Source::offline);
  CHECK_THAT(m.problem, Catch::Contains("snap/db"));
  INFO(m.problem);
  CHECK_THAT(m.problem, Catch::Contains("/data/etcd"));
  // without it, the layout's data dir (the manifest's /var/lib/etcd) is read
  const auto layout_dir = restore::local_member_state(ctx);
  CHECK_THAT(layout_dir.problem, !Catch::Contains("/data/etcd"));
}
