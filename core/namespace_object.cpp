#include "core/namespace_object.hpp"

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/protobuf_wire.hpp"

namespace kdr::core {

namespace {

// The last length-delimited field `number` of a protobuf message; empty when absent or when
// the message does not parse.
std::optional<std::string_view> bytes_field(std::string_view m, std::uint64_t number) {
  std::optional<std::string_view> found;
  const bool parsed = for_each_bytes_field(m, [&](std::uint64_t field, std::string_view bytes) {
    if (field == number) found = bytes;
  });
  return parsed ? found : std::nullopt;
}

}  // namespace

ObjectState object_state(std::string_view value) {
  ObjectState s;
  constexpr std::string_view magic("k8s\0", 4);
  if (value.substr(0, magic.size()) == magic) {
    const auto raw = bytes_field(value.substr(magic.size()), 2);
    if (!raw) return s;
    s.readable = true;
    if (const auto meta = bytes_field(*raw, 1); meta && bytes_field(*meta, 9)) s.deleting = true;
    return s;
  }
  if (value.empty() || value.front() != '{') return s;
  const auto j = nlohmann::json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return s;
  s.readable = true;
  const auto meta = j.find("metadata");
  s.deleting = meta != j.end() && meta->is_object() && meta->contains("deletionTimestamp") &&
               !(*meta)["deletionTimestamp"].is_null();
  return s;
}

NamespaceState namespace_state(std::string_view value) {
  const auto o = object_state(value);
  NamespaceState s{o.readable, o.deleting};
  if (!o.readable || s.terminating) return s;
  constexpr std::string_view magic("k8s\0", 4);
  if (value.substr(0, magic.size()) == magic) {
    if (const auto raw = bytes_field(value.substr(magic.size()), 2))
      if (const auto status = bytes_field(*raw, 3))
        if (const auto phase = bytes_field(*status, 1); phase && *phase == "Terminating") s.terminating = true;
    return s;
  }
  const auto j = nlohmann::json::parse(value, nullptr, false);
  const auto status = j.find("status");
  if (status != j.end() && status->is_object() && status->value("phase", "") == "Terminating") s.terminating = true;
  return s;
}

}  // namespace kdr::core
