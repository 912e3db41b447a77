#include "etcd/served_snapshot.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/sha256.hpp"
#include "etcd/bbolt.hpp"

namespace kdr::etcd {

namespace {

std::string bytes_of_hex(const std::string& hex) {
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

// The pages of `fd` from its start up to `pages` into `body` (and written to `to` when it is open).
void hash_pages(core::Sha256& body, int fd, const std::string& name, std::uint64_t pages,
                const BoltSummary& summary, int to, const std::string& to_name) {
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<char> buf(4u << 20);
  std::uint64_t done = 0;
  while (done < pages) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), pages - done));
    const auto n = core::read_some(fd, buf.data(), want, name);
    if (n == 0)
      throw core::Error(fmt::format("{}: the database ends at {} bytes, before its last page ({} pages of {} bytes)",
                                    name, done, summary.high_water, summary.page_size));
    body.update(buf.data(), n);
    if (to >= 0) core::write_all(to, buf.data(), n, to_name);
    done += n;
  }
}

}  // namespace

ServedSnapshot write_served_snapshot(const core::bfs::path& db, const core::bfs::path& out) {
  // the pages the newest meta vouches for (their structure is checked when the snapshot's
  // keyspace is read back)
  const auto summary = read_bolt_meta(db);
  const std::uint64_t pages = summary.high_water * summary.page_size;
  core::Sha256 body;
  core::Fd dst;
  if (::rename(db.c_str(), out.c_str()) == 0) {
    // on the same file system: the file etcd wrote and flushed becomes the snapshot, cut to
    // its pages, and is only read to be hashed
    dst = core::Fd(::open(out.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!dst) core::throw_errno("open", out.string(), errno);
    if (::fchmod(dst.get(), 0600) != 0) core::throw_errno("chmod", out.string(), errno);
    hash_pages(body, dst.get(), out.string(), pages, summary, -1, "");
    if (::ftruncate(dst.get(), static_cast<off_t>(pages)) != 0) core::throw_errno("truncate", out.string(), errno);
    if (::lseek(dst.get(), static_cast<off_t>(pages), SEEK_SET) < 0) core::throw_errno("seek", out.string(), errno);
  } else if (errno == EXDEV) {
    core::Fd in(::open(db.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!in) core::throw_errno("open", db.string(), errno);
    dst = core::Fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!dst) core::throw_errno("create", out.string(), errno);
    if (::fchmod(dst.get(), 0600) != 0) core::throw_errno("chmod", out.string(), errno);
    hash_pages(body, in.get(), db.string(), pages, summary, dst.get(), out.string());
  } else {
    core::throw_errno("rename", db.string(), errno);
  }
  ServedSnapshot s;
  const auto trailer = bytes_of_hex(body.hex_digest_with(""));
  s.sha256 = body.hex_digest_with(trailer);
  s.db_sha256 = body.hex_digest();
  core::write_all(dst.get(), trailer.data(), trailer.size(), out.string());
  if (::fsync(dst.get()) != 0) core::throw_errno("fsync", out.string(), errno);
  dst.close();
  s.size = pages + trailer.size();
  return s;
}

}  // namespace kdr::etcd
