// A TLS handshake with a client certificate, to tell an operator exactly why a TLS
// service (etcd) will not talk to kdr: refused connection, unknown server certificate,
// or client certificate refused by the server.
#pragma once

#include <chrono>
#include <string>

namespace kdr::etcd {

enum class TlsProbeResult { ok, unreachable, no_answer, server_not_trusted, client_refused, error };

struct TlsProbe {
  TlsProbeResult result = TlsProbeResult::error;
  std::string detail;  // OpenSSL's or the system's words
};

// Only whether something accepts TCP connections at `url` (ok or unreachable): no handshake.
TlsProbe probe_tcp(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(3));

// `url` is https://host:port. Files are host paths.
TlsProbe probe_tls(const std::string& url, const std::string& cacert, const std::string& cert,
                   const std::string& key, std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace kdr::etcd
