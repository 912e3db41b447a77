// The rule every fuzz target enforces, on top of the sanitizers: a parser given any bytes
// either accepts them or throws kdr's own Error whose message starts with the input's name
// (file, and line where it has lines), so the operator learns what is wrong and where.
// Any other exception escaping is a bug: abort() makes libFuzzer (or the replay driver)
// report it with the input.
#pragma once

#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "core/error.hpp"

namespace kdr::fuzz {

inline constexpr const char* origin = "fuzz-input.txt";

template <typename Parse>
void expect_clear_rejection(const std::uint8_t* data, std::size_t size, Parse parse) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    parse(text);
  } catch (const core::Error& e) {
    const std::string message = e.what();
    if (message.rfind(origin, 0) != 0) {
      std::fprintf(stderr, "rejection does not name the input: %s\n", message.c_str());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "escaped as %s, not kdr's Error: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

}  // namespace kdr::fuzz
