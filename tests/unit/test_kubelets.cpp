// The cluster after a restore that replaced etcd's data (restore/kubelets.hpp): the nodes the
// restored etcd lists, whose kubelets no longer answer (with the pods bound to them), the pods a
// kubelet runs that the restored etcd lacks, and the kubelets restarted or their commands shown.
// The kubelets here are fakes answering the pod list the real kubelet serves at /pods (a v1
// PodList); tests/scenarios/restore_cluster_nodes.sh asks a real TLS server for it.
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "k8s/envelope.hpp"
#include "k8s/schema.hpp"
#include "restore/kubelets.hpp"
#include "restore_fixture.hpp"
#include "support.hpp"
#include "k8s_fixture.hpp"

using namespace kdr;
using restore::PodRef;
using test::RestoreFixture;

namespace {

k8s::ojson node(const std::string& name, const std::string& address, int port = 10250) {
  auto n = k8s_fixture("node.json");
  n["metadata"]["name"] = name;
  n["metadata"]["uid"] = "uid-" + name;
  n["status"]["addresses"] = k8s::ojson::array({{{"address", address}, {"type", "InternalIP"}}, {{"address", name}, {"type", "Hostname"}}});
  n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] = port;
  return n;
}

k8s::ojson pod(const std::string& ns, const std::string& name, const std::string& uid, const std::string& node_name) {
  auto p = k8s_fixture("pod.json");
  p["metadata"]["namespace"] = ns;
  p["metadata"]["name"] = name;
  p["metadata"]["uid"] = uid;
  p["spec"]["nodeName"] = node_name;
  return p;
}

k8s::ojson static_pod(const std::string& name, const std::string& node_name) {
  auto p = pod("kube-system", name + "-" + node_name, "hash-" + name, node_name);
  p["metadata"]["annotations"] = {{"kubernetes.io/config.source", "file"}, {"kubernetes.io/config.hash", "hash-" + name}};
  return p;
}

std::string pod_list(const std::vector<k8s::ojson>& pods) {
  k8s::ojson list = {{"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", k8s::ojson::object()}, {"items", pods}};
  return list.dump();
}

PodRef ref(const std::string& ns, const std::string& name, const std::string& uid, bool static_pod = false) {
  PodRef p;
  p.namespace_ = ns;
  p.name = name;
  p.uid = uid;
  p.static_pod = static_pod;
  return p;
}

std::vector<std::string> ids(const std::vector<PodRef>& pods) {
  std::vector<std::string> out;
  for (const auto& p : pods) out.push_back(p.id());
  return out;
}

// The node cp1 (10.0.0.10) and two workers, w1 (10.0.0.31, kubelet on 10255) and w2
// (10.0.0.32), with their pods, in the fixture's live etcd before its backup.
void add_cluster(RestoreFixture& f) {
  for (const auto& n : {node("cp1", "10.0.0.10"), node("w1", "10.0.0.31", 10255), node("w2", "10.0.0.32")})
    f.live->write("/registry/minions/" + n["metadata"]["name"].get<std::string>(), k8s_stored(n));
  for (const auto& p : {pod("payments", "api-1", "uid-api-1", "w1"), pod("payments", "api-2", "uid-api-2", "w2"),
                        pod("payments", "cache-0", "uid-cache-0", "w2")})
    f.live->write("/registry/pods/payments/" + p["metadata"]["name"].get<std::string>(), k8s_stored(p));
}

}  // namespace

TEST_CASE("a Node object gives its name, InternalIP, kubelet port and role, the config's port when it names none") {
  const auto cp1 = restore::node_from_object(k8s_fixture("node.json"), 10250);
  CHECK(cp1.name == "cp1");
  CHECK(cp1.address == "10.0.0.10");
  CHECK(cp1.kubelet_port == 10250);
  CHECK(cp1.control_plane);

  auto worker = node("w1", "10.0.0.31", 10255);
  worker["metadata"]["labels"].erase("node-role.kubernetes.io/control-plane");
  worker["status"]["addresses"] = k8s::ojson::array({{{"address", "w1"}, {"type", "Hostname"}},
                                                      {{"address", "203.0.113.7"}, {"type", "ExternalIP"}}});
  worker["status"].erase("daemonEndpoints");
  const auto w1 = restore::node_from_object(worker, 11250);
  CHECK(w1.address == "203.0.113.7");  // no InternalIP: the first address that is not a host name
  CHECK(w1.kubelet_port == 11250);
  CHECK_FALSE(w1.control_plane);
}

TEST_CASE("phantoms: the pods a kubelet runs that the restored etcd lacks, by name and uid, its static pods left out") {
  const std::vector<PodRef> stored_pods = {ref("payments", "api-1", "u1"), ref("payments", "api-2", "u2")};
  const std::vector<PodRef> running = {ref("payments", "api-1", "u1"),              // known
                                       ref("payments", "api-2", "u2-later"),        // the same name, another pod
                                       ref("payments", "late", "u9"),               // created after the backup
                                       ref("kube-system", "etcd-w1", "hash", true)};  // the kubelet's own
  CHECK(ids(restore::phantom_pods(running, stored_pods)) == std::vector<std::string>{"payments/api-2", "payments/late"});

  const auto listed = restore::kubelet_pod_list(pod_list({static_pod("etcd", "w1"), pod("payments", "late", "u9", "w1")}));
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].static_pod);
  CHECK_FALSE(listed[1].static_pod);
  CHECK(listed[1].node == "w1");
  CHECK_THROWS_WITH(restore::kubelet_pod_list("Unauthorized"), Catch::Contains("not JSON"));
  CHECK_THROWS_WITH(restore::kubelet_pod_list(R"({"kind":"Status","status":"Failure"})"), Catch::Contains("not a PodList"));
}

TEST_CASE("after restore-etcd-snapshot: silent nodes with their pods, phantoms, and every kubelet restarted or its command shown") {
  RestoreFixture f;
  f.extra_config = "kubelet:\n  restart: [/usr/local/bin/restart-kubelet]\n";
  int restarts = 0;
  f.programs->programs["restart-kubelet"] = [&](const std::vector<std::string>&, const core::ProcessOptions&) {
    ++restarts;
    core::ProcessResult r;
    r.started = true;
    r.exit_code = 0;
    return r;
  };
  add_cluster(f);
  f.backup();
  // After the backup: a pod the restore takes away, which w1's kubelet goes on running.
  f.live->write("/registry/pods/payments/late", k8s_stored(pod("payments", "late", "uid-late", "w1")));
  f.kubelets->answer("10.0.0.10:10250", pod_list({static_pod("etcd", "cp1")}));
  f.kubelets->answer("10.0.0.31:10255", pod_list({static_pod("kube-proxy", "w1"), pod("payments", "api-1", "uid-api-1", "w1"),
                                                  pod("payments", "late", "uid-late", "w1")}));
  // w2 does not answer: its machine is gone.

  const auto rc = f.restore("restore-etcd-snapshot", {"accept_loss=true"});
  INFO(f.printed.all());
  REQUIRE(rc == core::ExitCode::ok);
  const auto err = f.printed.err();
  CHECK(contains(err, "w1 (10.0.0.31:10255): its kubelet runs 1 pod the restored etcd lacks (phantoms, until its kubelet "
                      "restarts): payments/late (Running)"));
  CHECK(contains(err, "w2 (10.0.0.32:10250): no kubelet answers (https://10.0.0.32:10250/pods: Connection refused); the "
                      "restored etcd binds 2 pods to it: payments/api-2 (Running), payments/cache-0 (Running); once the "
                      "machine is gone for good: kubectl delete node w2"));
  CHECK(contains(f.printed.out(), "cp1 (10.0.0.10:10250): its kubelet answers; it runs no pod the restored etcd lacks"));
  // The fixture's etcd holds a pod value that is not an object: said, not hidden.
  CHECK(contains(err, "not read: /registry/pods/kube-system/etcd-cp1"));
  // Asked as kube-apiserver asks: with its kubelet client certificate, under the node's root.
  REQUIRE_FALSE(f.kubelets->asked.empty());
  CHECK(f.kubelets->asked[0].cert == (f.root / "etc/kubernetes/pki/apiserver-kubelet-client.crt").string());
  CHECK(f.kubelets->asked[0].ca.empty());

  const auto report = nlohmann::json::parse(
      core::read_file(f.node("/var/lib/kdr/restores/" + f.restore_ids().at(0) + "/nodes.json")));
  REQUIRE(report["nodes"].size() == 3);
  CHECK(report["nodes"][1]["phantom_pods"][0]["name"] == "late");
  CHECK(report["nodes"][2]["kubelet"] == "silent");
  CHECK(report["nodes"][2]["bound_pods"].size() == 2);

  // This node's kubelet restarted with the configured command; the others' commands shown.
  CHECK(restarts == 1);
  CHECK(contains(f.printed.out(), "cp1: kubelet restarted (/usr/local/bin/restart-kubelet)"));
  CHECK(contains(err, "restart the kubelet on 2 more nodes (kdr does not reach them):"));
  CHECK(contains(f.printed.out(), "w1: ssh 10.0.0.31 systemctl restart kubelet"));
  CHECK(contains(f.printed.out(), "w2: ssh 10.0.0.32 systemctl restart kubelet"));
}

TEST_CASE("under --root the built-in systemctl restart is never run: the command is shown, and kdr kubelet restart refuses") {
  RestoreFixture f;
  add_cluster(f);
  f.backup();
  REQUIRE(f.restore("restore-etcd-snapshot") == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(f.programs->calls_of("systemctl").empty());
  CHECK(contains(f.printed.err(), "cp1: systemctl restart kubelet: not run under --root"));

  const auto r = restore::restart_local_kubelet(f.context());
  CHECK_FALSE(r.ran);
  CHECK(f.programs->calls_of("systemctl").empty());
}
