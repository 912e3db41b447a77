// The crash matrix over every shipped playbook: the restore is stopped
// right after each record of its journal reaches the disk (as a kill would stop it: nothing
// after that record happens), then
//   - resumed: it finishes, and the node is what an uninterrupted restore leaves;
//   - or rolled back: the node is byte for byte what it was before the restore, and its etcd
//     serves the keys it served before (restore-etcd-keys writes into the running etcd).
// In process and with fake programs (restore_fixture.hpp); tests/reliability/restore_kill.sh
// kills the real binary with SIGKILL at random moments against a real etcd.
#include <catch2/catch.hpp>

#include <functional>

#include "restore/journal.hpp"
#include "fake_other_nodes.hpp"
#include "crash_after.hpp"
#include "restore_fixture.hpp"
#include "written_journal.hpp"

using namespace kdr;
using test::RestoreFixture;

using test::Crash;
using test::CrashAfter;

namespace {

struct CrashCase {
  std::string playbook;
  std::function<void(const RestoreFixture&)> damage;
  std::vector<std::string> set = {};
  bool ha = false;   // this node one member of three (fake_etcd.hpp)
  bool ssh = false;  // the other two reached over SSH (config nodes:, fake_other_nodes.hpp)
  std::function<void(const RestoreFixture&)> before_backup = {};
  // after the backup, before the damage: writes the change journal past it (`generation`)
  std::function<void(RestoreFixture&, const std::string& generation)> journal = {};
};

// A node, and the other nodes when the case reaches them over SSH.
struct Cluster {
  RestoreFixture f;
  std::unique_ptr<test::FakeOtherNodes> others;
};

// What a restore leaves: the node's files, the keys its etcd serves, what the other nodes hold.
struct NodeState {
  std::map<std::string, std::string> files, keys, others;
};
NodeState state(const Cluster& c) {
  return {c.f.tree(), c.f.live->values(), c.others ? c.others->state() : std::map<std::string, std::string>{}};
}
std::string diff(const NodeState& now, const NodeState& expected) {
  return test::tree_diff(now.files, expected.files) + test::tree_diff(now.keys, expected.keys) +
         test::tree_diff(now.others, expected.others);
}

std::vector<CrashCase> crash_cases() {
  return {
      {"restore-files",
       [](const RestoreFixture& f) {
         core::remove_tree(f.node("/etc/kubernetes/pki"));
         test::write(f.node("/etc/kubernetes/admin.conf"), "damaged\n");
       }},
      {"restore-etcd-snapshot", [](const RestoreFixture& f) { test::write(f.node("/var/lib/etcd/member/snap/db"), "torn"); }},
      {"restore-etcd-snapshot",  // to the journal's end: the replay makes the node's new data dir
       [](const RestoreFixture& f) { test::write(f.node("/var/lib/etcd/member/snap/db"), "torn"); },
       {"to=latest"}, false, false, {},
       [](RestoreFixture& f, const std::string& generation) {
         test::WrittenJournal journal(f, generation);
         journal.write("/registry/configmaps/default/app", "app v2");
         journal.write("/registry/configmaps/default/new", "written after the backup");
         journal.close();
       }},
      {"rebuild-node",
       [](const RestoreFixture& f) {
         core::remove_tree(f.node("/etc/kubernetes"));
         core::remove_tree(f.node("/var/lib/etcd"));
       }},
      {"rebuild-node",  // onto another address and name
       [](const RestoreFixture& f) {
         core::remove_tree(f.node("/etc/kubernetes"));
         core::remove_tree(f.node("/var/lib/etcd"));
       },
       {"address=127.0.0.77", "node_name=cp2"}, false, false, [](const RestoreFixture& f) { f.write_node_identity(); }},
      {"restore-etcd-keys",
       [](const RestoreFixture& f) {
         for (const auto* k : {"/registry/namespaces/payments", "/registry/configmaps/payments/rates",
                               "/registry/secrets/payments/api-key"})
           f.live->write(k, std::nullopt);
       },
       {"namespace=payments"}},
      {"replace-etcd-member", [](const RestoreFixture& f) { core::remove_tree(f.node("/var/lib/etcd/member")); }, {},
       true},
      {"replace-etcd-member",  // onto a machine with another address and name
       [](const RestoreFixture& f) {
         core::remove_tree(f.node("/etc/kubernetes"));
         core::remove_tree(f.node("/var/lib/etcd"));
         test::write(f.node("/var/lib/kubelet/config.yaml"), "the kubelet package's\n");
       },
       {"address=127.0.0.77", "node_name=cp4"}, true, false, [](const RestoreFixture& f) { f.write_node_identity(); }},
      {"restore-etcd-cluster",
       [](const RestoreFixture& f) {  // quorum lost: the two other members gone
         f.etcd->stop("http://127.0.0.1:3");
         f.etcd->stop("http://127.0.0.1:4");
         test::write(f.node("/var/lib/etcd/member/snap/db"), "torn");
       },
       {}, true},
      {"restore-etcd-cluster",  // the same, the other nodes driven over SSH
       [](const RestoreFixture& f) {
         f.etcd->stop("http://127.0.0.1:3");
         f.etcd->stop("http://127.0.0.1:4");
         test::write(f.node("/var/lib/etcd/member/snap/db"), "torn");
       },
       {}, true, true},
  };
}

// A damaged node with one backup taken before the damage.
void prepare(Cluster& cl, const CrashCase& c) {
  auto& f = cl.f;
  if (c.ha) f.make_ha();
  if (c.before_backup) c.before_backup(f);
  const auto generation = f.backup();
  if (c.journal) c.journal(f, generation);
  if (c.ssh) {
    f.extra_config = test::nodes_config;
    cl.others = std::make_unique<test::FakeOtherNodes>(f);
  }
  c.damage(f);
}

}  // namespace

TEST_CASE("crash matrix: a restore stopped after any journal record resumes to the same node, or rolls back to the node before it") {
  for (const auto& c : crash_cases()) {
    // The uninterrupted restore: its records and the node it leaves.
    std::size_t records = 0;
    NodeState before, finished;
    {
      Cluster cl;
      prepare(cl, c);
      before = state(cl);
      CrashAfter count(0);
      REQUIRE(cl.f.restore(c.playbook, c.set) == core::ExitCode::ok);
      records = count.seen();
      finished = state(cl);
    }
    REQUIRE(records > 5);
    for (std::size_t n = 1; n <= records; ++n) {
      INFO(c.playbook << (c.ssh ? " over ssh" : "") << (c.set.empty() ? "" : " --set " + c.set.front()) << ": stopped after journal record " << n << " of " << records);
      {
        Cluster cl;
        prepare(cl, c);
        {
          CrashAfter crash(n);
          REQUIRE_THROWS_AS(cl.f.restore(c.playbook, c.set), Crash);
        }
        const auto id = cl.f.restore_ids().at(0);
        CHECK(cl.f.resume(id) == core::ExitCode::ok);
        CHECK(diff(state(cl), finished) == "");
      }
      {
        Cluster cl;
        prepare(cl, c);
        {
          CrashAfter crash(n);
          REQUIRE_THROWS_AS(cl.f.restore(c.playbook, c.set), Crash);
        }
        const auto id = cl.f.restore_ids().at(0);
        CHECK(cl.f.rollback(id) == core::ExitCode::ok);
        CHECK(diff(state(cl), before) == "");
      }
    }
  }
}
