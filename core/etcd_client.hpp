// etcd's v3 API through the JSON gateway that etcd serves on its client URL (POST /v3/kv/range,
// /v3/kv/txn, /v3/maintenance/status; etcd 3.4 and 3.5), over libcurl with the client
// certificate: keys and values are bytes (base64 on the wire), revisions are numbers, and no
// etcdctl text is parsed. docs/architecture.md says why the gateway and not gRPC.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace kdr::core {

struct EtcdEndpoint {
  std::string url;                // https://127.0.0.1:2379 or http://127.0.0.1:PORT
  std::string cacert, cert, key;  // host paths; empty: not used
};

struct EtcdKeyValue {
  std::string key;
  std::string value;  // bytes
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
};

struct EtcdStatus {
  std::string version;
  std::int64_t revision = 0;
  std::uint64_t db_size = 0;
  std::string cluster_id;  // hex, as etcdctl prints member ids
  std::string member_id;
};

// One operation of a transaction: a put (with its lease, 0: none) or the delete of one key.
struct EtcdOp {
  bool is_delete = false;
  std::string key;
  std::string value;
  std::int64_t lease = 0;
};

struct EtcdRangeOptions {
  bool keys_only = false;
  std::int64_t revision = 0;          // 0: now
  std::int64_t min_mod_revision = 0;  // 0: any
};

// The smallest key greater than every key that starts with `prefix` ("" for "\0": the end).
std::string etcd_prefix_end(std::string_view prefix);

std::string base64_encode(std::string_view bytes);
// A key-value as the gateway writes it (base64 bytes, 64-bit numbers as strings, zeros left out).
EtcdKeyValue parse_key_value(const nlohmann::json& kv);
// A 64-bit number field of a gateway answer; 0 when left out.
std::int64_t gateway_number(const nlohmann::json& j, const char* name);
// A member or cluster id field, in hex as etcdctl prints it.
std::string gateway_hex_id(const nlohmann::json& j, const char* name);
// Sets up a libcurl handle for one POST of `body` to `path` on the endpoint, with its TLS
// files: the one place that says how kdr talks to etcd's gateway. `headers` and `error`
// must outlive the transfer.
void setup_gateway_request(void* curl, const EtcdEndpoint& endpoint, const std::string& path, const std::string& body,
                           void* headers, char* error);
// Throws Error on text that is not base64.
std::string base64_decode(std::string_view text);

// etcd answered with an error: its gRPC code (11, out of range: a revision compacted away
// or in the future) and message.
class EtcdApiError : public Error {
 public:
  EtcdApiError(std::string message, int grpc_code) : Error(std::move(message)), grpc_code_(grpc_code) {}
  int grpc_code() const { return grpc_code_; }
  bool compacted() const { return grpc_code_ == 11; }

 private:
  int grpc_code_;
};

class EtcdClient {
 public:
  explicit EtcdClient(EtcdEndpoint endpoint, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  const EtcdEndpoint& endpoint() const { return endpoint_; }
  EtcdStatus status();
  // Every key that starts with `prefix`, in key order, read in pages at one revision.
  std::vector<EtcdKeyValue> prefix(const std::string& prefix, const EtcdRangeOptions& options = {});
  // The same, one key at a time, without holding them all; the revision read at.
  std::int64_t scan(const std::string& prefix, const EtcdRangeOptions& options,
                    const std::function<void(EtcdKeyValue&&)>& each);
  // How many keys start with `prefix` ("" every key) at `revision` (0: now): a count-only
  // range, so etcd sends no key.
  std::uint64_t count(const std::string& prefix, std::int64_t revision = 0);
  std::optional<EtcdKeyValue> get(const std::string& key);
  // One transaction: put `value` at `key` if the key's mod_revision is `expected` (0: the key
  // does not exist). The revision it was written at; empty when the comparison failed.
  std::optional<std::int64_t> put_if(const std::string& key, const std::string& value, std::int64_t expected);
  // One transaction: delete `key` if its mod_revision is `expected`. False when it was not.
  bool delete_if(const std::string& key, std::int64_t expected);
  // One transaction of every operation, unconditionally (keys must differ); its revision.
  std::int64_t apply(const std::vector<EtcdOp>& ops);
  // The ids of the leases etcd holds.
  std::vector<std::int64_t> leases();
  // Grants lease `id` for `ttl_s` seconds.
  void grant_lease(std::int64_t id, std::int64_t ttl_s);
  // Renews lease `id` once (one keepalive); false when etcd no longer has it.
  bool keep_alive(std::int64_t id);

 private:
  // `response_size`: set to the bytes of the answer.
  nlohmann::json call(const std::string& path, const nlohmann::json& body, std::size_t* response_size = nullptr);
  EtcdEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  void* curl_ = nullptr;
};

}  // namespace kdr::core
