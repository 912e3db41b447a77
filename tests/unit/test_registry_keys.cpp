#include <catch2/catch.hpp>

#include <string>

#include "core/namespace_object.hpp"
#include "core/registry_keys.hpp"

using namespace kdr;

TEST_CASE("registry keys: the namespace and resource of what kube-apiserver stores where") {
  CHECK(core::namespace_of("/registry/namespaces/payments") == "payments");
  CHECK(core::namespace_of("/registry/configmaps/payments/app") == "payments");
  CHECK(core::namespace_of("/registry/cert-manager.io/certificates/payments/tls") == "payments");
  CHECK(core::namespace_of("/registry/services/specs/payments/api") == "payments");
  CHECK(core::namespace_of("/registry/services/endpoints/payments/api") == "payments");
  CHECK_FALSE(core::namespace_of("/registry/minions/node-1"));
  CHECK_FALSE(core::namespace_of("/registry/apiextensions.k8s.io/customresourcedefinitions/x.example.com"));
  CHECK(core::resource_of("/registry/services/specs/payments/api") == "services/specs");
  CHECK(core::resource_of("/registry/cert-manager.io/certificates/payments/tls") == "cert-manager.io/certificates");
  CHECK(core::resource_of("/registry/pods/payments/api-1") == "pods");
  CHECK(core::namespace_key("payments") == "/registry/namespaces/payments");
}

namespace {
std::string field(int number, const std::string& bytes) {
  return std::string(1, static_cast<char>((number << 3) | 2)) + static_cast<char>(bytes.size()) + bytes;
}
// A v1.Namespace in kube-apiserver's protobuf envelope (field numbers of generated.proto).
std::string stored_namespace(bool deletion_timestamp, const std::string& phase) {
  std::string meta = field(1, "payments");
  if (deletion_timestamp) meta += field(9, std::string("\x08\x01", 2));
  const auto raw = field(1, meta) + field(2, field(1, "kubernetes")) + field(3, field(1, phase));
  return std::string("k8s\0", 4) + field(1, field(1, "v1") + field(2, "Namespace")) + field(2, raw);
}
}  // namespace

TEST_CASE("a stored Namespace says whether it is being deleted, in protobuf and in JSON") {
  CHECK(core::namespace_state(stored_namespace(false, "Active")).readable);
  CHECK_FALSE(core::namespace_state(stored_namespace(false, "Active")).terminating);
  CHECK(core::namespace_state(stored_namespace(true, "Terminating")).terminating);
  CHECK(core::namespace_state(stored_namespace(true, "Active")).terminating);   // the timestamp alone
  CHECK(core::namespace_state(stored_namespace(false, "Terminating")).terminating);
  CHECK(core::namespace_state(R"({"metadata":{"name":"a","deletionTimestamp":"2026-12-04T03:00:00Z"}})").terminating);
  CHECK_FALSE(core::namespace_state(R"({"metadata":{"name":"a"},"status":{"phase":"Active"}})").terminating);
  CHECK_FALSE(core::namespace_state("k8s:enc:aescbc:v1:key1:xxxx").readable);
  auto truncated = stored_namespace(true, "Terminating");
  truncated.resize(truncated.size() - 3);
  CHECK_FALSE(core::namespace_state(truncated).readable);
}

#include "core/kubeadm_pki.hpp"

TEST_CASE("kubeadm's certificates by the name that renews them") {
  CHECK(core::kubeadm_renew_name("/etc/kubernetes/pki/etcd/server.crt") == "etcd-server");
  CHECK(core::kubeadm_renew_name("/tmp/sandbox/node/etc/kubernetes/pki/apiserver.crt") == "apiserver");
  CHECK(core::kubeadm_renew_name("/etc/kubernetes/admin.conf#user kubernetes-admin") == "admin.conf");
  CHECK_FALSE(core::kubeadm_renew_name("/etc/kubernetes/pki/ca.crt"));  // a CA: not renewed that way
  CHECK_FALSE(core::kubeadm_renew_name("/etc/kubernetes/pki/etcd/ca.crt"));
  CHECK(core::control_plane_critical("etcd-peer"));
  CHECK_FALSE(core::control_plane_critical("admin.conf"));
  CHECK(core::kubeadm_renew_command({"etcd-server", "etcd-peer"}) == "kubeadm certs renew etcd-server etcd-peer");
  CHECK(core::kubeadm_renew_command({"admin.conf", "controller-manager.conf", "scheduler.conf", "apiserver",
                                     "apiserver-etcd-client", "apiserver-kubelet-client", "front-proxy-client",
                                     "etcd-healthcheck-client", "etcd-peer", "etcd-server"}) ==
        "kubeadm certs renew all");
}
