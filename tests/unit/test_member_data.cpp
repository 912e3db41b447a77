// A stopped etcd member's state read offline (etcd/member_data.hpp): its bbolt file's newest
// revision and consistent index, and its WAL's cluster, hard state and last entry, frame by
// frame as etcd's WAL encoder writes them, with the CRC-32C chain checked.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bolt_builder.hpp"
#include "core/fs.hpp"
#include "etcd/crc32c.hpp"
#include "etcd/member_data.hpp"
#include "temp_dir.hpp"
#include "wal_builder.hpp"

using namespace kdr;

namespace {

using test::entry;
using test::field_bytes;
using test::field_varint;
using test::hard_state;
using test::metadata;
using test::WalWriter;

}  // namespace

TEST_CASE("a member's WAL gives its cluster, its last hard state and its last entry, across files") {
  WalWriter first;
  first.record(1, metadata(0x8e9e05c52164694d, 0xcdf818194e3a8c32));
  first.record(5, field_varint(1, 0) + field_varint(2, 0));  // the empty snapshot record of a new WAL
  for (std::uint64_t i = 1; i <= 5; ++i) first.record(2, entry(2, i));
  first.record(3, hard_state(2, 0x8e9e05c52164694d, 5));
  WalWriter second(first.crc());
  second.record(1, metadata(0x8e9e05c52164694d, 0xcdf818194e3a8c32));  // each file begins with it again
  for (std::uint64_t i = 6; i <= 9; ++i) second.record(2, entry(3, i));
  second.record(3, hard_state(3, 0x8e9e05c52164694d, 8));

  etcd::MemberData d;
  etcd::read_wal({first.bytes(), second.bytes(4096)}, {"0.wal", "1.wal"}, d);
  CHECK(d.problems.empty());
  CHECK(d.cluster_id == "cdf818194e3a8c32");
  CHECK(d.member_id == "8e9e05c52164694d");
  CHECK(d.term == 3);
  CHECK(d.commit == 8);
  CHECK(d.last_index == 9);
  CHECK(d.last_term == 3);

  SECTION("a torn last record: read up to it, and named") {
    second.tear(3);
    etcd::MemberData t;
    etcd::read_wal({first.bytes(), second.bytes()}, {"0.wal", "1.wal"}, t);
    REQUIRE(t.problems.size() == 1);
    CHECK_THAT(t.problems[0], Catch::Contains("1.wal: a record at byte"));
    CHECK(t.last_index == 9);
    CHECK(t.commit == 5);  // the hard state after entry 9 was torn
  }
  SECTION("a flipped byte fails its CRC: read up to it") {
    auto bytes = second.bytes();
    const auto at = bytes.rfind(hard_state(3, 0x8e9e05c52164694d, 8));
    REQUIRE(at != std::string::npos);
    bytes[at + 1] ^= 0x01;  // the term
    etcd::MemberData t;
    etcd::read_wal({first.bytes(), bytes}, {"0.wal", "1.wal"}, t);
    REQUIRE(t.problems.size() == 1);
    CHECK_THAT(t.problems[0], Catch::Contains("fails its CRC"));
    CHECK(t.last_index == 9);
  }
  SECTION("a file that does not continue the one before it") {
    etcd::MemberData t;
    etcd::read_wal({first.bytes(), WalWriter(0x1234).bytes()}, {"0.wal", "1.wal"}, t);
    REQUIRE(t.problems.size() == 1);
    CHECK_THAT(t.problems[0], Catch::Contains("1.wal: its crc record (00001234) does not continue the files before it"));
  }
}

TEST_CASE("a stopped member's data dir: the revision and applied index from its database, the rest from its WAL") {
  test::TempDir dir;
  const auto data = dir.path();
  core::bfs::create_directories(data / "member/snap");
  core::bfs::create_directories(data / "member/wal");
  core::write_file_atomic(data / "member/snap/db", test::bolt::join(test::bolt::sample_pages(42)));
  WalWriter w;
  w.record(1, metadata(1, 0xabc));
  w.record(2, entry(4, 42));
  w.record(3, hard_state(4, 1, 42));
  core::write_file_atomic(data / "member/wal/0000000000000000-0000000000000000.wal", w.bytes(8192));
  const auto d = etcd::read_member_data(data);
  CHECK(d.problems.empty());
  CHECK(d.revision == 9);
  CHECK(d.consistent_index == 42);
  CHECK(d.cluster_id == "abc");
  CHECK(d.term == 4);
  CHECK(d.last_index == 42);

  const auto none = etcd::read_member_data(data / "nothing");
  REQUIRE(none.problems.size() == 2);
  CHECK_THAT(none.problems[0], Catch::Contains("member/snap/db: not there"));
  CHECK_THAT(none.problems[1], Catch::Contains("no WAL file"));
}

TEST_CASE("a member's WAL file is read a window at a time: records across its edges, and larger than it") {
  test::TempDir dir;
  const auto data = dir.path();
  core::bfs::create_directories(data / "member/wal");
  WalWriter w;
  w.record(1, metadata(1, 0xabc));
  std::vector<std::string> values;
  // 300 KiB values: the fourth crosses the first 1 MiB read; then one of 2.5 MiB, more than a read
  for (std::uint64_t i = 0; i < 6; ++i) values.push_back(std::string(300 << 10, static_cast<char>('a' + i)));
  values.push_back(std::string(5 << 19, 'z'));
  values.push_back("last");
  for (std::size_t i = 0; i < values.size(); ++i) w.record(2, entry(2, i + 1, values[i]));
  w.record(3, hard_state(2, 1, values.size()));
  const auto file = data / "member/wal/0000000000000000-0000000000000000.wal";
  core::write_file_atomic(file, w.bytes(8 << 20));  // preallocated, as etcd's are

  std::vector<std::string> seen;
  const auto d = etcd::read_wal_entries(data, 0, [&](std::uint64_t index, std::uint64_t term, std::string_view e) {
    CHECK(term == 2);
    CHECK(index == seen.size() + 1);
    seen.emplace_back(e);
  });
  CHECK(d.problems.empty());
  REQUIRE(seen.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) CHECK(seen[i] == values[i]);  // each entry's Data
  CHECK(d.commit == values.size());
  CHECK(d.wal_end == w.bytes().size());
  CHECK(d.wal_crc == w.crc());

  // cut inside the large record: a torn tail, read up to it
  const auto bytes = w.bytes();
  core::write_file_atomic(file, bytes.substr(0, bytes.size() - (1 << 20)));
  seen.clear();
  const auto torn = etcd::read_wal_entries(data, 0, [&](std::uint64_t, std::uint64_t, std::string_view e) { seen.emplace_back(e); });
  REQUIRE(torn.problems.size() == 1);
  CHECK_THAT(torn.problems[0], Catch::Contains("runs past the end of the file (a torn write)"));
  CHECK(seen.size() == 6);
}
