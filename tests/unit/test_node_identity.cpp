// A node rebuilt under another address or name: which names are valid, where the old ones are
// replaced, how the saved kubeadm configuration is rewritten, and which certificates and
// kubeconfigs name the old node (restore/node_identity.hpp).
#include <catch2/catch.hpp>

#include <cstdlib>

#include <yaml-cpp/yaml.h>

#include "core/fs.hpp"
#include "core/x509_names.hpp"
#include "restore/node_identity.hpp"
#include "temp_dir.hpp"

using namespace kdr;

TEST_CASE("a Node's name is a DNS subdomain, an address an IP address") {
  CHECK_FALSE(restore::node_name_problem("cp2"));
  CHECK_FALSE(restore::node_name_problem("ip-10-0-0-77.eu-west-1.compute.internal"));
  CHECK_THAT(*restore::node_name_problem("Bad_Name"), Catch::Contains("'B' is not allowed"));
  CHECK_THAT(*restore::node_name_problem("-cp"), Catch::Contains("starts or ends with '-'"));
  CHECK_THAT(*restore::node_name_problem("cp..a"), Catch::Contains("empty label"));
  CHECK_THAT(*restore::node_name_problem(std::string(64, 'a')), Catch::Contains("more than 63"));
  CHECK(restore::node_name_problem(""));
  CHECK_FALSE(restore::address_problem("10.0.0.77"));
  CHECK_FALSE(restore::address_problem("fd00::77"));
  CHECK(restore::address_problem("10.0.0.256"));
  CHECK(restore::address_problem("cp2"));
}

TEST_CASE("an old host is replaced only where it stands whole") {
  CHECK(restore::replace_host("https://10.0.0.1:2380", "10.0.0.1", "10.0.0.77") == "https://10.0.0.77:2380");
  CHECK(restore::replace_host("https://10.0.0.10:2380", "10.0.0.1", "10.0.0.77") == "https://10.0.0.10:2380");
  CHECK(restore::replace_host("cp1=https://10.0.0.1:2380,cp1-b=https://10.0.0.2:2380", "cp1", "cp2") ==
        "cp2=https://10.0.0.1:2380,cp1-b=https://10.0.0.2:2380");
  CHECK(restore::replace_host("cp1.example.com", "cp1", "cp2") == "cp1.example.com");
  CHECK(restore::replace_host("[10.0.0.1]", "10.0.0.1", "10.0.0.77") == "[10.0.0.77]");
}

TEST_CASE("an etcd manifest made for the new node names it wherever it named the old one, and nothing else") {
  const restore::IdentityChange c{{"cp1", "10.0.0.1"}, {"cp2", "10.0.0.77"}};
  const std::string manifest =
      "metadata:\n  annotations:\n    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.1:2379\n"
      "  name: etcd-cp1-b\n"
      "    - --name=cp1\n    - --initial-advertise-peer-urls=https://10.0.0.1:2380\n"
      "    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.1:2379\n"
      "    - --initial-cluster=cp1=https://10.0.0.1:2380,cp3=https://10.0.0.10:2380\n";
  CHECK(restore::renamed_text(manifest, c) ==
        "metadata:\n  annotations:\n    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.77:2379\n"
        "  name: etcd-cp1-b\n"
        "    - --name=cp2\n    - --initial-advertise-peer-urls=https://10.0.0.77:2380\n"
        "    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.77:2379\n"
        "    - --initial-cluster=cp2=https://10.0.0.77:2380,cp3=https://10.0.0.10:2380\n");
  CHECK(restore::renamed_text(manifest, {{"cp1", "10.0.0.1"}, {"cp1", "10.0.0.1"}}) == manifest);
}

TEST_CASE("the saved kubeadm configuration is rewritten for the new node, with an InitConfiguration naming it") {
  const std::string saved = R"(apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.31.2
controlPlaneEndpoint: 10.0.0.10:6443
apiServer:
  certSANs: [10.0.0.10, cp1, lb.example.com]
etcd:
  local:
    dataDir: /var/lib/etcd
    extraArgs:
      name: cp1
      listen-client-urls: https://127.0.0.1:2379,https://10.0.0.10:2379
      initial-cluster: cp1=https://10.0.0.10:2380
networking:
  podSubnet: 10.0.0.100/16
)";
  const restore::IdentityChange c{{"cp1", "10.0.0.10"}, {"cp2", "10.0.0.77"}};
  const auto out = restore::rewrite_kubeadm_config(saved, c, "kubeadm-config.yaml");
  const auto docs = YAML::LoadAll(out);
  REQUIRE(docs.size() == 2);
  const auto& cc = docs[0];
  CHECK(cc["controlPlaneEndpoint"].as<std::string>() == "10.0.0.77:6443");
  CHECK(cc["apiServer"]["certSANs"][0].as<std::string>() == "10.0.0.77");
  CHECK(cc["apiServer"]["certSANs"][1].as<std::string>() == "cp2");
  CHECK(cc["apiServer"]["certSANs"][2].as<std::string>() == "lb.example.com");
  CHECK(cc["etcd"]["local"]["extraArgs"]["name"].as<std::string>() == "cp2");
  CHECK(cc["etcd"]["local"]["extraArgs"]["listen-client-urls"].as<std::string>() ==
        "https://127.0.0.1:2379,https://10.0.0.77:2379");
  CHECK(cc["etcd"]["local"]["extraArgs"]["initial-cluster"].as<std::string>() == "cp2=https://10.0.0.77:2380");
  CHECK(cc["networking"]["podSubnet"].as<std::string>() == "10.0.0.100/16");
  CHECK(cc["kubernetesVersion"].as<std::string>() == "v1.31.2");
  const auto& init = docs[1];
  CHECK(init["apiVersion"].as<std::string>() == "kubeadm.k8s.io/v1beta3");
  CHECK(init["kind"].as<std::string>() == "InitConfiguration");
  CHECK(init["localAPIEndpoint"]["advertiseAddress"].as<std::string>() == "10.0.0.77");
  CHECK(init["nodeRegistration"]["name"].as<std::string>() == "cp2");

  // an InitConfiguration already there is kept, with the new node's address and name
  const auto again = restore::rewrite_kubeadm_config(
      saved + "---\napiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nnodeRegistration:\n  name: cp1\n  "
              "criSocket: unix:///run/containerd/containerd.sock\n",
      c, "kubeadm-config.yaml");
  const auto docs2 = YAML::LoadAll(again);
  REQUIRE(docs2.size() == 2);
  CHECK(docs2[1]["nodeRegistration"]["name"].as<std::string>() == "cp2");
  CHECK(docs2[1]["nodeRegistration"]["criSocket"].as<std::string>() == "unix:///run/containerd/containerd.sock");
  CHECK_THROWS_WITH(restore::rewrite_kubeadm_config("a: [", c, "kubeadm-config.yaml"),
                    Catch::Contains("kubeadm-config.yaml: not valid YAML"));
}

TEST_CASE("the certificates and kubeconfigs that name the old node are told from those that do not") {
  test::TempDir dir;
  const auto p = dir.path();
  const auto sh = [&](const std::string& cmd) { REQUIRE(std::system(("cd " + p.string() + " && " + cmd + " 2>/dev/null").c_str()) == 0); };
  sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -subj /CN=etcd-ca "
     "-days 1 -out ca.crt");
  const auto cert = [&](const std::string& name, const std::string& cn, const std::string& san) {
    sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name + ".key -subj /CN=" + cn +
       " -out " + name + ".csr");
    std::string ext = san.empty() ? "" : " -extfile <(printf 'subjectAltName=" + san + "')";
    sh("bash -c \"openssl x509 -req -in " + name + ".csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out " + name +
       ".crt" + ext + "\"");
    return core::read_file(p / (name + ".crt"));
  };
  const restore::NodeIdentity old{"cp1", "10.0.0.10"};
  const auto server = cert("server", "cp1", "DNS:cp1,DNS:localhost,IP:10.0.0.10,IP:127.0.0.1");
  const auto names = core::certificate_names(server);
  REQUIRE(names);
  CHECK(names->issuer == "etcd-ca");
  CHECK(names->dns == std::vector<std::string>{"cp1", "localhost"});
  CHECK(names->ips == std::vector<std::string>{"10.0.0.10", "127.0.0.1"});
  CHECK(restore::certificate_names_node(server, old));
  CHECK(restore::certificate_names_node(cert("apiserver", "kube-apiserver", "DNS:kubernetes,IP:10.0.0.10"), old));
  CHECK_FALSE(restore::certificate_names_node(cert("client", "kube-apiserver-etcd-client", ""), old));
  CHECK_FALSE(restore::certificate_names_node(cert("other", "kube-apiserver", "DNS:kubernetes,IP:10.0.0.100"), old));
  CHECK_FALSE(restore::certificate_names_node("not a certificate", old));

  const auto kubeconfig = [](const std::string& url, const std::string& user) {
    return "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: " + url +
           "\n  name: kubernetes\nusers:\n- name: " + user + "\n  user: {}\n";
  };
  CHECK(restore::kubeconfig_names_node(kubeconfig("https://10.0.0.10:6443", "kubernetes-admin"), old));
  CHECK(restore::kubeconfig_names_node(kubeconfig("https://lb.example.com:6443", "system:node:cp1"), old));
  CHECK_FALSE(restore::kubeconfig_names_node(kubeconfig("https://lb.example.com:6443", "kubernetes-admin"), old));
  CHECK_FALSE(restore::kubeconfig_names_node(kubeconfig("https://10.0.0.100:6443", "system:node:cp10"), old));
  CHECK_FALSE(restore::kubeconfig_names_node("{", old));
}

TEST_CASE("the controlPlaneEndpoint's host, a name or an address") {
  CHECK(restore::control_plane_endpoint_host("kind: ClusterConfiguration\ncontrolPlaneEndpoint: lb.example.com:6443\n") ==
        "lb.example.com");
  CHECK(restore::control_plane_endpoint_host("controlPlaneEndpoint: 10.0.0.10\n") == "10.0.0.10");
  CHECK(restore::control_plane_endpoint_host("controlPlaneEndpoint: \"[fd00::10]:6443\"\n") == "fd00::10");
  CHECK(restore::control_plane_endpoint_host("kind: ClusterConfiguration\n").empty());
  CHECK(restore::control_plane_endpoint_host("a: [").empty());
}
