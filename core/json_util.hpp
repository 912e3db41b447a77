// Whole numbers read from JSON that kdr did not necessarily write (a generation's manifest
// and meta.json, a restore journal): nlohmann's get<int64_t>() on a float is a plain cast,
// undefined when the value is out of range. These accept only an integer in range.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace kdr::core {

template <typename T>
T json_whole(const nlohmann::json& v, std::string_view what) {
  static_assert(std::is_integral_v<T>);
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if constexpr (std::is_signed_v<T>) {
      if (i >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
          i <= static_cast<std::int64_t>(std::numeric_limits<T>::max()))
        return static_cast<T>(i);
    } else if (i >= 0 && static_cast<std::uint64_t>(i) <= std::numeric_limits<T>::max()) {
      return static_cast<T>(i);
    }
  }
  throw Error(fmt::format("{} is not a whole number in range", what));
}

// obj[key] as json_whole, or `fallback` when obj has no such key
template <typename T>
T json_whole_or(const nlohmann::json& obj, const char* key, T fallback) {
  if (!obj.is_object()) return fallback;
  const auto it = obj.find(key);
  return it == obj.end() ? fallback : json_whole<T>(*it, fmt::format("'{}'", key));
}

// obj[key] when it is a string, else `fallback` (also when obj is not an object). Unlike
// json::value(key, ""), it compiles clean under g++ 12's -Wnull-dereference in Release.
inline std::string json_text_or(const nlohmann::json& obj, const char* key, const std::string& fallback = "") {
  if (!obj.is_object()) return fallback;
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace kdr::core
