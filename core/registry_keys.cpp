#include "core/registry_keys.hpp"

#include <fmt/format.h>

namespace kdr::core {

std::vector<std::string_view> registry_segments(std::string_view key) {
  std::vector<std::string_view> out;
  if (key.substr(0, registry_prefix.size()) != registry_prefix) return out;
  key.remove_prefix(registry_prefix.size());
  while (!key.empty()) {
    const auto slash = key.find('/');
    out.push_back(key.substr(0, slash));
    if (slash == std::string_view::npos) break;
    key.remove_prefix(slash + 1);
  }
  return out;
}

bool is_group_segment(std::string_view s) { return s.find('.') != std::string_view::npos; }

std::size_t resource_segments(const std::vector<std::string_view>& s) {
  if (s.empty()) return 0;
  if (is_group_segment(s[0])) return 2;                                          // <group>/<resource>
  if (s.size() >= 2 && s[0] == "services" && (s[1] == "specs" || s[1] == "endpoints")) return 2;
  return 1;
}

std::optional<std::string> namespace_of(std::string_view key) {
  const auto s = registry_segments(key);
  if (s.size() == 2 && s[0] == "namespaces") return std::string(s[1]);
  const auto r = resource_segments(s);
  if (s.size() >= r + 2) return std::string(s[r]);  // <resource...>/<ns>/<name>
  return std::nullopt;
}

std::string resource_of(std::string_view key) {
  const auto s = registry_segments(key);
  if (s.empty()) {
    auto k = key;
    if (!k.empty() && k.front() == '/') k.remove_prefix(1);
    return std::string(k.substr(0, k.find('/')));
  }
  if (s.size() >= 3 && resource_segments(s) == 2) return fmt::format("{}/{}", s[0], s[1]);
  return std::string(s[0]);
}

std::string namespace_key(std::string_view name) { return fmt::format("{}namespaces/{}", registry_prefix, name); }

}  // namespace kdr::core
