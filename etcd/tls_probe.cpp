#include "etcd/tls_probe.hpp"

#include <utility>

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/fs.hpp"

namespace kdr::etcd {

namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

core::Fd connect_tcp(const std::string& host, const std::string& port, std::chrono::milliseconds timeout,
               std::string& error) {
  struct addrinfo hints {};
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = fmt::format("cannot resolve {}: {}", host, ::gai_strerror(rc));
    return core::Fd();
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
  core::Fd fd(::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, res->ai_protocol));
  if (!fd) {
    error = std::strerror(errno);
    return core::Fd();
  }
  if (::connect(fd.get(), res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
    error = std::strerror(errno);
    return core::Fd();
  }
  struct pollfd p {fd.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
    error = "connection timed out";
    return core::Fd();
  }
  int soerr = 0;
  socklen_t len = sizeof soerr;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) {
    error = std::strerror(soerr);
    return core::Fd();
  }
  // blocking again, with timeouts, for the handshake
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  struct timeval tv {static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

}  // namespace

// host and port of https://host:port (2379 when it names none).
std::pair<std::string, std::string> host_port(const std::string& url) {
  std::string rest = url;
  if (auto p = rest.find("://"); p != std::string::npos) rest = rest.substr(p + 3);
  if (auto p = rest.find('/'); p != std::string::npos) rest = rest.substr(0, p);
  std::string host = rest, port = "2379";
  if (auto p = rest.rfind(':'); p != std::string::npos && rest.find(']', p) == std::string::npos) {
    host = rest.substr(0, p);
    port = rest.substr(p + 1);
  }
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, port};
}

TlsProbe probe_tcp(const std::string& url, std::chrono::milliseconds timeout) {
  const auto [host, port] = host_port(url);
  TlsProbe probe;
  std::string error;
  if (connect_tcp(host, port, timeout, error)) {
    probe.result = TlsProbeResult::ok;
  } else {
    probe.result = TlsProbeResult::unreachable;
    probe.detail = error;
  }
  return probe;
}

TlsProbe probe_tls(const std::string& url, const std::string& cacert, const std::string& cert, const std::string& key,
                   std::chrono::milliseconds timeout) {
  TlsProbe probe;
  const auto [host, port] = host_port(url);
  std::string error;
  core::Fd fd = connect_tcp(host, port, timeout, error);
  if (!fd) {
    probe.result = TlsProbeResult::unreachable;
    probe.detail = error;
    return probe;
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), cacert.c_str(), nullptr) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
    probe.detail = "loading the client TLS files: " + openssl_error();
    return probe;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd.get());
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
    // a name, not an address: check it and send it as SNI
    SSL_set1_host(ssl.get(), host.c_str());
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
  }
  if (const int rc = SSL_connect(ssl.get()); rc != 1) {
    const int err = errno;
    const int ssl_error = SSL_get_error(ssl.get(), rc);
    const long verify = SSL_get_verify_result(ssl.get());
    if (ssl_error != SSL_ERROR_SSL) {
      // no TLS-level failure: the listener never answered the handshake, or hung up
      probe.result = TlsProbeResult::no_answer;
      probe.detail = err == EAGAIN || err == EWOULDBLOCK ? "no answer to the TLS handshake"
                                                         : "connection closed during the TLS handshake";
    } else if (verify != X509_V_OK) {
      probe.result = TlsProbeResult::server_not_trusted;
      probe.detail = X509_verify_cert_error_string(verify);
    } else {
      probe.result = TlsProbeResult::client_refused;
      probe.detail = openssl_error();
    }
    return probe;
  }
  // With TLS 1.3 the server judges the client certificate after the handshake: a refusal
  // arrives as an alert on the first read, at once; an accepted client just sees silence,
  // so the read waits a moment, not the whole timeout.
  struct timeval tv {0, 300000};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char byte = 0;
  const int n = SSL_read(ssl.get(), &byte, 1);
  if (n <= 0) {
    const int e = SSL_get_error(ssl.get(), n);
    if (e == SSL_ERROR_SSL) {
      probe.result = TlsProbeResult::client_refused;
      probe.detail = openssl_error();
      return probe;
    }
  }
  probe.result = TlsProbeResult::ok;
  return probe;
}

}  // namespace kdr::etcd
