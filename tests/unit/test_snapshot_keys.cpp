// The key-values of an etcd snapshot read off its bbolt file (etcd/snapshot_keys.hpp): each
// key's newest entry at the revision asked for, deletions honoured, on a database laid out as
// bbolt writes it (bolt_builder.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>

#include "bolt_builder.hpp"
#include "core/error.hpp"
#include "etcd/bbolt.hpp"
#include "etcd/keyspace_digest.hpp"
#include "etcd/snapshot_keys.hpp"
#include "temp_dir.hpp"

using namespace kdr;
using namespace kdr::test::bolt;

namespace {

std::map<std::string, std::string> read(const core::bfs::path& file, const etcd::SnapshotFilter& filter) {
  std::map<std::string, std::string> out;
  etcd::read_snapshot_keys(file, filter, [&](const etcd::EtcdKeyValue& kv) {
    CHECK(out.count(kv.key) == 0);  // each key once
    out[kv.key] = kv.value;
  });
  return out;
}

}  // namespace

TEST_CASE("a snapshot's keys: the newest value of each, a deleted key gone, at the newest revision or an older one") {
  test::TempDir dir;
  const auto file = dir.path() / "snapshot.db";
  std::ofstream(file.string(), std::ios::binary) << history_snapshot_bytes(
      {{2, "/registry/x/a", "a1", false},
       {3, "/registry/x/b", "b1", false},
       {4, "/registry/x/a", "a2", false},
       {5, "/registry/x/b", "", true},
       {6, "/registry/y/c", "c1", false},
       {7, "/registry/x/b", "b2", false},
       {8, "/registry/x/d", "d1", false},
       {9, "/registry/x/d", "", true}},
      1);
  using M = std::map<std::string, std::string>;
  CHECK(read(file, {"/registry/x/", std::nullopt, nullptr}) == M{{"/registry/x/a", "a2"}, {"/registry/x/b", "b2"}});
  CHECK(read(file, {"", std::nullopt, nullptr}) ==
        M{{"/registry/x/a", "a2"}, {"/registry/x/b", "b2"}, {"/registry/y/c", "c1"}});
  CHECK(read(file, {"/registry/", 4, nullptr}) == M{{"/registry/x/a", "a2"}, {"/registry/x/b", "b1"}});
  CHECK(read(file, {"/registry/", 5, nullptr}) == M{{"/registry/x/a", "a2"}});
  CHECK(read(file, {"/registry/x/", 8, nullptr}) ==
        M{{"/registry/x/a", "a2"}, {"/registry/x/b", "b2"}, {"/registry/x/d", "d1"}});
  CHECK(read(file, {"/registry/", std::nullopt, [](std::string_view k) { return k.back() != 'a'; }}) ==
        M{{"/registry/x/b", "b2"}, {"/registry/y/c", "c1"}});
  // The revisions come with the value.
  etcd::read_snapshot_keys(file, {"/registry/x/a", std::nullopt, nullptr}, [](const etcd::EtcdKeyValue& kv) {
    CHECK(kv.mod_revision == 4);
  });
  CHECK_THROWS_WITH(etcd::read_snapshot_keys(file, {"", 12, nullptr}, [](const etcd::EtcdKeyValue&) {}),
                    Catch::Contains("holds revisions up to 9, not 12"));
}

TEST_CASE("a snapshot compacted past deletions holds etcd's revision, not the key bucket's last: the compaction's") {
  // etcd compacted at revision 9 after keys deleted at 8 and 9: their tombstones are gone, the
  // key bucket ends at 7, and etcd (mvcc's restore) starts on this file at revision 9
  test::TempDir dir;
  const auto file = dir.path() / "snapshot.db";
  std::ofstream(file.string(), std::ios::binary) << history_snapshot_bytes(
      {{6, "/registry/x/a", "a1", false}, {7, "/registry/x/b", "b1", false}}, 1, 9);
  CHECK(etcd::finished_compact_revision(file) == 9);
  std::map<std::string, std::string> keys;
  const auto r = etcd::read_snapshot_keys(file, {"", 9, nullptr}, [&](const etcd::EtcdKeyValue& kv) { keys[kv.key] = kv.value; });
  CHECK(r.revision == 9);
  CHECK(keys == std::map<std::string, std::string>{{"/registry/x/a", "a1"}, {"/registry/x/b", "b1"}});
  // without a compaction the key bucket's last revision is the file's
  std::ofstream(file.string(), std::ios::binary | std::ios::trunc)
      << history_snapshot_bytes({{6, "/registry/x/a", "a1", false}, {7, "/registry/x/b", "b1", false}}, 1);
  CHECK(etcd::finished_compact_revision(file) == 0);
  CHECK(etcd::read_snapshot_keys(file, {"", std::nullopt, nullptr}, [](const etcd::EtcdKeyValue&) {}).revision == 7);
}

TEST_CASE("a snapshot's keyspace digest read in two runs at once equals the live keys': a key a later run deletes, puts again or changes") {
  // Two leaves of six changes under one branch: the walk reads them as two runs (revisions
  // 2-7 and 8-13) on two threads, and lays the second over the first.
  const std::vector<Change> history = {
      {2, "/registry/x/a", "a1", false},  // changed in the second run
      {3, "/registry/x/b", "b1", false},  // deleted in the second run
      {4, "/registry/x/c", "c1", false},  // deleted, then put again, in the second run
      {5, "/registry/x/d", "", true},     // deleted in the first run (put before it was compacted), put in the second
      {6, "/registry/x/f", "f1", false},  // in the first run alone
      {7, "/registry/x/g", "g1", false},
      {8, "/registry/x/a", "a2", false},
      {9, "/registry/x/b", "", true},
      {10, "/registry/x/c", "", true},
      {11, "/registry/x/c", "c2", false},
      {12, "/registry/x/d", "d2", false},
      {13, "/registry/x/e", "", true}};  // never put in this snapshot
  const auto bytes = history_snapshot_bytes(history, 1, 0, 6);
  std::vector<std::vector<std::string>> seen;
  const auto runs = etcd::read_bolt_bucket_runs_bytes(bytes, "db", "key", 2, [&](std::size_t run) -> etcd::BoltVisitor {
    CHECK(run == seen.size());
    seen.emplace_back();
    return [&seen, run](std::string_view key, std::string_view) { seen[run].emplace_back(key); };
  });
  REQUIRE(runs == 2);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].size() == 6);
  CHECK(seen[0].size() + seen[1].size() == history.size());
  CHECK(std::is_sorted(seen[0].begin(), seen[0].end()));
  CHECK(std::is_sorted(seen[1].begin(), seen[1].end()));
  CHECK(seen[0].back() < seen[1].front());

  etcd::KeyspaceDigest expected;
  for (const auto& [k, v] : std::map<std::string, std::string>{
           {"/registry/x/a", "a2"}, {"/registry/x/c", "c2"}, {"/registry/x/d", "d2"}, {"/registry/x/f", "f1"}, {"/registry/x/g", "g1"}})
    expected.add(etcd::pair_hash(k, v));
  const auto digest = etcd::digest_of_snapshot_bytes(bytes, "db");
  CHECK(digest == expected);
  CHECK(digest.keys == 5);
  // The same bucket in one leaf, read by one walk.
  CHECK(etcd::digest_of_snapshot_bytes(history_snapshot_bytes(history, 1), "db") == expected);
  // And off a file, with what the live values name.
  test::TempDir dir;
  const auto file = dir.path() / "snapshot.db";
  std::ofstream(file.string(), std::ios::binary) << bytes;
  CHECK(etcd::keyspace_of_snapshot(file.string()).digest == expected);
}

TEST_CASE("a snapshot's keyspace digest is the same when its key table is set aside in a file as it is read") {
  // 6,000 changes over 1,500 keys in leaves of 50 (two runs at once), read with a table that
  // holds about 700 keys: the walk sets its entries aside again and again
  std::vector<Change> history;
  std::map<std::string, std::string> live;
  for (std::uint64_t i = 0; i < 6000; ++i) {
    const auto key = fmt::format("/registry/pods/ns/pod-{}", (i * 7919) % 1500);
    const bool deleted = i % 11 == 0;
    const auto value = deleted ? std::string() : fmt::format("v{}", i);
    history.push_back({i + 2, key, value, deleted});
    if (deleted) live.erase(key);
    else live[key] = value;
  }
  etcd::KeyspaceDigest expected;
  for (const auto& [k, v] : live) expected.add(etcd::pair_hash(k, v));
  const auto bytes = history_snapshot_bytes(history, 1, 0, 50);
  CHECK(etcd::digest_of_snapshot_bytes(bytes, "db", 48 * 1024) == expected);
  CHECK(etcd::digest_of_snapshot_bytes(bytes, "db") == expected);
  CHECK(expected.keys == static_cast<std::int64_t>(live.size()));
}
