#include "core/kubeadm_pki.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>

namespace kdr::core {

namespace {

struct Renewable {
  std::string_view path;  // node path, or a kubeconfig
  std::string_view name;
};

constexpr Renewable renewable[] = {
    {"/etc/kubernetes/admin.conf", "admin.conf"},
    {"/etc/kubernetes/super-admin.conf", "super-admin.conf"},
    {"/etc/kubernetes/controller-manager.conf", "controller-manager.conf"},
    {"/etc/kubernetes/scheduler.conf", "scheduler.conf"},
    {"/etc/kubernetes/pki/apiserver.crt", "apiserver"},
    {"/etc/kubernetes/pki/apiserver-etcd-client.crt", "apiserver-etcd-client"},
    {"/etc/kubernetes/pki/apiserver-kubelet-client.crt", "apiserver-kubelet-client"},
    {"/etc/kubernetes/pki/front-proxy-client.crt", "front-proxy-client"},
    {"/etc/kubernetes/pki/etcd/healthcheck-client.crt", "etcd-healthcheck-client"},
    {"/etc/kubernetes/pki/etcd/peer.crt", "etcd-peer"},
    {"/etc/kubernetes/pki/etcd/server.crt", "etcd-server"},
};

}  // namespace

std::optional<std::string> kubeadm_renew_name(std::string_view node_path) {
  // a kubeconfig's embedded certificate: "<file>#user <name>"
  const auto file = node_path.substr(0, node_path.find('#'));
  for (const auto& r : renewable)  // a host path under --root ends with the node path
    if (file.size() >= r.path.size() && file.substr(file.size() - r.path.size()) == r.path &&
        (file.size() == r.path.size() || r.path.front() == '/'))
      return std::string(r.name);
  return std::nullopt;
}

bool control_plane_critical(std::string_view name) {
  return name == "etcd-server" || name == "etcd-peer" || name == "etcd-healthcheck-client" || name == "apiserver" ||
         name == "apiserver-etcd-client";
}

std::string kubeadm_renew_command(const std::vector<std::string>& names) {
  const bool all = std::all_of(std::begin(renewable), std::end(renewable), [&](const Renewable& r) {
    return r.name == "super-admin.conf" || std::find(names.begin(), names.end(), r.name) != names.end();
  });
  if (all) return "kubeadm certs renew all";
  std::string out = "kubeadm certs renew";
  for (const auto& n : names) out += " " + n;
  return out;
}

std::optional<std::int64_t> certificate_not_after(const bfs::path& file) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(file.c_str(), "r"), BIO_free);
  if (!bio) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  ERR_clear_error();
  if (!cert) return std::nullopt;
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace kdr::core
