// A read-only look into a bbolt file (etcd's database and snapshot format), without mapping
// it: the valid meta page with the highest transaction id, then every bucket's B+tree walked
// from its root. Branch pages are read whole; of leaf pages only the 16-byte header is read,
// except along each bucket's rightmost edge, where the last key is wanted. So a 250 MB
// database costs a few hundred KiB of memory and one small read per leaf page.
//
// It checks what it walks: the meta checksum (FNV-64a), page ids inside the file and below
// the meta's high-water mark, page kinds (branch, leaf) where the tree says they must be,
// elements inside their page, and no page reached twice. It does not check the freelist.
//
// Layout (little-endian, as bbolt writes it on the machines etcd runs on):
//   page header: id u64, flags u16 (1 branch, 2 leaf, 4 meta, 16 freelist), count u16, overflow u32
//   meta (after the header of pages 0 and 1): magic u32 0xED0CDAED, version u32 (2),
//     page size u32, flags u32, root bucket {root pgid u64, sequence u64}, freelist u64,
//     high-water pgid u64, txid u64, checksum u64 (FNV-64a of the 56 bytes before it)
//   branch element: pos u32, ksize u32, pgid u64 (pos from the element itself)
//   leaf element: flags u32 (1: a bucket), pos u32, ksize u32, vsize u32
//   bucket value: {root pgid u64, sequence u64}; root 0: an inline page follows
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "core/fs.hpp"

namespace kdr::etcd {

struct BoltBucket {
  std::string name;
  std::uint64_t entries = 0;  // key/value pairs (nested buckets count as entries)
  std::string last_key;       // the greatest key; empty when the bucket is empty
};

struct BoltSummary {
  std::uint32_t page_size = 0;
  std::uint64_t txid = 0;
  std::uint64_t high_water = 0;  // pages in use, as the meta says
  int meta_page = 0;             // 0 or 1: the meta that was used
  std::vector<BoltBucket> buckets;  // the top-level buckets, in key order
  std::uint64_t branch_pages = 0;
  std::uint64_t leaf_pages = 0;
  // Every pair in every top-level bucket: what `etcdctl snapshot status` calls totalKey.
  std::uint64_t entries() const;
  const BoltBucket* bucket(const std::string& name) const;
};

// Throws Error naming the file and what is wrong with it.
BoltSummary read_bolt(const core::bfs::path& file);

// The newest valid meta page alone (page size, transaction, high-water mark; no bucket
// walked), checked against the file's size.
BoltSummary read_bolt_meta(const core::bfs::path& file);

// The same over bytes in memory (for tests and the fuzz target); `name` is used in messages.
BoltSummary read_bolt_bytes(const std::string& bytes, const std::string& name);

// Every key and value of the top-level bucket `bucket`, in key order, with the same checks.
// Throws Error naming the file when it is damaged or has no such bucket.
using BoltVisitor = std::function<void(std::string_view key, std::string_view value)>;
void read_bolt_bucket(const core::bfs::path& file, const std::string& bucket, const BoltVisitor& visit);
// The same; false, having visited nothing, when there is no such bucket.
bool read_bolt_bucket_if_there(const core::bfs::path& file, const std::string& bucket, const BoltVisitor& visit);
void read_bolt_bucket_bytes(const std::string& bytes, const std::string& name, const std::string& bucket,
                            const BoltVisitor& visit);

// The greatest key of the top-level bucket `bucket`: its rightmost edge read, one page a
// level, not the whole tree (the newest revision of a database of gigabytes in a few reads).
// Empty when the bucket is empty, nullopt when there is no such bucket; the pages it reads are
// checked as above.
std::optional<std::string> read_bolt_last_key(const core::bfs::path& file, const std::string& bucket);
std::optional<std::string> read_bolt_last_key_bytes(const std::string& bytes, const std::string& name,
                                                    const std::string& bucket);

// The same for a reader that wants a few pairs, by their place in the walk: before a leaf page
// is read, `filter(pairs)` is told how many pairs it holds (from its element headers alone);
// a leaf it declines (false) is read no further and its pairs are not visited, so that a
// large value's overflow pages are skipped.
using BoltLeafFilter = std::function<bool(std::uint64_t pairs)>;
void read_bolt_bucket_filtered(const core::bfs::path& file, const std::string& bucket, const BoltLeafFilter& filter,
                               const BoltVisitor& visit);
void read_bolt_bucket_filtered_bytes(const std::string& bytes, const std::string& name, const std::string& bucket,
                                     const BoltLeafFilter& filter, const BoltVisitor& visit);

// The same pairs read by up to `parts` walks at once, each on its own thread: the subtrees
// under the bucket's root page are split into runs of about equal count, in key order (a
// bucket whose root is a leaf, or inline, is one run). `visit_run(i)` is called for each run,
// in order and before any walk starts, and returns what sees run i's pairs in key order;
// every key of run i sorts before those of run i + 1. Returns how many runs there were.
// Throws the first Error a walk threw, once every walk has ended.
using BoltRunVisitor = std::function<BoltVisitor(std::size_t run)>;
std::size_t read_bolt_bucket_runs(const core::bfs::path& file, const std::string& bucket, std::size_t parts,
                                  const BoltRunVisitor& visit_run);
// The same of the file open at `fd` (named `file` in messages): read as it was opened, whatever
// is renamed meanwhile.
std::size_t read_bolt_bucket_runs(const core::Fd& fd, const core::bfs::path& file, const std::string& bucket,
                                  std::size_t parts, const BoltRunVisitor& visit_run);
std::size_t read_bolt_bucket_runs_bytes(const std::string& bytes, const std::string& name, const std::string& bucket,
                                        std::size_t parts, const BoltRunVisitor& visit_run);

// Every top-level bucket in key order (empty ones too): `visit` is called with its name as the
// walk reaches it and returns what sees its pairs, in key order. The same checks.
using BoltBucketVisitor = std::function<BoltVisitor(const std::string& bucket)>;
void read_bolt_all(const core::bfs::path& file, const BoltBucketVisitor& visit);
void read_bolt_all_bytes(const std::string& bytes, const std::string& name, const BoltBucketVisitor& visit);

}  // namespace kdr::etcd
