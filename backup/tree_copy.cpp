#include "backup/tree_copy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <tuple>

#include "backup/sources.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/sha256.hpp"

namespace kdr::backup {

using core::bfs::path;
using core::Error;
using core::Fd;
using core::FileStat;
using core::FileType;
using core::ManifestEntry;

namespace {

constexpr std::size_t buffer_size = 1 << 20;

bool same_stamp(const FileStat& a, const FileStat& b) {
  return a.size == b.size && a.mtime_sec == b.mtime_sec && a.mtime_nsec == b.mtime_nsec &&
         a.ctime_sec == b.ctime_sec && a.ctime_nsec == b.ctime_nsec && a.ino == b.ino;
}

}  // namespace

TreeCopier::TreeCopier(const core::NodeRoot& root, path staging, const PreviousGeneration* previous,
                       std::vector<std::string> excludes, int retries, bool preserve_owner)
    : root_(root),
      staging_(std::move(staging)),
      previous_(previous),
      excludes_(std::move(excludes)),
      retries_(retries),
      preserve_owner_(preserve_owner),
      buffer_(buffer_size) {}

path TreeCopier::dest(const std::string& node_path) const {
  return staging_ / core::generation_relative_path(node_path);
}

ManifestEntry TreeCopier::entry_for(const std::string& node_path, const FileStat& st) const {
  ManifestEntry e;
  e.path = node_path;
  e.type = st.type;
  e.mode = st.mode;
  e.uid = st.uid;
  e.gid = st.gid;
  e.size = st.type == FileType::file ? st.size : 0;
  e.mtime_sec = st.mtime_sec;
  e.mtime_nsec = st.mtime_nsec;
  return e;
}

core::SourceStats TreeCopier::copy_source(const std::string& node_path) {
  core::SourceStats stats;
  stats.path = node_path;
  auto parent = dest(node_path).parent_path();
  core::make_dirs(parent, 0700);
  const auto top = core::lstat_path(root_.host(node_path));
  stats.present = top.has_value();
  stats.is_symlink = top && top->type == core::FileType::symlink;
  if (stats.present) walk(node_path, stats);
  return stats;
}

void TreeCopier::walk(const std::string& node_path, core::SourceStats& stats) {
  core::check_interrupted();
  if (is_excluded(node_path, excludes_)) return;
  std::optional<FileStat> st;
  try {
    st = core::lstat_path(root_.host(node_path));
  } catch (const Error& e) {
    warnings_.push_back(fmt::format("{}: cannot read ({}); not in this generation", node_path, e.what()));
    ++not_copied_;
    return;
  }
  if (!st) {
    warnings_.push_back(fmt::format("{} vanished during the backup", node_path));
    return;
  }
  switch (st->type) {
    case FileType::directory: copy_dir(node_path, *st, stats); break;
    case FileType::file: copy_file(node_path, *st, stats); break;
    case FileType::symlink:
      copy_symlink(node_path, *st);
      ++stats.symlinks;
      break;
    case FileType::other:
      warnings_.push_back(fmt::format("{} is a {}; skipped", node_path, st->other_kind));
      ++skipped_;
      break;
  }
}

void TreeCopier::copy_dir(const std::string& node_path, const FileStat& st, core::SourceStats& stats) {
  const auto out = dest(node_path);
  core::make_dir(out, 0700);
  manifest_.entries.push_back(entry_for(node_path, st));
  ++stats.dirs;
  std::vector<std::string> names;
  try {
    names = core::list_dir(root_.host(node_path));
  } catch (const Error& e) {
    warnings_.push_back(fmt::format("{}: {}; its content is not in this generation", node_path, e.what()));
    ++not_copied_;
  }
  const std::string prefix = node_path == "/" ? "/" : node_path + "/";
  for (const auto& name : names) walk(prefix + name, stats);
  apply_metadata(out, st, false);
}

void TreeCopier::copy_symlink(const std::string& node_path, const FileStat& st) {
  const auto src = root_.host(node_path);
  const auto read = core::read_link(src);
  if (!read) {
    warnings_.push_back(core::errno_message("read symlink", node_path, errno));
    ++not_copied_;
    return;
  }
  const std::string& target = *read;
  const auto out = dest(node_path);
  if (::symlink(target.c_str(), out.c_str()) != 0) core::throw_errno("create symlink", out.string(), errno);
  apply_metadata(out, st, true);
  auto e = entry_for(node_path, st);
  e.target = target;
  manifest_.entries.push_back(std::move(e));
}

bool TreeCopier::try_link_previous(const std::string& node_path, const FileStat& st, ManifestEntry& entry) {
  if (previous_ == nullptr) return false;
  auto it = previous_->index.find(node_path);
  if (it == previous_->index.end()) return false;
  const auto& p = previous_->manifest.entries[it->second];
  if (p.type != FileType::file || p.torn || p.size != st.size || p.mtime_sec != st.mtime_sec ||
      p.mtime_nsec != st.mtime_nsec || p.mode != st.mode || p.uid != st.uid || p.gid != st.gid)
    return false;
  const auto prev_file = previous_->dir / core::generation_relative_path(node_path);
  auto pst = core::lstat_path(prev_file);
  if (!pst || pst->type != FileType::file || pst->size != p.size || pst->mtime_sec != p.mtime_sec ||
      pst->mtime_nsec != p.mtime_nsec)
    return false;  // the previous copy was changed after it was made: copy afresh
  if (::link(prev_file.c_str(), dest(node_path).c_str()) != 0) {
    if (errno == EMLINK || errno == EXDEV || errno == EPERM || errno == ENOENT) return false;
    core::throw_errno("hard-link", dest(node_path).string(), errno);
  }
  entry.sha256 = p.sha256;
  return true;
}

void TreeCopier::copy_file(const std::string& node_path, const FileStat& st, core::SourceStats& stats) {
  auto entry = entry_for(node_path, st);
  if (try_link_previous(node_path, st, entry)) {
    ++stats.files;
    stats.bytes += entry.size;
    ++counters_.files_linked;
    counters_.bytes_linked += entry.size;
    if (progress_) progress_->add(entry.size);
    manifest_.entries.push_back(std::move(entry));
    return;
  }
  const auto src = root_.host(node_path);
  Fd in(::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME));
  if (!in && errno == EPERM) in = Fd(::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) {
    if (errno == ENOENT) {
      warnings_.push_back(fmt::format("{} vanished during the backup", node_path));
    } else {
      warnings_.push_back(core::errno_message("cannot read", node_path, errno) + "; not in this generation");
      ++not_copied_;
    }
    return;
  }
  FileStat before = core::fstat_fd(in.get(), src);
  if (before.type != FileType::file) {
    warnings_.push_back(fmt::format("{} changed type during the backup; not in this generation", node_path));
    ++not_copied_;
    return;
  }
  const auto out_path = dest(node_path);
  // 0600 from the first byte: a private key is never readable by others, whatever the umask.
  Fd out(::open(out_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!out) core::throw_errno("create", out_path.string(), errno);

  std::string hash;
  std::uint64_t copied = 0;
  bool stable = false;
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0 && ::ftruncate(out.get(), 0) != 0) core::throw_errno("truncate", out_path.string(), errno);
    std::tie(copied, hash) = copy_contents(in.get(), src, out.get(), out_path);
    FileStat after = core::fstat_fd(in.get(), src);
    const bool unchanged = same_stamp(before, after) && copied == after.size;
    before = after;
    if (unchanged) {
      stable = true;
      break;
    }
    if (attempt >= retries_) break;
  }
  entry = entry_for(node_path, before);
  entry.size = copied;
  entry.sha256 = hash;
  if (!stable) {
    entry.torn = true;
    ++torn_;
    warnings_.push_back(fmt::format("{} kept changing while it was copied ({} attempts); kept, marked as possibly torn",
                                    node_path, retries_ + 1));
  }
  if (preserve_owner_ && ::fchown(out.get(), entry.uid, entry.gid) != 0)
    core::throw_errno("chown", out_path.string(), errno);
  if (::fchmod(out.get(), entry.mode) != 0) core::throw_errno("chmod", out_path.string(), errno);
  const struct timespec times[2] = {{entry.mtime_sec, entry.mtime_nsec}, {entry.mtime_sec, entry.mtime_nsec}};
  if (::futimens(out.get(), times) != 0) core::throw_errno("set times", out_path.string(), errno);
  // No fsync per file: the whole generation is made durable by one syncfs(2) before it
  // is published, which is far cheaper.
  ++stats.files;
  stats.bytes += entry.size;
  ++counters_.files_copied;
  counters_.bytes_copied += entry.size;
  manifest_.entries.push_back(std::move(entry));
}

void TreeCopier::throttle(std::uint64_t bytes) {
  if (bandwidth_ == 0) return;
  const double now = core::monotonic_seconds();
  if (throttle_start_ < 0) throttle_start_ = now;
  throttled_bytes_ += bytes;
  const double due = throttle_start_ + static_cast<double>(throttled_bytes_) / static_cast<double>(bandwidth_);
  if (due > now) std::this_thread::sleep_for(std::chrono::duration<double>(due - now));
}

std::uint64_t TreeCopier::copy_range(int in, const path& src, int out, const path& dst, off_t from, off_t to) {
  off_t in_off = from, out_off = from;
  while (use_copy_file_range_ && in_off < to) {
    core::check_interrupted();
    const auto want = static_cast<std::size_t>(std::min<off_t>(to - in_off, 8 << 20));
    ssize_t n = ::copy_file_range(in, &in_off, out, &out_off, want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        use_copy_file_range_ = false;  // not between these file systems: read and write
        break;
      }
      core::throw_errno("copy", src.string() + " to " + dst.string(), errno);
    }
    if (n == 0) return static_cast<std::uint64_t>(in_off - from);  // the file shrank meanwhile
    if (progress_) progress_->add(static_cast<std::uint64_t>(n));
    throttle(static_cast<std::uint64_t>(n));
  }
  while (in_off < to) {
    core::check_interrupted();
    const auto want = static_cast<std::size_t>(std::min<off_t>(to - in_off, static_cast<off_t>(buffer_.size())));
    const auto n = core::pread_some(in, buffer_.data(), want, in_off, src.string());
    if (n == 0) break;
    core::pwrite_all(out, buffer_.data(), n, in_off, dst.string());
    in_off += static_cast<off_t>(n);
    if (progress_) progress_->add(n);
    throttle(n);
  }
  return static_cast<std::uint64_t>(in_off - from);
}

std::pair<std::uint64_t, std::string> TreeCopier::copy_contents(int in, const path& src, int out, const path& dst) {
  // Only the data is copied: holes, and the preallocated never-written tail of etcd's
  // 64 MB WAL segments, stay holes in the copy (a file system without SEEK_DATA reports
  // the whole file as data). copy_file_range lets the kernel move the bytes (reflinks
  // where the file system has them).
  const off_t size = static_cast<off_t>(core::fstat_fd(in, src).size);
  off_t offset = 0;
  off_t length = size;
  while (offset < size) {
    off_t data = ::lseek(in, offset, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole is left
      data = offset;
    }
    if (data >= size) break;
    off_t hole = ::lseek(in, data, SEEK_HOLE);
    if (hole < 0 || hole > size) hole = size;
    const auto n = copy_range(in, src, out, dst, data, hole);
    offset = data + static_cast<off_t>(n);
    if (offset < hole) {  // the file shrank while it was copied
      length = offset;
      break;
    }
  }
  if (::ftruncate(out, length) != 0) core::throw_errno("truncate", dst.string(), errno);
  // The hash is taken from the copy itself, so the manifest describes exactly what is on
  // the backup disk (read back from the page cache, or as zeros for holes).
  core::Sha256 sha;
  const auto copied = hash_file(out, dst, sha);
  return {copied, sha.hex_digest()};
}

std::uint64_t TreeCopier::hash_file(int fd, const path& p, core::Sha256& sha) {
  for (off_t offset = 0;;) {
    core::check_interrupted();
    const auto n = core::pread_some(fd, buffer_.data(), buffer_.size(), offset, p.string(), "read back");
    if (n == 0) return static_cast<std::uint64_t>(offset);
    sha.update(buffer_.data(), n);
    offset += static_cast<off_t>(n);
  }
}

void TreeCopier::apply_metadata(const path& p, const FileStat& st, bool is_symlink) {
  if (preserve_owner_ && ::lchown(p.c_str(), st.uid, st.gid) != 0) core::throw_errno("chown", p.string(), errno);
  if (!is_symlink && ::chmod(p.c_str(), st.mode) != 0) core::throw_errno("chmod", p.string(), errno);
  const struct timespec times[2] = {{st.mtime_sec, st.mtime_nsec}, {st.mtime_sec, st.mtime_nsec}};
  if (::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    core::throw_errno("set times", p.string(), errno);
}

}  // namespace kdr::backup
