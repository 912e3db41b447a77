// etcd's v3 API through the JSON gateway that etcd serves on its client URL (POST /v3/kv/range,
// /v3/kv/txn, /v3/maintenance/status; etcd 3.4 and 3.5), over libcurl with the client
// certificate: keys and values are bytes (base64 on the wire), revisions are numbers, and no
// etcdctl text is parsed. Range reads (etcd/grpc_range.hpp) and the snapshot stream
// (etcd/grpc_snapshot.hpp) go over gRPC, on the same URL, where etcd serves it;
// docs/architecture.md says why those two and not the rest.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "etcd/api.hpp"
#include "etcd/range_reply.hpp"

namespace kdr::etcd {

// The smallest key greater than every key that starts with `prefix` ("" for "\0": the end).
std::string etcd_prefix_end(std::string_view prefix);

// A key-value as the gateway writes it (base64 bytes, 64-bit numbers as strings, zeros left out).
EtcdKeyValue parse_key_value(const nlohmann::json& kv);
// A 64-bit number field of a gateway answer; 0 when left out.
std::int64_t gateway_number(const nlohmann::json& j, const char* name);
// A member or cluster id field, in hex as etcdctl prints it.
std::string gateway_hex_id(const nlohmann::json& j, const char* name);
// The socket's path of a unix:// endpoint (a private etcd); empty for http(s).
std::optional<std::string> unix_socket_of(const std::string& url);
// Sets up a libcurl handle for one POST of `body` to `path` on the endpoint, with its TLS
// files: the one place that says how kdr talks to etcd's gateway. `headers` and `error`
// must outlive the transfer.
void setup_gateway_request(void* curl, const EtcdEndpoint& endpoint, const std::string& path, const std::string& body,
                           void* headers, char* error);

// The real etcd: its v3 API through the JSON gateway (the calls as EtcdApi describes them).
// count() is a count-only range, so etcd sends no key.
class EtcdClient final : public EtcdApi {
 public:
  explicit EtcdClient(EtcdEndpoint endpoint, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~EtcdClient() override;
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  const EtcdEndpoint& endpoint() const override { return endpoint_; }
  EtcdStatus status() override;
  std::vector<EtcdKeyValue> prefix(const std::string& prefix, const EtcdRangeOptions& options = {}) override;
  std::int64_t scan(const std::string& prefix, const EtcdRangeOptions& options,
                    const std::function<void(EtcdKeyValue&&)>& each) override;
  std::optional<std::vector<EtcdKeyValue>> written_since(std::int64_t after_revision, std::int64_t up_to) override;
  std::uint64_t count(const std::string& prefix, std::int64_t revision = 0, bool serializable = false) override;
  std::optional<EtcdKeyValue> get(const std::string& key) override;
  std::optional<std::int64_t> put_if(const std::string& key, const std::string& value, std::int64_t expected) override;
  std::optional<std::int64_t> put_all_if(const std::vector<ConditionalPut>& puts) override;
  bool delete_if(const std::string& key, std::int64_t expected) override;
  std::int64_t apply(const std::vector<EtcdOp>& ops) override;
  std::vector<std::int64_t> leases() override;
  void grant_lease(std::int64_t id, std::int64_t ttl_s) override;
  bool keep_alive(std::int64_t id) override;
  std::vector<EtcdClusterMember> members() override;
  EtcdClusterMember add_member(const std::vector<std::string>& peer_urls, bool learner) override;
  void remove_member(std::uint64_t id) override;
  void promote_member(std::uint64_t id) override;
  std::optional<EtcdHashKV> hash_kv(std::int64_t revision) override;
  std::string_view range_transport() const override { return grpc_ranges_ ? "gRPC" : "the JSON gateway"; }
  bool snapshot(const std::function<void(std::string_view)>& sink, std::chrono::seconds timeout) override;
  EtcdHash hash() override;

  // An answer handed on as it comes, rather than collected: a stream longer than the client's
  // timeout allows.
  struct Streaming {
    std::function<void(std::string_view)> on_bytes;  // the body of a gRPC answer (the frames)
    std::chrono::milliseconds timeout;
  };

 private:
  struct Reply {
    long http = 0;
    TextChunks body;
    bool grpc = false;     // etcd answered as gRPC (content-type application/grpc)
    int grpc_status = -1;  // its grpc-status (0: OK), from the headers or the trailers
    std::string grpc_message;
  };
  // One POST to the gateway.
  Reply post(const std::string& path, const nlohmann::json& body);
  // One gRPC call over HTTP/2 (`framed`: the request message as gRPC frames it).
  Reply post_grpc(const std::string& path, const std::string& framed);
  // Either: one POST, its answer collected (or, for a gRPC answer with `stream`, handed on).
  // Throws EtcdTransportError when no whole answer came, and what `stream` throws.
  Reply send(const std::string& path, const std::string& body, bool grpc, const Streaming* stream = nullptr);
  // The answer as JSON; throws EtcdApiError for the gateway's errors.
  nlohmann::json parse(const std::string& path, const Reply& reply) const;
  nlohmann::json call(const std::string& path, const nlohmann::json& body);
  EtcdEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  void* curl_ = nullptr;
  // Range reads go over gRPC until an answer shows that this etcd does not serve it here (an
  // HTTP/1 endpoint, a proxy of the gateway alone): then over the gateway.
  std::atomic<bool> grpc_ranges_{true};
};

}  // namespace kdr::etcd
