#pragma once
// Small checks the unit tests share.

#include <algorithm>
#include <string>
#include <vector>

// Whether `part` occurs in `text`.
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Whether any of `lines` holds `part`.
inline bool any_contains(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return contains(l, part); });
}
