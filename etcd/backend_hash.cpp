#include "etcd/backend_hash.hpp"

#include <algorithm>
#include <functional>
#include <string_view>

#include "etcd/bbolt.hpp"
#include "etcd/crc32c.hpp"
#include "etcd/key_table.hpp"
#include "etcd/snapshot_keys.hpp"

namespace kdr::etcd {

namespace {

constexpr std::string_view key_bucket = "key";
constexpr std::string_view meta_bucket = "meta";

// The file, read one bucket or all of them.
struct Reader {
  std::function<void(const std::string& bucket, const BoltVisitor&)> bucket;
  std::function<void(const BoltBucketVisitor&)> all;
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
// is not a deletion. The other revisions at or below the compaction are ones the compaction
// drops; etcd skips them whether or not the file still holds them.
KeyTable<MvccRevisionBytes> kept(const Reader& read, std::int64_t revision) {
  KeyTable<MvccRevisionBytes> newest;
  read.bucket(std::string(key_bucket), [&](std::string_view rev, std::string_view kv) {
    if (rev.size() < mvcc_revision_size || mvcc_main_revision(rev) > revision) return;
    const auto key = key_of(kv);
    MvccRevisionBytes where{};
    std::copy(rev.begin(), rev.begin() + static_cast<std::ptrdiff_t>(std::min(rev.size(), where.size())), where.begin());
    newest[key] = where;
  });
  // a key whose newest revision is a deletion keeps nothing (etcd's keep set is then empty
  // when every key's is, and etcd skips nothing)
  newest.erase_if([](const MvccRevisionBytes& where) { return where[mvcc_revision_size] == 't'; });
  return newest;
}

BackendHashes hashes_of(const Reader& read, std::int64_t revision) {
  BackendHashes out;
  out.hash_kv_revision = revision;
  out.hash_kv = crc32c(0, key_bucket);
  const auto compacted = compact_revision(read);
  auto keep = compacted > 0 ? kept(read, revision) : KeyTable<MvccRevisionBytes>{};
  // a revision at or below the compaction counts when it is what its key keeps (or nothing is
  // kept at all: etcd then skips none)
  const auto counts = [&](std::string_view rev, std::string_view kv) {
    const auto main = mvcc_main_revision(rev);
    if (main > revision) return false;
    // etcd 3.5.16 and 3.4.34 on keep a deletion at the compaction's revision, which older
    // versions' compaction dropped, and leave it out of the hash so that both agree
    if (main == compacted && is_tombstone(rev)) return false;
    if (main > compacted || keep.empty()) return true;
    const auto key = key_of(kv);
    const auto* where = keep.find(key);
    return where != nullptr && std::string_view(where->data(), mvcc_revision_size) == rev;
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
        if (counts(k, v)) out.hash_kv = crc32c(crc32c(out.hash_kv, k), v);
      };
    return [&](std::string_view k, std::string_view v) { out.hash = crc32c(crc32c(out.hash, k), v); };
  });
  return out;
}

}  // namespace

BackendHashes backend_hashes(const core::bfs::path& db, std::int64_t hash_kv_revision) {
  return hashes_of({[&](const std::string& bucket, const BoltVisitor& visit) { read_bolt_bucket(db, bucket, visit); },
                    [&](const BoltBucketVisitor& visit) { read_bolt_all(db, visit); }},
                   hash_kv_revision);
}

BackendHashes backend_hashes_bytes(const std::string& bytes, const std::string& name, std::int64_t hash_kv_revision) {
  return hashes_of(
      {[&](const std::string& bucket, const BoltVisitor& visit) { read_bolt_bucket_bytes(bytes, name, bucket, visit); },
       [&](const BoltBucketVisitor& visit) { read_bolt_all_bytes(bytes, name, visit); }},
      hash_kv_revision);
}

}  // namespace kdr::etcd
