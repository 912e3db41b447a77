#pragma once
// Lists of names as messages and plans show them.

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace kdr::core {

// "a, b, c"; "none" when there is nothing; past `max` items, the count of all ("a, b, ... (40 in all)").
inline std::string list_text(const std::vector<std::string>& items,
                             std::size_t max = std::numeric_limits<std::size_t>::max()) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < max; ++i) out += (out.empty() ? "" : ", ") + items[i];
  if (items.size() > max) out += fmt::format(", ... ({} in all)", items.size());
  return out.empty() ? "none" : out;
}

}  // namespace kdr::core
