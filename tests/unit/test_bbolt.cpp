// The bbolt reader on databases laid out byte by byte as bbolt writes them (bolt_builder.hpp).
// Real etcd snapshots are read by the etcd_snapshot scenario, on 3.4 and 3.5, and compared
// with what etcd itself says.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstring>
#include <functional>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "etcd/tool.hpp"
#include "etcd/bbolt.hpp"
#include "etcd/served_snapshot.hpp"
#include "etcd/snapshot_keys.hpp"
#include "core/error.hpp"
#include "bolt_builder.hpp"
#include "temp_dir.hpp"

using namespace kdr;

using namespace kdr::test::bolt;

TEST_CASE("bbolt: buckets, entries and the greatest key, from the newest valid meta") {
  const auto s = etcd::read_bolt_bytes(join(sample_pages()), "db");
  CHECK(s.page_size == page_size);
  CHECK(s.meta_page == 1);
  CHECK(s.txid == 7);
  REQUIRE(s.buckets.size() == 2);
  REQUIRE(s.bucket("key") != nullptr);
  CHECK(s.bucket("key")->entries == 5);
  CHECK(s.bucket("key")->last_key == rev_key(9, 1));
  CHECK(s.bucket("meta")->entries == 1);
  CHECK(s.bucket("meta")->last_key == "consistent_index");
  CHECK(s.entries() == 6);
  CHECK(s.branch_pages == 1);
  CHECK(s.leaf_pages == 3);
}

TEST_CASE("bbolt: a damaged meta page falls back to the other one, and both damaged is an error") {
  auto pages = sample_pages();
  pages[1][16 + 48] ^= 1;  // txid changed: the checksum no longer matches
  auto s = etcd::read_bolt_bytes(join(pages), "db");
  CHECK(s.meta_page == 0);
  CHECK(s.txid == 6);
  pages[0][16] ^= 1;  // magic
  CHECK_THROWS_WITH(etcd::read_bolt_bytes(join(pages), "db"),
                    Catch::Contains("db: not a bbolt database: meta page 0: magic") &&
                        Catch::Contains("meta page 1: checksum mismatch"));
}

TEST_CASE("bbolt: damage in the tree is named with its page") {
  SECTION("a child outside the pages in use") {
    auto pages = sample_pages();
    pages[4] = branch_page(4, {{rev_key(2), 5}, {rev_key(5), 40}});
    CHECK_THROWS_WITH(etcd::read_bolt_bytes(join(pages), "db"),
                      "db: damaged bbolt database: page 40: outside the pages in use (2..7)");
  }
  SECTION("a loop") {
    auto pages = sample_pages();
    pages[4] = branch_page(4, {{rev_key(2), 5}, {rev_key(5), 4}});
    CHECK_THROWS_WITH(etcd::read_bolt_bytes(join(pages), "db"), Catch::Contains("page 4: reached twice"));
  }
  SECTION("a page that is not what its parent says") {
    auto pages = sample_pages();
    put_le(pages[5], 0, 9, 8);
    CHECK_THROWS_WITH(etcd::read_bolt_bytes(join(pages), "db"), Catch::Contains("page 5: its header says it is page 9"));
  }
  SECTION("an element past its page") {
    auto pages = sample_pages();
    put_le(pages[3], 16 + 12, 1 << 20, 4);  // the key bucket's value size
    CHECK_THROWS_WITH(etcd::read_bolt_bytes(join(pages), "db"), Catch::Contains("page 3: element 0 points past the page"));
  }
  SECTION("a leaf page that also claims to be a branch is checked as the leaf it is read as") {
    auto pages = sample_pages();
    put_le(pages[6], 8, 0x03, 2);
    put_le(pages[6], 16 + 16 + 8, 1 << 20, 4);  // element 1's key size, where a leaf keeps it
    CHECK_THROWS_WITH(etcd::read_bolt_bytes(join(pages), "db"), Catch::Contains("page 6: element 1 points past the page"));
  }
  SECTION("a file cut short") {
    auto bytes = join(sample_pages());
    bytes.resize(6 * page_size);
    CHECK_THROWS_WITH(etcd::read_bolt_bytes(bytes, "db"),
                      Catch::Contains("db: truncated bbolt database: the meta says 8 pages of 4096 bytes"));
  }
}

TEST_CASE("bbolt: a filtered walk is told each leaf's pairs, and reads and visits only the leaves it wants") {
  // the key bucket: leaf 5 (three pairs), then leaf 6 (two, one of them 5,000 bytes on an overflow page)
  std::vector<std::uint64_t> told;
  std::vector<std::string> visited;
  const etcd::BoltVisitor visit = [&](std::string_view k, std::string_view) { visited.emplace_back(k); };
  const auto walk = [&](const std::string& bytes, std::function<bool(std::size_t leaf)> want) {
    told.clear();
    visited.clear();
    etcd::read_bolt_bucket_filtered_bytes(bytes, "db", "key", [&](std::uint64_t pairs) {
      told.push_back(pairs);
      return want(told.size());
    }, visit);
  };
  const auto all = join(sample_pages());
  walk(all, [](std::size_t) { return false; });
  CHECK(told == std::vector<std::uint64_t>{3, 2});
  CHECK(visited.empty());
  walk(all, [](std::size_t leaf) { return leaf == 2; });
  CHECK(visited == std::vector<std::string>{rev_key(5), rev_key(9, 1)});
  walk(all, [](std::size_t) { return true; });
  CHECK(visited == std::vector<std::string>{rev_key(2), rev_key(3), rev_key(4), rev_key(5), rev_key(9, 1)});

  // Leaf 6's first element says its value runs past the leaf: a walk that reads the leaf finds
  // it; one that declines it never reads that far.
  auto pages = sample_pages();
  put_le(pages[6], 16 + 12, 1 << 20, 4);
  const auto damaged = join(pages);
  CHECK_THROWS_WITH(etcd::read_bolt_bucket_bytes(damaged, "db", "key", visit), Catch::Contains("page 6: element 0 points past the page"));
  walk(damaged, [](std::size_t leaf) { return leaf == 1; });
  CHECK(told == std::vector<std::uint64_t>{3, 2});
  CHECK(visited == std::vector<std::string>{rev_key(2), rev_key(3), rev_key(4)});
  CHECK_THROWS_WITH(walk(damaged, [](std::size_t) { return true; }), Catch::Contains("page 6: element 0 points past the page"));

  // element headers that do not fit the leaf's pages are damage, named as such
  pages = sample_pages();
  put_le(pages[5], 10, 600, 2);
  CHECK_THROWS_WITH(walk(join(pages), [](std::size_t) { return false; }), Catch::Contains("page 5: 600 elements do not fit"));
}

TEST_CASE("an etcd snapshot's revision and key revisions come from its key bucket, read from the file") {
  test::TempDir dir;
  const auto file = dir.path() / "snapshot.db";
  std::ofstream(file.string(), std::ios::binary) << join(sample_pages()) << std::string(32, '\0');  // a trailer
  const auto facts = etcd::read_snapshot_facts(file);
  CHECK(facts.revision == 9);
  CHECK(facts.total_keys == 6);
  CHECK_THROWS_WITH(etcd::read_snapshot_facts(dir.path() / "none.db"), Catch::Contains("none.db"));
  // compacted at 12 past deletions at 10 to 12 (their tombstones dropped): etcd's revision is 12
  std::ofstream(file.string(), std::ios::binary | std::ios::trunc)
      << history_snapshot_bytes({{8, "/registry/a", "1", false}, {9, "/registry/b", "2", false}}, 1, 12);
  CHECK(etcd::read_snapshot_facts(file).revision == 12);
}

TEST_CASE("bbolt: a bucket's greatest key is read down its rightmost edge alone") {
  auto pages = sample_pages();
  CHECK(etcd::read_bolt_last_key_bytes(join(pages), "db", "key") == rev_key(9, 1));
  CHECK(etcd::read_bolt_last_key_bytes(join(pages), "db", "meta") == std::string("consistent_index"));  // inline
  CHECK(etcd::read_bolt_last_key_bytes(join(pages), "db", "lease") == std::nullopt);
  // an empty bucket: its inline page holds nothing
  auto empty = pages;
  empty[3] = leaf_page(3, {{1, "key", bucket_value(0, leaf_page(0, {}, 0))}});
  CHECK(etcd::read_bolt_last_key_bytes(join(empty), "db", "key") == std::string());
  // damage off the edge is not read (read_bolt walks it and names it)...
  auto left = pages;
  put_le(left[5], 0, 9, 8);
  CHECK(etcd::read_bolt_last_key_bytes(join(left), "db", "key") == rev_key(9, 1));
  CHECK_THROWS_WITH(etcd::read_bolt_bytes(join(left), "db"), Catch::Contains("page 5: its header says it is page 9"));
  // ...damage on it is named
  auto edge = pages;
  edge[4] = branch_page(4, {{rev_key(2), 5}, {rev_key(5), 40}});
  CHECK_THROWS_WITH(etcd::read_bolt_last_key_bytes(join(edge), "db", "key"),
                    "db: damaged bbolt database: page 40: outside the pages in use (2..7)");
  edge = pages;
  put_le(edge[6], 8, 0x10, 2);
  CHECK_THROWS_WITH(etcd::read_bolt_last_key_bytes(join(edge), "db", "key"),
                    Catch::Contains("page 6: neither a branch nor a leaf"));
}

TEST_CASE("a database's revision is its key bucket's newest, or the finished compaction past it") {
  test::TempDir dir;
  const auto file = dir.path() / "db";
  std::ofstream(file.string(), std::ios::binary) << join(sample_pages());
  CHECK(etcd::database_revision(file) == 9);
  std::ofstream(file.string(), std::ios::binary | std::ios::trunc)
      << history_snapshot_bytes({{8, "/registry/a", "1", false}, {9, "/registry/b", "2", false}}, 1, 12);
  CHECK(etcd::database_revision(file) == 12);
  std::ofstream(file.string(), std::ios::binary | std::ios::trunc)
      << history_snapshot_bytes({{8, "/registry/a", "1", false}, {9, "/registry/b", "2", false},
                                 {10, "/registry/b", "", true}}, 1, 0, 1);  // a branch over three leaves
  CHECK(etcd::database_revision(file) == 10);
  auto no_keys = sample_pages();
  no_keys[3] = leaf_page(3, {{1, "meta", bucket_value(0, leaf_page(0, {}, 0))}});
  std::ofstream(file.string(), std::ios::binary | std::ios::trunc) << join(no_keys);
  CHECK_THROWS_WITH(etcd::database_revision(file), Catch::Contains("it has no \"key\" bucket"));
}

TEST_CASE("a stopped etcd's database is written as the snapshot etcdctl snapshot save would stream") {
  test::TempDir tmp;
  const auto db = join(sample_pages());  // 8 pages in use, as the newest meta says
  // etcd grows its file ahead of the pages in use: what lies past the high-water mark is no
  // part of the snapshot
  test::write(tmp.path() / "db", db + std::string(4 * page_size, '\0'));
  const auto saved = etcd::write_served_snapshot(tmp.path() / "db", tmp.path() / "snapshot.db");
  const auto bytes = core::read_file(tmp.path() / "snapshot.db");
  CHECK(bytes == etcd_snapshot_bytes());
  CHECK(saved.size == bytes.size());
  CHECK(saved.sha256 == core::sha256_hex(bytes));
  CHECK(saved.db_sha256 == core::sha256_hex(db));
  const auto trailer = etcd::check_snapshot_trailer(tmp.path() / "snapshot.db");
  CHECK(trailer.ok);
  CHECK(trailer.file_sha256 == saved.sha256);
  CHECK((core::lstat_path(tmp.path() / "snapshot.db")->mode & 0777) == 0600);

  // on another file system (tmpfs here) the database is copied, with the same result
  struct stat here {}, shm {};
  if (::stat(tmp.path().c_str(), &here) == 0 && ::stat("/dev/shm", &shm) == 0 && here.st_dev != shm.st_dev) {
    test::TempDir other("/dev/shm");
    test::write(other.path() / "db", db);
    const auto copied = etcd::write_served_snapshot(other.path() / "db", tmp.path() / "copied.db");
    CHECK(core::read_file(tmp.path() / "copied.db") == etcd_snapshot_bytes());
    CHECK(copied.sha256 == saved.sha256);
    CHECK(core::read_file(other.path() / "db") == db);  // copied, not moved
  } else {
    WARN("/dev/shm is on the test folder's file system: the copy across file systems was not exercised");
  }

  // a file cut short before its last page in use is refused, naming it
  test::write(tmp.path() / "short", db.substr(0, 7 * page_size));
  CHECK_THROWS_WITH(etcd::write_served_snapshot(tmp.path() / "short", tmp.path() / "s.db"),
                    Catch::Contains("short") && (Catch::Contains("before its last page") || Catch::Contains("page")));
  // not a bbolt database at all
  test::write(tmp.path() / "text", std::string(3 * page_size, 'x'));
  CHECK_THROWS_AS(etcd::write_served_snapshot(tmp.path() / "text", tmp.path() / "t.db"), core::Error);
}
