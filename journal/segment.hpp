// Segment files: a run of journal records between two revisions of one epoch.
//   <first>-open.seg     the segment being written (at most one per journal)
//   <first>-<last>.seg   a closed segment, named by its first and last revision
// Revisions are written with 20 digits, so that names sort in revision order.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/fs.hpp"
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
  // Throws Error when the file cannot be opened or does not start with the segment magic.
  explicit SegmentReader(const bfs::path& file);
  // The next record; empty at the end of the file, or at the first record that does not
  // decode (then failure() says why).
  std::optional<Record> next();
  // Where the record next() returns next starts (after the last record read).
  std::uint64_t offset() const { return consumed_; }
  const std::optional<Decoded>& failure() const { return failure_; }
  // After a failure: true when nothing but zeros follows the failed record's start, or the
  // record runs past the end of the file (a torn write, not damage in the middle).
  bool failure_is_tail() const;

 private:
  bool fill();
  bfs::path file_;
  core::Fd fd_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::uint64_t consumed_ = 0;
  bool eof_ = false;
  std::optional<Decoded> failure_;
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
  std::optional<KeyspaceDigest> digest;  // after last_revision; empty when it could not be followed
  std::optional<Checkpoint> last_checkpoint;
  TailState tail = TailState::clean;
  std::string tail_problem;
  std::vector<std::string> problems;  // order, continuity and digest mismatches inside the segment
};

// Reads the whole segment: checks record order, revision continuity and every checkpoint's
// digest. Throws Error only when the file cannot be read at all.
SegmentScan scan_segment(const bfs::path& file);

// Appends records to an open segment; fdatasync on request (group commit).
class SegmentWriter {
 public:
  // A new open segment in `dir`: the magic and `start`, written and synced, the folder synced.
  static SegmentWriter create(const bfs::path& dir, const SegmentStart& start);
  // An open segment that `scan` read: cut back to its good end, synced, appended to.
  static SegmentWriter reopen(const SegmentScan& scan);

  SegmentWriter(SegmentWriter&&) = default;
  SegmentWriter& operator=(SegmentWriter&&) = default;

  // Writes every byte or none: on a failure (ENOSPC...) the file is cut back and the
  // SystemError thrown.
  void append(std::string_view records);
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
  SegmentWriter(bfs::path file, core::Fd fd, std::uint64_t size, std::int64_t first);
  bfs::path file_;
  core::Fd fd_;
  std::uint64_t size_ = 0;
  std::int64_t first_ = 0;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point opened_;
};

}  // namespace kdr::journal
