#include "verify/certificates.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "core/base64.hpp"
#include "core/control_plane.hpp"
#include "core/error.hpp"

namespace kdr::verify {

namespace {

constexpr const char* certificates_check = "certificates";
constexpr std::int64_t warn_days = 30;

std::int64_t to_epoch(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

// A kubeconfig's *-data; empty when it is not base64 (the certificate then does not parse).
std::string base64_decode(const std::string& in) {
  try {
    return core::base64_decode(in);
  } catch (const core::Error&) {
    return {};
  }
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// kubeadm names certificates *.crt; kubespray and hand-made PKIs *.pem (keys *-key.pem).
bool is_certificate_name(const std::string& n) {
  return ends_with(n, ".crt") || (ends_with(n, ".pem") && !ends_with(n, "-key.pem") && !ends_with(n, ".key.pem"));
}

void collect_files(const core::bfs::path& dir, const std::string& node_dir, std::vector<std::pair<std::string, core::bfs::path>>& out) {
  std::vector<std::string> names;
  try {
    names = core::list_dir(dir);
  } catch (const core::Error&) {
    return;
  }
  for (const auto& n : names) {
    auto st = core::lstat_path(dir / n);
    if (!st) continue;
    if (st->type == core::FileType::directory) collect_files(dir / n, node_dir + "/" + n, out);
    else if (st->type == core::FileType::file && is_certificate_name(n))
      out.emplace_back(node_dir + "/" + n, dir / n);
  }
}

struct Source {
  std::string label;  // node path, maybe with #what
  std::string pem;
};

// kubeadm's /etc/kubernetes/pki, and every folder kube-apiserver's flags take certificates
// from (kubespray: /etc/kubernetes/ssl, /etc/ssl/etcd/ssl), each once.
std::vector<std::string> certificate_dirs(const std::vector<std::string>& from_flags) {
  std::vector<std::string> dirs = {"/etc/kubernetes/pki"};
  for (const auto& d : from_flags)
    if (std::none_of(dirs.begin(), dirs.end(), [&](const std::string& x) { return core::node_path_within(d, x); }))
      dirs.push_back(d);
  return dirs;
}

std::vector<Source> certificate_sources(const std::function<core::bfs::path(const std::string&)>& host,
                                        const std::vector<std::string>& dirs) {
  std::vector<Source> out;
  std::vector<std::pair<std::string, core::bfs::path>> files;
  for (const auto& d : dirs) collect_files(host(d), d, files);
  for (const auto& [label, p] : files) {
    try {
      out.push_back({label, core::read_file(p)});
    } catch (const core::Error&) {
    }
  }
  std::vector<std::string> names;
  try {
    names = core::list_dir(host("/etc/kubernetes"));
  } catch (const core::Error&) {
  }
  for (const auto& n : names) {
    if (n.size() < 6 || n.compare(n.size() - 5, 5, ".conf") != 0) continue;
    const std::string node_path = "/etc/kubernetes/" + n;
    try {
      auto doc = YAML::Load(core::read_file(host(node_path)));
      for (const auto& c : doc["clusters"])
        if (auto d = c["cluster"]["certificate-authority-data"]; d && d.IsScalar())
          out.push_back({node_path + "#cluster " + c["name"].as<std::string>(""), base64_decode(d.Scalar())});
      for (const auto& u : doc["users"])
        if (auto d = u["user"]["client-certificate-data"]; d && d.IsScalar())
          out.push_back({node_path + "#user " + u["name"].as<std::string>(""), base64_decode(d.Scalar())});
    } catch (const std::exception&) {
      // not a kubeconfig kdr can read; integrity and live checks cover the file itself
    }
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::int64_t>> parse_pem_certificates(const std::string& pem) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  while (X509* raw = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    std::unique_ptr<X509, decltype(&X509_free)> cert(raw, X509_free);
    char name[256] = {};
    X509_NAME_oneline(X509_get_subject_name(cert.get()), name, sizeof name);
    out.emplace_back(name, to_epoch(X509_get0_notAfter(cert.get())));
  }
  ERR_clear_error();
  return out;
}

CertificateStats check_certificates(const core::Context& ctx, const GenerationView& g, bool include_node,
                                    std::int64_t now, Findings& findings) {
  CertificateStats stats;
  auto check_side = [&](const std::string& where, const core::NodeRoot& root) {
    const auto host = [&](const std::string& p) { return root.host(p); };
    const auto pki = core::apiserver_pki(core::scan_static_pods(root, ctx.config.static_pod_path));
    for (const auto& src : certificate_sources(host, certificate_dirs(pki.dirs))) {
      for (const auto& [subject, not_after] : parse_pem_certificates(src.pem)) {
        ++stats.checked;
        CertificateInfo info{where, src.label, subject, not_after};
        if (!stats.earliest || not_after < stats.earliest->not_after) stats.earliest = info;
        const auto days = (not_after - now) / 86400;
        if (not_after <= now) stats.expired.push_back(info);
        if (not_after <= now)
          findings.add(Severity::error, certificates_check, "expired", src.label,
                       fmt::format("{} ({}) expired on {}", subject, where, core::iso_time(not_after)));
        else if (days < warn_days)
          findings.add(Severity::warning, certificates_check, "expiring", src.label,
                       fmt::format("{} ({}) expires in {} days, on {}", subject, where, days, core::iso_time(not_after)));
      }
    }
  };
  check_side("backup", core::NodeRoot(g.dir / "files"));
  if (include_node) check_side("node", ctx.root);
  return stats;
}

}  // namespace kdr::verify
