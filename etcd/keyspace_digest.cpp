#include "etcd/keyspace_digest.hpp"

#include <openssl/evp.h>

#include <functional>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/protobuf_wire.hpp"
#include "etcd/bbolt.hpp"
#include "etcd/key_table.hpp"

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
KeyTable<T> live_keys(const std::string& name, const ReadBucket& read_bucket, Keep keep) {
  KeyTable<T> live;
  std::uint64_t entries = 0;
  read_bucket([&](std::string_view revision, std::string_view kv) {
    ++entries;
    if (kv.empty()) return;  // etcdutl's --bump-revision placeholder: an empty value at the bumped revision
    std::string_view key, value;
    if ((revision.size() != 17 && revision.size() != 18) || !parse_key_value(kv, key, value))
      throw core::Error(fmt::format("{}: entry {} of the key bucket is not an etcd revision and key-value", name, entries));
    if (revision.size() == 18) live.erase(key);  // a deletion
    else live[key] = keep(key, value);
  });
  return live;
}

KeyspaceDigest digest_of_bucket(const std::string& name, const ReadBucket& read_bucket) {
  KeyspaceDigest d;
  live_keys<PairHash>(name, read_bucket, pair_hash).for_each([&d](const PairHash& hash) { d.add(hash); });
  return d;
}

// The encryption keys values name, each given a number (0: none) so that a key's entry holds
// a number and not the name.
class EncryptionKeyNames {
 public:
  std::uint32_t number(std::string_view value) {
    const auto name = core::encryption_key_of(value);
    if (!name) return 0;
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == *name) return static_cast<std::uint32_t>(i + 1);
    names_.push_back(*name);
    return static_cast<std::uint32_t>(names_.size());
  }
  const std::string& name(std::uint32_t number) const { return names_.at(number - 1); }

 private:
  std::vector<std::string> names_;
};

ReadBucket read_key_bucket(const std::string& file) {
  return [file](const BoltVisitor& v) { read_bolt_bucket(file, "key", v); };
}

}  // namespace

core::EncryptionKeyUse encryption_keys_of_snapshot(const std::string& file) {
  EncryptionKeyNames names;
  core::EncryptionKeyUse use;
  live_keys<std::uint32_t>(file, read_key_bucket(file), [&names](std::string_view, std::string_view value) {
    return names.number(value);
  }).for_each([&](std::uint32_t number) {
    if (number != 0) ++use[names.name(number)];
  });
  return use;
}

SnapshotKeyspace keyspace_of_snapshot(const std::string& file) {
  struct Facts {
    PairHash hash;
    std::uint32_t encryption_key;
  };
  EncryptionKeyNames names;
  SnapshotKeyspace k;
  live_keys<Facts>(file, read_key_bucket(file), [&names](std::string_view key, std::string_view value) {
    return Facts{pair_hash(key, value), names.number(value)};
  }).for_each([&](const Facts& facts) {
    k.digest.add(facts.hash);
    if (facts.encryption_key != 0) ++k.encryption[names.name(facts.encryption_key)];
  });
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
