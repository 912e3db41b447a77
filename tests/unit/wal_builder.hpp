// etcd's WAL as its encoder writes it (server/storage/wal/encoder.go): each walpb.Record
// {type, crc, data} in a little-endian 8-byte length frame padded to 8 bytes, its crc the
// running CRC-32C of the data before it; for tests of what kdr reads of a member's WAL
// (etcd/member_data.hpp), what it appends to one (etcd/wal_append.hpp), and the fake etcdutl's
// restores, which leave a WAL as `etcdutl snapshot restore` does (restored_wal).
#pragma once

#include <cstdint>
#include <string>

#include "bolt_builder.hpp"
#include "etcd/crc32c.hpp"

namespace kdr::test {

inline std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
inline std::string field_varint(int field, std::uint64_t v) {
  return varint(static_cast<std::uint64_t>(field) << 3) + varint(v);
}
inline std::string field_bytes(int field, const std::string& b) {
  return varint((static_cast<std::uint64_t>(field) << 3) | 2) + varint(b.size()) + b;
}

// etcd's WAL encoder: a walpb.Record {type, crc, data} in a frame padded to 8 bytes.
class WalWriter {
 public:
  explicit WalWriter(std::uint32_t prev_crc = 0) : crc_(prev_crc) { record(4, "", prev_crc); }
  void record(std::int64_t type, const std::string& data) {
    crc_ = etcd::crc32c(crc_, data);
    record(type, data, crc_);
  }
  std::uint32_t crc() const { return crc_; }
  std::string bytes(std::size_t preallocated = 0) const {
    auto out = out_;
    if (out.size() < preallocated) out.append(preallocated - out.size(), '\0');
    return out;
  }
  void tear(std::size_t n) { out_.resize(out_.size() - n); }

 private:
  void record(std::int64_t type, const std::string& data, std::uint32_t crc) {
    std::string rec = field_varint(1, static_cast<std::uint64_t>(type)) + field_varint(2, crc);
    if (!data.empty()) rec += field_bytes(3, data);
    const std::size_t pad = (8 - rec.size() % 8) % 8;
    std::uint64_t len = rec.size();
    if (pad != 0) len |= static_cast<std::uint64_t>(0x80 | pad) << 56;
    std::string frame(8, '\0');
    bolt::put_le(frame, 0, len, 8);
    out_ += frame + rec + std::string(pad, '\0');
  }
  std::uint32_t crc_;
  std::string out_;
};

inline std::string metadata(std::uint64_t node, std::uint64_t cluster) {
  return field_varint(1, node) + field_varint(2, cluster);
}
inline std::string hard_state(std::uint64_t term, std::uint64_t vote, std::uint64_t commit) {
  return field_varint(1, term) + field_varint(2, vote) + field_varint(3, commit);
}
inline std::string entry(std::uint64_t term, std::uint64_t index, const std::string& data = "put") {
  return field_varint(1, 0) + field_varint(2, term) + field_varint(3, index) + field_bytes(4, data);
}

// What `etcdutl snapshot restore` leaves for a cluster of `members` members (its
// saveWALAndSnap): the metadata, an empty snapshot record, one membership entry a member at
// indexes 1..n in term 1, the hard state committing them, and a snapshot record at n; then
// `preallocated` zero bytes in all (a file etcd preallocates).
inline std::string restored_wal(std::uint64_t members = 1, std::size_t preallocated = 16384) {
  constexpr std::uint64_t node = 0x8e9e05c52164694d;
  WalWriter w;
  w.record(1, metadata(node, 0xcdf818194e3a8c32));
  w.record(5, "");
  for (std::uint64_t i = 1; i <= members; ++i)
    w.record(2, field_varint(1, 1) + field_varint(2, 1) + field_varint(3, i) + field_bytes(4, "a membership change"));
  w.record(3, hard_state(1, node, members));
  w.record(5, field_varint(1, members) + field_varint(2, 1));
  return w.bytes(preallocated);
}

}  // namespace kdr::test
