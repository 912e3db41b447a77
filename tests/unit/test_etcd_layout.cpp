// Node layouts from the field: kubeadm's stacked etcd with its data dir elsewhere, external
// etcd, etcd under systemd (kubespray), and the client certificate kdr chooses on each.
#include <catch2/catch.hpp>

#include "backup/sources.hpp"
#include "etcd/layout.hpp"
#include "core/generation_facts.hpp"
#include "temp_dir.hpp"
#include "support.hpp"

using namespace kdr;

namespace {

// kubeadm's etcd.yaml with etcd.local.dataDir: /data/etcd (kubeadm mounts the data dir at
// the same path inside the container).
std::string etcd_yaml(const std::string& data_dir, const std::string& host_path) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\nspec:\n  containers:\n"
         "  - command:\n    - etcd\n    - --advertise-client-urls=https://10.0.0.5:2379\n"
         "    - --data-dir=" + data_dir + "\n"
         "    - --initial-advertise-peer-urls=https://10.0.0.5:2380\n    - --initial-cluster=cp-1=https://10.0.0.5:2380\n"
         "    - --listen-client-urls=https://10.0.0.5:2379,https://127.0.0.1:2379\n    - --name=cp-1\n"
         "    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n"
         "    image: registry.k8s.io/etcd:3.5.15-0\n    name: etcd\n    volumeMounts:\n"
         "    - {mountPath: " + host_path + ", name: etcd-data}\n"
         "    - {mountPath: /etc/kubernetes/pki/etcd, name: etcd-certs}\n"
         "  volumes:\n  - hostPath: {path: " + host_path + ", type: DirectoryOrCreate}\n    name: etcd-data\n"
         "  - hostPath: {path: /etc/kubernetes/pki/etcd, type: DirectoryOrCreate}\n    name: etcd-certs\n";
}

// kube-apiserver of a kubeadm cluster with etcd.external (kubeadm's own test data has the
// same flags), or kubespray's with certificates in /etc/kubernetes/ssl and /etc/ssl/etcd/ssl.
std::string apiserver_yaml(const std::string& servers, const std::string& pki, const std::string& etcd_pki) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n  containers:\n"
         "  - command:\n    - kube-apiserver\n    - --client-ca-file=" + pki + "/ca.crt\n"
         "    - --etcd-cafile=" + etcd_pki + "/ca.pem\n    - --etcd-certfile=" + etcd_pki + "/node-cp-1.pem\n"
         "    - --etcd-keyfile=" + etcd_pki + "/node-cp-1-key.pem\n    - --etcd-servers=" + servers + "\n"
         "    - --service-account-key-file=" + pki + "/sa.pub\n"
         "    - --service-account-signing-key-file=" + pki + "/sa.key\n"
         "    - --tls-cert-file=" + pki + "/apiserver.crt\n"
         "    image: registry.k8s.io/kube-apiserver:v1.31.2\n    name: kube-apiserver\n    volumeMounts:\n"
         "    - {mountPath: " + pki + ", name: k8s-certs}\n    - {mountPath: " + etcd_pki + ", name: etcd-certs}\n"
         "  volumes:\n  - hostPath: {path: " + pki + "}\n    name: k8s-certs\n"
         "  - hostPath: {path: " + etcd_pki + "}\n    name: etcd-certs\n";
}

struct LayoutNode {
  test::TempDir tmp;
  core::Config config = core::default_config();
  void write(const std::string& node_path, const std::string& text) { test::write(tmp.path() / node_path, text); }
  core::NodeRoot root() const { return core::NodeRoot(tmp.path()); }
  core::StaticPodScan scan() const { return core::scan_static_pods(root(), config.static_pod_path); }
  etcd::EtcdLayout layout() const { return etcd::detect_etcd_layout(config, root(), scan()); }
  backup::SourcePlan sources() const { return backup::plan_sources(config, root()); }
};

const backup::Source* source_at(const backup::SourcePlan& plan, const std::string& path) {
  for (const auto& s : plan.sources)
    if (s.path == path) return &s;
  return nullptr;
}

}  // namespace

TEST_CASE("layout: kubeadm's etcd.local.dataDir moves the data dir, and it is the required source") {
  LayoutNode n;
  n.write("etc/kubernetes/manifests/etcd.yaml", etcd_yaml("/data/etcd", "/data/etcd"));
  n.write("data/etcd/member/snap/db", "x");
  n.write("etc/kubernetes/pki/etcd/healthcheck-client.crt", "c");
  n.write("etc/kubernetes/pki/etcd/healthcheck-client.key", "k");
  const auto l = n.layout();
  CHECK(l.kind == etcd::EtcdKind::static_pod);
  CHECK(l.data_dir == "/data/etcd");
  CHECK_THAT(l.data_dir_origin, Catch::Contains("etc/kubernetes/manifests/etcd.yaml") && Catch::Contains("--data-dir=/data/etcd"));
  CHECK(l.endpoints.front() == "https://127.0.0.1:2379");  // loopback first
  CHECK(l.tls.cert == "/etc/kubernetes/pki/etcd/healthcheck-client.crt");
  CHECK_THAT(l.tls.origin, Catch::Contains("health-check client"));
  CHECK(l.problems.empty());

  const auto plan = n.sources();
  REQUIRE(source_at(plan, "/data/etcd") != nullptr);
  CHECK(source_at(plan, "/data/etcd")->required);
  CHECK_THAT(backup::join_reasons(*source_at(plan, "/data/etcd")), Catch::Contains("etcd data dir"));
  CHECK(source_at(plan, "/var/lib/etcd") == nullptr);  // only where it is the data dir
}

TEST_CASE("layout: a data dir mounted from elsewhere is the host path behind the volume") {
  LayoutNode n;
  n.write("etc/kubernetes/manifests/etcd.yaml", etcd_yaml("/var/lib/etcd", "/var/lib/etcd"));
  // the same manifest, but the volume maps /var/lib/etcd to /mnt/nvme/etcd
  auto text = etcd_yaml("/var/lib/etcd", "/var/lib/etcd");
  text.replace(text.rfind("path: /var/lib/etcd"), 19, "path: /mnt/nvme/etcd");
  n.write("etc/kubernetes/manifests/etcd.yaml", text);
  const auto l = n.layout();
  CHECK(l.data_dir == "/mnt/nvme/etcd");
  CHECK_THAT(l.data_dir_origin, Catch::Contains("hostPath volume 'etcd-data'"));
}

TEST_CASE("layout: a --data-dir under no hostPath volume is a problem, not a required source") {
  LayoutNode n;
  auto text = etcd_yaml("/data/etcd", "/var/lib/etcd");
  n.write("etc/kubernetes/manifests/etcd.yaml", text);
  const auto l = n.layout();
  CHECK_FALSE(l.data_dir_mounted);
  REQUIRE(l.problems.size() == 1);
  CHECK_THAT(l.problems[0], Catch::Contains("--data-dir=/data/etcd") && Catch::Contains("none of the pod's hostPath"));
  const auto plan = n.sources();
  CHECK(any_contains(plan.warnings, "none of the pod's hostPath volumes"));
  const auto* s = source_at(plan, "/data/etcd");
  CHECK((s == nullptr || !s->required));
}

TEST_CASE("layout: external etcd is named by kube-apiserver, with no data dir, its client certificate") {
  LayoutNode n;
  n.write("etc/kubernetes/manifests/kube-apiserver.yaml",
          apiserver_yaml("https://10.0.0.11:2379,https://10.0.0.12:2379,https://10.0.0.13:2379",
                         "/etc/kubernetes/pki", "/etc/kubernetes/pki/etcd"));
  const auto l = n.layout();
  CHECK(l.kind == etcd::EtcdKind::external);
  CHECK_FALSE(l.local());
  REQUIRE(l.endpoints.size() == 3);
  CHECK(l.endpoints[0] == "https://10.0.0.11:2379");
  CHECK(l.tls.cert == "/etc/kubernetes/pki/etcd/node-cp-1.pem");
  CHECK(l.tls.key == "/etc/kubernetes/pki/etcd/node-cp-1-key.pem");
  CHECK(l.tls.cacert == "/etc/kubernetes/pki/etcd/ca.pem");
  CHECK_THAT(l.tls.origin, Catch::Contains("kube-apiserver's etcd client"));
  CHECK_THAT(l.summary(), Catch::Contains("external etcd at https://10.0.0.11:2379, https://10.0.0.12:2379"));
  const auto plan = n.sources();
  CHECK(source_at(plan, "/var/lib/etcd") == nullptr);
  CHECK(source_at(plan, "/etc/kubernetes")->required);
}

TEST_CASE("layout: the client certificate: config, then health-check client, then kube-apiserver's") {
  LayoutNode n;
  n.write("etc/kubernetes/manifests/etcd.yaml", etcd_yaml("/var/lib/etcd", "/var/lib/etcd"));
  n.write("etc/kubernetes/manifests/kube-apiserver.yaml",
          apiserver_yaml("https://127.0.0.1:2379", "/etc/kubernetes/pki", "/etc/kubernetes/pki"));
  SECTION("no health-check client: kube-apiserver's, said so") {
    const auto l = n.layout();
    CHECK(l.tls.cert == "/etc/kubernetes/pki/node-cp-1.pem");
    CHECK_THAT(l.tls.origin, Catch::Contains("--etcd-certfile"));
  }
  SECTION("the health-check client when it exists") {
    n.write("etc/kubernetes/pki/etcd/healthcheck-client.crt", "c");
    n.write("etc/kubernetes/pki/etcd/healthcheck-client.key", "k");
    CHECK(n.layout().tls.cert == "/etc/kubernetes/pki/etcd/healthcheck-client.crt");
  }
  SECTION("the config above all") {
    n.write("etc/kubernetes/pki/etcd/healthcheck-client.crt", "c");
    n.write("etc/kubernetes/pki/etcd/healthcheck-client.key", "k");
    n.config = core::parse_config("etcd: {cert: /etc/etcd/pki/me.crt, key: /etc/etcd/pki/me.key, cacert: /etc/etcd/pki/ca.crt}\n",
                                  "kdr.yaml");
    const auto l = n.layout();
    CHECK(l.tls.cert == "/etc/etcd/pki/me.crt");
    CHECK(l.tls.from_config);
    CHECK_THAT(l.tls.origin, Catch::Contains("kdr.yaml"));
  }
  SECTION("a config naming only the certificate and key keeps the node's CA") {
    n.write("etc/kubernetes/pki/etcd/healthcheck-client.crt", "c");
    n.write("etc/kubernetes/pki/etcd/healthcheck-client.key", "k");
    n.config = core::parse_config("etcd: {cert: /etc/etcd/pki/me.crt, key: /etc/etcd/pki/me.key}\n", "kdr.yaml");
    const auto l = n.layout();
    CHECK(l.tls.cert == "/etc/etcd/pki/me.crt");
    CHECK(l.tls.cacert == "/etc/kubernetes/pki/etcd/ca.crt");
    CHECK_THAT(l.tls.origin, Catch::Contains("etcd.cert, etcd.key; the rest from kubeadm's etcd health-check client"));
  }
  SECTION("nothing found: kubeadm's paths, and the config keys that fix it") {
    n.config = core::parse_config("static_pod_path: /nowhere\n", "kdr.yaml");
    const auto l = n.layout();
    CHECK_THAT(l.tls.origin, Catch::Contains("no etcd client certificate was found") && Catch::Contains("etcd.cert"));
  }
}

TEST_CASE("layout: etcd under systemd (kubespray): unit, environment file, data dir, certificates") {
  LayoutNode n;
  n.write("etc/kubernetes/manifests/kube-apiserver.yaml",
          apiserver_yaml("https://10.0.0.5:2379", "/etc/kubernetes/ssl", "/etc/ssl/etcd/ssl"));
  n.write("etc/systemd/system/etcd.service",
          "[Unit]\nDescription=etcd\n[Service]\nEnvironmentFile=-/etc/etcd.env\nExecStart=/usr/local/bin/etcd \\\n"
          "  --data-dir=/var/lib/etcd-from-unit\nRestart=always\n");
  n.write("etc/etcd.env",
          "# Environment file for etcd v3.5.16\nETCD_DATA_DIR=/var/lib/etcd\nETCD_NAME=etcd1\n"
          "ETCD_LISTEN_CLIENT_URLS=https://10.0.0.5:2379,https://127.0.0.1:2379\n"
          "ETCD_INITIAL_CLUSTER=etcd1=https://10.0.0.5:2380\nETCD_TRUSTED_CA_FILE=/etc/ssl/etcd/ssl/ca.pem\n"
          "ETCD_CERT_FILE=/etc/ssl/etcd/ssl/member-cp-1.pem\nexport ETCDCTL_CERT=\"/etc/ssl/etcd/ssl/admin-cp-1.pem\"\n"
          "ETCDCTL_KEY=/etc/ssl/etcd/ssl/admin-cp-1-key.pem\nETCDCTL_CACERT=/etc/ssl/etcd/ssl/ca.pem\n");
  const auto l = n.layout();
  CHECK(l.kind == etcd::EtcdKind::systemd);
  CHECK(l.data_dir == "/var/lib/etcd");  // the environment file wins over the unit's flag
  CHECK_THAT(l.data_dir_origin, Catch::Contains("/etc/systemd/system/etcd.service"));
  CHECK(l.endpoints.front() == "https://127.0.0.1:2379");
  REQUIRE(l.systemd);
  CHECK(l.systemd->env.at("ETCD_NAME") == "etcd1");
  // kubespray's kube-apiserver client comes before etcdctl's admin certificate
  CHECK(l.tls.cert == "/etc/ssl/etcd/ssl/node-cp-1.pem");
  CHECK_THAT(l.summary(), Catch::Contains("etcd under systemd (/etc/systemd/system/etcd.service)"));

  const auto plan = n.sources();
  CHECK(source_at(plan, "/var/lib/etcd")->required);
  CHECK(source_at(plan, "/etc/systemd/system/etcd.service") != nullptr);
  CHECK(source_at(plan, "/etc/etcd.env") != nullptr);
  CHECK(source_at(plan, "/etc/ssl/etcd/ssl") != nullptr);
}

TEST_CASE("layout: etcdctl's own settings are the last choice of client certificate") {
  LayoutNode n;
  n.write("etc/etcd.env", "ETCD_DATA_DIR=/srv/etcd\nETCDCTL_CERT=/etc/etcd/pki/admin.pem\nETCDCTL_KEY=/etc/etcd/pki/admin-key.pem\n");
  const auto l = n.layout();
  CHECK(l.kind == etcd::EtcdKind::systemd);
  CHECK(l.data_dir == "/srv/etcd");
  CHECK(l.endpoints.front() == "http://127.0.0.1:2379");  // etcd's default without TLS settings
  CHECK(l.tls.cert == "/etc/etcd/pki/admin.pem");
  CHECK_THAT(l.tls.origin, Catch::Contains("ETCDCTL_CERT"));
}

TEST_CASE("layout: nothing on the node says where etcd is: the config's etcd_data_dir") {
  LayoutNode n;
  n.config = core::parse_config("etcd_data_dir: /srv/etcd-data\n", "kdr.yaml");
  const auto l = n.layout();
  CHECK(l.kind == etcd::EtcdKind::unknown);
  CHECK(l.data_dir == "/srv/etcd-data");
  CHECK_THAT(l.data_dir_origin, Catch::Contains("config etcd_data_dir"));
}

TEST_CASE("environment files are read as systemd reads them") {
  const auto env = etcd::parse_env_file("# comment\n\nA=1\nexport B=\"two words\"\n  C = 'x' \nnot a setting\nD=\n");
  CHECK(env.at("A") == "1");
  CHECK(env.at("B") == "two words");
  CHECK(env.at("C") == "x");
  CHECK(env.at("D").empty());
  CHECK(env.size() == 4);
}

TEST_CASE("the data dir a generation recorded, in both formats") {
  using nlohmann::json;
  auto recorded = [](const json& node) { return core::NodeFacts::from_json(node, "meta.json: node").recorded_etcd_data_dir(); };
  CHECK(recorded(json{{"etcd", {{"data_dir", "/data/etcd"}}}}) == "/data/etcd");
  CHECK(recorded(json{{"etcd", {{"data_dir", nullptr}}}}) == "");  // external: recorded as none
  CHECK(recorded(json{{"etcd_member", {{"data_dir_host", "/mnt/etcd"}}}}) == "/mnt/etcd");
  CHECK_FALSE(recorded(json::object()).has_value());
}

TEST_CASE("kube-apiserver's PKI is found from its flags, wherever it is") {
  LayoutNode n;
  n.write("etc/kubernetes/manifests/kube-apiserver.yaml",
          apiserver_yaml("https://10.0.0.5:2379", "/etc/kubernetes/ssl", "/etc/ssl/etcd/ssl"));
  const auto pki = core::apiserver_pki(n.scan());
  REQUIRE(pki.service_account_key);
  CHECK(*pki.service_account_key == "/etc/kubernetes/ssl/sa.key");
  CHECK(std::find(pki.dirs.begin(), pki.dirs.end(), "/etc/kubernetes/ssl") != pki.dirs.end());
  CHECK(std::find(pki.dirs.begin(), pki.dirs.end(), "/etc/ssl/etcd/ssl") != pki.dirs.end());
}
