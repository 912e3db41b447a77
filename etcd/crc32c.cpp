#include "etcd/crc32c.hpp"

#include <array>
#include <cstring>

namespace kdr::etcd {

namespace {

const std::array<std::uint32_t, 256>& castagnoli() {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t crc, std::string_view data) {
  std::uint64_t c = ~crc;
  const char* p = data.data();
  std::size_t n = data.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(*p));
  return ~c32;
}

bool has_sse42() {
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
}
#endif

}  // namespace

std::uint32_t crc32c_table(std::uint32_t crc, std::string_view data) {
  const auto& t = castagnoli();
  crc = ~crc;
  for (const char ch : data) crc = t[(crc ^ static_cast<unsigned char>(ch)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::uint32_t crc32c(std::uint32_t crc, std::string_view data) {
#if defined(__x86_64__)
  if (has_sse42()) return crc32c_sse42(crc, data);
#endif
  return crc32c_table(crc, data);
}

}  // namespace kdr::etcd
