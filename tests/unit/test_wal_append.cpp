// Committed entries appended to a restored member's WAL (etcd/wal_append.hpp): framed and
// chained as etcd's WAL encoder writes them, read back whole, committed by a new hard state;
// and refused, with the file left as it was, where the WAL cannot be continued.
#include <catch2/catch.hpp>

#include "core/fs.hpp"
#include "core/sha256.hpp"
#include "etcd/member_data.hpp"
#include "etcd/wal_append.hpp"
#include "temp_dir.hpp"
#include "wal_builder.hpp"

using namespace kdr;

namespace {

std::string hex(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

struct RestoredDir {
  test::TempDir tmp;
  core::bfs::path dir = tmp.path() / "etcd";
  core::bfs::path wal = dir / "member/wal/0000000000000000-0000000000000000.wal";
  explicit RestoredDir(const std::string& wal_bytes = test::restored_wal()) {
    core::make_dirs(wal.parent_path(), 0700);
    core::write_file_atomic(wal, wal_bytes, 0600);
  }
};

}  // namespace

TEST_CASE("requests are encoded as etcd's InternalRaftRequest: a txn of puts and deletes, a lease grant") {
  // the same messages encoded field by field after etcd's raft_internal.proto and rpc.proto
  CHECK(hex(etcd::txn_request({{false, "/k/a", "A", 0x1234}, {true, "/k/b", "", 0}}, 7)) ==
        "a206020807321a120e120c0a042f6b2f6112014118b42412081a060a042f6b2f62");
  CHECK(hex(etcd::lease_grant_request(0x694d, 3600, 8)) == "a206020808420708901c10cdd201");
}

TEST_CASE("entries appended to a restored WAL read back in order, chained, and committed") {
  RestoredDir d;
  const auto before = etcd::read_member_data(d.dir);
  REQUIRE(before.last_index == 1);
  REQUIRE(before.commit == 1);
  const std::vector<std::string> requests = {etcd::lease_grant_request(9, 3600, 1),
                                             etcd::txn_request({{false, "/k/a", "A", 9}}, 2),
                                             etcd::txn_request({{false, "/k/big", std::string(100000, 'x'), 0}}, 3)};
  {
    etcd::WalAppender w(d.dir);
    CHECK(w.next_index() == 2);
    for (std::size_t i = 0; i < requests.size(); ++i) CHECK(w.append(requests[i]) == 2 + i);
    w.commit();
  }
  std::vector<std::string> read;
  std::vector<std::uint64_t> indexes, terms;
  const auto after = etcd::read_wal_entries(d.dir, 1, [&](std::uint64_t index, std::uint64_t term, std::string_view data) {
    indexes.push_back(index);
    terms.push_back(term);
    read.emplace_back(data);
  });
  INFO(fmt::format("{}", fmt::join(after.problems, "; ")));
  CHECK(read == requests);
  CHECK(indexes == std::vector<std::uint64_t>{2, 3, 4});
  CHECK(terms == std::vector<std::uint64_t>{1, 1, 1});
  CHECK(after.commit == 4);
  CHECK(after.last_index == 4);
  CHECK(after.term == before.term);
  CHECK(after.vote == before.vote);
  CHECK(after.cluster_id == before.cluster_id);
  // the running CRC continues: appending again reads the whole chain
  {
    etcd::WalAppender again(d.dir);
    CHECK(again.next_index() == 5);
    again.append(etcd::txn_request({{true, "/k/a", "", 0}}, 4));
    again.commit();
  }
  const auto last = etcd::read_member_data(d.dir);
  CHECK(last.commit == 5);
  for (const auto& p : last.problems) CHECK(p.find(".wal") == std::string::npos);
}

TEST_CASE("a WAL that cannot be continued is refused, and nothing is written to it") {
  SECTION("a torn tail") {
    auto bytes = test::restored_wal(1, 0);
    bytes[bytes.size() - 3] ^= 0x55;  // the last record's data: its CRC fails
    RestoredDir d(bytes);
    CHECK_THROWS_WITH(etcd::WalAppender(d.dir), Catch::Contains(d.wal.string()) && Catch::Contains("cannot be continued"));
    CHECK(core::read_file(d.wal) == bytes);
  }
  SECTION("entries not committed yet") {
    test::WalWriter w;
    w.record(1, test::metadata(1, 2));
    w.record(2, test::entry(1, 1));
    w.record(2, test::entry(1, 2));
    w.record(3, test::hard_state(1, 1, 1));
    RestoredDir d(w.bytes(4096));
    CHECK_THROWS_WITH(etcd::WalAppender(d.dir), Catch::Contains("does not end with every entry committed"));
  }
  SECTION("a request too large for one record") {
    RestoredDir d;
    const auto bytes = core::read_file(d.wal);
    etcd::WalAppender w(d.dir);
    CHECK_THROWS_WITH(w.append(std::string(etcd::max_wal_record_bytes + 1, 'x')), Catch::Contains("one WAL record"));
    CHECK(core::read_file(d.wal) == bytes);
  }
}
