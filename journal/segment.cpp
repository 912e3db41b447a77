#include "journal/segment.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"

namespace kdr::journal {

namespace {

constexpr std::size_t read_block = 1 << 20;

std::optional<std::int64_t> parse_revision(const std::string& s) {
  if (s.size() != 20 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return std::stoll(s);
}

void write_all(int fd, std::string_view bytes, const bfs::path& file) {
  core::write_all(fd, bytes.data(), bytes.size(), file.string());
}

}  // namespace

std::string segment_file_name(std::int64_t first, std::optional<std::int64_t> last) {
  return last ? fmt::format("{:020}-{:020}.seg", first, *last) : fmt::format("{:020}-open.seg", first);
}

std::optional<SegmentName> parse_segment_name(const std::string& name) {
  constexpr std::string_view ext = ".seg";
  if (name.size() < 26 || name.substr(name.size() - ext.size()) != ext || name[20] != '-') return std::nullopt;
  const auto first = parse_revision(name.substr(0, 20));
  if (!first) return std::nullopt;
  const auto rest = name.substr(21, name.size() - 21 - ext.size());
  SegmentName n;
  n.first = *first;
  if (rest == "open") return n;
  const auto last = parse_revision(rest);
  if (!last || *last < *first - 1) return std::nullopt;
  n.last = last;
  return n;
}

// Not following a symlink, not waiting on a FIFO: the backup disk may hold anything.
SegmentReader::SegmentReader(const bfs::path& file, const core::NodeKey* key)
    : file_(file), fd_(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)), key_(key) {
  if (!fd_) core::throw_errno("open", file.string(), errno);
  if (core::fstat_fd(fd_.get(), file).type != core::FileType::file)
    throw core::Error(fmt::format("{}: not a regular file; not read as a journal segment", file.string()));
  ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  while (buffer_.size() < segment_magic.size() && fill()) {
  }
  const auto magic = std::string_view(buffer_).substr(0, std::min(buffer_.size(), segment_magic.size()));
  sealed_format_ = magic == segment_magic;
  if (!sealed_format_ && magic != segment_magic_unsealed)
    throw core::Error(fmt::format("{}: not a kdr journal segment (it does not start with {})", file.string(),
                                  segment_magic));
  if (sealed_format_ && key_ != nullptr) {
    mac_.emplace(*key_);
    mac_->update(magic);
    verifying_ = true;
  }
  pos_ = segment_magic.size();
  consumed_ = segment_magic.size();
  returned_end_ = consumed_;
}

bool SegmentReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  const auto old = buffer_.size();
  buffer_.resize(old + read_block);
  std::size_t n = 0;
  try {
    n = core::read_some(fd_.get(), buffer_.data() + old, read_block, file_.string());
  } catch (...) {
    buffer_.resize(old);
    throw;
  }
  buffer_.resize(old + static_cast<std::size_t>(n));
  if (n == 0) eof_ = true;
  return n > 0;
}

std::optional<Record> SegmentReader::next() {
  for (;;) {
    if (!ready_.empty()) {
      auto p = std::move(ready_.front());
      ready_.pop_front();
      returned_end_ = p.end;
      return std::move(p.record);
    }
    if (done_) return std::nullopt;
    read_one();
  }
}

// Moves the records that may be returned from pending_ to ready_: with the key, those a seal
// covers; without it, all.
void SegmentReader::release() {
  const auto n = verifying_ ? sealed_count_ : pending_.size();
  for (std::size_t i = 0; i < n; ++i) {
    ready_.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  sealed_count_ = 0;
}

void SegmentReader::read_one() {
  std::optional<Decoded> d;
  for (;;) {
    if (pos_ >= buffer_.size() && !fill()) break;
    auto attempt = decode(std::string_view(buffer_).substr(pos_));
    if (attempt.status == DecodeStatus::truncated && fill()) continue;
    if (attempt.status != DecodeStatus::ok) failure_ = std::move(attempt);
    else d = std::move(attempt);
    break;
  }
  if (!d) {  // the end of what can be read
    release();
    unsealed_records_ = pending_.size();
    if (!verifying_) unsealed_records_ = 0;
    pending_.clear();
    done_ = true;
    return;
  }
  const std::string raw = buffer_.substr(pos_, d->size);
  pos_ += d->size;
  consumed_ += d->size;
  if (const auto* seal = std::get_if<Seal>(&d->record)) {
    take_seal(*seal, raw);
    return;
  }
  if (mac_) mac_->update(raw);
  release();
  pending_.push_back({std::move(d->record), consumed_});
}

void SegmentReader::take_seal(const Seal& seal, std::string_view raw) {
  ++seals_;
  if (verifying_ && seal.key_id != key_->id()) {  // another key's seals: not checkable here
    other_key_id_ = seal.key_id;
    verifying_ = false;
    mac_.reset();
  }
  if (verifying_) {
    const auto expected = mac_->peek();
    if (!core::equal_constant_time(expected.data(), seal.mac.data(), expected.size())) {
      forged_ = true;
      Decoded d;
      d.status = DecodeStatus::bad_payload;
      d.problem = fmt::format("the seal at byte {} does not match the bytes before it: the segment was changed after "
                              "this node wrote it",
                              consumed_ - raw.size());
      failure_ = std::move(d);
      pending_.clear();
      done_ = true;
      return;
    }
    mac_->update(raw);
    sealed_count_ = pending_.size();
  }
  // The seal belongs to the record before it: a reader that stops there keeps it.
  if (!pending_.empty()) pending_.back().end = consumed_;
  else returned_end_ = consumed_;
}

core::AuthStatus SegmentReader::auth() const {
  if (forged_) return core::AuthStatus::forged;
  if (!sealed_format_) return core::AuthStatus::unsigned_;
  if (key_ == nullptr) return core::AuthStatus::no_key;
  if (!other_key_id_.empty()) return core::AuthStatus::other_key;
  return core::AuthStatus::authentic;
}

std::string SegmentReader::auth_text() const {
  switch (auth()) {
    case core::AuthStatus::authentic: return fmt::format("sealed with this node's key {}", key_->id());
    case core::AuthStatus::forged: return failure_ ? failure_->problem : "a seal does not match";
    case core::AuthStatus::unsigned_: return "written before kdr sealed journal segments: not authenticated";
    case core::AuthStatus::no_key: return "sealed, but there is no key here to check the seals with";
    case core::AuthStatus::other_key:
      return fmt::format("sealed with key {}, not this node's key {}", other_key_id_, key_->id());
  }
  return {};
}

bool SegmentReader::failure_is_tail() const {
  if (!failure_ || forged_) return false;
  if (failure_->status == DecodeStatus::truncated) return true;
  // Everything from the failed record on is zeros (space the file system allotted, never written).
  const auto size = core::fstat_fd(fd_.get(), file_).size;
  std::string block(read_block, '\0');
  for (std::uint64_t off = consumed_; off < size;) {
    const ssize_t n = ::pread(fd_.get(), block.data(), block.size(), static_cast<off_t>(off));
    if (n <= 0) return false;
    if (std::any_of(block.begin(), block.begin() + n, [](char c) { return c != '\0'; })) return false;
    off += static_cast<std::uint64_t>(n);
  }
  return true;
}

SegmentScan scan_segment(const bfs::path& file, const core::NodeKey* key) {
  SegmentScan s;
  s.file = file;
  if (auto n = parse_segment_name(file.filename().string())) s.name = *n;
  s.file_size = core::lstat_path(file) ? core::lstat_path(file)->size : 0;
  SegmentReader reader(file, key);
  s.good_end = reader.offset();
  std::int64_t pending = 0;  // the revision whose events are being read; 0: none
  etcd::KeyspaceDigest running;
  bool digest_known = false;
  std::vector<Event> pending_events;
  auto problem = [&](std::string text) { s.problems.push_back(std::move(text)); };

  while (auto record = reader.next()) {
    if (auto* start = std::get_if<SegmentStart>(&*record)) {
      if (s.start || s.events > 0) {
        problem(fmt::format("a second segment start at byte {}", reader.offset()));
        continue;
      }
      s.start = *start;
      running = start->before;
      digest_known = true;
      s.good_end = reader.offset();
      continue;
    }
    if (!s.start) {
      problem("the segment does not open with its start record");
      break;
    }
    if (auto* c = std::get_if<Checkpoint>(&*record)) {
      const auto at = s.last_revision > 0 ? s.last_revision : s.start->first_revision - 1;
      if (pending != 0)
        problem(fmt::format("a checkpoint at revision {} inside revision {}", c->revision, pending));
      else if (c->revision != at)
        problem(fmt::format("a checkpoint claims revision {}, the events end at {}", c->revision, at));
      else if (digest_known && !(c->digest == running))
        problem(fmt::format("the keyspace digest at revision {} is {} ({} keys) by the events, the checkpoint says {} "
                            "({} keys)",
                            c->revision, running.hex(), running.keys, c->digest.hex(), c->digest.keys));
      s.last_checkpoint = *c;
      if (pending == 0) s.good_end = reader.offset();
      continue;
    }
    auto& e = std::get<Event>(*record);
    if (pending == 0) {
      const auto expected = s.last_revision > 0 ? s.last_revision + 1 : s.start->first_revision;
      if (e.revision != expected)
        problem(fmt::format("revision {} follows revision {}: {} revision(s) missing", e.revision, expected - 1,
                            e.revision > expected ? e.revision - expected : 0));
      pending = e.revision;
    } else if (e.revision != pending) {
      problem(fmt::format("revision {} begins before revision {} ended", e.revision, pending));
      pending = e.revision;
    }
    ++s.events;
    pending_events.push_back(std::move(e));
    if (!pending_events.back().last_in_revision) continue;
    for (const auto& ev : pending_events) {
      if (digest_known && !apply_to_digest(ev, running)) {
        digest_known = false;
        problem(fmt::format("the digest cannot be followed past revision {}: key {} changed without its previous value",
                            ev.revision, ev.key));
      }
      if (s.first_time_ms == 0) s.first_time_ms = ev.time_ms;
      s.last_time_ms = ev.time_ms;
    }
    if (s.first_revision == 0) s.first_revision = pending;
    s.last_revision = pending;
    pending = 0;
    pending_events.clear();
    s.good_end = reader.offset();
  }
  if (digest_known) s.digest = running;
  s.auth = reader.auth();
  s.auth_text = reader.auth_text();
  if (reader.unsealed_records() > 0 && !reader.failure()) {
    s.tail = TailState::torn;
    s.tail_problem = fmt::format("{} record(s) after the last seal, {} bytes", reader.unsealed_records(),
                                 s.file_size - s.good_end);
  } else if (reader.failure()) {
    s.tail = reader.failure_is_tail() ? TailState::torn : TailState::damaged;
    s.tail_problem = fmt::format("byte {}: {}", reader.offset(), reader.failure()->problem);
  } else if (!pending_events.empty()) {
    s.tail = TailState::torn;
    s.tail_problem = fmt::format("revision {} has {} event(s) but not its last", pending, pending_events.size());
  } else if (s.good_end < s.file_size) {
    s.tail = TailState::torn;
    s.tail_problem = fmt::format("{} bytes after the last whole record", s.file_size - s.good_end);
  }
  if (!s.start && s.tail != TailState::damaged) problem("the segment has no start record");
  if (s.start && !s.name.open() && s.name.first != s.start->first_revision)
    problem(fmt::format("named for revision {}, its start record says {}", s.name.first, s.start->first_revision));
  if (s.start && s.name.last && s.last_revision != 0 && *s.name.last != s.last_revision)
    problem(fmt::format("named up to revision {}, its events end at {}", *s.name.last, s.last_revision));
  return s;
}

bfs::path close_as_is(const SegmentScan& scan) {
  core::Fd fd(::open(scan.file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) core::throw_errno("open", scan.file.string(), errno);
  if (::ftruncate(fd.get(), static_cast<off_t>(scan.good_end)) != 0) core::throw_errno("truncate", scan.file.string(), errno);
  if (::fdatasync(fd.get()) != 0) core::throw_errno("fdatasync", scan.file.string(), errno);
  const auto first = scan.start ? scan.start->first_revision : scan.name.first;
  const auto last = scan.last_revision > 0 ? scan.last_revision : first - 1;
  const auto closed = scan.file.parent_path() / segment_file_name(first, last);
  if (::rename(scan.file.c_str(), closed.c_str()) != 0) core::throw_errno("rename", scan.file.string(), errno);
  core::fsync_path(scan.file.parent_path());
  return closed;
}

SegmentWriter::SegmentWriter(bfs::path file, core::Fd fd, std::uint64_t size, std::int64_t first, core::RunningMac mac,
                             std::string key_id)
    : file_(std::move(file)),
      fd_(std::move(fd)),
      size_(size),
      first_(first),
      mac_(std::move(mac)),
      key_id_(std::move(key_id)),
      opened_(std::chrono::steady_clock::now()) {}

SegmentWriter SegmentWriter::create(const bfs::path& dir, const SegmentStart& start, const core::NodeKey& key) {
  const auto file = dir / segment_file_name(start.first_revision, std::nullopt);
  core::Fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) core::throw_errno("create", file.string(), errno);
  std::string head(segment_magic);
  encode_into(start, head);
  core::RunningMac mac(key);
  mac.update(head);
  const auto seal = encode(Seal{key.id(), mac.peek()});
  mac.update(seal);
  head += seal;
  try {
    write_all(fd.get(), head, file);
    if (::fdatasync(fd.get()) != 0) core::throw_errno("fdatasync", file.string(), errno);
  } catch (...) {
    ::unlink(file.c_str());
    throw;
  }
  core::fsync_path(dir);
  return SegmentWriter(file, std::move(fd), head.size(), start.first_revision, std::move(mac), key.id());
}

SegmentWriter SegmentWriter::reopen(const SegmentScan& scan, const core::NodeKey& key) {
  if (scan.auth != core::AuthStatus::authentic)
    throw core::Error(fmt::format("{}: not continued: {}", scan.file.string(), scan.auth_text));
  core::Fd fd(::open(scan.file.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) core::throw_errno("open", scan.file.string(), errno);
  if (scan.file_size != scan.good_end) {
    if (::ftruncate(fd.get(), static_cast<off_t>(scan.good_end)) != 0)
      core::throw_errno("truncate", scan.file.string(), errno);
    if (::fdatasync(fd.get()) != 0) core::throw_errno("fdatasync", scan.file.string(), errno);
  }
  // The seals go on from the bytes that are there: the MAC over them again.
  core::RunningMac mac(key);
  std::string block(read_block, '\0');
  for (std::uint64_t off = 0; off < scan.good_end;) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), scan.good_end - off));
    const ssize_t n = ::pread(fd.get(), block.data(), want, static_cast<off_t>(off));
    if (n < 0) core::throw_errno("read", scan.file.string(), errno);
    if (n == 0) throw core::Error(fmt::format("{}: shorter than its scan said", scan.file.string()));
    mac.update(std::string_view(block.data(), static_cast<std::size_t>(n)));
    off += static_cast<std::uint64_t>(n);
  }
  if (::lseek(fd.get(), static_cast<off_t>(scan.good_end), SEEK_SET) < 0)
    core::throw_errno("seek", scan.file.string(), errno);
  return SegmentWriter(scan.file, std::move(fd), scan.good_end, scan.start ? scan.start->first_revision : scan.name.first,
                       std::move(mac), key.id());
}

// Every byte or none: on a failure (ENOSPC...) the file is cut back and the error thrown.
void SegmentWriter::write(std::string_view bytes) {
  try {
    write_all(fd_.get(), bytes, file_);
  } catch (const core::Error&) {
    // Leave no part of the batch behind: the next start must find whole records only.
    if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) == 0) ::lseek(fd_.get(), static_cast<off_t>(size_), SEEK_SET);
    throw;
  }
  mac_.update(bytes);
  size_ += bytes.size();
  dirty_ = true;
}

void SegmentWriter::append(std::string_view records) {
  static std::size_t appends = 0;
  if (core::failpoint_armed("journal-append-torn", ++appends)) {
    write_all(fd_.get(), records.substr(0, records.size() / 2), file_);
    core::failpoint("journal-append-torn", appends);
  }
  write(records);
  unsealed_ = true;
}

void SegmentWriter::sync() {
  if (!dirty_) return;
  if (unsealed_) {
    write(encode(Seal{key_id_, mac_.peek()}));
    unsealed_ = false;
  }
  if (::fdatasync(fd_.get()) != 0) core::throw_errno("fdatasync", file_.string(), errno);
  dirty_ = false;
}

bfs::path SegmentWriter::close(const Checkpoint& last) {
  append(encode(last));
  sync();
  const auto closed = file_.parent_path() / segment_file_name(first_, last.revision);
  if (::rename(file_.c_str(), closed.c_str()) != 0) core::throw_errno("rename", file_.string(), errno);
  core::fsync_path(file_.parent_path());
  fd_.close();
  file_ = closed;
  return closed;
}

}  // namespace kdr::journal
