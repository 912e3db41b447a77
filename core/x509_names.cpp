#include "core/x509_names.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <memory>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace kdr::core {

namespace {

std::string common_name_of(const X509_NAME* name) {
  char buf[256] = {0};
  if (name == nullptr || X509_NAME_get_text_by_NID(const_cast<X509_NAME*>(name), NID_commonName, buf, sizeof buf) < 0)
    return {};
  return buf;
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  char buf[INET6_ADDRSTRLEN] = {0};
  const auto* data = ASN1_STRING_get0_data(ip);
  const auto len = ASN1_STRING_length(ip);
  if (len == 4 && inet_ntop(AF_INET, data, buf, sizeof buf)) return buf;
  if (len == 16 && inet_ntop(AF_INET6, data, buf, sizeof buf)) return buf;
  return {};
}

}  // namespace

bool CertificateNames::names(const std::string& what) const {
  return common_name == what || std::find(dns.begin(), dns.end(), what) != dns.end() ||
         std::find(ips.begin(), ips.end(), what) != ips.end();
}

std::optional<CertificateNames> certificate_names(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return std::nullopt;
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  ERR_clear_error();
  if (!cert) return std::nullopt;
  CertificateNames out;
  out.common_name = common_name_of(X509_get_subject_name(cert.get()));
  out.issuer = common_name_of(X509_get_issuer_name(cert.get()));
  std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)),
      GENERAL_NAMES_free);
  ERR_clear_error();
  if (sans)
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const auto* n = sk_GENERAL_NAME_value(sans.get(), i);
      if (n->type == GEN_DNS) {
        const auto* s = n->d.dNSName;
        out.dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                             static_cast<std::size_t>(ASN1_STRING_length(s)));
      } else if (n->type == GEN_IPADD) {
        if (auto ip = ip_text(n->d.iPAddress); !ip.empty()) out.ips.push_back(std::move(ip));
      }
    }
  return out;
}

}  // namespace kdr::core
