// SHA-256 through OpenSSL (SHA-NI where the CPU has it).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace kdr::core {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  // Lower-case hex digest; the hasher is reset for reuse.
  std::string hex_digest();
  // The digest of what was hashed so far followed by `tail`, this hasher left as it is (a file's
  // digest and its body's from one pass, when the tail is a trailer).
  std::string hex_digest_with(std::string_view tail) const;
  void reset();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string sha256_hex(std::string_view data);

// The 32 bytes themselves (kept by the thousand, where 64 hex digits would weigh three times
// as much), and their hex.
using Sha256Bytes = std::array<unsigned char, 32>;
Sha256Bytes sha256_bytes(std::string_view data);
std::string hex_of(const Sha256Bytes& digest);

// SHA-256 of a file's content, read in 1 MiB blocks.
std::string sha256_file(const std::string& path);

bool is_sha256_hex(std::string_view text);

}  // namespace kdr::core
