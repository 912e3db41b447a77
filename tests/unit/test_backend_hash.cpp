// etcd's checksums computed by kdr: CRC-32C (etcd/crc32c.hpp), and etcd's Hash and HashKV of a
// database computed off its file (etcd/backend_hash.hpp), against what real etcd 3.4 and 3.5
// answered about the same file.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/fs.hpp"
#include "etcd/backend_hash.hpp"
#include "etcd/crc32c.hpp"

using namespace kdr;

TEST_CASE("CRC-32C is Castagnoli's, continued as Go's crc32.Update continues it") {
  CHECK(etcd::crc32c(0, "123456789") == 0xE3069283u);  // the standard check value
  CHECK(etcd::crc32c(etcd::crc32c(0, "12345"), "6789") == 0xE3069283u);
  CHECK(etcd::crc32c(0, "") == 0u);
  CHECK(etcd::crc32c_table(0, "123456789") == 0xE3069283u);
}

TEST_CASE("CRC-32C: the processor's instruction and the table agree at every length and alignment") {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  for (std::size_t start = 0; start < 9; ++start)
    for (std::size_t n = 0; start + n <= data.size(); n += 13) {
      const std::string_view part(data.data() + start, n);
      CHECK(etcd::crc32c(0x1234u, part) == etcd::crc32c_table(0x1234u, part));
    }
}

// A database file a real etcd served (3.4.23 and 3.5.16) and what that etcd answered about it
// while it served: puts, a transaction's sub-revisions, deletions, a compaction below the
// newest revision at a deletion's revision (3.5.16 keeps that deletion in the file and leaves
// it out of HashKV) and writes after it; and on 3.5 the same restored with --bump-revision and
// --mark-compacted (etcdutl's empty placeholder entry, which etcd's index holds as a key ""),
// and one whose every key was deleted and compacted at its deletion (nothing kept)
// (tests/fixtures/make-etcd-hashes.sh made them).
TEST_CASE("etcd's Hash and HashKV computed off the file are what a real etcd answered about it") {
  // name, answers recorded
  const std::vector<std::pair<std::string, int>> fixtures = {{"3.4", 6}, {"3.5", 6}, {"3.5-bumped", 3}, {"3.5-all-deleted", 2}};
  for (const auto& [version, answered] : fixtures) {
    const auto dir = core::bfs::path(KDR_SOURCE_DIR) / "tests/fixtures/etcd-hashes" / version;
    std::istringstream answers(core::read_file(dir / "hashes.txt"));
    std::string word;
    int compared = 0;
    while (answers >> word) {
      if (word == "hash") {
        std::uint32_t hash = 0;
        answers >> hash;
        INFO("etcd " << version << ", Hash");
        CHECK(etcd::backend_hashes(dir / "db", 0).hash == hash);
        ++compared;
      } else if (word == "hashkv") {
        std::int64_t revision = 0;
        std::uint32_t hash = 0;
        answers >> revision >> hash;
        INFO("etcd " << version << ", HashKV at revision " << revision);
        const auto mine = etcd::backend_hashes(dir / "db", revision);
        CHECK(mine.hash_kv_revision == revision);
        CHECK(mine.hash_kv == hash);
        ++compared;
      } else {
        std::getline(answers, word);  // a comment
      }
    }
    CHECK(compared == answered);
  }
}
