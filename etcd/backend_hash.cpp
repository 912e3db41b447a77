#include "etcd/backend_hash.hpp"

#include <algorithm>
#include <functional>
#include <string_view>

#include "etcd/bbolt.hpp"
#include "etcd/crc32c.hpp"
#include "etcd/newest_entries.hpp"
#include "etcd/snapshot_keys.hpp"

namespace kdr::etcd {

namespace {

constexpr std::string_view key_bucket = "key";
constexpr std::string_view meta_bucket = "meta";

// The file, read one bucket or all of them; where a walk of it sets entries aside.
struct Reader {
  std::function<void(const std::string& bucket, const BoltVisitor&)> bucket;
  std::function<void(const BoltBucketVisitor&)> all;
  std::vector<core::bfs::path> spill_places;
};

// etcd's compaction revision once it has opened the file: the greater of the last finished
// compaction and one scheduled (mvcc's restore runs a scheduled one again). -1: none.
std::int64_t compact_revision(const Reader& read) {
  std::int64_t out = -1;
  read.bucket(std::string(meta_bucket), [&](std::string_view k, std::string_view v) {
    if ((k == "finishedCompactRev" || k == "scheduledCompactRev") && v.size() >= 8)
      out = std::max(out, mvcc_main_revision(v));
  });
  return out;
}

// The key an entry names, as etcd's index reads it as it opens the file: an empty value
// (etcdutl's --bump-revision placeholder) unmarshals to a key-value of key "", which the
// index holds like any other key.
std::string_view key_of(std::string_view kv) {
  std::string_view key;
  return mvcc_key(kv, key) ? key : std::string_view();
}

bool is_tombstone(std::string_view rev) { return rev.size() > mvcc_revision_size && rev[mvcc_revision_size] == 't'; }

// The revisions older than the compaction that etcd's HashKV at `revision` counts (mvcc's
// kvindex.Keep(revision)): of each key, its newest revision at or below `revision`, when that
// is not a deletion; marked by the entry's number in the key bucket. The other revisions at or
// below the compaction are ones the compaction drops; etcd skips them whether or not the file
// still holds them.
EntryMarks kept(const Reader& read, std::int64_t revision) {
  NewestEntries<NoPayload> newest(read.spill_places);
  std::uint64_t entries = 0;
  read.bucket(std::string(key_bucket), [&](std::string_view rev, std::string_view kv) {
    ++entries;
    if (rev.size() < mvcc_revision_size || mvcc_main_revision(rev) > revision) return;
    newest.add(key_of(kv), entries, is_tombstone(rev), {});
  });
  EntryMarks marks(entries);
  newest.for_each_live([&marks](std::uint64_t entry, NoPayload) { marks.mark(entry); });
  return marks;
}

BackendHashes hashes_of(const Reader& read, std::int64_t revision) {
  BackendHashes out;
  out.hash_kv_revision = revision;
  out.hash_kv = crc32c(0, key_bucket);
  const auto compacted = compact_revision(read);
  const auto keep = compacted > 0 ? kept(read, revision) : EntryMarks(0);
  // a revision at or below the compaction counts when it is what its key keeps, or nothing is
  // kept at all (every key's newest is a deletion: etcd's keep set is then empty, and it skips
  // none)
  std::uint64_t entry = 0;
  const auto counts = [&](std::string_view rev) {
    ++entry;
    const auto main = mvcc_main_revision(rev);
    if (main > revision) return false;
    // etcd 3.5.16 and 3.4.34 on keep a deletion at the compaction's revision, which older
    // versions' compaction dropped, and leave it out of the hash so that both agree
    if (main == compacted && is_tombstone(rev)) return false;
    return main > compacted || keep.count() == 0 || keep.marked(entry);
  };
  read.all([&](const std::string& bucket) -> BoltVisitor {
    out.hash = crc32c(out.hash, bucket);
    if (bucket == meta_bucket)
      return [&](std::string_view k, std::string_view v) {
        if (k == "consistent_index" || k == "term") return;
        out.hash = crc32c(crc32c(out.hash, k), v);
      };
    if (bucket == key_bucket)
      return [&](std::string_view k, std::string_view v) {
        out.hash = crc32c(crc32c(out.hash, k), v);
        if (counts(k)) out.hash_kv = crc32c(crc32c(out.hash_kv, k), v);
      };
    return [&](std::string_view k, std::string_view v) { out.hash = crc32c(crc32c(out.hash, k), v); };
  });
  return out;
}

}  // namespace

BackendHashes backend_hashes(const core::bfs::path& db, std::int64_t hash_kv_revision) {
  return hashes_of({[&](const std::string& bucket, const BoltVisitor& visit) { read_bolt_bucket(db, bucket, visit); },
                    [&](const BoltBucketVisitor& visit) { read_bolt_all(db, visit); }, spill_places(db)},
                   hash_kv_revision);
}

BackendHashes backend_hashes_bytes(const std::string& bytes, const std::string& name, std::int64_t hash_kv_revision) {
  return hashes_of(
      {[&](const std::string& bucket, const BoltVisitor& visit) { read_bolt_bucket_bytes(bytes, name, bucket, visit); },
       [&](const BoltBucketVisitor& visit) { read_bolt_all_bytes(bytes, name, visit); }, spill_places(name)},
      hash_kv_revision);
}

}  // namespace kdr::etcd
