#include "core/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include <boost/filesystem/operations.hpp>
#include <fmt/format.h>

#include "core/error.hpp"
#include "core/node_root.hpp"

namespace kdr::core {

std::string_view to_string(FileType type) {
  switch (type) {
    case FileType::file: return "file";
    case FileType::directory: return "dir";
    case FileType::symlink: return "symlink";
    case FileType::other: return "other";
  }
  return "other";
}

std::uint64_t tree_bytes(const bfs::path& dir) {
  const auto st = lstat_path(dir);
  if (!st || st->type != FileType::directory) return 0;
  std::uint64_t total = 0;
  for (const auto& name : list_dir(dir)) {
    const auto f = lstat_path(dir / name);
    if (!f) continue;
    if (f->type == FileType::directory) total += tree_bytes(dir / name);
    else if (f->type == FileType::file) total += f->size;
  }
  return total;
}

namespace {

FileStat from_stat(const struct stat& st) {
  FileStat out;
  if (S_ISREG(st.st_mode)) out.type = FileType::file;
  else if (S_ISDIR(st.st_mode)) out.type = FileType::directory;
  else if (S_ISLNK(st.st_mode)) out.type = FileType::symlink;
  else {
    out.type = FileType::other;
    out.other_kind = S_ISFIFO(st.st_mode)   ? "fifo"
                     : S_ISSOCK(st.st_mode) ? "socket"
                     : S_ISCHR(st.st_mode)  ? "character device"
                     : S_ISBLK(st.st_mode)  ? "block device"
                                            : "unknown";
  }
  out.mode = st.st_mode & 07777;
  out.uid = st.st_uid;
  out.gid = st.st_gid;
  out.size = static_cast<std::uint64_t>(st.st_size);
  out.mtime_sec = st.st_mtim.tv_sec;
  out.mtime_nsec = st.st_mtim.tv_nsec;
  out.ctime_sec = st.st_ctim.tv_sec;
  out.ctime_nsec = st.st_ctim.tv_nsec;
  out.ino = st.st_ino;
  out.dev = st.st_dev;
  out.nlink = st.st_nlink;
  return out;
}

}  // namespace

std::optional<FileStat> lstat_path(const bfs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno("stat", path.string(), errno);
  }
  return from_stat(st);
}

FileStat fstat_fd(int fd, const bfs::path& path_for_errors) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("stat", path_for_errors.string(), errno);
  return from_stat(st);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.release();
  }
  return *this;
}

Fd::~Fd() { close(); }

int Fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::optional<std::string> read_link(const bfs::path& path) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return std::nullopt;
    if (static_cast<std::size_t>(n) < target.size()) {
      target.resize(static_cast<std::size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

void fsync_path(const bfs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw_errno("open", path.string(), errno);
  if (::fsync(fd.get()) != 0) throw_errno("fsync", path.string(), errno);
}

void fsync_tree(const bfs::path& path) {
  const auto st = lstat_path(path);
  if (!st || st->type == FileType::symlink) return;
  if (st->type == FileType::directory)
    for (const auto& name : list_dir(path)) fsync_tree(path / name);
  if (st->type == FileType::directory || st->type == FileType::file) fsync_path(path);
}

namespace {

std::uint32_t random_u32() {
  std::uint32_t v = 0;
  if (::getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) v = static_cast<std::uint32_t>(::random());
  return v;
}

}  // namespace

void write_file_atomic(const bfs::path& path, std::string_view content, std::uint32_t mode) {
  // A new file of kdr's own (O_EXCL): never one someone else made under a name they guessed.
  bfs::path tmp;
  Fd fd;
  for (int attempt = 0; !fd; ++attempt) {
    tmp = path.parent_path() / fmt::format(".{}.tmp-{}-{:08x}", path.filename().string(), ::getpid(), random_u32());
    fd = Fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd && (errno != EEXIST || attempt >= 100)) throw_errno("create", tmp.string(), errno);
  }
  auto fail = [&](std::string_view what) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_errno(what, tmp.string(), err);
  };
  try {
    write_all(fd.get(), content.data(), content.size(), tmp.string());
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (::fchmod(fd.get(), mode) != 0) fail("chmod");
  if (::fsync(fd.get()) != 0) fail("fsync");
  fd.close();
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename");
  fsync_path(path.parent_path());
}

std::size_t read_some(int fd, void* buf, std::size_t n, const std::string& path, std::string_view what) {
  for (;;) {
    const ssize_t r = ::read(fd, buf, n);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno != EINTR) throw_errno(what, path, errno);
  }
}

std::size_t pread_some(int fd, void* buf, std::size_t n, off_t offset, const std::string& path, std::string_view what) {
  for (;;) {
    const ssize_t r = ::pread(fd, buf, n, offset);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno != EINTR) throw_errno(what, path, errno);
  }
}

void write_all(int fd, const void* buf, std::size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw_errno("write", path, errno);
    if (w == 0) throw_errno("write", path, ENOSPC);
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void pwrite_all(int fd, const void* buf, std::size_t n, off_t offset, const std::string& path) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, offset);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw_errno("write", path, errno);
    if (w == 0) throw_errno("write", path, ENOSPC);
    p += w;
    offset += w;
    n -= static_cast<std::size_t>(w);
  }
}

std::uint64_t free_bytes(const bfs::path& path) {
  bfs::path at = path;
  while (!lstat_path(at) && at.has_parent_path() && at != at.parent_path()) at = at.parent_path();
  struct statvfs vfs {};
  if (::statvfs(at.c_str(), &vfs) != 0) throw_errno("statvfs", at.string(), errno);
  return static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

namespace {

// Opens without blocking (a FIFO would wait for a writer forever), refuses what is not a
// regular file (a FIFO, a device such as /dev/zero), and reads at most `max_bytes`.
std::string read_regular(const bfs::path& path, int extra_flags, std::uint64_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | extra_flags));
  if (!fd) {
    const int err = errno;
    if (err == ELOOP && (extra_flags & O_NOFOLLOW) != 0)
      throw Error(fmt::format("{}: is a symlink where kdr writes a file; not followed", path.string()));
    throw_errno("open", path.string(), err);
  }
  const auto st = fstat_fd(fd.get(), path);
  if (st.type != FileType::file)
    throw Error(fmt::format("{}: is a {}, not a regular file; not read", path.string(),
                            st.type == FileType::other ? st.other_kind : std::string(to_string(st.type))));
  if (st.size > max_bytes)
    throw Error(fmt::format("{}: {} bytes, more than the {} kdr reads from such a file; not read", path.string(),
                            st.size, max_bytes));
  std::string out;
  char buf[65536];
  while (const auto n = read_some(fd.get(), buf, sizeof buf, path.string())) {
    out.append(buf, n);
    if (out.size() > max_bytes)  // grew while read
      throw Error(fmt::format("{}: more than {} bytes; not read", path.string(), max_bytes));
  }
  return out;
}

}  // namespace

std::string read_file(const bfs::path& path) {
  return read_regular(path, 0, std::numeric_limits<std::uint64_t>::max() / 2);
}

void append_file(const bfs::path& path, std::string_view content) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_errno("open", path.string(), errno);
  write_all(fd.get(), content.data(), content.size(), path.string());
}

std::string read_backup_file(const bfs::path& path, std::uint64_t max_bytes) {
  return read_regular(path, O_NOFOLLOW, max_bytes);
}

void make_dir(const bfs::path& path, std::uint32_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) {
    int err = errno;
    if (err == EEXIST) {
      auto st = lstat_path(path);
      if (!st || st->type != FileType::directory)
        throw Error(fmt::format("create folder {}: exists and is not a folder", path.string()));
      check_own_folder(path, *st);
      return;
    }
    throw_errno("create folder", path.string(), err);
  }
  // mkdir applies the umask; set the exact mode asked for, on the folder just made (opened
  // without following a symlink swapped in meanwhile).
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw_errno("open folder", path.string(), errno);
  if (::fchmod(fd.get(), mode) != 0) throw_errno("chmod", path.string(), errno);
}

void check_own_folder(const bfs::path& path, const FileStat& st) {
  if (st.uid != 0 && st.uid != ::geteuid())
    throw Error(fmt::format("{}: the folder is owned by uid {}, not by root or kdr's user (uid {}); kdr does not "
                            "use a folder another user controls. Remove it, or chown it",
                            path.string(), st.uid, ::geteuid()));
  if ((st.mode & 0022) != 0 && (st.mode & 01000) == 0)
    throw Error(fmt::format("{}: the folder has mode {:04o}: others can write into it; kdr does not use it. "
                            "chmod go-w {}",
                            path.string(), st.mode & 07777, path.string()));
}

void make_dirs(const bfs::path& path, std::uint32_t mode) {
  if (path.empty()) return;
  auto st = lstat_path(path);
  if (st && st->type == FileType::directory) return check_own_folder(path, *st);
  if (!st && path.has_parent_path() && path.parent_path() != path) make_dirs(path.parent_path(), mode);
  make_dir(path, mode);
}

namespace {

// Removes what the open folder `dir` holds, each entry named relative to the folder's
// descriptor: a folder swapped for a symlink meanwhile (by whoever can write the backup disk)
// is never followed, so nothing outside the tree is deleted. `shown` names it in errors.
void remove_contents(int dir, const std::string& shown) {
  std::vector<std::string> names;
  {
    const int copy = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) throw_errno("dup", shown, errno);
    DIR* d = ::fdopendir(copy);
    if (d == nullptr) {
      const int err = errno;
      ::close(copy);
      throw_errno("list", shown, err);
    }
    while (const auto* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
  }
  for (const auto& name : names) {
    const auto inner = shown + "/" + name;
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      throw_errno("lstat", inner, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      Fd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
      if (!sub) {
        if (errno == ENOENT) continue;
        if (errno != ELOOP && errno != ENOTDIR) throw_errno("open folder", inner, errno);
        // swapped for a symlink or a file since the lstat: removed as the entry it now is
        if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) throw_errno("remove", inner, errno);
        continue;
      }
      remove_contents(sub.get(), inner);
      sub.close();
      if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throw_errno("remove", inner, errno);
    } else if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) {
      throw_errno("remove", inner, errno);
    }
  }
}

}  // namespace

void remove_tree(const bfs::path& path) {
  const auto st = lstat_path(path);
  if (!st) return;
  if (st->type != FileType::directory) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove", path.string(), errno);
    return;
  }
  {
    Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!dir) {
      if (errno == ENOENT) return;
      if (errno != ELOOP && errno != ENOTDIR) throw_errno("open folder", path.string(), errno);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove", path.string(), errno);
      return;
    }
    remove_contents(dir.get(), path.string());
  }
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove", path.string(), errno);
}

std::vector<std::string> list_dir(const bfs::path& path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) throw_errno("list folder", path.string(), errno);
  errno = 0;
  while (struct dirent* ent = ::readdir(dir)) {
    std::string_view name(ent->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) throw_errno("list folder", path.string(), err);
  std::sort(names.begin(), names.end());
  return names;
}

bfs::path absolute_normal(const bfs::path& path) {
  auto p = bfs::absolute(path).lexically_normal();
  while (p.filename() == "." && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();
  return p;
}

bool path_is_within(const bfs::path& inner, const bfs::path& outer) {
  return node_path_within(absolute_normal(inner).string(), absolute_normal(outer).string());
}

}  // namespace kdr::core

namespace kdr::core {

std::optional<std::string> try_flock(int fd, bool exclusive, const bfs::path& file) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (::flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) return std::nullopt;
    if (errno != EWOULDBLOCK) throw_errno("lock", file.string(), errno);
    auto holders = lock_holders(file);
    if (!holders.empty()) return holders;
  }
  return std::string("a holder that /proc/locks does not list");
}

std::string lock_holders(const bfs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return {};
  const auto id = fmt::format("{:02x}:{:02x}:{}", major(st.st_dev), minor(st.st_dev), st.st_ino);
  std::ifstream locks("/proc/locks");
  std::string line, result;
  while (std::getline(locks, line)) {
    // "1: FLOCK  ADVISORY  WRITE 1234 00:2d:5678 0 EOF"; "->" lines wait for a lock
    std::istringstream in(line);
    std::string n, kind, advisory, rw, dev;
    long pid = 0;
    if (!(in >> n >> kind) || kind == "->" || kind != "FLOCK" || !(in >> advisory >> rw >> pid >> dev)) continue;
    if (dev != id) continue;
    std::string cmd;
    try {
      cmd = read_file(fmt::format("/proc/{}/cmdline", pid));
    } catch (const Error&) {
    }
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    while (!cmd.empty() && cmd.back() == ' ') cmd.pop_back();
    const auto slash = cmd.find_last_of('/', cmd.find(' '));
    if (slash != std::string::npos) cmd.erase(0, slash + 1);
    if (!result.empty()) result += ", ";
    result += fmt::format("pid {} ({}{}{})", pid, cmd, cmd.empty() ? "" : ", ", rw == "WRITE" ? "exclusive" : "shared");
  }
  return result;
}

namespace {
std::optional<bfs::path>& scratch_redirect() {
  static std::optional<bfs::path> dir;
  return dir;
}
}  // namespace

ScratchRedirect::ScratchRedirect(const bfs::path& dir) : previous_(scratch_redirect()) { scratch_redirect() = dir; }
ScratchRedirect::~ScratchRedirect() { scratch_redirect() = previous_; }

bfs::path ScratchDir::root() {
  if (const auto& dir = scratch_redirect()) return *dir;
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? bfs::path(tmp) : bfs::path("/var/tmp");
}

ScratchDir::ScratchDir(const std::string& what) {
  std::string pattern = (root() / ("kdr-" + what + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) throw_errno("create scratch folder", pattern, errno);
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  try {
    remove_tree(path_);
  } catch (const Error&) {
    // left behind in the temporary folder; nothing to do on the way out
  }
}

bool same_content(const bfs::path& a, const bfs::path& b) {
  try {
    return core::read_file(a) == core::read_file(b);
  } catch (const Error&) {
    return false;
  }
}

void move_file(const bfs::path& from, const bfs::path& to) {
  if (::rename(from.c_str(), to.c_str()) == 0) {
    fsync_path(to.parent_path());
    if (from.parent_path() != to.parent_path()) fsync_path(from.parent_path());
    return;
  }
  if (errno != EXDEV) throw_errno(fmt::format("rename to {}", to.string()), from.string(), errno);
  auto st = lstat_path(from);
  if (!st || st->type != FileType::file)
    throw Error(fmt::format("cannot move {} to {}: they are on different file systems", from.string(), to.string()));
  const auto tmp = to.parent_path() / ("." + to.filename().string() + ".kdr-tmp");
  ::unlink(tmp.c_str());
  write_file_atomic(tmp, read_file(from), st->mode);
  if (::lchown(tmp.c_str(), st->uid, st->gid) != 0 && errno != EPERM) throw_errno("lchown", tmp.string(), errno);
  const struct timespec times[2] = {{0, UTIME_OMIT}, {st->mtime_sec, st->mtime_nsec}};
  if (::utimensat(AT_FDCWD, tmp.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("utimensat", tmp.string(), errno);
  if (::rename(tmp.c_str(), to.c_str()) != 0) throw_errno("rename", tmp.string(), errno);
  fsync_path(to.parent_path());
  if (::unlink(from.c_str()) != 0) throw_errno("unlink", from.string(), errno);
  fsync_path(from.parent_path());
}

}  // namespace kdr::core
