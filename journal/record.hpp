// The journal's records, as they are laid out in a segment file (docs/backup-format.md):
//
//   segment := magic "KDRJSEG2" record*        ("KDRJSEG1": written before segments were sealed)
//   record  := u32 length | u32 crc32(payload) | payload          (little-endian)
//   payload := u8 type | fields of that type
//
// A segment opens with a SegmentStart (the epoch, its first revision and the keyspace digest
// before it), holds one Event per key changed, and Checkpoints (every event up to a revision
// is in the journal, and the digest there). The checksum is zlib's CRC-32, so that a record
// can be checked with any tool. A Seal closes each group commit: the HMAC-SHA256, under the
// node's key (core/node_key.hpp), of every byte of the file before it; whoever can write the
// backup disk can recompute a CRC, not a seal (journal/segment.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "etcd/keyspace_digest.hpp"

namespace kdr::journal {

inline constexpr std::string_view segment_magic = "KDRJSEG2";
inline constexpr std::string_view segment_magic_unsealed = "KDRJSEG1";
inline constexpr std::size_t record_header_size = 8;
inline constexpr std::uint32_t max_payload = 256u << 20;

enum class RecordType : std::uint8_t { segment_start = 1, event = 2, checkpoint = 3, seal = 4 };

struct SegmentStart {
  std::uint32_t epoch = 0;
  std::int64_t first_revision = 0;
  std::int64_t time_ms = 0;
  std::string cluster_id;  // hex
  etcd::KeyspaceDigest before;   // the keyspace at first_revision - 1
};

enum class EventKind : std::uint8_t { put, del };

struct Event {
  std::int64_t revision = 0;
  std::int64_t time_ms = 0;  // when the journal received it
  EventKind kind = EventKind::put;
  bool last_in_revision = false;  // the revision's events end here
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
  std::string key;
  std::string value;                 // empty for a delete
  std::optional<etcd::PairHash> previous;  // the pair this event replaced or deleted

  bool operator==(const Event&) const = default;
};

struct Checkpoint {
  std::int64_t revision = 0;  // every event up to here is in the journal
  std::int64_t time_ms = 0;
  etcd::KeyspaceDigest digest;
};

// The HMAC of the file's bytes before this record, and the key that made it (its id).
struct Seal {
  std::string key_id;  // 16 hex digits
  std::array<unsigned char, 32> mac{};
};

using Record = std::variant<SegmentStart, Event, Checkpoint, Seal>;

// The record framed for the file: header and payload.
std::string encode(const Record& record);
// Appends the framed record to `out`.
void encode_into(const Record& record, std::string& out);

enum class DecodeStatus {
  ok,
  truncated,     // the buffer ends inside the record (a torn write, or more to read)
  bad_checksum,  // the payload does not match its CRC
  bad_payload    // the checksum matches but the fields do not parse
};

struct Decoded {
  DecodeStatus status = DecodeStatus::ok;
  Record record;
  std::size_t size = 0;  // bytes the record takes, header included (ok only)
  std::string problem;
};

// The record at the start of `buffer`.
Decoded decode(std::string_view buffer);

// Updates `digest` with the event; false when it cannot (a change to an existing key
// without its previous value).
bool apply_to_digest(const Event& event, etcd::KeyspaceDigest& digest);

}  // namespace kdr::journal
