// File-system access for the rest of kdr: lstat with nanoseconds, owned file
// descriptors, fsync of files and folders, atomic whole-file writes.
// Nothing here throws boost::filesystem errors: callers get kdr::core::Error with the path.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/filesystem/path.hpp>

namespace kdr::core {

namespace bfs = boost::filesystem;

enum class FileType { file, directory, symlink, other };

std::string_view to_string(FileType type);

struct FileStat {
  FileType type = FileType::other;
  std::uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (07777)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_sec = 0;
  std::int64_t mtime_nsec = 0;
  std::int64_t ctime_sec = 0;
  std::int64_t ctime_nsec = 0;
  std::uint64_t ino = 0;
  std::uint64_t dev = 0;
  std::uint64_t nlink = 0;
  std::string other_kind;  // "fifo", "socket", ... when type == other
};

// lstat(2): never follows a symlink. Empty when the path does not exist; throws on other errors.
std::optional<FileStat> lstat_path(const bfs::path& path);
// Whether anything is at `path` (a dangling symlink too: lstat, never followed).
inline bool present(const bfs::path& path) { return lstat_path(path).has_value(); }
FileStat fstat_fd(int fd, const bfs::path& path_for_errors);

// An owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  ~Fd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release();
  void close();

 private:
  int fd_ = -1;
};

// Reads and writes that retry when a signal interrupts them (EINTR) and throw SystemError
// naming `path` otherwise; `what` is the verb in the message ("read", "read back"). The one
// place kdr spells these loops.
// Up to `n` bytes; 0 at the end of the file.
std::size_t read_some(int fd, void* buf, std::size_t n, const std::string& path, std::string_view what = "read");
std::size_t pread_some(int fd, void* buf, std::size_t n, off_t offset, const std::string& path,
                       std::string_view what = "read");
// All `n` bytes, or SystemError (a write that makes no progress is ENOSPC: a full disk).
void write_all(int fd, const void* buf, std::size_t n, const std::string& path);
void pwrite_all(int fd, const void* buf, std::size_t n, off_t offset, const std::string& path);

// Bytes an unprivileged writer can still use on the file system that holds `path` (or, when
// it does not exist yet, its nearest existing parent). The one place kdr asks.
std::uint64_t free_bytes(const bfs::path& path);

// What the regular files below `dir` take, its subfolders included (a link is not followed;
// 0 when `dir` does not exist).
std::uint64_t tree_bytes(const bfs::path& dir);

// The target of a symlink, whatever its length; empty when it cannot be read.
std::optional<std::string> read_link(const bfs::path& path);

// fsync a file or a folder (its entries) by path.
void fsync_path(const bfs::path& path);
// fsync of every file and folder of a tree (not following symlinks), folders after their
// contents: what a program wrote there is on disk, names included.
void fsync_tree(const bfs::path& path);

// Write `content` to `path` through a temporary file in the same folder: fsync, rename,
// fsync the folder. A crash leaves either the old file or the new one, never a mix.
void write_file_atomic(const bfs::path& path, std::string_view content, std::uint32_t mode = 0600);

// A regular file's bytes (opened without blocking: a FIFO or a device is refused, never read
// or waited on). Error naming the path otherwise.
std::string read_file(const bfs::path& path);
// Appends to a log of kdr's: created 0600 when new (whatever the umask), never through a symlink.
void append_file(const bfs::path& path, std::string_view content);
// The same for a file kdr wrote on the backup disk (meta.json, SHA256SUMS, manifests, the
// journal's files), which whoever can write that disk may have replaced: a symlink is not
// followed, and a file larger than `max_bytes` is refused before it is read.
inline constexpr std::uint64_t max_backup_file_bytes = 256ull << 20;
std::string read_backup_file(const bfs::path& path, std::uint64_t max_bytes = max_backup_file_bytes);

// rename(2). A file moved across file systems (kdr's state folder and /etc may be on
// different ones) is copied through a hidden temporary beside the target (the kubelet
// ignores hidden files) with its mode, owner and times, flushed, renamed into place, and only
// then removed at the source: a crash leaves it at the source, or in both places with the
// same content (same_content), never nowhere.
void move_file(const bfs::path& from, const bfs::path& to);
// Both files exist and hold the same bytes.
bool same_content(const bfs::path& a, const bfs::path& b);

// Who holds flock(2) locks on `file`, from /proc/locks: "pid 1234 (kdr verify --no-live,
// shared)", comma separated; empty when nobody does or it cannot be told.
std::string lock_holders(const bfs::path& file);

// flock(2) without waiting: empty when taken, else who holds it (lock_holders). A holder
// that lets go between the failed attempt and the look at /proc/locks is tried again, so a
// refusal always names someone, or says that /proc/locks shows nobody.
std::optional<std::string> try_flock(int fd, bool exclusive, const bfs::path& file);

// mkdir with an exact mode (umask does not apply); ok if it already exists as a folder that
// root or kdr's user owns and nobody else can write (check_own_folder).
void make_dir(const bfs::path& path, std::uint32_t mode);
// mkdir -p, new folders get `mode`; the folder itself, when it exists, is checked as make_dir
// checks it.
void make_dirs(const bfs::path& path, std::uint32_t mode);
// Error unless the folder is root's or kdr's user's, and not writable by group or others
// (sticky folders such as /tmp excepted): kdr never works in a folder another user controls.
void check_own_folder(const bfs::path& path, const FileStat& st);

// Remove a tree; throws with the path on failure. Never follows symlinks: every entry is
// removed relative to its folder's descriptor (openat/unlinkat), so a folder swapped for a
// symlink during the walk takes nothing outside the tree with it.
void remove_tree(const bfs::path& path);

// Names in a folder, sorted, without "." and "..".
std::vector<std::string> list_dir(const bfs::path& path);

// Absolute, normalized, without a trailing "/." (e.g. for --root and --backup-dir).
bfs::path absolute_normal(const bfs::path& path);

// True when `inner` is `outer` or lies below it (lexically, after absolute_normal).
bool path_is_within(const bfs::path& inner, const bfs::path& outer);

// A private (0700) scratch folder under $TMPDIR or /var/tmp, named kdr-<what>-XXXXXX, removed
// with everything in it on every path out.
class ScratchDir {
 public:
  // Where scratch folders are made: the folder a ScratchRedirect names while one lives (a
  // restore test: on the backup disk), else $TMPDIR, else /var/tmp.
  static bfs::path root();
  explicit ScratchDir(const std::string& what);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const bfs::path& path() const { return path_; }

 private:
  bfs::path path_;
};

// While it lives, scratch folders (ScratchDir) are made in `dir` (an existing folder).
class ScratchRedirect {
 public:
  explicit ScratchRedirect(const bfs::path& dir);
  ~ScratchRedirect();
  ScratchRedirect(const ScratchRedirect&) = delete;
  ScratchRedirect& operator=(const ScratchRedirect&) = delete;

 private:
  std::optional<bfs::path> previous_;
};

}  // namespace kdr::core
