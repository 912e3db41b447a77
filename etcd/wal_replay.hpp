// A restore to a point on one node with etcd started once: the journal's changes written into
// the restored member's WAL as committed entries (etcd/wal_append.hpp), which the node's own
// etcd applies as it starts, before it serves any client; instead of a private etcd started
// on the whole database to apply them first.
//
// Before the node is touched:
//   - the changes are planned as the private replay plans them (etcd::batch_planned_events)
//     and encoded into a scratch file, noting each key they touch;
//   - the base's keyspace is read off the private copy the restore tool reads (on another
//     thread, while the tool runs): its digest, and the pair of each touched key;
//   - the keyspace the changes make of it is computed: the base's digest without the touched
//     keys' pairs, with their last values; it must be the journal's digest at the target;
//   - the entries are appended to the restored WAL and read back.
// Once etcd serves (wait-healthy, check_wal_replay): every key the changes wrote holds, at the
// revision they end at, the revision they wrote it at, and etcd holds as many keys there as the
// point has.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "etcd/api.hpp"
#include "etcd/keyspace_digest.hpp"
#include "etcd/replay.hpp"

namespace kdr::etcd {

// What the node's etcd must show once it applied the entries.
struct WalReplayCheck {
  std::int64_t after_revision = 0;  // the restored base's revision (after the restore tool's bump)
  std::int64_t up_to = 0;           // the revision the changes end at
  std::int64_t keys = 0;            // the keys etcd holds there
  // each key the changes leave written, with the revision of its last write (key order)
  std::vector<std::pair<std::string, std::int64_t>> puts;
  nlohmann::json to_json() const;
  // Throws Error for a record that is not one.
  static WalReplayCheck from_json(const nlohmann::json& j);
};

class WalReplay {
 public:
  // Plans `plan`'s changes into `scratch_dir` (a private folder), reads the leases of `copy`
  // (the base's private copy) and starts reading its keyspace. Throws Error when the journal
  // cannot be read as planned or a change is too large for one WAL record.
  WalReplay(const core::Context& ctx, const ReplayPlan& plan, const core::bfs::path& copy,
            const core::bfs::path& scratch_dir, const core::NodeKey* key);
  ~WalReplay();
  WalReplay(const WalReplay&) = delete;
  WalReplay& operator=(const WalReplay&) = delete;

  // After `data_dir` was restored from the copy: checks the point's digest (Error when it is
  // not the journal's: nothing is written then), appends the entries to its WAL, and says what
  // etcd must show. `open_s`: what restoring it took, counted in the result's times.
  ReplayResult write_into(const core::bfs::path& data_dir, double open_s, WalReplayCheck& check);

 private:
  struct Touched {
    std::int64_t last_put = -1;  // the transaction (index in txns_) of its last put
    bool deleted = false;        // its last change is a delete
    PairHash hash{};             // of its last put
    std::string encryption_key;  // its last value's
  };
  struct Op {
    std::uint32_t key;  // index in touched_
    bool is_delete;
  };
  struct Txn {
    bool lease = false;  // a lease grant: no revision
    std::vector<Op> ops;
  };

  const ReplayPlan& plan_;
  core::bfs::path scratch_;
  int fd_ = -1;
  WatchedKeys index_;
  std::vector<Touched> touched_;
  std::vector<Txn> txns_;
  std::vector<WatchedPair> found_;
  std::future<SnapshotKeyspace> base_;
  ReplayResult result_;
  double plan_s_ = 0;
};

// The node's etcd serves what `check` says (EtcdApi::written_since and count at
// check.up_to); throws Error naming the first key that differs.
void check_wal_replay(EtcdApi& etcd, const WalReplayCheck& check);

}  // namespace kdr::etcd
