// Segment files: a run of journal records between two revisions of one epoch.
//   <first>-open.seg     the segment being written (at most one per journal)
//   <first>-<last>.seg   a closed segment, named by its first and last revision
// Revisions are written with 20 digits, so that names sort in revision order.
//
// Each group commit ends with a Seal (journal/record.hpp): the HMAC, under the node's key, of
// every byte of the file before it. A reader with that key returns only records a seal covers
// and refuses a segment whose seal does not match; records after the last seal are a torn end.
// Without the key (a replacement machine), or for a segment from before seals ("KDRJSEG1"),
// the records are read as they are and auth() says they are not known to be the node's.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "core/fs.hpp"
#include "core/generation_auth.hpp"
#include "core/node_key.hpp"
#include "journal/record.hpp"

namespace kdr::journal {

namespace bfs = core::bfs;

struct SegmentName {
  std::int64_t first = 0;
  std::optional<std::int64_t> last;  // empty: open
  bool open() const { return !last.has_value(); }
};

std::string segment_file_name(std::int64_t first, std::optional<std::int64_t> last);
// Empty when `name` is not a segment's name.
std::optional<SegmentName> parse_segment_name(const std::string& name);

// Reads a segment's records in order, a buffer at a time.
class SegmentReader {
 public:
  // Throws Error when the file cannot be opened or does not start with a segment magic.
  // `key`: the node's key, which checks the seals; null: none here.
  explicit SegmentReader(const bfs::path& file, const core::NodeKey* key = nullptr);
  // The next record (never a Seal); empty at the end of what can be read: the end of the file,
  // the first record that does not decode, or a seal that does not match (failure() says why).
  std::optional<Record> next();
  // Where the record last returned ends, with the seals that follow it.
  std::uint64_t offset() const { return returned_end_; }
  const std::optional<Decoded>& failure() const { return failure_; }
  // After a failure: true when nothing but zeros follows the failed record's start, or the
  // record runs past the end of the file (a torn write, not damage in the middle).
  bool failure_is_tail() const;
  // What vouches for the records returned: authentic (this key's seals), forged (a seal that
  // does not match), other_key, no_key, or unsigned_ (a segment from before seals).
  core::AuthStatus auth() const;
  std::string auth_text() const;
  // Whole records at the end that no seal covers; with the key they are not returned.
  std::uint64_t unsealed_records() const { return unsealed_records_; }

 private:
  struct Pending {
    Record record;
    std::uint64_t end = 0;
  };
  bool fill();
  void read_one();
  void take_seal(const Seal& seal, std::string_view raw);
  void release();
  bfs::path file_;
  core::Fd fd_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::uint64_t consumed_ = 0;
  bool eof_ = false;
  bool done_ = false;
  std::optional<Decoded> failure_;
  const core::NodeKey* key_ = nullptr;
  bool sealed_format_ = false;
  bool verifying_ = false;  // with the key: records wait in pending_ for their seal
  bool forged_ = false;
  std::string other_key_id_;
  std::optional<core::RunningMac> mac_;
  std::deque<Pending> pending_;  // read, not yet returnable
  std::size_t sealed_count_ = 0;  // of pending_, the first ones a seal covers
  std::deque<Pending> ready_;
  std::uint64_t returned_end_ = 0;
  std::uint64_t seals_ = 0, unsealed_records_ = 0;
};

enum class TailState {
  clean,    // every byte is a whole record of a whole revision
  torn,     // a record or revision cut short at the end (a crash while writing): dropped on recovery
  damaged   // a record that does not decode, with more data after it
};

// What a segment holds, read through once.
struct SegmentScan {
  bfs::path file;
  SegmentName name;
  std::optional<SegmentStart> start;
  std::uint64_t events = 0;
  std::int64_t first_revision = 0;  // of its first whole revision; 0: none
  std::int64_t last_revision = 0;   // of its last whole revision; 0: none
  std::int64_t first_time_ms = 0, last_time_ms = 0;
  std::uint64_t good_end = 0;       // bytes up to the end of the last whole revision
  std::uint64_t file_size = 0;
  std::optional<etcd::KeyspaceDigest> digest;  // after last_revision; empty when it could not be followed
  std::optional<Checkpoint> last_checkpoint;
  TailState tail = TailState::clean;
  std::string tail_problem;
  std::vector<std::string> problems;  // order, continuity and digest mismatches inside the segment
  core::AuthStatus auth = core::AuthStatus::unsigned_;
  std::string auth_text;
};

// Reads the whole segment: checks its seals with `key` (when given), record order, revision
// continuity and every checkpoint's digest. Throws Error only when the file cannot be read.
SegmentScan scan_segment(const bfs::path& file, const core::NodeKey* key = nullptr);

// An open segment this node cannot go on sealing (from before seals, or another key's): cut
// back to its good end and renamed as closed, as it is. The new path.
bfs::path close_as_is(const SegmentScan& scan);

// Appends records to an open segment; seals and fdatasyncs on request (group commit).
class SegmentWriter {
 public:
  // A new open segment in `dir`: the magic, `start` and a seal, written and synced, the folder
  // synced.
  static SegmentWriter create(const bfs::path& dir, const SegmentStart& start, const core::NodeKey& key);
  // An open segment that `scan` read and `key` authenticated: cut back to its good end, synced,
  // appended to. Throws Error for one that `key` did not authenticate.
  static SegmentWriter reopen(const SegmentScan& scan, const core::NodeKey& key);

  SegmentWriter(SegmentWriter&&) = default;
  SegmentWriter& operator=(SegmentWriter&&) = default;

  // Writes every byte or none: on a failure (ENOSPC...) the file is cut back and the
  // SystemError thrown. KDR_FAILPOINT=journal-append-torn:N: the Nth append of this process
  // writes half its bytes, then kdr dies (a crash in the middle of a write).
  void append(std::string_view records);
  // Seals what was appended since the last seal, then fdatasync.
  void sync();
  bool dirty() const { return dirty_; }
  std::uint64_t size() const { return size_; }
  std::int64_t first_revision() const { return first_; }
  std::chrono::steady_clock::time_point opened() const { return opened_; }
  const bfs::path& file() const { return file_; }
  // Appends `last`, syncs, renames the file to <first>-<last.revision>.seg and syncs the
  // folder. The new path.
  bfs::path close(const Checkpoint& last);

 private:
  SegmentWriter(bfs::path file, core::Fd fd, std::uint64_t size, std::int64_t first, core::RunningMac mac,
                std::string key_id);
  void write(std::string_view bytes);
  bfs::path file_;
  core::Fd fd_;
  std::uint64_t size_ = 0;
  std::int64_t first_ = 0;
  bool dirty_ = false;     // written, not yet synced
  bool unsealed_ = false;  // written, not yet sealed
  core::RunningMac mac_;   // of every byte written so far
  std::string key_id_;
  std::chrono::steady_clock::time_point opened_;
};

}  // namespace kdr::journal
