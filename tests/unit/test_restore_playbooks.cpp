// The shipped playbooks run whole, in milliseconds, on a sandbox node in a temporary folder,
// with fake programs (restore_fixture.hpp): each step's plan text, the preflight's refusals,
// the actions and what they leave on the node, the journal, and the rollback. The same
// playbooks run against a real etcd and the kubelet stand-in in tests/scenarios.
#include <catch2/catch.hpp>

#include <array>
#include <cstdlib>

#include "core/error.hpp"
#include "restore/journal.hpp"
#include "restore/offer.hpp"
#include "restore/playbook.hpp"
#include "restore/step.hpp"
#include "restore_fixture.hpp"
#include "support.hpp"

using namespace kdr;
using test::RestoreFixture;

namespace {

restore::JournalSummary journal_of(const RestoreFixture& f, const std::string& id) {
  return restore::Journal::open(f.node("/var/lib/kdr/restores") / id).summary();
}

}  // namespace

TEST_CASE("restore-files puts /etc/kubernetes back, keeps the damaged copy aside and leaves etcd's data alone") {
  RestoreFixture f;
  f.backup();
  const auto good = f.tree();
  core::remove_tree(f.node("/etc/kubernetes/pki"));
  test::write(f.node("/etc/kubernetes/admin.conf"), "damaged\n");
  test::write(f.node("/var/lib/etcd/member/wal/0000000000000001-0000000000000010.wal"), "written after the backup\n");
  const auto etcd_after_backup = core::read_file(f.node("/var/lib/etcd/member/wal/0000000000000001-0000000000000010.wal"));

  REQUIRE(f.restore("restore-files") == core::ExitCode::ok);

  const auto printed = f.printed.out();
  CHECK(contains(printed, "copy-back /etc/kubernetes"));
  CHECK(contains(printed, "wait up to 120 s until all static pods no longer run (process table)"));
  const auto now = f.tree();
  CHECK(now.at("/etc/kubernetes/admin.conf") == good.at("/etc/kubernetes/admin.conf"));
  CHECK(now.at("/etc/kubernetes/pki/sa.key") == good.at("/etc/kubernetes/pki/sa.key"));
  CHECK(now.at("/etc/kubernetes/manifests/etcd.yaml") == good.at("/etc/kubernetes/manifests/etcd.yaml"));
  CHECK(core::read_file(f.node("/var/lib/etcd/member/wal/0000000000000001-0000000000000010.wal")) == etcd_after_backup);
  const auto id = f.restore_ids().at(0);
  CHECK(core::read_file(f.root / ("etc/kubernetes.kdr-" + id) / "admin.conf") == "damaged\n");
  CHECK(f.programs->calls_of("etcdutl").empty());
  const auto j = journal_of(f, id);
  CHECK(j.state == restore::RestoreState::done);
  CHECK(std::any_of(j.actions.begin(), j.actions.end(), [](const restore::Action& a) { return a.op == restore::ActionOp::place; }));
}

TEST_CASE("restore-etcd-snapshot restores the snapshot as a new one-member cluster with the revision bumped") {
  RestoreFixture f;
  const auto at_backup = f.live->values();
  f.backup();
  test::write(f.node("/var/lib/etcd/member/snap/db"), "torn");
  REQUIRE(f.restore("restore-etcd-snapshot") == core::ExitCode::ok);
  const auto id = f.restore_ids().at(0);
  const auto calls = f.programs->calls_of("etcdutl");
  REQUIRE(any_contains(calls, "snapshot restore"));
  std::string restore_call;
  for (const auto& c : calls)
    if (contains(c, "snapshot restore") && !contains(c, "--help")) restore_call = c;
  CHECK(contains(restore_call, "--name cp1 --initial-cluster cp1=https://10.0.0.10:2380"));
  CHECK(contains(restore_call, "--initial-cluster-token kdr-" + id));
  CHECK(contains(restore_call, "--bump-revision 1000000000 --mark-compacted"));
  // bbolt's first memory map sized from the database (a small one: 1 GiB), not etcd's 10 GiB
  CHECK(contains(restore_call, "--initial-memory-map-size 1073741824"));
  CHECK(contains(restore_call, "--data-dir " + (f.root / "var/lib/etcd").string() + ".kdr-" + id + ".new"));
  CHECK(f.data_dir_keys() == at_backup);  // the generation's snapshot
  CHECK(core::read_file(f.root / ("var/lib/etcd.kdr-" + id) / "member/snap/db") == "torn");
  CHECK(core::lstat_path(f.node("/var/lib/etcd"))->mode == 0700);
  CHECK(contains(f.printed.out(), "etcd is healthy: revision 9 (backup: 9)"));
}

TEST_CASE("restore-etcd-snapshot refuses to roll back a live etcd that holds newer data, unless accepted") {
  RestoreFixture f;
  f.backup();
  for (int i = 0; i < 11; ++i)  // written after the backup: 11 changes to 3 keys
    f.live->write(fmt::format("/registry/configmaps/default/new-{}", i % 3), fmt::format("v{}", i));
  const auto before = f.tree();
  CHECK(f.restore("restore-etcd-snapshot") == core::ExitCode::failed);
  CHECK(contains(f.printed.err(), "live etcd at revision 20, the backup at revision 9: 11 changes and 3 keys written since the backup"));
  CHECK(contains(f.printed.err(), "--set accept_loss=true"));
  CHECK(test::tree_diff(f.tree(), before) == "");
  CHECK(f.programs->calls_of("etcdutl").size() == 2);  // the tool's facts, before the plan; no restore

  REQUIRE(f.restore("restore-etcd-snapshot", {"accept_loss=true"}) == core::ExitCode::ok);
  const auto ids = f.restore_ids();
  REQUIRE(ids.size() == 2);
  const auto text = core::read_file(f.node("/var/lib/kdr/restores") / ids[1] / "journal.jsonl");
  CHECK(contains(text, "\"loss-accepted\""));
}

TEST_CASE("rebuild-node rebuilds a wiped node: files and etcd back, then kubeadm reset and init with the saved configuration") {
  RestoreFixture f;
  const auto at_backup = f.live->values();
  const auto gen = f.backup();
  const auto good = f.tree();
  core::remove_tree(f.node("/etc/kubernetes"));
  core::remove_tree(f.node("/var/lib/etcd"));
  REQUIRE(f.restore("rebuild-node") == core::ExitCode::ok);
  const auto kubeadm = f.programs->calls_of("kubeadm");
  std::string calls;
  for (const auto& k : kubeadm) calls += k + "\n";
  INFO(calls);
  REQUIRE(kubeadm.size() == 3);
  CHECK(kubeadm[0] == "kubeadm version -o short");
  CHECK(kubeadm[1] == "kubeadm reset -f");
  CHECK(contains(kubeadm[2], "kubeadm init --config " + f.generation(gen).string()));
  CHECK(contains(kubeadm[2], "--ignore-preflight-errors=DirAvailable--var-lib-etcd"));
  const auto now = f.tree();
  for (const auto* p : {"/etc/kubernetes/admin.conf", "/etc/kubernetes/pki/sa.key", "/etc/kubernetes/manifests/etcd.yaml"})
    CHECK(now.at(p) == good.at(p));
  CHECK(f.data_dir_keys() == at_backup);  // etcd from the generation's snapshot
}

TEST_CASE("rebuild-node onto another address and name: etcd as the new member, what names the old node made again by kubeadm, every CA kept") {
  RestoreFixture f;
  f.write_node_identity();
  const auto gen = f.backup();
  const auto good = f.tree();
  core::remove_tree(f.node("/etc/kubernetes"));
  core::remove_tree(f.node("/var/lib/etcd"));

  SECTION("an address that is not on this machine, or a name that is not a Node's, is refused, nothing changed") {
    const auto before = f.tree();
    CHECK(f.restore("rebuild-node", {"address=192.0.2.77", "node_name=cp2"}) == core::ExitCode::failed);
    CHECK(contains(f.printed.err(), "address 192.0.2.77 is not on this machine"));
    CHECK(f.restore("rebuild-node", {"address=127.0.0.77", "node_name=CP_2"}) == core::ExitCode::failed);
    CHECK(contains(f.printed.err(), "node_name 'CP_2': 'C' is not allowed"));
    CHECK(f.tree() == before);
    for (const auto& c : f.programs->calls_of("etcdutl")) CHECK_FALSE((contains(c, "snapshot restore") && !contains(c, "--help")));
  }

  SECTION("the rebuild") {
    REQUIRE(f.restore("rebuild-node", {"address=127.0.0.77", "node_name=cp2"}) == core::ExitCode::ok);
    INFO(f.printed.out());
    CHECK(contains(f.printed.out(), "the node is rebuilt under a new identity: cp1 (10.0.0.10) -> cp2 (127.0.0.77)"));
    const auto ids = f.restore_ids();
    REQUIRE(ids.size() == 1);
    const auto restore_dir = f.node("/var/lib/kdr/restores") / ids[0];
    // etcd: the new member at the new peer URL
    std::string restore_call;
    for (const auto& c : f.programs->calls_of("etcdutl"))
      if (contains(c, "snapshot restore")) restore_call = c;
    CHECK(contains(restore_call, "--name cp2 --initial-cluster cp2=https://127.0.0.77:2380"));
    CHECK(contains(restore_call, "--initial-advertise-peer-urls https://127.0.0.77:2380"));
    // kubeadm init reads the configuration rewritten for the new node
    const auto kubeadm = f.programs->calls_of("kubeadm");
    REQUIRE(kubeadm.size() == 3);
    CHECK(contains(kubeadm[2], "kubeadm init --config " + (restore_dir / "kubeadm-config.yaml").string()));
    const auto config = core::read_file(restore_dir / "kubeadm-config.yaml");
    CHECK(contains(config, "controlPlaneEndpoint: 127.0.0.77:6443"));
    CHECK(contains(config, "kind: InitConfiguration"));
    CHECK(contains(config, "advertiseAddress: 127.0.0.77"));
    CHECK(contains(config, "name: cp2"));
    // what names the old node is out of kubeadm's way (kept aside); the rest as the backup had it
    const auto now = f.tree();
    const auto aside = ".kdr-" + ids[0];
    for (const auto* p : {"/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/apiserver.key", "/etc/kubernetes/admin.conf"})
      CHECK(now.at(std::string(p) + aside) == good.at(p));
    CHECK(now.at("/etc/kubernetes/admin.conf") != good.at("/etc/kubernetes/admin.conf"));  // kubeadm's, for cp2
    for (const auto* p : {"/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.key", "/etc/kubernetes/pki/sa.key",
                          "/etc/kubernetes/pki/apiserver-etcd-client.crt"})
      CHECK(now.at(p) == good.at(p));
    // the old Node out of etcd
    CHECK(f.live->values().count("/registry/minions/cp1") == 0);
    CHECK(contains(f.printed.out(), "deleted /registry/minions/cp1 (the old Node cp1)"));

    SECTION("and its rollback puts the renamed files and the old Node back") {
      REQUIRE(f.rollback(ids[0]) == core::ExitCode::ok);
      CHECK_FALSE(core::lstat_path(f.node("/etc/kubernetes/pki/apiserver.crt" + aside)));
      CHECK_FALSE(core::lstat_path(f.node("/etc/kubernetes/admin.conf" + aside)));
      CHECK(f.live->values().count("/registry/minions/cp1") == 1);
    }
  }
}

TEST_CASE("rebuild-node onto another machine whose controlPlaneEndpoint is a name: the plan says it must resolve to the new address") {
  RestoreFixture f;
  f.write_node_identity();
  test::write(f.node("/etc/kubernetes/kubeadm-config.yaml"),
              "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: lb.example.com:6443\n");
  f.backup();
  f.restore("rebuild-node", {"address=127.0.0.77", "node_name=cp2"}, true, {}, true);
  CHECK(contains(f.printed.out(), "controlPlaneEndpoint is lb.example.com, a name: it must now resolve to 127.0.0.77"));
}

TEST_CASE("rebuild-node onto another machine without a kubeadm configuration shows the steps that need it as CANNOT RUN") {
  RestoreFixture f;
  ::unlink(f.node("/etc/kubernetes/kubeadm-config.yaml").c_str());
  f.backup();
  CHECK(f.restore("rebuild-node", {"address=127.0.0.77", "node_name=cp2"}, true, {}, true) == core::ExitCode::failed);
  CHECK(contains(f.printed.out(), "node-identity\n         CANNOT RUN: needs ${saved_kubeadm_config}"));
  CHECK(contains(f.printed.out(), "CANNOT RUN: needs ${kubeadm_config}"));
}

TEST_CASE("rebuild-node without a kubeadm configuration shows its kubeadm init step as CANNOT RUN and refuses") {
  RestoreFixture f;
  ::unlink(f.node("/etc/kubernetes/kubeadm-config.yaml").c_str());
  f.backup();
  CHECK(f.restore("rebuild-node") == core::ExitCode::failed);
  CHECK(contains(f.printed.out(), "CANNOT RUN: needs ${kubeadm_config}"));
  CHECK(contains(f.printed.err(), "has no saved kubeadm configuration"));
  CHECK(f.programs->calls_of("kubeadm").size() == 1);  // only its version, before the plan
}

TEST_CASE("the preflight refuses what the restore could not finish, names each problem and changes nothing") {
  RestoreFixture f;
  const auto gen = f.backup();
  const auto before = f.tree();
  SECTION("no free space") {
    f.host->free = 0;
    CHECK(f.restore("restore-etcd-snapshot") == core::ExitCode::failed);
    CHECK(contains(f.printed.err(), "MiB free; the restore needs about"));
  }
  SECTION("the snapshot is gone from the generation") {
    ::unlink((f.generation(gen) / "etcd/snapshot.db").c_str());
    CHECK(f.restore("restore-etcd-snapshot") == core::ExitCode::failed);
    CHECK(contains(f.printed.err(), "is missing from the generation"));
  }
  SECTION("no etcdutl or etcdctl") {
    f.programs->programs.erase("etcdutl");
    f.programs->programs.erase("etcdctl");
    CHECK(f.restore("restore-etcd-snapshot") == core::ExitCode::failed);
    CHECK(contains(f.printed.err(), "etcdctl not found: it is needed to restore the snapshot"));
  }
  SECTION("no kubeadm") {
    f.programs->programs.erase("kubeadm");
    CHECK(f.restore("rebuild-node") == core::ExitCode::failed);
    CHECK(contains(f.printed.err(), "kubeadm not found in PATH"));
  }
  SECTION("another machine") {
    f.host->name = "elsewhere";
    f.host->ips = {"10.9.9.9"};
    CHECK(f.restore("restore-files") == core::ExitCode::failed);
    CHECK(contains(f.printed.err(), "this machine is 'elsewhere'"));
    CHECK(contains(f.printed.err(), "--set same_node=true"));
  }
  SECTION("a damaged generation") {
    test::write(f.generation(gen) / "files/etc/kubernetes/admin.conf", "flipped\n");
    CHECK(f.restore("restore-files") == core::ExitCode::failed);
    CHECK(contains(f.printed.err(), "generation " + gen + ": /etc/kubernetes/admin.conf"));
  }
  CHECK(contains(f.printed.err(), "nothing was changed"));
  CHECK(test::tree_diff(f.tree(), before) == "");
}

TEST_CASE("an IPv6 link-local address never makes another machine look like the backed-up node") {
  CHECK_FALSE(core::identity_address("fe80::1"));
  CHECK_FALSE(core::identity_address("fe80::a00:27ff:fe4e:66a1"));
  CHECK(core::identity_address("10.0.0.10"));
  CHECK(core::identity_address("2001:db8::10"));
  RestoreFixture f;
  f.host->ips = {"10.0.0.10", "fe80::1"};  // as a kdr that recorded link-local addresses saw them
  f.backup();
  const auto before = f.tree();
  f.host->name = "elsewhere";
  f.host->ips = {"10.9.9.9", "fe80::1"};  // another machine, with the same made-up link-local address
  CHECK(f.restore("restore-files") == core::ExitCode::failed);
  CHECK(contains(f.printed.err(), "this machine is 'elsewhere' (addresses 10.9.9.9, fe80::1)"));
  CHECK(contains(f.printed.err(), "(addresses 10.0.0.10): another machine"));
  CHECK(test::tree_diff(f.tree(), before) == "");
}

TEST_CASE("a snapshot of another etcd minor version restores, with a warning that says what to do if it is refused") {
  RestoreFixture f;
  f.etcd_version = "3.4.23";  // the snapshot is etcd 3.4's; the restore runs etcdutl 3.5
  f.backup();
  test::write(f.node("/var/lib/etcd/member/snap/db"), "torn");
  REQUIRE(f.restore("restore-etcd-snapshot") == core::ExitCode::ok);
  CHECK(contains(f.printed.err(), "the snapshot was taken by etcd 3.4.23, etcdutl 3.5.16 restores it: etcd 3.4 and 3.5 "
                                  "read each other's snapshots"));
  CHECK(contains(f.printed.err(), "install the etcdutl (3.5) or etcdctl (3.4) of etcd 3.4 and name it in the config"));
}

TEST_CASE("a guided restore asks before each step that changes the node: no stops it, a means yes to all") {
  RestoreFixture f;
  f.backup();
  const auto before = f.tree();
  SECTION("no at the first change: nothing changed, exit 1") {
    f.host->answers = {core::Answer::yes, core::Answer::no};
    CHECK(f.restore("restore-files", {}, false) == core::ExitCode::failed);
    REQUIRE(f.host->asked.size() == 2);
    CHECK(contains(f.host->asked[1], "Step 2/7: stop-static-pods. Go ahead?"));
    CHECK(test::tree_diff(f.tree(), before) == "");
  }
  SECTION("a at the first question runs it all") {
    f.host->answers = {core::Answer::all};
    CHECK(f.restore("restore-files", {}, false) == core::ExitCode::ok);
    CHECK(f.host->asked.size() == 1);
  }
}

TEST_CASE("a finished restore rolls back to the node as it was, byte for byte") {
  RestoreFixture f;
  f.backup();
  test::write(f.node("/etc/kubernetes/admin.conf"), "changed since the backup\n");
  test::write(f.node("/var/lib/etcd/member/snap/db"), "torn");
  const auto before = f.tree();
  for (const auto* playbook : {"restore-files", "restore-etcd-snapshot"}) {
    REQUIRE(f.restore(playbook) == core::ExitCode::ok);
    CHECK(f.tree() != before);
    const auto id = f.restore_ids();
    const auto it = std::find_if(id.begin(), id.end(), [&](const std::string& i) { return i.ends_with(playbook); });
    REQUIRE(it != id.end());
    REQUIRE(f.rollback(*it) == core::ExitCode::ok);
    CHECK(test::tree_diff(f.tree(), before) == "");
  }
}

TEST_CASE("a rollback answered no changes nothing and exits 1, as a restore declined before any change does") {
  RestoreFixture f;
  f.backup();
  test::write(f.node("/etc/kubernetes/admin.conf"), "changed since the backup\n");
  REQUIRE(f.restore("restore-files") == core::ExitCode::ok);
  const auto after = f.tree();
  restore::RestoreOptions o;
  o.rollback = f.restore_ids().back();
  f.host->answers.push_back(core::Answer::no);
  CHECK(restore::run_restore(f.context(), o) == core::ExitCode::failed);
  CHECK(contains(f.printed.err(), "rollback declined: nothing was changed"));
  CHECK(test::tree_diff(f.tree(), after) == "");
}

TEST_CASE("kdr restores shows the restore that holds the restore lock as running, a killed one as interrupted") {
  RestoreFixture f;
  f.backup();
  REQUIRE(f.restore("restore-files") == core::ExitCode::ok);
  const auto restores = f.node("/var/lib/kdr/restores");
  const auto id = f.restore_ids().back();
  // Its journal as it is in the middle of a step: the step began, nothing after it.
  const auto text = core::read_file(restores / id / "journal.jsonl");
  const auto cut = text.find("\"event\":\"begin\"");
  REQUIRE(cut != std::string::npos);
  core::write_file_atomic(restores / id / "journal.jsonl", text.substr(0, text.find('\n', cut) + 1));
  auto records = restore::list_restore_records(restores);
  REQUIRE(records.size() == 1);
  CHECK(to_string(records[0].summary.state) == "interrupted");  // nobody runs it: killed
  {
    restore::RestoreLock running(restores);  // as the kdr process that runs it holds
    records = restore::list_restore_records(restores);
    CHECK(to_string(records[0].summary.state) == "running");
  }
  CHECK(to_string(restore::list_restore_records(restores)[0].summary.state) == "interrupted");
}

TEST_CASE("a rollback says which steps changed the node outside kdr's journal") {
  RestoreFixture f;
  f.backup();
  core::remove_tree(f.node("/etc/kubernetes"));
  core::remove_tree(f.node("/var/lib/etcd"));
  REQUIRE(f.restore("rebuild-node") == core::ExitCode::ok);
  REQUIRE(f.rollback(f.restore_ids().back()) == core::ExitCode::ok);
  CHECK(contains(f.printed.err(), "(kubeadm reset -f (clears what an earlier kubeadm run left"));
  CHECK(contains(f.printed.err(), "the rollback does not undo it"));
  CHECK(!core::lstat_path(f.node("/etc/kubernetes")));  // the node had none before
}

TEST_CASE("every step type reads its values into typed arguments, and refuses bad ones naming the key and where") {
  restore::StepReadFacts facts{"/var/lib/kdr", false};
  auto read = [&](restore::StepType type, nlohmann::json values) {
    std::map<std::string, std::string> where;
    for (const auto& [k, v] : values.items()) where[k] = "pb.yaml:7:5";
    restore::StepValues v(values, where, facts);
    const auto& def = restore::step_def(type);
    def.read(v);
    return v.canonical();
  };
  using T = restore::StepType;
  CHECK(read(T::wait_stopped, {{"timeout", "30"}, {"pods", "all"}}) == nlohmann::json{{"timeout", 30}, {"pods", "all"}});
  CHECK(read(T::copy_back, {{"path", "/etc/kubernetes/"}, {"exclude", "/etc/kubernetes/manifests"}}) ==
        nlohmann::json{{"path", "/etc/kubernetes"}, {"exclude", {"/etc/kubernetes/manifests"}}});
  CHECK_THROWS_WITH(read(T::move_aside, {{"path", "/"}}), "pb.yaml:7:5: key 'path': refusing to replace the whole node (/)");
  CHECK_THROWS_WITH(read(T::move_aside, {{"path", "/var/lib"}}),
                    Catch::Contains("key 'path': /var/lib holds kdr's state folder /var/lib/kdr"));
  CHECK_THROWS_WITH(read(T::wait_healthy, {{"timeout", "soon"}}),
                    "pb.yaml:7:5: key 'timeout': expected a number of seconds");
  CHECK_THROWS_WITH(read(T::etcd_snapshot_restore, {{"source", "disk"}}),
                    "pb.yaml:7:5: key 'source': expected snapshot, raw or replayed");
  CHECK_THROWS_WITH(read(T::etcd_snapshot_restore, {{"source", "replayed"}}),
                    Catch::Contains("no etcd-replay step comes before it"));
  CHECK_THROWS_WITH(read(T::start_static_pods, {{"from", "disk"}}),
                    "pb.yaml:7:5: key 'from': expected stopped or generation");
  CHECK_THROWS_WITH(read(T::run, {{"argv", "rm -rf /"}}),
                    "pb.yaml:7:5: key 'argv': expected a list (an argv, never a shell string)");
  CHECK(read(T::kubeadm, {{"args", {"reset", "-f"}}}) == nlohmann::json{{"args", {"reset", "-f"}}});
}

TEST_CASE("the playbooks say which of them can restore from a generation, with the --set each needs") {
  const auto shipped = restore::list_playbooks(restore::playbook_dirs({})).playbooks;
  auto serving = [&](const restore::GenerationOffer& offer) {
    std::vector<std::string> out;
    for (const auto& fit : restore::playbooks_serving(offer, shipped, "/var/lib/etcd", "/etc/kubernetes/manifests")) {
      auto text = fit.playbook;
      for (const auto& kv : fit.set) text += " --set " + kv;
      out.push_back(text);
    }
    return out;
  };
  restore::GenerationOffer full;
  full.etcd_snapshot = true;
  full.etcd_files = true;
  full.kubeadm_config = true;
  full.paths = {"/etc/kubernetes", "/var/lib/etcd"};
  CHECK(serving(full) == std::vector<std::string>{"rebuild-node", "restore-etcd-keys --set namespace=NAME",
                                                  "restore-etcd-snapshot", "restore-files"});
  auto ha = full;  // a member of a three-member cluster
  ha.etcd_members = 3;
  CHECK(serving(ha) == std::vector<std::string>{"rebuild-node", "replace-etcd-member", "restore-etcd-cluster",
                                                "restore-etcd-keys --set namespace=NAME", "restore-etcd-snapshot",
                                                "restore-files"});
  auto raw_only = full;
  raw_only.etcd_snapshot = false;
  CHECK(serving(raw_only) == std::vector<std::string>{"rebuild-node --set etcd_source=raw",
                                                      "restore-etcd-snapshot --set etcd_source=raw", "restore-files"});
  auto no_kubeadm = full;
  no_kubeadm.kubeadm_config = false;
  CHECK(serving(no_kubeadm) ==
        std::vector<std::string>{"restore-etcd-keys --set namespace=NAME", "restore-etcd-snapshot", "restore-files"});
  auto external = full;
  external.etcd_on_node = false;
  external.etcd_files = false;
  external.paths = {"/etc/kubernetes"};
  CHECK(serving(external) == std::vector<std::string>{"restore-etcd-keys --set namespace=NAME", "restore-files"});
  restore::GenerationOffer nothing;
  CHECK(serving(nothing).empty());
}

TEST_CASE("a backup counts the raw copy of etcd's data dir in its room only when it makes one (etcd.raw_copy: always)") {
  RestoreFixture f;
  // etcd's WAL segment as etcd preallocates it: 64 MiB (sparse here)
  boost::filesystem::resize_file(f.node("/var/lib/etcd/member/wal/0000000000000000-0000000000000000.wal"), 64u << 20);
  const auto db = core::lstat_path(f.node("/var/lib/etcd/member/snap/db"))->size;
  f.host->free = (64u << 20) + db + (16u << 20);  // the snapshot fits; the data dir (64 MiB more) beside it does not
  CHECK_NOTHROW(f.backup());                      // auto: the snapshot alone
  f.raw_copy_always = true;
  CHECK_THROWS_WITH(f.backup(), Catch::Contains("MiB free; this backup needs about 129 MiB"));
}

TEST_CASE("the preflight re-hashes what the plan reads: the snapshot for a snapshot restore, not the raw copy") {
  RestoreFixture f;
  f.raw_copy_always = true;
  const auto gen = f.backup();
  SECTION("a damaged raw copy of etcd's database is not read by a snapshot restore") {
    // same size, another byte: only a re-hash sees it
    auto db = core::read_file(f.generation(gen) / "files/var/lib/etcd/member/snap/db");
    db[100] ^= 1;
    test::write(f.generation(gen) / "files/var/lib/etcd/member/snap/db", db);
    REQUIRE(f.restore("restore-etcd-snapshot") == core::ExitCode::ok);
    CHECK(contains(f.printed.out(), "entries checked; none re-hashed here (a file this restore reads is hashed as it is copied)"));
  }
  SECTION("a damaged snapshot stops it before anything changes, in a dry run too") {
    auto snap = core::read_file(f.generation(gen) / "etcd/snapshot.db");
    snap[100] ^= 1;
    test::write(f.generation(gen) / "etcd/snapshot.db", snap);
    const auto before = f.tree();
    CHECK(f.restore("restore-etcd-snapshot", {}, true, {}, true) == core::ExitCode::failed);
    CHECK(contains(f.printed.err(), "etcd/snapshot.db: content does not match its SHA-256"));
    CHECK(f.restore("restore-etcd-snapshot") == core::ExitCode::failed);
    // hashed as the preflight copies it for the tool (a dry run re-hashes it in place)
    CHECK(contains(f.printed.err(), "etcd/snapshot.db: its content hashes to"));
    CHECK(test::tree_diff(f.tree(), before) == "");
  }
  SECTION("restore-files re-hashes /etc/kubernetes, and a damaged raw copy of etcd does not stop it") {
    auto db = core::read_file(f.generation(gen) / "files/var/lib/etcd/member/snap/db");
    db[100] ^= 1;
    test::write(f.generation(gen) / "files/var/lib/etcd/member/snap/db", db);
    CHECK(f.restore("restore-files") == core::ExitCode::ok);
    CHECK(f.restore("restore-files", {"etcd=raw"}) == core::ExitCode::failed);
    CHECK(contains(f.printed.err(), "/var/lib/etcd/member/snap/db: content does not match"));
  }
}

TEST_CASE("a run step runs its argv with the restore's environment, keeps its output, and stops the restore when it fails") {
  RestoreFixture f;
  const auto gen = f.backup();
  test::write(f.dir.path() / "playbooks/hook.yaml", R"(name: hook
description: runs a site hook
steps:
  - type: preflight
  - type: run
    name: the site hook
    argv: [site-hook, --generation, "${generation}"]
    timeout: "30"
)");
  std::map<std::string, std::string> env;
  int exit_code = 0;
  f.programs->programs["site-hook"] = [&](const std::vector<std::string>&, const core::ProcessOptions& o) {
    env = o.env;
    return test::answer(exit_code, "hook output\n", exit_code ? "hook failed\n" : "");
  };
  const std::vector<std::string> dirs = {(f.dir.path() / "playbooks").string()};
  REQUIRE(f.restore("hook", {}, true, dirs) == core::ExitCode::ok);
  CHECK(contains(f.printed.out(), "run: site-hook --generation " + gen));
  CHECK(env.at("KDR_ROOT") == f.root.string());
  CHECK(env.at("KDR_GENERATION_DIR") == f.generation(gen).string());
  const auto id = f.restore_ids().at(0);
  CHECK(env.at("KDR_RESTORE_ID") == id);
  CHECK(core::read_file(f.node("/var/lib/kdr/restores") / id / "step-2.log") == "hook output\n");

  exit_code = 3;
  CHECK(f.restore("hook", {}, true, dirs) == core::ExitCode::failed);  // it changed nothing kdr journals
  CHECK(contains(f.printed.err(), "site-hook exited with 3"));
  CHECK(contains(f.printed.out(), "| hook failed"));
}

TEST_CASE("restore-etcd-keys refuses without a selection, and when the live etcd it writes into does not answer") {
  RestoreFixture f;
  f.backup();
  CHECK(f.restore("restore-etcd-keys") == core::ExitCode::failed);
  CHECK(contains(f.printed.err(), "say which keys to put back: --set namespace=NAME"));
  f.etcd->stop(RestoreFixture::node_etcd_url);
  CHECK(f.restore("restore-etcd-keys", {"namespace=payments"}) == core::ExitCode::failed);
  CHECK(contains(f.printed.err(), "restore-etcd-keys writes into the running etcd, which does not answer"));
  CHECK(contains(f.printed.out(), "write them into the live etcd in transactions of up to 64 keys"));
}
