#include "etcd/keyspace_digest.hpp"

#include <openssl/evp.h>

#include <functional>
#include <unordered_map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/protobuf_wire.hpp"
#include "etcd/bbolt.hpp"

namespace kdr::etcd {

namespace {

std::uint64_t lane(const PairHash& h, std::size_t i) {
  std::uint64_t v = 0;
  for (std::size_t b = 0; b < 8; ++b) v |= static_cast<std::uint64_t>(h[i * 8 + b]) << (8 * b);
  return v;
}

// The key and value fields (1 and 5) of an mvccpb.KeyValue; false when it does not parse.
bool parse_key_value(std::string_view m, std::string_view& key, std::string_view& value) {
  bool have_key = false;
  value = {};
  const bool parsed = core::for_each_bytes_field(m, [&](std::uint64_t field, std::string_view bytes) {
    if (field == 1) {
      key = bytes;
      have_key = true;
    } else if (field == 5) {
      value = bytes;
    }
  });
  return parsed && have_key;
}

using ReadBucket = std::function<void(const BoltVisitor&)>;

// What `keep` makes of each live key's newest value, off the key bucket read in revision order:
// a put replaces what the key held, a deletion removes it.
template <class T, class Keep>
std::unordered_map<std::string, T> live_keys(const std::string& name, const ReadBucket& read_bucket, Keep keep) {
  std::unordered_map<std::string, T> live;
  std::uint64_t entries = 0;
  read_bucket([&](std::string_view revision, std::string_view kv) {
    ++entries;
    if (kv.empty()) return;  // etcdutl's --bump-revision placeholder: an empty value at the bumped revision
    std::string_view key, value;
    if ((revision.size() != 17 && revision.size() != 18) || !parse_key_value(kv, key, value))
      throw core::Error(fmt::format("{}: entry {} of the key bucket is not an etcd revision and key-value", name, entries));
    if (revision.size() == 18) live.erase(std::string(key));  // a deletion
    else live[std::string(key)] = keep(key, value);
  });
  return live;
}

KeyspaceDigest digest_of_bucket(const std::string& name, const ReadBucket& read_bucket) {
  KeyspaceDigest d;
  for (const auto& [key, hash] : live_keys<PairHash>(name, read_bucket, pair_hash)) d.add(hash);
  return d;
}

// the encryption key a value names ("" none)
std::string encryption_key_name(std::string_view, std::string_view value) {
  return core::encryption_key_of(value).value_or("");
}

ReadBucket read_key_bucket(const std::string& file) {
  return [file](const BoltVisitor& v) { read_bolt_bucket(file, "key", v); };
}

}  // namespace

core::EncryptionKeyUse encryption_keys_of_snapshot(const std::string& file) {
  core::EncryptionKeyUse use;
  for (const auto& [key, enc] : live_keys<std::string>(file, read_key_bucket(file), encryption_key_name))
    if (!enc.empty()) ++use[enc];
  return use;
}

SnapshotKeyspace keyspace_of_snapshot(const std::string& file) {
  using Facts = std::pair<PairHash, std::string>;
  SnapshotKeyspace k;
  const auto live = live_keys<Facts>(file, read_key_bucket(file), [](std::string_view key, std::string_view value) {
    return Facts{pair_hash(key, value), encryption_key_name(key, value)};
  });
  for (const auto& [key, facts] : live) {
    k.digest.add(facts.first);
    if (!facts.second.empty()) ++k.encryption[facts.second];
  }
  return k;
}

KeyspaceDigest digest_of_snapshot(const std::string& file) { return digest_of_bucket(file, read_key_bucket(file)); }

KeyspaceDigest digest_of_snapshot_bytes(const std::string& bytes, const std::string& name) {
  return digest_of_bucket(name, [&](const BoltVisitor& v) { read_bolt_bucket_bytes(bytes, name, "key", v); });
}

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

}  // namespace kdr::etcd
