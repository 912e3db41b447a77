#include "journal/digest.hpp"

#include <openssl/evp.h>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::journal {

namespace {

std::uint64_t lane(const PairHash& h, std::size_t i) {
  std::uint64_t v = 0;
  for (std::size_t b = 0; b < 8; ++b) v |= static_cast<std::uint64_t>(h[i * 8 + b]) << (8 * b);
  return v;
}

}  // namespace

PairHash pair_hash(std::string_view key, std::string_view value) {
  const auto n = static_cast<std::uint32_t>(key.size());
  const unsigned char len[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                                static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  PairHash out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) throw core::Error("OpenSSL: cannot create a digest context");
  unsigned int size = 0;
  const bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 && EVP_DigestUpdate(ctx, len, sizeof len) == 1 &&
                  EVP_DigestUpdate(ctx, key.data(), key.size()) == 1 &&
                  EVP_DigestUpdate(ctx, value.data(), value.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, out.data(), &size) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw core::Error("OpenSSL: SHA-256 failed");
  return out;
}

void KeyspaceDigest::add(const PairHash& h) {
  for (std::size_t i = 0; i < 4; ++i) lanes[i] += lane(h, i);
  ++keys;
}

void KeyspaceDigest::remove(const PairHash& h) {
  for (std::size_t i = 0; i < 4; ++i) lanes[i] -= lane(h, i);
  --keys;
}

std::string KeyspaceDigest::hex() const {
  std::string out;
  out.reserve(64);
  for (const auto l : lanes)
    for (std::size_t b = 0; b < 8; ++b) out += fmt::format("{:02x}", static_cast<unsigned>((l >> (8 * b)) & 0xff));
  return out;
}

KeyspaceDigest KeyspaceDigest::from_hex(std::string_view hex, std::int64_t keys) {
  if (hex.size() != 64) throw core::Error(fmt::format("not a keyspace digest (64 hex digits): '{}'", hex));
  KeyspaceDigest d;
  d.keys = keys;
  for (std::size_t i = 0; i < 4; ++i) {
    std::uint64_t v = 0;
    for (std::size_t b = 0; b < 8; ++b) {
      const auto pair = hex.substr(i * 16 + b * 2, 2);
      unsigned byte = 0;
      for (const char c : pair) {
        byte <<= 4;
        if (c >= '0' && c <= '9') byte |= static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f') byte |= static_cast<unsigned>(c - 'a' + 10);
        else throw core::Error(fmt::format("not a keyspace digest (64 hex digits): '{}'", hex));
      }
      v |= static_cast<std::uint64_t>(byte) << (8 * b);
    }
    d.lanes[i] = v;
  }
  return d;
}

}  // namespace kdr::journal
