// etcd's watch through the JSON gateway (POST /v3/watch): one long HTTP response that
// streams a JSON object per line, read with libcurl's multi interface so that the caller
// waits for it with a deadline and does its own work (group commit, status) in between.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "etcd/client.hpp"

namespace kdr::etcd {

struct EtcdWatchEvent {
  bool is_delete = false;
  EtcdKeyValue kv;                   // for a delete: the key and its mod_revision
  std::optional<EtcdKeyValue> prev;  // with prev_kv: what the key held before
};

struct EtcdWatchResponse {
  std::int64_t revision = 0;  // the header's: etcd's revision when it sent this
  std::string cluster_id;
  bool created = false;
  bool canceled = false;
  std::int64_t compact_revision = 0;  // set when the start revision was compacted away
  std::string cancel_reason;
  std::vector<EtcdWatchEvent> events;
};

// Parses one line of the gateway's watch stream; throws Error on an error object or text
// that is not a watch response.
EtcdWatchResponse parse_watch_line(std::string_view line);

class EtcdWatch {
 public:
  // Watches every key from `start_revision` on, with previous values unless `prev_kv` is false.
  EtcdWatch(EtcdEndpoint endpoint, std::int64_t start_revision, bool prev_kv = true);
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // Waits up to `timeout` for the stream, and returns the responses that arrived whole
  // (none when it timed out). Throws Error once the stream has ended or failed, with why.
  std::vector<EtcdWatchResponse> poll(std::chrono::milliseconds timeout);
  // Bytes received so far.
  std::uint64_t received() const { return received_; }

 private:
  static std::size_t on_data(char* data, std::size_t size, std::size_t n, void* self);
  EtcdEndpoint endpoint_;
  std::string body_;
  std::string buffer_;
  std::uint64_t received_ = 0;
  void* multi_ = nullptr;
  void* easy_ = nullptr;
  void* headers_ = nullptr;
  char error_[256] = {0};
  bool done_ = false;
  std::string end_reason_;
};

}  // namespace kdr::etcd
