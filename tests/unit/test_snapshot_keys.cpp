// The key-values of an etcd snapshot read off its bbolt file (etcd/snapshot_keys.hpp): each
// key's newest entry at the revision asked for, deletions honoured, on a database laid out as
// bbolt writes it (bolt_builder.hpp).
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "bolt_builder.hpp"
#include "core/error.hpp"
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
