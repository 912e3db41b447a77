#include "core/namespace_object.hpp"

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

namespace kdr::core {

namespace {

// The last length-delimited field `number` of a protobuf message; empty when absent or when
// the message does not parse.
std::optional<std::string_view> bytes_field(std::string_view m, std::uint64_t number) {
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
  std::optional<std::string_view> found;
  while (pos < m.size()) {
    std::uint64_t tag = 0, v = 0;
    if (!varint(tag)) return std::nullopt;
    switch (tag & 7) {
      case 0:
        if (!varint(v)) return std::nullopt;
        break;
      case 1:
        if (m.size() - pos < 8) return std::nullopt;
        pos += 8;
        break;
      case 5:
        if (m.size() - pos < 4) return std::nullopt;
        pos += 4;
        break;
      case 2:
        if (!varint(v) || v > m.size() - pos) return std::nullopt;
        if ((tag >> 3) == number) found = m.substr(pos, static_cast<std::size_t>(v));
        pos += static_cast<std::size_t>(v);
        break;
      default: return std::nullopt;
    }
  }
  return found;
}

}  // namespace

NamespaceState namespace_state(std::string_view value) {
  NamespaceState s;
  constexpr std::string_view magic("k8s\0", 4);
  if (value.substr(0, magic.size()) == magic) {
    const auto raw = bytes_field(value.substr(magic.size()), 2);
    if (!raw) return s;
    s.readable = true;
    if (const auto meta = bytes_field(*raw, 1); meta && bytes_field(*meta, 9)) s.terminating = true;
    if (const auto status = bytes_field(*raw, 3))
      if (const auto phase = bytes_field(*status, 1); phase && *phase == "Terminating") s.terminating = true;
    return s;
  }
  if (value.empty() || value.front() != '{') return s;
  const auto j = nlohmann::json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return s;
  s.readable = true;
  const auto meta = j.find("metadata");
  if (meta != j.end() && meta->is_object() && meta->contains("deletionTimestamp") && !(*meta)["deletionTimestamp"].is_null())
    s.terminating = true;
  const auto status = j.find("status");
  if (status != j.end() && status->is_object() && status->value("phase", "") == "Terminating") s.terminating = true;
  return s;
}

}  // namespace kdr::core
