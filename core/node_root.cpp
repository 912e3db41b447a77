#include "core/node_root.hpp"

#include <vector>

#include "core/error.hpp"

namespace kdr::core {

std::string normalize_node_path(std::string_view node_path, std::string_view origin) {
  if (node_path.empty() || node_path.front() != '/')
    throw UsageError(fmt::format("{}: path '{}' is not absolute", origin, node_path));
  if (node_path.find('\0') != std::string_view::npos)
    throw UsageError(fmt::format("{}: path '{}' contains a NUL byte", origin, node_path.substr(0, node_path.find('\0'))));
  std::string out;
  std::size_t pos = 1;
  while (pos <= node_path.size()) {
    std::size_t next = node_path.find('/', pos);
    if (next == std::string_view::npos) next = node_path.size();
    std::string_view part = node_path.substr(pos, next - pos);
    if (part == "." || part == "..")
      throw UsageError(fmt::format("{}: path '{}' contains '{}'", origin, node_path, part));
    if (!part.empty()) {
      out += '/';
      out += part;
    } else if (next != node_path.size()) {
      throw UsageError(fmt::format("{}: path '{}' has an empty part", origin, node_path));
    }
    pos = next + 1;
  }
  return out.empty() ? "/" : out;
}

std::string lexically_normal_node_path(std::string_view absolute_path) {
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos <= absolute_path.size()) {
    std::size_t next = absolute_path.find('/', pos);
    if (next == std::string_view::npos) next = absolute_path.size();
    const auto part = absolute_path.substr(pos, next - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = next + 1;
  }
  std::string out;
  for (const auto part : parts) {
    out += '/';
    out += part;
  }
  return out.empty() ? "/" : out;
}

bool node_path_within(std::string_view inner, std::string_view outer) {
  while (outer.size() > 1 && outer.back() == '/') outer.remove_suffix(1);
  if (outer == "/") return true;
  return inner == outer ||
         (inner.size() > outer.size() && inner.substr(0, outer.size()) == outer && inner[outer.size()] == '/');
}

NodeRoot::NodeRoot(bfs::path root) : root_(root.empty() ? bfs::path("/") : std::move(root)) {}

bfs::path NodeRoot::host(std::string_view node_path) const {
  if (is_real_root()) return bfs::path(std::string(node_path));
  std::string_view rel = node_path;
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  return rel.empty() ? root_ : root_ / std::string(rel);
}

}  // namespace kdr::core
