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
// The same over a bbolt file's bytes (tests), its key table held to `table_bytes`
// (newest_entries.hpp).
KeyspaceDigest digest_of_snapshot_bytes(const std::string& bytes, const std::string& name,
                                        std::size_t table_bytes = default_key_table_bytes);

}  // namespace kdr::etcd
