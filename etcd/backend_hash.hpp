// etcd's own hashes of its database, computed off the bbolt file as etcd computes them, so that
// what an etcd answered can be compared with the file it served once it has stopped:
//   Hash (maintenance, /v3/maintenance/hash): CRC-32C over every top-level bucket in key order,
//     each bucket's name and then each of its keys and values, leaving out the meta bucket's
//     consistent_index and term (they move as raft entries apply, whatever the data);
//   HashKV (/v3/maintenance/hashkv, 3.5's gateway): CRC-32C of the name "key" and then the key
//     and value of each entry of the key bucket whose main revision is at most the one asked
//     for. etcd also skips revisions at or below its compaction that the compaction drops
//     (kvindex.Keep: of each key, only its newest revision at or below the one hashed, when
//     that is not a deletion; the --bump-revision placeholder counts as a key ""), and a
//     deletion at the compaction's revision itself (etcd 3.5.16 and 3.4.34 on keep it in the
//     file; older versions' compaction dropped it, so a file compacted by a newer etcd and
//     served by an older one would not compare).
#pragma once

#include <cstdint>

#include "core/fs.hpp"

namespace kdr::etcd {

struct BackendHashes {
  std::uint32_t hash = 0;     // etcd's Hash
  std::uint32_t hash_kv = 0;  // etcd's HashKV at hash_kv_revision
  std::int64_t hash_kv_revision = 0;
};

// Both hashes in one read of `db`. Throws core::Error naming the file when it is not an etcd
// database.
BackendHashes backend_hashes(const core::bfs::path& db, std::int64_t hash_kv_revision);
BackendHashes backend_hashes_bytes(const std::string& bytes, const std::string& name, std::int64_t hash_kv_revision);

}  // namespace kdr::etcd
