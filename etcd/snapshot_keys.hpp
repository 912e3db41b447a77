// The key-values an etcd snapshot (or member/snap/db) holds, read off the bbolt file without
// an etcd: bbolt's "key" bucket maps revisions (8 bytes big-endian, '_', 8 bytes of
// sub-revision, 't' for a deletion) to mvccpb.KeyValue messages (key 1, create_revision 2,
// mod_revision 3, version 4, value 5, lease 6). A key's newest entry at or below the revision
// asked for is its value; a deletion there means it is gone.
//
// Two passes over the bucket: the first finds each wanted key's newest entry (NewestEntries, in
// bounded memory) and marks it by its number in the walk (a bit an entry); the second hands out
// the marked entries' values. The file must not change between them (it is checked).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "core/fs.hpp"
#include "etcd/api.hpp"

namespace kdr::etcd {

struct SnapshotRead {
  std::int64_t revision = 0;     // the revision the file holds (etcd's, as it starts on it)
  std::uint64_t entries = 0;     // key revisions read (each pass)
  std::uint64_t visited = 0;     // live keys handed out
};

struct SnapshotFilter {
  std::string prefix;                          // keys that start with it ("" every key)
  std::optional<std::int64_t> at_revision;     // the keyspace at this revision (default: the newest)
  std::function<bool(std::string_view)> keep;  // and that this accepts (null: all)
};

// Calls `visit` for every live key the filter picks, in revision order of their newest value.
// Throws Error naming the file when it is not an etcd database, or the revision asked for is
// older than what the file still holds (compacted).
SnapshotRead read_snapshot_keys(const core::bfs::path& file, const SnapshotFilter& filter,
                                const std::function<void(const EtcdKeyValue&)>& visit);

// The same in two halves, for a reader that reads the values more than once (looks at them,
// then writes them) without holding them: the first pass once, the second as often as asked.
class SnapshotKeys {
 public:
  // Pass 1 (the same errors as read_snapshot_keys).
  SnapshotKeys(core::bfs::path file, const SnapshotFilter& filter);
  ~SnapshotKeys();
  SnapshotKeys(SnapshotKeys&&) noexcept;
  // Pass 2: `visit` for every live key picked, in revision order. Throws Error when the file
  // changed since pass 1.
  void visit(const std::function<void(const EtcdKeyValue&)>& visit) const;
  // The file's revision, and the entries of pass 1.
  const SnapshotRead& read() const { return read_; }

 private:
  struct Marks;
  core::bfs::path file_;
  SnapshotRead read_;
  std::unique_ptr<Marks> marks_;
};

// The revision etcd's last finished compaction reached (the meta bucket's
// "finishedCompactRev"; 0 when none). etcd starts at the greater of it and the key bucket's
// newest revision (mvcc's restore): a compaction drops a deleted key's tombstone, so when the
// newest revisions were deletions the key bucket ends before etcd's revision did.
std::int64_t finished_compact_revision(const core::bfs::path& file);

// etcd's revision in the database `file`: the greater of the key bucket's newest revision (its
// rightmost edge alone read, a few pages whatever the size) and finished_compact_revision.
// Throws Error naming the file when it is damaged or has no key bucket.
std::int64_t database_revision(const core::bfs::path& file);

// 8 bytes big-endian, as etcd writes its bbolt keys (revisions, lease ids) and meta values.
std::uint64_t big_endian_u64(std::string_view bytes);

// A key bucket key: the main revision (8 bytes big-endian), '_', the sub revision (8 bytes),
// and 't' after them for a deletion. Kept whole in an array (the 't' or 0 last).
constexpr std::size_t mvcc_revision_size = 17;
using MvccRevisionBytes = std::array<char, mvcc_revision_size + 1>;
// Its main revision (also of meta's finishedCompactRev and scheduledCompactRev values).
std::int64_t mvcc_main_revision(std::string_view rev);

// mvccpb.KeyValue's fields; false when `m` does not parse or names no key.
bool parse_mvcc_key_value(std::string_view m, EtcdKeyValue& out);
// Its key alone, without copying the value (a deletion's entry names its key too).
bool mvcc_key(std::string_view m, std::string_view& key);

}  // namespace kdr::etcd
