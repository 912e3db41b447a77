// The protobuf wire format, read field by field without a schema: for the few fields kdr
// reads from etcd's mvccpb.KeyValue (etcd/keyspace_digest) and a stored Kubernetes object's
// envelope (core/namespace_object); and written field by field, for the few messages kdr
// writes (a Kubernetes envelope, etcd's RangeRequest). Header-only: the digest calls it once
// per key revision.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kdr::core {

// Calls visit(field number, wire type, number, bytes) for every varint field (wire type 0:
// `number` holds it) and length-delimited field (wire type 2: `bytes`), and skips fixed-size
// ones; visit returns false to stop early. False when `m` does not parse (a truncated field, a
// group).
template <typename Visit>
bool for_each_field(std::string_view m, Visit&& visit) {
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
        if (!visit(tag >> 3, 0u, v, std::string_view())) return true;
        break;
      case 1:
        if (m.size() - pos < 8) return false;
        pos += 8;
        break;
      case 5:
        if (m.size() - pos < 4) return false;
        pos += 4;
        break;
      case 2: {
        if (!varint(v) || v > m.size() - pos) return false;
        const auto bytes = m.substr(pos, static_cast<std::size_t>(v));
        pos += static_cast<std::size_t>(v);
        if (!visit(tag >> 3, 2u, v, bytes)) return true;
        break;
      }
      default: return false;
    }
  }
  return true;
}

// Calls visit(field number, bytes) for every length-delimited field of `m`; false when `m`
// does not parse.
template <typename Visit>
bool for_each_bytes_field(std::string_view m, Visit&& visit) {
  return for_each_field(m, [&](std::uint64_t field, unsigned wire, std::uint64_t, std::string_view bytes) {
    if (wire == 2) visit(field, bytes);
    return true;
  });
}

// Appends `v` as a varint.
inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Appends a length-delimited field (wire type 2).
inline void put_bytes(std::string& out, std::uint64_t field, std::string_view bytes) {
  put_varint(out, field << 3 | 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// Appends a varint field (wire type 0), even a zero (proto3 writers leave zeros out: the
// caller decides).
inline void put_number(std::string& out, std::uint64_t field, std::uint64_t v) {
  put_varint(out, field << 3);
  put_varint(out, v);
}

}  // namespace kdr::core
