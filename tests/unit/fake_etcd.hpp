// An in-memory etcd for the unit tests, behind the seam core::Context::etcd (etcd/api.hpp).
// Keyspaces keep what the restore's etcd steps rely on: a revision that every write moves on,
// each key's create and mod revision and version, transactions that compare a key's mod
// revision, leases. A keyspace is served at a URL; a call to a URL that serves nothing fails
// as curl does ("Connection refused").
//
// Snapshots: the fake etcd tools (restore_fixture.hpp) write each saved snapshot as a real
// bbolt file with a database of its own, and remember the keyspace it holds by the SHA-256 of
// that database; a snapshot restored into a data dir and served again holds those keys. The
// scenarios (tests/scenarios) run the same steps against a real etcd.
#pragma once

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "etcd/api.hpp"
#include "etcd/backend_hash.hpp"
#include "etcd/client.hpp"

namespace kdr::test {

struct FakeKeyspace {
  std::map<std::string, etcd::EtcdKeyValue> kvs;
  std::int64_t revision = 1;
  std::set<std::int64_t> leases;
  std::string cluster_id = "11", member_id = "21";
  // A member of a cluster that lost its majority answers its status but no read.
  bool quorum = true;
  // etcd compacted its history (kube-apiserver does every 5 minutes): no watch from the past,
  // and a range filtered by min_mod_revision, which reads every value, runs out of time.
  bool history_compacted = false;
  // The cluster's members (a keyspace served at several URLs is one cluster).
  std::vector<etcd::EtcdClusterMember> members;
  std::uint64_t next_member_id = 0x100;
  // How many promotions etcd refuses before the learner has caught up, and how many member
  // additions it refuses as an unsettled cluster.
  int promote_refusals = 0;
  int add_refusals = 0;
  int remove_refusals = 0;  // "unhealthy cluster", as etcd answers right after a member change
  // The database file an etcd stand-in serves this keyspace from (restore_fixture.hpp): its
  // Hash is that file's, as a real etcd's is.
  std::string served_db;
  // Transactions of several conditional puts applied (put_all_if), and what happens in etcd
  // just before one arrives (another client's write).
  std::uint64_t batches = 0;
  std::function<void(FakeKeyspace&)> before_batch;
  // What happens in etcd just before the next single-key read arrives (once).
  std::function<void(FakeKeyspace&)> before_get;
  // ... just before the next prefix scan arrives (once).
  std::function<void(FakeKeyspace&)> before_scan;
  // etcd's --max-txn-ops (128 by default): a transaction with more puts is refused.
  std::size_t max_txn_ops = 128;
  // The file it streams as its snapshot (EtcdApi::snapshot: the database, then its SHA-256);
  // unset: it serves no stream, and the fake etcdctl takes the snapshot. The connection
  // closes after `stream_cut_after` bytes of it.
  std::function<std::string(FakeKeyspace&)> snapshot_stream;
  std::size_t stream_cut_after = std::numeric_limits<std::size_t>::max();

  // One write at the next revision (a put when `value` is set, else a delete).
  void write(const std::string& key, const std::optional<std::string>& value, std::int64_t lease = 0) {
    write_at(++revision, key, value, lease);
  }
  void write_at(std::int64_t rev, const std::string& key, const std::optional<std::string>& value,
                std::int64_t lease = 0) {
    if (!value) {
      kvs.erase(key);
      return;
    }
    auto& kv = kvs[key];
    if (kv.key.empty()) {
      kv.key = key;
      kv.create_revision = rev;
      kv.version = 0;
    }
    kv.value = *value;
    kv.mod_revision = rev;
    ++kv.version;
    kv.lease = lease;
  }
  // key -> value, what the tests compare.
  std::map<std::string, std::string> values() const {
    std::map<std::string, std::string> out;
    for (const auto& [k, kv] : kvs) out[k] = kv.value;
    return out;
  }
};

class FakeEtcd : public etcd::EtcdConnector {
 public:
  void serve(const std::string& url, std::shared_ptr<FakeKeyspace> keyspace) {
    std::lock_guard lock(mutex_);
    serving_[url] = std::move(keyspace);
  }
  void stop(const std::string& url) {
    std::lock_guard lock(mutex_);
    serving_.erase(url);
  }
  // The keyspace served at `url` now, if any; `reachable` may refuse it (an etcd whose pod
  // does not run).
  std::shared_ptr<FakeKeyspace> at(const std::string& url) const {
    if (reachable && !reachable(url)) return nullptr;
    std::lock_guard lock(mutex_);
    auto it = serving_.find(url);
    return it == serving_.end() ? nullptr : it->second;
  }
  std::function<bool(const std::string& url)> reachable;
  // How many etcds serve now.
  std::size_t served_count() const {
    std::lock_guard lock(mutex_);
    return serving_.size();
  }

  void remember_snapshot(const std::string& db_sha256, const FakeKeyspace& keyspace) {
    std::lock_guard lock(mutex_);
    snapshots_[db_sha256] = keyspace;
  }
  std::optional<FakeKeyspace> snapshot(const std::string& db_sha256) const {
    std::lock_guard lock(mutex_);
    auto it = snapshots_.find(db_sha256);
    if (it == snapshots_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t snapshots_saved() const {
    std::lock_guard lock(mutex_);
    return snapshots_.size();
  }
  // Serializes every call to every keyspace (the steps may call from two threads).
  std::mutex& calls() const { return calls_; }

  std::unique_ptr<etcd::EtcdApi> connect(const etcd::EtcdEndpoint& endpoint,
                                         std::chrono::milliseconds) const override;

 private:
  mutable std::mutex mutex_, calls_;
  std::map<std::string, std::shared_ptr<FakeKeyspace>> serving_;
  std::map<std::string, FakeKeyspace> snapshots_;
};

class FakeEtcdClient final : public etcd::EtcdApi {
 public:
  FakeEtcdClient(const FakeEtcd& etcd, etcd::EtcdEndpoint endpoint) : etcd_(etcd), endpoint_(std::move(endpoint)) {}
  const etcd::EtcdEndpoint& endpoint() const override { return endpoint_; }

  // Runs `f` on the keyspace served at the endpoint, as one atomic call.
  template <typename F>
  std::invoke_result_t<F, FakeKeyspace&> with(F&& f) {
    auto ks = etcd_.at(endpoint_.url);
    if (!ks)
      throw core::Error(fmt::format("POST {}/v3/kv/range: Failed to connect to {}: Connection refused", endpoint_.url,
                                    endpoint_.url.substr(endpoint_.url.find("//") + 2)));
    std::lock_guard lock(etcd_.calls());
    return f(*ks);
  }

  etcd::EtcdStatus status() override {
    return with([](FakeKeyspace& ks) {
      return etcd::EtcdStatus{"3.5.16", ks.revision, 16384 + 64 * ks.kvs.size(), ks.cluster_id, ks.member_id};
    });
  }
  std::vector<etcd::EtcdKeyValue> prefix(const std::string& prefix, const etcd::EtcdRangeOptions& o) override {
    std::vector<etcd::EtcdKeyValue> out;
    scan(prefix, o, [&](etcd::EtcdKeyValue&& kv) { out.push_back(std::move(kv)); });
    return out;
  }
  std::int64_t scan(const std::string& prefix, const etcd::EtcdRangeOptions& o,
                    const std::function<void(etcd::EtcdKeyValue&&)>& each) override {
    return with([&](FakeKeyspace& ks) {
      if (ks.before_scan) std::exchange(ks.before_scan, nullptr)(ks);
      if (!ks.quorum && !o.serializable) throw etcd::EtcdApiError("etcdserver: request timed out", 14);
      if (o.min_mod_revision > 0 && ks.history_compacted)
        throw core::Error("POST /v3/kv/range: Operation timed out after 60000 milliseconds");
      if (o.revision != 0 && o.revision != ks.revision)
        throw core::Error(fmt::format("the fake etcd keeps no history: revision {} asked, {} held", o.revision,
                                      ks.revision));
      for (auto it = ks.kvs.lower_bound(prefix); it != ks.kvs.end() && it->first.starts_with(prefix); ++it) {
        if (it->second.mod_revision < o.min_mod_revision) continue;
        auto kv = it->second;
        if (o.keys_only) kv.value.clear();
        each(std::move(kv));
      }
      return ks.revision;
    });
  }
  // The fake keeps no history: the keys whose current mod_revision lies in the range.
  std::optional<std::vector<etcd::EtcdKeyValue>> written_since(std::int64_t after, std::int64_t up_to) override {
    if (with([](FakeKeyspace& ks) { return ks.history_compacted; })) return std::nullopt;
    std::vector<etcd::EtcdKeyValue> out;
    for (auto& kv : prefix("", {.keys_only = true, .min_mod_revision = after + 1}))
      if (kv.mod_revision <= up_to) out.push_back(std::move(kv));
    return out;
  }
  std::uint64_t count(const std::string& p, std::int64_t revision, bool serializable) override {
    return prefix(p, {.revision = revision, .serializable = serializable}).size();
  }
  std::optional<etcd::EtcdKeyValue> get(const std::string& key) override {
    return with([&](FakeKeyspace& ks) -> std::optional<etcd::EtcdKeyValue> {
      if (ks.before_get) std::exchange(ks.before_get, nullptr)(ks);
      auto it = ks.kvs.find(key);
      if (it == ks.kvs.end()) return std::nullopt;
      return it->second;
    });
  }
  std::optional<std::int64_t> put_if(const std::string& key, const std::string& value,
                                     std::int64_t expected) override {
    return with([&](FakeKeyspace& ks) -> std::optional<std::int64_t> {
      auto it = ks.kvs.find(key);
      if ((it == ks.kvs.end() ? 0 : it->second.mod_revision) != expected) return std::nullopt;
      ks.write(key, value);
      return ks.revision;
    });
  }
  std::optional<std::int64_t> put_all_if(const std::vector<ConditionalPut>& puts) override {
    return with([&](FakeKeyspace& ks) -> std::optional<std::int64_t> {
      if (ks.before_batch) std::exchange(ks.before_batch, nullptr)(ks);
      if (puts.size() > ks.max_txn_ops)
        throw etcd::EtcdApiError("etcdserver: too many operations in txn request", 3);
      for (const auto& p : puts) {
        auto it = ks.kvs.find(p.key);
        if ((it == ks.kvs.end() ? 0 : it->second.mod_revision) != p.expected) return std::nullopt;
      }
      ++ks.batches;
      const auto rev = ++ks.revision;  // one transaction: one revision
      for (const auto& p : puts) ks.write_at(rev, p.key, p.value);
      return rev;
    });
  }
  bool delete_if(const std::string& key, std::int64_t expected) override {
    return with([&](FakeKeyspace& ks) {
      auto it = ks.kvs.find(key);
      if (it == ks.kvs.end() || it->second.mod_revision != expected) return false;
      ks.write(key, std::nullopt);
      return true;
    });
  }
  std::int64_t apply(const std::vector<etcd::EtcdOp>& ops) override {
    return with([&](FakeKeyspace& ks) {
      const auto rev = ++ks.revision;
      for (const auto& op : ops) {
        if (op.lease != 0 && !ks.leases.count(op.lease))
          throw etcd::EtcdApiError("etcdserver: requested lease not found", 5);
        ks.write_at(rev, op.key, op.is_delete ? std::nullopt : std::optional<std::string>(op.value), op.lease);
      }
      return rev;
    });
  }
  std::vector<std::int64_t> leases() override {
    return with([](FakeKeyspace& ks) { return std::vector<std::int64_t>(ks.leases.begin(), ks.leases.end()); });
  }
  void grant_lease(std::int64_t id, std::int64_t) override {
    with([&](FakeKeyspace& ks) { return ks.leases.insert(id).second; });
  }
  bool keep_alive(std::int64_t id) override {
    return with([&](FakeKeyspace& ks) { return ks.leases.count(id) > 0; });
  }
  // The fake answers as etcd 3.4's gateway does: it has no HashKV.
  std::optional<etcd::EtcdHashKV> hash_kv(std::int64_t) override { return std::nullopt; }
  // The Hash of the file a stand-in serves from; a keyspace of its own has no file to hash.
  etcd::EtcdHash hash() override {
    return with([&](FakeKeyspace& ks) {
      if (ks.served_db.empty()) throw etcd::EtcdApiError("the fake etcd has no database file to hash", 12);
      return etcd::EtcdHash{ks.revision, etcd::backend_hashes(ks.served_db, ks.revision).hash};
    });
  }
  // The keyspace's snapshot_stream in etcd's 32 KiB blobs; false (as an endpoint that is not
  // gRPC) when it has none.
  bool snapshot(const std::function<void(std::string_view)>& sink, std::chrono::seconds) override {
    const auto streamed = with([](FakeKeyspace& ks) -> std::optional<std::pair<std::string, std::size_t>> {
      if (!ks.snapshot_stream) return std::nullopt;
      return std::pair{ks.snapshot_stream(ks), ks.stream_cut_after};
    });
    if (!streamed) return false;
    const std::string_view bytes = streamed->first;
    constexpr std::size_t blob = 32768;
    const auto cut = streamed->second;
    for (std::size_t at = 0; at < bytes.size(); at += blob) {
      const auto n = std::min(blob, bytes.size() - at);
      if (at + n > cut) {
        if (cut > at) sink(bytes.substr(at, cut - at));
        throw etcd::EtcdTransportError(fmt::format("etcd at {}: Recv failure: Connection reset by peer", endpoint_.url),
                                       etcd::EtcdTransportFault::cut);
      }
      sink(bytes.substr(at, n));
    }
    return true;
  }
  std::vector<etcd::EtcdClusterMember> members() override {
    return with([&](FakeKeyspace& ks) {
      if (!ks.quorum) throw etcd::EtcdApiError("etcdserver: request timed out", 14);
      return ks.members;
    });
  }
  etcd::EtcdClusterMember add_member(const std::vector<std::string>& peer_urls, bool learner) override {
    return with([&](FakeKeyspace& ks) {
      for (const auto& m : ks.members)
        if (m.peer_urls == peer_urls) throw etcd::EtcdApiError("etcdserver: Peer URLs already exists", 9);
      if (ks.add_refusals > 0) {
        --ks.add_refusals;
        throw etcd::EtcdApiError("etcdserver: unhealthy cluster", 14);
      }
      etcd::EtcdClusterMember m;
      m.id = ks.next_member_id++;
      m.peer_urls = peer_urls;
      m.learner = learner;
      ks.members.push_back(m);
      return m;
    });
  }
  void remove_member(std::uint64_t id) override {
    with([&](FakeKeyspace& ks) {
      if (ks.remove_refusals > 0) {
        --ks.remove_refusals;
        throw etcd::EtcdApiError("etcdserver: unhealthy cluster", 14);
      }
      const auto n = std::erase_if(ks.members, [&](const etcd::EtcdClusterMember& m) { return m.id == id; });
      if (n == 0) throw etcd::EtcdApiError("etcdserver: member not found", 5);
      return n;
    });
  }
  void promote_member(std::uint64_t id) override {
    with([&](FakeKeyspace& ks) {
      for (auto& m : ks.members)
        if (m.id == id) {
          if (!m.learner) throw etcd::EtcdApiError("etcdserver: can only promote a learner member", 9);
          if (ks.promote_refusals > 0) {
            --ks.promote_refusals;
            throw etcd::EtcdApiError("etcdserver: can only promote a learner member which is in sync with leader", 9);
          }
          m.learner = false;
          return true;
        }
      throw etcd::EtcdApiError("etcdserver: member not found", 5);
    });
  }

 private:
  const FakeEtcd& etcd_;
  etcd::EtcdEndpoint endpoint_;
};

inline std::unique_ptr<etcd::EtcdApi> FakeEtcd::connect(const etcd::EtcdEndpoint& endpoint,
                                                        std::chrono::milliseconds) const {
  return std::make_unique<FakeEtcdClient>(*this, endpoint);
}

}  // namespace kdr::test
