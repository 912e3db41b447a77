// What a stopped etcd member's data dir holds, read offline without starting etcd: the state
// a quorum restore compares its survivors by (the most advanced one is started with
// --force-new-cluster).
//
//   - member/snap/db (bbolt): the newest revision of its key bucket, and the meta bucket's
//     consistent_index (the raft index its store has applied) and term (etcd 3.5; absent in
//     3.4);
//   - member/wal/*.wal, in name order: each record a frame (a little-endian uint64 length, its
//     top byte flagging padding) holding a walpb.Record {type = 1, crc = 2, data = 3}; the
//     types metadata (1: etcdserverpb.Metadata {NodeID = 1, ClusterID = 2}), entry (2:
//     raftpb.Entry {Term = 2, Index = 3}), state (3: raftpb.HardState {Term = 1, Vote = 2,
//     Commit = 3}), crc (4) and snapshot (5: walpb.Snapshot {Index = 1, Term = 2}); every
//     record's crc is the CRC-32C (Castagnoli) of the data of the records before it and its own,
//     carried from file to file by each file's first crc record (etcd's
//     server/storage/wal/decoder.go). A zero length ends the records (the rest of a
//     preallocated file); a record whose CRC does not match is a torn tail, where reading stops
//     and which is named.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fs.hpp"

namespace kdr::etcd {

// walpb.Record's types.
namespace wal_record {
inline constexpr std::int64_t metadata = 1, entry = 2, state = 3, crc = 4, snapshot = 5;
}

struct MemberData {
  // from the bbolt file
  std::int64_t revision = 0;
  std::uint64_t consistent_index = 0;
  std::uint64_t applied_term = 0;  // 0: not recorded (etcd 3.4)
  // from the WAL
  std::string cluster_id, member_id;  // hex, as etcdctl prints them
  std::uint64_t term = 0, vote = 0, commit = 0;  // the last hard state
  std::uint64_t last_index = 0, last_term = 0;   // the last entry (or snapshot) it holds
  // Where a record written next would go: the last WAL file read, the byte after its last
  // record, and the running CRC there (etcd::WalAppender).
  std::string wal_file;
  std::uint64_t wal_end = 0;
  std::uint32_t wal_crc = 0;
  std::vector<std::string> problems;             // each names its file: what could not be read
};

// Reads `data_dir` (etcd's --data-dir). Never throws for a damaged file: `problems` says it.
MemberData read_member_data(const core::bfs::path& data_dir);

// The WAL part alone, over the files' bytes in order (for tests); `names` name them in problems.
void read_wal(const std::vector<std::string>& files, const std::vector<std::string>& names, MemberData& out);

// visit(index, term, data) for each raft entry (raftpb.Entry's Index, Term and Data: an
// etcdserverpb.InternalRaftRequest) of `data_dir`'s WAL past `after_index`, in order; the
// member's data as read_member_data reads it, but for its database (not read: a walk of the
// whole file).
MemberData read_wal_entries(const core::bfs::path& data_dir, std::uint64_t after_index,
                            const std::function<void(std::uint64_t, std::uint64_t, std::string_view)>& visit);

}  // namespace kdr::etcd
