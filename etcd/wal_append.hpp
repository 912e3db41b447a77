// Committed raft entries written at the end of a stopped member's WAL: the changes of a restore
// to a journal point, which the member's own etcd applies as it starts, before it serves a
// client (as it applies what it had committed but not applied when it last stopped).
//
// A member's WAL (member/wal/*.wal, etcd::read_member_data reads it) ends, after `etcdutl
// snapshot restore`, with the cluster's membership entries at indexes 1..n, a hard state
// committing them and a snapshot record at n. Appended here, in the last file, after its last
// record: one entry record (walpb.Record {type 2, crc, data = raftpb.Entry {Type 0 (normal),
// Term, Index, Data}}) a request, each at the next index in the last entry's term, then a state
// record (type 3: raftpb.HardState {Term, Vote, Commit}) committing them all; each record in
// its 8-byte little-endian length frame, padded to 8 bytes, and its CRC the running CRC-32C of
// every record's data before it (etcd's server/storage/wal/encoder.go). etcd applies a
// committed entry past its database's consistent index (which the restore tool sets to n).
//
// A request is an etcdserverpb.InternalRaftRequest: {header = 100: RequestHeader {ID = 1}} and
// a txn (6: TxnRequest {success = 2: RequestOp {request_put = 2: PutRequest {key 1, value 2,
// lease 3} | request_delete_range = 3: DeleteRangeRequest {key 1}}}) or a lease grant (8:
// LeaseGrantRequest {TTL 1, ID 2}) (etcd's api/etcdserverpb/raft_internal.proto, rpc.proto).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/fs.hpp"
#include "core/sha256.hpp"
#include "etcd/api.hpp"

namespace kdr::etcd {

// etcd 3.4's WAL decoder refuses a record of 10 MiB or more (maxWALEntrySizeLimit).
inline constexpr std::size_t max_wal_record_bytes = (std::size_t{10} << 20) - 4096;

// One transaction of every operation (keys must differ), as request `id`.
std::string txn_request(const std::vector<EtcdOp>& ops, std::uint64_t id);
// Lease `lease` granted for `ttl_s` seconds, as request `id`.
std::string lease_grant_request(std::int64_t lease, std::int64_t ttl_s, std::uint64_t id);

class WalAppender {
 public:
  // Reads `data_dir`'s WAL to its end; throws Error naming the file when it cannot be read to
  // a clean end, or holds no hard state to continue.
  explicit WalAppender(const core::bfs::path& data_dir);
  ~WalAppender();
  WalAppender(const WalAppender&) = delete;
  WalAppender& operator=(const WalAppender&) = delete;

  // The entry index the next request gets.
  std::uint64_t next_index() const { return index_ + 1; }
  // Writes `request` as the next entry (buffered); its index. Throws Error for a request over
  // max_wal_record_bytes.
  std::uint64_t append(std::string_view request);
  // Writes the hard state that commits every entry appended, flushes the file to disk and
  // reads the WAL back: every appended entry must be there, in order, byte for byte, and
  // committed. Throws Error saying what differs.
  void commit();
  const core::bfs::path& file() const { return file_; }

 private:
  void frame(std::int64_t type, const std::string& data);
  void write_out();

  core::bfs::path data_dir_, file_;
  int fd_ = -1;
  std::uint64_t offset_ = 0;  // where the next record goes
  std::uint32_t crc_ = 0;
  std::uint64_t first_index_ = 0, index_ = 0, term_ = 0, vote_ = 0;
  std::string buffer_;
  core::Sha256 written_;  // every appended entry's data, in order
};

}  // namespace kdr::etcd
