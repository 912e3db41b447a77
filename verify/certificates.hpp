// Certificate expiry: every certificate under the PKI folder and every one embedded in
// the kubeconfigs, in the backup and on the node. A restored control plane with expired
// certificates does not come back: expired is an error, within 30 days a warning.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "verify/integrity.hpp"

namespace kdr::verify {

struct CertificateInfo {
  std::string where;    // "backup" or "node"
  std::string path;     // node path (file, or kubeconfig#user)
  std::string subject;
  std::int64_t not_after = 0;  // seconds since the epoch
};

struct CertificateStats {
  std::uint64_t checked = 0;
  std::optional<CertificateInfo> earliest;  // the one that expires first (backup or node)
  std::vector<CertificateInfo> expired;     // by `now`
};

CertificateStats check_certificates(const core::Context& ctx, const GenerationView& g, bool include_node,
                                    std::int64_t now, Findings& findings);

// Every certificate in a PEM text: (subject, notAfter). Exposed for tests.
std::vector<std::pair<std::string, std::int64_t>> parse_pem_certificates(const std::string& pem);

}  // namespace kdr::verify
