// The bbolt reader on databases laid out byte by byte as bbolt writes them: two meta pages,
// a root leaf naming the buckets, a "key" bucket with a branch over two leaves (an overflow
// page on one), and an inline "meta" bucket. Real etcd snapshots are read by the
// etcd_snapshot scenario, on 3.4 and 3.5, and compared with what etcd itself says.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <map>

#include "backup/etcd_snapshot.hpp"
#include "core/bbolt.hpp"
#include "core/error.hpp"
#include "temp_dir.hpp"

using namespace kdr;

namespace {

constexpr std::uint32_t page_size = 4096;

void put_le(std::string& s, std::size_t at, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::uint64_t fnv64a(const char* p, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ULL;
  return h;
}

// etcd's key bucket keys: main revision and sub revision, big-endian, with '_' between.
std::string rev_key(std::uint64_t main, std::uint64_t sub = 0) {
  std::string k(17, '\0');
  for (int i = 0; i < 8; ++i) k[static_cast<std::size_t>(7 - i)] = static_cast<char>((main >> (8 * i)) & 0xff);
  k[8] = '_';
  for (int i = 0; i < 8; ++i) k[static_cast<std::size_t>(16 - i)] = static_cast<char>((sub >> (8 * i)) & 0xff);
  return k;
}

struct Leaf {
  std::uint32_t flags;
  std::string key, value;
};

// A page (or an inline page when `size` is 0: exactly as long as its content).
std::string leaf_page(std::uint64_t id, const std::vector<Leaf>& elements, std::size_t size = page_size,
                      std::uint32_t overflow = 0) {
  std::string data;
  std::string p(16 + 16 * elements.size(), '\0');
  put_le(p, 0, id, 8);
  put_le(p, 8, 0x02, 2);
  put_le(p, 10, elements.size(), 2);
  put_le(p, 12, overflow, 4);
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const std::size_t at = 16 + 16 * i;
    put_le(p, at, elements[i].flags, 4);
    put_le(p, at + 4, p.size() - at + data.size(), 4);
    put_le(p, at + 8, elements[i].key.size(), 4);
    put_le(p, at + 12, elements[i].value.size(), 4);
    data += elements[i].key + elements[i].value;
  }
  p += data;
  if (size > 0) p.resize(size, '\0');
  return p;
}

std::string branch_page(std::uint64_t id, const std::vector<std::pair<std::string, std::uint64_t>>& children) {
  std::string data;
  std::string p(16 + 16 * children.size(), '\0');
  put_le(p, 0, id, 8);
  put_le(p, 8, 0x01, 2);
  put_le(p, 10, children.size(), 2);
  for (std::size_t i = 0; i < children.size(); ++i) {
    const std::size_t at = 16 + 16 * i;
    put_le(p, at, p.size() - at + data.size(), 4);
    put_le(p, at + 4, children[i].first.size(), 4);
    put_le(p, at + 8, children[i].second, 8);
    data += children[i].first;
  }
  p += data;
  p.resize(page_size, '\0');
  return p;
}

std::string meta_page(std::uint64_t id, std::uint64_t txid, std::uint64_t root, std::uint64_t high_water) {
  std::string p(page_size, '\0');
  put_le(p, 0, id, 8);
  put_le(p, 8, 0x04, 2);
  const std::size_t m = 16;
  put_le(p, m, 0xED0CDAED, 4);
  put_le(p, m + 4, 2, 4);
  put_le(p, m + 8, page_size, 4);
  put_le(p, m + 16, root, 8);
  put_le(p, m + 32, 2, 8);  // freelist
  put_le(p, m + 40, high_water, 8);
  put_le(p, m + 48, txid, 8);
  put_le(p, m + 56, fnv64a(p.data() + m, 56), 8);
  return p;
}

std::string bucket_value(std::uint64_t root, const std::string& inline_page = "") {
  std::string v(16, '\0');
  put_le(v, 0, root, 8);
  return v + inline_page;
}

// pages: 0,1 meta; 2 freelist; 3 root leaf; 4 branch; 5 leaf; 6-7 leaf with one overflow page.
std::map<std::uint64_t, std::string> sample_pages() {
  std::map<std::uint64_t, std::string> pages;
  pages[0] = meta_page(0, 6, 3, 8);
  pages[1] = meta_page(1, 7, 3, 8);
  pages[2] = std::string(page_size, '\0');
  put_le(pages[2], 0, 2, 8);
  put_le(pages[2], 8, 0x10, 2);
  const auto meta_inline = leaf_page(0, {{0, "consistent_index", std::string(8, '\1')}}, 0);
  pages[3] = leaf_page(3, {{1, "key", bucket_value(4)}, {1, "meta", bucket_value(0, meta_inline)}});
  pages[4] = branch_page(4, {{rev_key(2), 5}, {rev_key(5), 6}});
  pages[5] = leaf_page(5, {{0, rev_key(2), "a"}, {0, rev_key(3), "b"}, {0, rev_key(4), "c"}});
  pages[6] = leaf_page(6, {{0, rev_key(5), std::string(5000, 'x')}, {0, rev_key(9, 1), "e"}}, 2 * page_size, 1);
  return pages;
}

std::string join(const std::map<std::uint64_t, std::string>& pages) {
  std::string out;
  for (const auto& [id, p] : pages) out += p;
  return out;
}

}  // namespace

TEST_CASE("bbolt: buckets, entries and the greatest key, from the newest valid meta") {
  const auto s = core::read_bolt_bytes(join(sample_pages()), "db");
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
  auto s = core::read_bolt_bytes(join(pages), "db");
  CHECK(s.meta_page == 0);
  CHECK(s.txid == 6);
  pages[0][16] ^= 1;  // magic
  CHECK_THROWS_WITH(core::read_bolt_bytes(join(pages), "db"),
                    Catch::Contains("db: not a bbolt database: meta page 0: magic") &&
                        Catch::Contains("meta page 1: checksum mismatch"));
}

TEST_CASE("bbolt: damage in the tree is named with its page") {
  SECTION("a child outside the pages in use") {
    auto pages = sample_pages();
    pages[4] = branch_page(4, {{rev_key(2), 5}, {rev_key(5), 40}});
    CHECK_THROWS_WITH(core::read_bolt_bytes(join(pages), "db"),
                      "db: damaged bbolt database: page 40: outside the pages in use (2..7)");
  }
  SECTION("a loop") {
    auto pages = sample_pages();
    pages[4] = branch_page(4, {{rev_key(2), 5}, {rev_key(5), 4}});
    CHECK_THROWS_WITH(core::read_bolt_bytes(join(pages), "db"), Catch::Contains("page 4: reached twice"));
  }
  SECTION("a page that is not what its parent says") {
    auto pages = sample_pages();
    put_le(pages[5], 0, 9, 8);
    CHECK_THROWS_WITH(core::read_bolt_bytes(join(pages), "db"), Catch::Contains("page 5: its header says it is page 9"));
  }
  SECTION("an element past its page") {
    auto pages = sample_pages();
    put_le(pages[3], 16 + 12, 1 << 20, 4);  // the key bucket's value size
    CHECK_THROWS_WITH(core::read_bolt_bytes(join(pages), "db"), Catch::Contains("page 3: element 0 points past the page"));
  }
  SECTION("a leaf page that also claims to be a branch is checked as the leaf it is read as") {
    auto pages = sample_pages();
    put_le(pages[6], 8, 0x03, 2);
    put_le(pages[6], 16 + 16 + 8, 1 << 20, 4);  // element 1's key size, where a leaf keeps it
    CHECK_THROWS_WITH(core::read_bolt_bytes(join(pages), "db"), Catch::Contains("page 6: element 1 points past the page"));
  }
  SECTION("a file cut short") {
    auto bytes = join(sample_pages());
    bytes.resize(6 * page_size);
    CHECK_THROWS_WITH(core::read_bolt_bytes(bytes, "db"),
                      Catch::Contains("db: truncated bbolt database: the meta says 8 pages of 4096 bytes"));
  }
}

TEST_CASE("an etcd snapshot's revision and key revisions come from its key bucket, read from the file") {
  test::TempDir dir;
  const auto file = dir.path() / "snapshot.db";
  std::ofstream(file.string(), std::ios::binary) << join(sample_pages()) << std::string(32, '\0');  // a trailer
  const auto facts = backup::read_snapshot_facts(file);
  CHECK(facts.revision == 9);
  CHECK(facts.total_keys == 6);
  CHECK_THROWS_WITH(backup::read_snapshot_facts(dir.path() / "none.db"), Catch::Contains("none.db"));
}
