// etcd's JSON gateway, its range call only (POST /v3/kv/range, as etcd's grpc-gateway answers
// it), over a keyspace in memory and served on a unix socket in a test's folder: what
// etcd::EtcdClient's paged reads (etcd/client.cpp) meet on the wire. Each request is kept, and
// how long etcd takes to answer one is the test's to say (a cold page cache, a slow disk).
// A range counts every key in it and returns `limit` of them, `more` when some were left, as
// etcd does; a read at an older revision is not kept apart (the keyspace does not change).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/filesystem.hpp>
#include <nlohmann/json.hpp>

#include "core/base64.hpp"
#include "core/error.hpp"

namespace kdr::test {

class FakeGateway {
 public:
  struct Request {
    std::string key, range_end;
    std::int64_t limit = 0;
    bool keys_only = false;
  };

  FakeGateway(const boost::filesystem::path& socket, std::map<std::string, std::string> kvs)
      : socket_(socket.string()), kvs_(std::move(kvs)) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) core::throw_errno("socket", socket_, errno);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listener_, 8) != 0)
      core::throw_errno("bind", socket_, errno);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FakeGateway() {
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : serving_) t.join();
    ::close(listener_);
  }
  FakeGateway(const FakeGateway&) = delete;
  FakeGateway& operator=(const FakeGateway&) = delete;

  std::string url() const { return "unix://" + socket_; }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  // How long etcd takes before it answers a request (none by default).
  std::function<std::chrono::milliseconds(const Request&)> delay = [](const Request&) {
    return std::chrono::milliseconds(0);
  };

 private:
  void accept_loop() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard<std::mutex> lock(mutex_);
      connections_.push_back(fd);
      serving_.emplace_back([this, fd] { serve(fd); });
    }
  }

  // HTTP/1.1 requests one after another on one connection, until the client closes it.
  void serve(int fd) {
    std::string in;
    char buf[4096];
    for (;;) {
      auto head_end = in.find("\r\n\r\n");
      while (head_end == std::string::npos) {
        const auto n = ::read(fd, buf, sizeof(buf));
        if (n <= 0) return close_connection(fd);
        in.append(buf, static_cast<std::size_t>(n));
        head_end = in.find("\r\n\r\n");
      }
      std::size_t length = 0;
      const auto head = in.substr(0, head_end);
      // HTTP/2 spoken at once (kdr's range reads over gRPC): a gateway of HTTP/1.1 alone, as
      // this one is, closes the connection, and kdr reads over the gateway from then on
      if (head.rfind("PRI * HTTP/2.0", 0) == 0) return close_connection(fd);
      for (const std::string name : {"Content-Length:", "content-length:"}) {
        const auto at = head.find(name);
        if (at != std::string::npos) length = std::stoul(head.substr(at + name.size()));
      }
      while (in.size() < head_end + 4 + length) {
        const auto n = ::read(fd, buf, sizeof(buf));
        if (n <= 0) return close_connection(fd);
        in.append(buf, static_cast<std::size_t>(n));
      }
      const auto body = answer(head, in.substr(head_end + 4, length));
      in.erase(0, head_end + 4 + length);
      const auto out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body;
      for (std::size_t sent = 0; sent < out.size();) {
        const auto n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return close_connection(fd);
        sent += static_cast<std::size_t>(n);
      }
    }
  }

  void close_connection(int fd) {
    std::lock_guard<std::mutex> lock(mutex_);
    ::close(fd);
    connections_.erase(std::remove(connections_.begin(), connections_.end(), fd), connections_.end());
  }

  std::string answer(const std::string& head, const std::string& body) {
    if (head.rfind("POST /v3/kv/range ", 0) != 0) return R"({"code":12,"message":"Not Implemented"})";
    const auto j = nlohmann::json::parse(body);
    Request r;
    r.key = core::base64_decode(j.value("key", ""));
    r.range_end = core::base64_decode(j.value("range_end", ""));
    r.limit = std::stoll(j.value("limit", std::string("0")));
    r.keys_only = j.value("keys_only", false);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(r);
    }
    std::this_thread::sleep_for(delay(r));
    const auto first = kvs_.lower_bound(r.key);
    const auto last = r.range_end == std::string(1, '\0') ? kvs_.end() : kvs_.lower_bound(r.range_end);
    nlohmann::json kvs = nlohmann::json::array();
    std::int64_t count = 0;
    // each key was written once, in key order: the first at revision 2
    auto written = 2 + std::distance(kvs_.begin(), first);
    for (auto it = first; it != last; ++it, ++count, ++written) {
      if (r.limit > 0 && count >= r.limit) continue;
      const auto revision = std::to_string(written);
      nlohmann::json kv = {{"key", core::base64_encode(it->first)},
                           {"create_revision", revision},
                           {"mod_revision", revision},
                           {"version", "1"}};
      if (!r.keys_only) kv["value"] = core::base64_encode(it->second);
      kvs.push_back(std::move(kv));
    }
    nlohmann::json reply = {{"header", {{"revision", std::to_string(kvs_.size() + 1)}}}, {"count", std::to_string(count)}};
    if (!kvs.empty()) reply["kvs"] = std::move(kvs);
    if (r.limit > 0 && count > r.limit) reply["more"] = true;
    return reply.dump();
  }

  std::string socket_;
  const std::map<std::string, std::string> kvs_;
  int listener_ = -1;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<int> connections_;
  std::vector<std::thread> serving_;
  std::vector<Request> requests_;
};

}  // namespace kdr::test
