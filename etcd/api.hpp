// What kdr asks of an etcd: the v3 KV, lease and maintenance calls it uses, as typed values.
// EtcdClient (etcd/client) is the real one, over etcd's JSON gateway; core::Context holds
// the EtcdConnector that makes them, so that the restore's etcd steps run in unit tests against
// an in-memory etcd (tests/unit/fake_etcd.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace kdr::etcd {

struct EtcdEndpoint {
  // https://127.0.0.1:2379, http://127.0.0.1:PORT, or unix:///PATH (a socket: a private etcd)
  std::string url;
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
  std::uint64_t raft_term = 0;
  std::uint64_t raft_index = 0;          // the last raft index it committed
  std::uint64_t raft_applied_index = 0;  // ... and applied to its store (0: not said, before 3.4)
};

// etcd's HashKV at a revision: a hash of every key revision from its compaction up to there,
// the same on every member and on a snapshot of it restored (unlike Hash, of the whole file).
struct EtcdHashKV {
  std::int64_t revision = 0;          // hashed up to here
  std::int64_t compact_revision = 0;  // what it was compacted to (-1: never); hashes compare only at the same
  std::uint32_t hash = 0;
};

// etcd's Hash: of its whole database file as it stands, every bucket (etcd/backend_hash.hpp).
// It differs from member to member; it says what one etcd holds.
struct EtcdHash {
  std::int64_t revision = 0;  // the revision it was at
  std::uint32_t hash = 0;
};

// A member of the cluster, as etcd lists it.
struct EtcdClusterMember {
  std::uint64_t id = 0;
  std::string name;  // empty for a member added that has not started yet
  std::vector<std::string> peer_urls, client_urls;
  bool learner = false;
  std::string hex_id() const;  // as etcdctl prints it
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
  // Read the member's own copy (answers without a quorum, possibly behind the leader); by
  // default reads are linearizable.
  bool serializable = false;
  // How a paged read's page sizes follow etcd's answer times (EtcdClient::scan): a page
  // slower than `slow` halves the next, one faster than `fast` lets it double.
  struct Pacing {
    std::chrono::milliseconds slow{2000}, fast{500};
  } pacing{};
};

// etcd answered with an error: its gRPC code (11, out of range: a revision compacted away
// or in the future) and message.
class EtcdApiError : public core::Error {
 public:
  EtcdApiError(std::string message, int grpc_code) : core::Error(std::move(message)), grpc_code_(grpc_code) {}
  int grpc_code() const { return grpc_code_; }
  bool compacted() const { return grpc_code_ == 11; }
  // Unavailable (14): etcd cannot do it now (no leader, an unsettled cluster); a retry may pass.
  bool unavailable() const { return grpc_code_ == 14; }
  // Unimplemented (12): this etcd has no such call (its gateway answered 404).
  bool unimplemented() const { return grpc_code_ == 12; }
  // Invalid argument (3) for a request over etcd's --max-request-bytes or --max-txn-ops.
  bool too_large() const {
    const std::string_view m = what();
    return grpc_code_ == 3 &&
           (m.find("request is too large") != m.npos || m.find("too many operations in txn request") != m.npos);
  }

 private:
  int grpc_code_;
};

// The transport failed before etcd's answer was whole: what failed, for the operator's message.
enum class EtcdTransportFault {
  unreachable,  // no connection (refused, no route)
  certificate,  // TLS refused (either side's certificate)
  timeout,      // the time allowed ran out
  cut,          // the connection closed, or the stream was reset, before the end
  other,
};
class EtcdTransportError : public core::Error {
 public:
  EtcdTransportError(std::string message, EtcdTransportFault fault) : core::Error(std::move(message)), fault_(fault) {}
  EtcdTransportFault fault() const { return fault_; }

 private:
  EtcdTransportFault fault_;
};

class EtcdApi {
 public:
  virtual ~EtcdApi() = default;
  virtual const EtcdEndpoint& endpoint() const = 0;
  virtual EtcdStatus status() = 0;
  // Every key that starts with `prefix`, in key order, read in pages at one revision.
  virtual std::vector<EtcdKeyValue> prefix(const std::string& prefix, const EtcdRangeOptions& options = {}) = 0;
  // The same, one key at a time, without holding them all; the revision read at. The next
  // page may be read while `each` runs: `each` must not call this client.
  virtual std::int64_t scan(const std::string& prefix, const EtcdRangeOptions& options,
                            const std::function<void(EtcdKeyValue&&)>& each) = 0;
  // What range reads go over ("gRPC", "the JSON gateway"; empty where that does not apply).
  virtual std::string_view range_transport() const { return {}; }
  // The keys written after `after_revision`, up to `up_to`, that still hold what was written
  // then (each once, keys only, with its newest mod_revision), in key order: read off etcd's
  // history with a watch from after_revision + 1, so that only those changes are read, where
  // a range filtered by min_mod_revision reads the value of every key. Empty when etcd
  // compacted that history away.
  virtual std::optional<std::vector<EtcdKeyValue>> written_since(std::int64_t after_revision, std::int64_t up_to) = 0;
  // How many keys start with `prefix` ("" every key) at `revision` (0: now).
  virtual std::uint64_t count(const std::string& prefix, std::int64_t revision = 0, bool serializable = false) = 0;
  virtual std::optional<EtcdKeyValue> get(const std::string& key) = 0;
  // One transaction: put `value` at `key` if the key's mod_revision is `expected` (0: the key
  // does not exist). The revision it was written at; empty when the comparison failed.
  virtual std::optional<std::int64_t> put_if(const std::string& key, const std::string& value,
                                             std::int64_t expected) = 0;
  // One transaction: every put of `puts` if every key's mod_revision is its `expected`; none
  // otherwise. The revision they were written at; empty when a comparison failed.
  struct ConditionalPut {
    std::string key, value;
    std::int64_t expected = 0;
  };
  virtual std::optional<std::int64_t> put_all_if(const std::vector<ConditionalPut>& puts) = 0;
  // One transaction: delete `key` if its mod_revision is `expected`. False when it was not.
  virtual bool delete_if(const std::string& key, std::int64_t expected) = 0;
  // One transaction of every operation, unconditionally (keys must differ); its revision.
  virtual std::int64_t apply(const std::vector<EtcdOp>& ops) = 0;
  // The ids of the leases etcd holds.
  virtual std::vector<std::int64_t> leases() = 0;
  // Grants lease `id` for `ttl_s` seconds.
  virtual void grant_lease(std::int64_t id, std::int64_t ttl_s) = 0;
  // Renews lease `id` once (one keepalive); false when etcd no longer has it.
  virtual bool keep_alive(std::int64_t id) = 0;

  // etcd's HashKV at `revision` (0: its newest, computed afresh; etcd 3.5 answers the revision
  // of a compaction with the hash it kept from before it); empty when its JSON gateway has no
  // such call (etcd 3.4 serves HashKV over gRPC only). Throws EtcdApiError for a revision
  // compacted away.
  virtual std::optional<EtcdHashKV> hash_kv(std::int64_t revision) = 0;
  // etcd's Hash of its whole database, after committing what it has pending (every gateway
  // has it).
  virtual EtcdHash hash() = 0;

  // etcd's snapshot of its database (Maintenance/Snapshot), streamed: its bytes handed to
  // `sink` as they come, the database then its SHA-256, as `etcdctl snapshot save` writes
  // them; `timeout` for the whole stream. False, with nothing handed on, when this endpoint
  // does not serve the stream (then etcdctl takes the snapshot). Throws EtcdTransportError when
  // the stream failed, EtcdApiError when etcd refused, Error for a stream that is not a
  // snapshot, and whatever `sink` throws.
  virtual bool snapshot(const std::function<void(std::string_view)>& sink, std::chrono::seconds timeout) = 0;

  // The cluster's members.
  virtual std::vector<EtcdClusterMember> members() = 0;
  // Adds a member with these peer URLs, as a learner (a member without a vote until it is
  // promoted) or a voting member; the member added.
  virtual EtcdClusterMember add_member(const std::vector<std::string>& peer_urls, bool learner) = 0;
  virtual void remove_member(std::uint64_t id) = 0;
  // Makes a learner a voting member; etcd refuses (EtcdApiError) one that has not caught up.
  virtual void promote_member(std::uint64_t id) = 0;
};

// How kdr reaches an etcd: the seam in core::Context. Connecting does not talk to etcd yet;
// the first call does, and throws Error when nothing answers.
class EtcdConnector {
 public:
  virtual ~EtcdConnector() = default;
  virtual std::unique_ptr<EtcdApi> connect(const EtcdEndpoint& endpoint,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
};

std::shared_ptr<const EtcdConnector> real_etcd();

}  // namespace kdr::etcd
