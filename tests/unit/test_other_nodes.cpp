// The other nodes of an HA cluster: the ssh command kdr builds (core/ssh.hpp), how it tells
// ssh's failures apart, the config's nodes: list, `kdr pods stop|start` (restore/held_pods.hpp),
// and restore-etcd-cluster driving the other members over SSH.
//
// ssh here is a stand-in (FakePrograms) that answers as OpenSSH does, with the messages
// OpenSSH 9.2 prints; tests/scenarios/ha_restore_cluster_ssh.sh and ha_ssh_faults.sh run the
// same against real sshds.
#include <catch2/catch.hpp>

#include "core/ssh.hpp"
#include "restore/held_pods.hpp"
#include "restore/journal.hpp"
#include "fake_other_nodes.hpp"
#include "support.hpp"

using namespace kdr;
using test::answer;
using test::RestoreFixture;
using test::FakeOtherNodes;
using test::parse_ssh;
using test::joined;
using test::nodes_config;

namespace {

// This node as cp1 of three, backed up, reaching cp2 and cp3 over (fake) ssh; then cp2's and
// cp3's etcd stop: quorum is lost.
void lose_quorum(RestoreFixture& f) {
  f.make_ha();
  f.backup();
  f.extra_config = nodes_config;
  f.etcd->stop("http://127.0.0.1:3");
  f.etcd->stop("http://127.0.0.1:4");
}

}  // namespace

TEST_CASE("ssh runs an argv: options that never prompt and only trust a known host key, each word quoted once") {
  core::NodeConfig n;
  n.name = "cp2";
  n.ssh = "root@10.0.0.11";
  n.port = 2222;
  n.identity_file = "/etc/kdr/ssh/id";
  n.known_hosts = "/etc/kdr/ssh/known_hosts";
  const auto argv = core::ssh_argv(n, core::NodeRoot("/sandbox"), {"kdr", "it's; rm -rf /", "$(x)", ""});
  const auto has = [&](const std::string& a, const std::string& b) {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i)
      if (argv[i] == a && argv[i + 1] == b) return true;
    return false;
  };
  CHECK(argv.front() == "ssh");
  CHECK(has("-o", "BatchMode=yes"));
  CHECK(has("-o", "StrictHostKeyChecking=yes"));
  CHECK(has("-o", "UserKnownHostsFile=/sandbox/etc/kdr/ssh/known_hosts"));
  CHECK(has("-i", "/sandbox/etc/kdr/ssh/id"));
  CHECK(has("-p", "2222"));
  const auto call = parse_ssh(argv);
  CHECK(call.destination == "root@10.0.0.11");
  CHECK(call.words == std::vector<std::string>{"kdr", "it's; rm -rf /", "$(x)", ""});
  // The real shell agrees.
  const auto line = argv.back();
  const auto shell = core::run_process({"/bin/sh", "-c", "for w in " + line + "; do printf '<%s>' \"$w\"; done"});
  CHECK(shell.out == "<kdr><it's; rm -rf /><$(x)><>");
}

TEST_CASE("ssh's failures are told apart from its messages, each with what to do") {
  using P = core::SshProblem;
  core::NodeConfig n;
  n.name = "cp3";
  n.ssh = "root@127.0.0.13";
  n.known_hosts = "/etc/kdr/ssh/known_hosts";
  const auto of = [](int code, const std::string& err) { return core::classify_ssh(answer(code, "", err)); };
  const std::string changed =
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n"
      "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n"
      "Host key for [127.0.0.13]:2222 has changed and you have requested strict checking.\r\n"
      "Host key verification failed.\r\n";
  CHECK(of(255, changed) == P::host_key_changed);
  CHECK(of(255, "No ED25519 host key is known for [127.0.0.13]:2222 and you have requested strict checking.\r\n"
                "Host key verification failed.\r\n") == P::host_key_unknown);
  CHECK(of(255, "root@127.0.0.13: Permission denied (publickey).\r\n") == P::key_refused);
  CHECK(of(255, "ssh: connect to host 127.0.0.13 port 2222: Connection refused\r\n") == P::unreachable);
  CHECK(of(255, "ssh: Could not resolve hostname cp9: Name or service not known\r\n") == P::unreachable);
  CHECK(of(127, "sh: 1: kdr: not found\n") == P::program_missing);
  CHECK(of(1, "kdr: error: no backup\n") == P::none);  // the remote command's own failure
  CHECK(of(255, "kex_exchange_identification: banner line contains invalid characters\r\n") == P::other);

  const auto msg = core::explain(P::host_key_changed, n, answer(255, "", changed));
  CHECK(contains(msg, "node cp3 (root@127.0.0.13 port 22): its host key is not the one /etc/kdr/ssh/known_hosts holds"));
  CHECK(contains(core::explain(P::unreachable, n, answer(255, "", "ssh: connect to host 127.0.0.13 port 22: "
                                                                  "Connection refused\r\n")),
                 "cannot connect (ssh: connect to host 127.0.0.13 port 22: Connection refused)"));
}

TEST_CASE("the config's nodes: list is checked, and a destination that could be an option is refused") {
  const auto c = core::parse_config(nodes_config, "kdr.yaml");
  REQUIRE(c.nodes.size() == 2);
  CHECK(c.nodes[0].kdr == std::vector<std::string>{"kdr", "--config", "/etc/kdr/cp2.yaml"});
  CHECK(c.nodes[1].port == 2222);
  CHECK(c.nodes[1].kdr == std::vector<std::string>{"kdr"});
  const auto error_of = [](const std::string& text) {
    try {
      core::parse_config(text, "kdr.yaml");
    } catch (const core::UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(contains(error_of("nodes:\n  - name: cp2\n    ssh: -oProxyCommand=sh\n"), "kdr.yaml:3"));
  CHECK(contains(error_of("nodes:\n  - name: cp2\n    ssh: -oProxyCommand=sh\n"), "is not an OpenSSH destination"));
  CHECK(contains(error_of("nodes:\n  - name: cp2\n    ssh: 'a b'\n"), "is not an OpenSSH destination"));
  CHECK(contains(error_of("nodes:\n  - name: cp2\n    ssh: h\n  - name: cp2\n    ssh: h\n"), "listed twice"));
  CHECK(contains(error_of("nodes:\n  - ssh: h\n"), "needs a 'name'"));
  CHECK(contains(error_of("nodes:\n  - name: cp2\n    ssh: h\n    port: 70000\n"), "between 1 and 65535"));
  CHECK(contains(error_of("nodes:\n  - name: cp2\n    ssh: h\n    kdr: kdr --root /x\n"), "never a shell string"));
}

TEST_CASE("kdr pods stop holds a manifest out of the kubelet's folder and start puts it back, each once") {
  RestoreFixture f;
  const auto ctx = f.context();
  const auto live = f.node("/etc/kubernetes/manifests/kube-apiserver.yaml");
  const auto held = f.node("/var/lib/kdr/held-pods/kube-apiserver.yaml");
  const auto text = core::read_file(live);

  auto changes = restore::stop_pods(ctx, {"kube-apiserver"});
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].changed);
  CHECK_FALSE(core::lstat_path(live));
  CHECK(core::read_file(held) == text);
  CHECK_FALSE(restore::stop_pods(ctx, {"kube-apiserver"})[0].changed);  // already held
  const auto pods = restore::list_pods(ctx);
  CHECK(std::any_of(pods.begin(), pods.end(), [](const restore::PodEntry& p) {
    return p.name == "kube-apiserver" && p.place == restore::PodPlace::held;
  }));

  // A manifest of the same name written meanwhile is never overwritten.
  test::write(live, "kind: Pod\nmetadata: {name: other}\n");
  CHECK_THROWS_WITH(restore::start_pods(ctx, {"kube-apiserver"}), Catch::Contains("never overwrites"));
  core::remove_tree(live);

  CHECK(restore::start_pods(ctx, {"kube-apiserver"})[0].changed);
  CHECK(core::read_file(live) == text);
  CHECK_FALSE(core::lstat_path(held));
  CHECK_FALSE(restore::start_pods(ctx, {"kube-apiserver"})[0].changed);
  CHECK_THROWS_WITH(restore::stop_pods(ctx, {"kube-apiservr"}),
                    Catch::Contains("no static pod named kube-apiservr on this node (pods: etcd"));
}

TEST_CASE("restore-etcd-cluster drives the other members over SSH: apiservers stopped, each node joined, apiservers started") {
  RestoreFixture f;
  lose_quorum(f);
  FakeOtherNodes others(f);

  // The plan shows every node's steps before anything runs.
  REQUIRE(f.restore("restore-etcd-cluster", {}, false, {}, true) == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(contains(f.printed.out(), "on cp2 (https://10.0.0.11:2380), over ssh root@10.0.0.11 port 22: kdr --config "
                                  "/etc/kdr/cp2.yaml pods stop kube-apiserver --wait 120"));
  CHECK(contains(f.printed.out(), "on cp3 (https://10.0.0.12:2380), over ssh root@10.0.0.12 port 2222: kdr restore "
                                  "replace-etcd-member --yes --set via=http://127.0.0.1:2 --set cluster_id=<the new "
                                  "cluster id>"));
  CHECK(others.log == std::vector<std::string>{"cp2: kdr --version", "cp3: kdr --version"});  // a dry run

  others.log.clear();
  REQUIRE(f.restore("restore-etcd-cluster") == core::ExitCode::ok);
  CHECK(others.log == std::vector<std::string>{
                          "cp2: kdr --version", "cp3: kdr --version",
                          "cp2: kdr pods stop kube-apiserver --wait 120", "cp3: kdr pods stop kube-apiserver --wait 120",
                          "cp2: kdr --json restores",
                          "cp2: kdr restore replace-etcd-member --yes --set via=http://127.0.0.1:2 --set cluster_id=11",
                          "cp3: kdr --json restores",
                          "cp3: kdr restore replace-etcd-member --yes --set via=http://127.0.0.1:2 --set cluster_id=11",
                          "cp2: kdr pods start kube-apiserver --wait 300", "cp3: kdr pods start kube-apiserver --wait 300",
                          "cp2: kdr kubelet restart", "cp3: kdr kubelet restart"});
  CHECK(contains(f.printed.out(), "[cp2] restore cp2-join: done"));
  CHECK(contains(f.printed.out(), "the cluster has 3 started voting members"));

  // A rollback undoes it in reverse, on every node: apiservers stopped again, each join rolled
  // back there with its own journal, this node's data back, apiservers started.
  others.log.clear();
  const auto rolled = f.rollback(f.restore_ids().at(0));
  REQUIRE(rolled == core::ExitCode::ok);
  CHECK(others.log == std::vector<std::string>{
                          "cp3: kdr pods stop kube-apiserver --wait 300", "cp2: kdr pods stop kube-apiserver --wait 300",
                          "cp3: kdr --json restores", "cp3: kdr restore --rollback cp3-join --yes",
                          "cp2: kdr --json restores", "cp2: kdr restore --rollback cp2-join --yes",
                          "cp3: kdr pods start kube-apiserver --wait 120", "cp2: kdr pods start kube-apiserver --wait 120"});
}

TEST_CASE("restore-etcd-cluster restarts the kubelets: this node's with kubelet.restart, the nodes: ones over SSH") {
  RestoreFixture f;
  lose_quorum(f);
  f.extra_config += "kubelet:\n  restart: [/usr/local/bin/restart-kubelet]\n";
  f.programs->programs["restart-kubelet"] = [](const std::vector<std::string>&, const core::ProcessOptions&) {
    return answer(0, "");
  };
  FakeOtherNodes others(f);
  REQUIRE(f.restore("restore-etcd-cluster") == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(others.kubelet_restarts["cp2"] == 1);
  CHECK(others.kubelet_restarts["cp3"] == 1);
  CHECK(f.programs->calls_of("restart-kubelet").size() == 1);
  CHECK(contains(f.printed.out(), "on cp2 over ssh: kdr --config /etc/kdr/cp2.yaml kubelet restart"));
}

TEST_CASE("from=survivor asks the stopped members over SSH (kdr etcd state) and refuses here when one is more advanced") {
  RestoreFixture f;
  lose_quorum(f);
  FakeOtherNodes others(f);
  const auto cluster = f.etcd->at(RestoreFixture::node_etcd_url)->cluster_id;
  others.etcd_state["cp3"] = {{"name", "cp3"},          {"where", "this node"}, {"source", "offline"},
                              {"cluster_id", cluster},  {"member_id", "c3"},     {"revision", 4711},
                              {"raft_term", 7},         {"raft_index", 9000},   {"problem", ""}};
  const auto before = f.tree();
  CHECK(f.restore("restore-etcd-cluster", {"from=survivor"}) == core::ExitCode::failed);
  INFO(f.printed.all());
  CHECK(std::count(others.log.begin(), others.log.end(), "cp2: kdr --json etcd state") >= 1);
  CHECK(std::count(others.log.begin(), others.log.end(), "cp3: kdr --json etcd state") >= 1);
  CHECK(contains(f.printed.all(), "=> cp3"));
  CHECK(contains(f.printed.all(), "cp3 (over ssh root@10.0.0.12) is more advanced than this node's member: committed "
                                  "raft index 9000 (term 7, revision 4711)"));
  CHECK(contains(f.printed.all(), "run `kdr restore restore-etcd-cluster --set from=survivor` on cp3"));
  CHECK(test::tree_diff(f.tree(), before) == "");
  CHECK(others.state().empty());

  // the survivor with the generation's snapshot is a contradiction: a usage error
  CHECK_THROWS_AS(f.restore("restore-etcd-cluster", {"from=survivor", "to=snapshot"}), core::UsageError);
  CHECK_THROWS_WITH(f.restore("restore-etcd-cluster", {"from=survivor", "to=snapshot"}),
                    Catch::StartsWith("--set from=survivor restores the most advanced member's data"));
  CHECK(test::tree_diff(f.tree(), before) == "");
}

TEST_CASE("a node whose host key changed stops restore-etcd-cluster in its preflight: nothing changes on any node") {
  RestoreFixture f;
  lose_quorum(f);
  FakeOtherNodes others(f);
  others.failing["root@10.0.0.12"] =
      "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nHost key verification failed.\r\n";
  const auto before = f.tree();
  CHECK(f.restore("restore-etcd-cluster") == core::ExitCode::failed);
  CHECK(contains(f.printed.all(), "node cp3 (root@10.0.0.12 port 2222): its host key is not the one "
                                  "/etc/kdr/ssh/known_hosts holds"));
  CHECK(test::tree_diff(f.tree(), before) == "");
  CHECK(others.log == std::vector<std::string>{"cp2: kdr --version"});  // nothing ran on cp2 but the check
}

TEST_CASE("a resumed restore-etcd-cluster resumes a join the other node journaled, and skips one it finished") {
  RestoreFixture f;
  lose_quorum(f);
  FakeOtherNodes others(f);
  // cp3's join fails the first time (its kdr stops with exit 5, its restore left to resume).
  bool cp3_failed = false;
  f.programs->programs["ssh"] = [&](const std::vector<std::string>& argv, const core::ProcessOptions&) {
    const auto call = parse_ssh(argv);
    if (!cp3_failed && call.destination == "root@10.0.0.12" && call.words.size() > 2 &&
        call.words[2] == "replace-etcd-member") {
      cp3_failed = true;
      others.restores["root@10.0.0.12"] = nlohmann::json::array(
          {{{"id", "cp3-first"}, {"playbook", "replace-etcd-member"}, {"state", "failed"},
            {"vars", {{"cluster_id", "11"}}}}});
      others.log.push_back("cp3: (join failed)");
      return answer(5, "", "kdr: error: etcd-member-promote: timed out\n");
    }
    return others.answer_call(call);
  };
  CHECK(f.restore("restore-etcd-cluster") == core::ExitCode::incomplete);
  CHECK(contains(f.printed.all(), "on cp3: 'kdr restore replace-etcd-member --yes --set via=http://127.0.0.1:2 --set "
                                  "cluster_id=11' exited with 5"));
  others.log.clear();
  REQUIRE(f.resume(f.restore_ids().at(0)) == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(std::count(others.log.begin(), others.log.end(), "cp3: kdr restore --resume cp3-first --yes") == 1);
  CHECK(std::none_of(others.log.begin(), others.log.end(),
                     [](const std::string& l) { return l.starts_with("cp2: kdr restore"); }));
  CHECK(contains(f.printed.out(), "cp2 joined earlier (its restore cp2-join)"));
}
