// The protobuf wire format, read field by field without a schema: for the few fields kdr
// reads from etcd's mvccpb.KeyValue (etcd/keyspace_digest) and a stored Kubernetes object's
// envelope (core/namespace_object). Header-only: the digest calls it once per key revision.
#pragma once

#include <cstdint>
#include <string_view>

namespace kdr::core {

// Calls visit(field number, bytes) for every length-delimited field of `m` and skips
// varint and fixed-size ones; false when `m` does not parse (a truncated field, a group).
template <typename Visit>
bool for_each_bytes_field(std::string_view m, Visit&& visit) {
  std::size_t pos = 0;
  auto varint = [&](std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= m.size()) return false;
      const auto b = static_cast<unsigned char>(m[pos++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  while (pos < m.size()) {
    std::uint64_t tag = 0, v = 0;
    if (!varint(tag)) return false;
    switch (tag & 7) {
      case 0:
        if (!varint(v)) return false;
        break;
      case 1:
        if (m.size() - pos < 8) return false;
        pos += 8;
        break;
      case 5:
        if (m.size() - pos < 4) return false;
        pos += 4;
        break;
      case 2:
        if (!varint(v) || v > m.size() - pos) return false;
        visit(tag >> 3, m.substr(pos, static_cast<std::size_t>(v)));
        pos += static_cast<std::size_t>(v);
        break;
      default: return false;
    }
  }
  return true;
}

}  // namespace kdr::core
