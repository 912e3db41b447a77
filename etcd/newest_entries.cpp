#include "etcd/newest_entries.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::etcd {

namespace {

constexpr std::size_t chunk_target = 32 * 1024;  // bytes buffered a part before they are written

// An unnamed file in `dir`: O_TMPFILE, or where the file system has none, a named one removed
// at once. -1 when the folder takes neither.
int unnamed_file(const core::bfs::path& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
  std::string name = (dir / ".kdr-keys-XXXXXX").string();
  fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(name.c_str());
  return fd;
}

}  // namespace

std::unique_ptr<SpillFile> SpillFile::open(std::size_t record_size, const std::vector<core::bfs::path>& places) {
  for (const auto& dir : places) {
    const int fd = unnamed_file(dir);
    if (fd >= 0) return std::unique_ptr<SpillFile>(new SpillFile(fd, record_size, dir.string()));
  }
  return nullptr;
}

SpillFile::SpillFile(int fd, std::size_t record_size, std::string where)
    : fd_(fd),
      record_size_(record_size),
      chunk_bytes_(std::max<std::size_t>(1, chunk_target / record_size) * record_size),
      where_(std::move(where)),
      buffers_(parts),
      chunks_(parts) {}

SpillFile::~SpillFile() { ::close(fd_); }

void SpillFile::put(std::size_t part, const unsigned char* record) {
  auto& b = buffers_[part];
  if (b.capacity() == 0) b.reserve(chunk_bytes_);
  b.insert(b.end(), record, record + record_size_);
  ++records_;
  if (b.size() >= chunk_bytes_) write_out(part);
}

void SpillFile::write_out(std::size_t part) {
  auto& b = buffers_[part];
  std::size_t done = 0;
  while (done < b.size()) {
    const auto n = ::pwrite(fd_, b.data() + done, b.size() - done, static_cast<off_t>(end_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw core::Error(fmt::format("cannot set the key table aside in {}: {}", where_,
                                    n < 0 ? std::strerror(errno) : "nothing written"));
    done += static_cast<std::size_t>(n);
  }
  chunks_[part].push_back({end_, static_cast<std::uint32_t>(b.size())});
  end_ += b.size();
  b.clear();
}

void SpillFile::read(std::size_t part, const std::function<void(const unsigned char*)>& f) {
  std::vector<unsigned char> chunk(chunk_bytes_);
  for (const auto& c : chunks_[part]) {
    std::size_t done = 0;
    while (done < c.bytes) {
      const auto n = ::pread(fd_, chunk.data() + done, c.bytes - done, static_cast<off_t>(c.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw core::Error(fmt::format("cannot read the key table back from {}: {}", where_,
                                      n < 0 ? std::strerror(errno) : "the file ends early"));
      done += static_cast<std::size_t>(n);
    }
    for (std::size_t at = 0; at < c.bytes; at += record_size_) f(chunk.data() + at);
  }
  const auto& b = buffers_[part];
  for (std::size_t at = 0; at < b.size(); at += record_size_) f(b.data() + at);
}

std::vector<core::bfs::path> spill_places(const core::bfs::path& walked) {
  std::vector<core::bfs::path> out;
  if (walked.has_parent_path()) out.push_back(walked.parent_path());
  else out.emplace_back(".");
  out.emplace_back("/var/tmp");
  out.emplace_back("/tmp");
  return out;
}

}  // namespace kdr::etcd
