// The names an X.509 certificate is for: its subject's common name and its subjectAltName
// DNS names and IP addresses; and its issuer. What a rebuild onto a new address or name reads
// to find the certificates that name the old node.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kdr::core {

struct CertificateNames {
  std::string common_name;
  std::vector<std::string> dns;
  std::vector<std::string> ips;  // as text: 10.0.0.10, ::1
  std::string issuer;            // the issuer's common name

  bool names(const std::string& name_or_address) const;
};

// The first certificate of a PEM text; empty when it holds none that parses.
std::optional<CertificateNames> certificate_names(std::string_view pem);

}  // namespace kdr::core
