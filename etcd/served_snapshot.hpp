// A stopped etcd's database file written out as a snapshot file: what `etcdctl snapshot save`
// would have streamed from it, without the stream. etcd's snapshot is its bbolt file as one read
// transaction sees it (bbolt's Tx.WriteTo: the pages up to the meta's high-water mark) followed
// by the SHA-256 of those bytes (etcd's snapshot trailer, which `snapshot restore` checks when
// the size is 32 past a multiple of 512). A database etcd closed (SIGTERM) holds the same pages;
// its older meta page is left as it is, which bbolt ignores for the newer one.
#pragma once

#include <cstdint>
#include <string>

#include "core/fs.hpp"

namespace kdr::etcd {

struct ServedSnapshot {
  std::uint64_t size = 0;  // of the snapshot file, trailer included
  std::string sha256;      // of the whole file
  std::string db_sha256;   // of the pages (the trailer)
};

// Makes `out` (0600, fsynced; it must not exist) from `db`, the database file of an etcd that is
// no longer running: `db` is moved there when both are on one file system (then read once, to
// be hashed), else copied and hashed in one pass. Throws core::Error naming the file when `db`
// is not a bbolt database or its pages end past the file.
ServedSnapshot write_served_snapshot(const core::bfs::path& db, const core::bfs::path& out);

}  // namespace kdr::etcd
