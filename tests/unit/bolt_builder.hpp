// bbolt databases laid out byte by byte as bbolt writes them, for the unit tests: two meta
// pages, a root leaf naming the buckets, a "key" bucket with a branch over two leaves (an
// overflow page on one), and an inline "meta" bucket; and an etcd snapshot made of one (the
// database, then its SHA-256, as `etcdctl snapshot save` writes it).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/sha256.hpp"

namespace kdr::test::bolt {

constexpr std::uint32_t page_size = 4096;

inline void put_le(std::string& s, std::size_t at, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

inline std::uint64_t fnv64a(const char* p, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ULL;
  return h;
}

// etcd's key bucket keys: main revision and sub revision, big-endian, with '_' between.
inline std::string rev_key(std::uint64_t main, std::uint64_t sub = 0) {
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
inline std::string leaf_page(std::uint64_t id, const std::vector<Leaf>& elements, std::size_t size = page_size,
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

inline std::string branch_page(std::uint64_t id, const std::vector<std::pair<std::string, std::uint64_t>>& children) {
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

inline std::string meta_page(std::uint64_t id, std::uint64_t txid, std::uint64_t root, std::uint64_t high_water) {
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

inline std::string bucket_value(std::uint64_t root, const std::string& inline_page = "") {
  std::string v(16, '\0');
  put_le(v, 0, root, 8);
  return v + inline_page;
}

// pages: 0,1 meta; 2 freelist; 3 root leaf; 4 branch; 5 leaf; 6-7 leaf with one overflow page.
// `consistent_index` (etcd's meta bucket) makes databases that differ only there.
inline std::map<std::uint64_t, std::string> sample_pages(std::uint64_t consistent_index = 0x0101010101010101) {
  std::map<std::uint64_t, std::string> pages;
  pages[0] = meta_page(0, 6, 3, 8);
  pages[1] = meta_page(1, 7, 3, 8);
  pages[2] = std::string(page_size, '\0');
  put_le(pages[2], 0, 2, 8);
  put_le(pages[2], 8, 0x10, 2);
  std::string index(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) index[i] = static_cast<char>(consistent_index >> (56 - 8 * i));
  const auto meta_inline = leaf_page(0, {{0, "consistent_index", index}}, 0);
  pages[3] = leaf_page(3, {{1, "key", bucket_value(4)}, {1, "meta", bucket_value(0, meta_inline)}});
  pages[4] = branch_page(4, {{rev_key(2), 5}, {rev_key(5), 6}});
  pages[5] = leaf_page(5, {{0, rev_key(2), "a"}, {0, rev_key(3), "b"}, {0, rev_key(4), "c"}});
  pages[6] = leaf_page(6, {{0, rev_key(5), std::string(5000, 'x')}, {0, rev_key(9, 1), "e"}}, 2 * page_size, 1);
  return pages;
}

inline std::string join(const std::map<std::uint64_t, std::string>& pages) {
  std::string out;
  for (const auto& [id, p] : pages) out += p;
  return out;
}

// An etcd snapshot of the sample database: revision 9, six pairs in all.
inline std::string etcd_snapshot_bytes(std::uint64_t consistent_index = 0x0101010101010101) {
  const auto db = join(sample_pages(consistent_index));
  const auto hex = core::sha256_hex(db);
  std::string raw;
  for (std::size_t i = 0; i < hex.size(); i += 2) raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return db + raw;
}

// An mvccpb.KeyValue as etcd stores it in the key bucket: key (1), mod_revision (3), value (5).
inline std::string key_value_message(const std::string& key, const std::string& value, std::uint64_t revision) {
  auto varint = [](std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  };
  std::string m;
  m.push_back(0x0a);
  varint(m, key.size());
  m += key;
  m.push_back(0x18);
  varint(m, revision);
  m.push_back(0x2a);
  varint(m, value.size());
  m += value;
  return m;
}

// One change in an etcd snapshot's key bucket: a put of `value`, or (deleted) a deletion, whose
// bucket key ends in 't' and whose message holds the key alone.
struct Change {
  std::uint64_t revision = 0;
  std::string key, value;
  bool deleted = false;
};

inline std::string history_snapshot_bytes(const std::vector<Change>& changes, std::uint64_t consistent_index,
                                          std::uint64_t finished_compact = 0, std::size_t per_leaf = 0);

// An etcd snapshot whose key bucket holds `kvs`, each at its own revision, the last at
// `revision`, in one leaf page (with overflow pages as it needs), and its SHA-256 trailer: what
// `etcdctl snapshot save` writes for that keyspace. `consistent_index` tells two saves of one
// keyspace apart.
inline std::string keyspace_snapshot_bytes(const std::map<std::string, std::string>& kvs, std::uint64_t last_revision,
                                           std::uint64_t consistent_index) {
  std::vector<Change> changes;
  std::uint64_t revision = last_revision > kvs.size() ? last_revision - kvs.size() : 0;
  for (const auto& [k, v] : kvs) changes.push_back({++revision, k, v, false});
  return history_snapshot_bytes(changes, consistent_index);
}

// The same for a history of changes, in revision order (a key put more than once, deleted);
// `finished_compact`: the revision of the compaction etcd last finished (meta bucket's
// finishedCompactRev), none when 0. `per_leaf` > 0: the key bucket is a branch page over
// leaves of that many changes each (as a bucket of more than a page is), else one leaf.
inline std::string history_snapshot_bytes(const std::vector<Change>& changes, std::uint64_t consistent_index,
                                          std::uint64_t finished_compact, std::size_t per_leaf) {
  std::vector<std::vector<Leaf>> leaves(1);
  for (const auto& c : changes) {
    if (per_leaf > 0 && leaves.back().size() == per_leaf) leaves.emplace_back();
    auto k = rev_key(c.revision);
    if (c.deleted) k += 't';
    leaves.back().push_back({0, k, key_value_message(c.key, c.deleted ? "" : c.value, c.revision)});
  }
  auto overflow_of = [](const std::vector<Leaf>& entries) {
    std::size_t bytes = 16;
    for (const auto& e : entries) bytes += 16 + e.key.size() + e.value.size();
    return static_cast<std::uint32_t>((bytes + page_size - 1) / page_size) - 1;
  };
  std::string index(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) index[i] = static_cast<char>(consistent_index >> (56 - 8 * i));
  std::vector<Leaf> meta{{0, "consistent_index", index}};
  if (finished_compact > 0) meta.push_back({0, "finishedCompactRev", rev_key(finished_compact)});
  const auto meta_inline = leaf_page(0, meta, 0);
  // pages: 0, 1 meta; 2 freelist; 3 root leaf; 4 the key bucket's root (its only leaf, or a
  // branch over the leaves that follow)
  std::string tree;
  std::uint64_t next = 4;
  if (per_leaf == 0) {
    const auto overflow = overflow_of(leaves.front());
    tree = leaf_page(next, leaves.front(), (overflow + 1) * page_size, overflow);
    next += overflow + 1;
  } else {
    std::vector<std::pair<std::string, std::uint64_t>> children;
    std::string pages;
    next = 5;
    for (const auto& entries : leaves) {
      const auto overflow = overflow_of(entries);
      children.emplace_back(entries.front().key, next);
      pages += leaf_page(next, entries, (overflow + 1) * page_size, overflow);
      next += overflow + 1;
    }
    tree = branch_page(4, children) + pages;
  }
  const std::uint64_t high_water = next;
  std::string db = meta_page(0, 6, 3, high_water) + meta_page(1, 7, 3, high_water);
  std::string freelist(page_size, '\0');
  put_le(freelist, 0, 2, 8);
  put_le(freelist, 8, 0x10, 2);
  db += freelist;
  db += leaf_page(3, {{1, "key", bucket_value(4)}, {1, "meta", bucket_value(0, meta_inline)}});
  db += tree;
  const auto hex = core::sha256_hex(db);
  for (std::size_t i = 0; i < hex.size(); i += 2) db.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return db;
}

}  // namespace kdr::test::bolt
