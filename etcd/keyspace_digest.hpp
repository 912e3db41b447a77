// The keyspace digest: an order-independent hash of every (key, value) pair etcd holds at a
// revision. Each pair hashes to 32 bytes (SHA-256 of its length-prefixed key and value); the
// digest is the sum of those hashes as four 64-bit lanes, modulo 2^64 each, with the number
// of pairs beside it. A put adds its pair and takes away the one it replaced, a delete takes
// its pair away, so the journal keeps the digest current from each event and its previous
// value alone, and a replay must arrive at the same digest (docs/architecture.md).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/encryption.hpp"
#include "core/fs.hpp"
#include "etcd/newest_entries.hpp"

namespace kdr::etcd {

using PairHash = std::array<unsigned char, 32>;

// SHA-256 of be32(len(key)) || key || value.
PairHash pair_hash(std::string_view key, std::string_view value);

struct KeyspaceDigest {
  std::array<std::uint64_t, 4> lanes{};
  std::int64_t keys = 0;

  void add(const PairHash& h);
  void remove(const PairHash& h);
  // 64 hex digits (the four lanes, little-endian bytes, in order).
  std::string hex() const;
  // Throws Error on text that is not 64 hex digits.
  static KeyspaceDigest from_hex(std::string_view hex, std::int64_t keys);
  bool operator==(const KeyspaceDigest&) const = default;
};

// The digest of the keyspace an etcd snapshot (or member/snap/db) holds at its newest
// revision, read off the file itself: bbolt's "key" bucket, whose keys are revisions
// (8 bytes big-endian, '_', 8 bytes of sub-revision, 't' for a deletion) and whose values are
// mvccpb.KeyValue messages; each key's newest entry counts, a deletion removes it. Throws
// Error naming the file when it is not one.
KeyspaceDigest digest_of_snapshot(const std::string& file);
// The encryption keys the newest values of its live keys name, counted (core/encryption.hpp).
core::EncryptionKeyUse encryption_keys_of_snapshot(const std::string& file);
// Both from one read of the file (what a backup records of the snapshot it saved).
struct SnapshotKeyspace {
  KeyspaceDigest digest;
  core::EncryptionKeyUse encryption;
};
SnapshotKeyspace keyspace_of_snapshot(const std::string& file);
// The same of the file open at `fd` (named `file`), whatever is renamed meanwhile.
SnapshotKeyspace keyspace_of_snapshot(const core::Fd& fd, const std::string& file);
// Keys looked up while a snapshot is read: each key's index in a table of what was found.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using WatchedKeys = std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>>;
// What a snapshot holds of a watched key: its pair's hash and the encryption key its value names.
struct WatchedPair {
  bool present = false;
  PairHash hash{};
  std::string encryption_key;  // empty: none
};
// keyspace_of_snapshot of `file`, and in `found` (sized to `watched`) what it holds of each key
// of `watched`, from the same read.
SnapshotKeyspace keyspace_of_snapshot(const std::string& file, const WatchedKeys& watched,
                                      std::vector<WatchedPair>& found);
// The same over a bbolt file's bytes (tests), its key table held to `table_bytes`
// (newest_entries.hpp).
KeyspaceDigest digest_of_snapshot_bytes(const std::string& bytes, const std::string& name,
                                        std::size_t table_bytes = default_key_table_bytes);

}  // namespace kdr::etcd
