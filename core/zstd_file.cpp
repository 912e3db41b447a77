#include "core/interrupt.hpp"
#include "core/zstd_file.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/host.hpp"
#include "core/progress.hpp"
#include "core/sha256.hpp"
#include "core/write_behind.hpp"

namespace kdr::core {

namespace {

struct Streams {
  Fd in, out;
  const bfs::path& from;
  const bfs::path& to;
  Sha256* hash = nullptr;  // of what is written, when set
  Progress* progress = nullptr;  // counts what is written, when set
  Streams(const bfs::path& f, const bfs::path& t) : from(f), to(t) {
    in = Fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!in) throw_errno("open", f.string(), errno);
    if (fstat_fd(in.get(), f).type != FileType::file) throw Error(fmt::format("{}: not a regular file", f.string()));
    out = Fd(::open(t.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out) throw_errno("create", t.string(), errno);
  }
  std::size_t read(void* buf, std::size_t n) { return read_some(in.get(), buf, n, from.string()); }
  void write(const void* buf, std::size_t n) {
    write_all(out.get(), buf, n, to.string());
    if (hash != nullptr) hash->update(buf, n);
    if (progress != nullptr) progress->add(n);
  }
};

void check(std::size_t code, const bfs::path& file) {
  if (ZSTD_isError(code)) throw Error(fmt::format("zstd {}: {}", file.string(), ZSTD_getErrorName(code)));
}

}  // namespace

std::uint64_t zstd_compress_file(const bfs::path& from, const bfs::path& to, int level) {
  Streams s(from, to);
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level), to);
  check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1), to);
  // The frame says how large the file is (a reader checks its room before it decompresses).
  check(ZSTD_CCtx_setPledgedSrcSize(cctx.get(), fstat_fd(s.in.get(), from).size), to);
  std::vector<char> in(ZSTD_CStreamInSize()), out(ZSTD_CStreamOutSize());
  std::uint64_t written = 0;
  for (;;) {
    check_interrupted();
    const std::size_t n = s.read(in.data(), in.size());
    const auto mode = n < in.size() ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer input{in.data(), n, 0};
    bool finished = false;
    do {
      ZSTD_outBuffer output{out.data(), out.size(), 0};
      const std::size_t remaining = ZSTD_compressStream2(cctx.get(), &output, &input, mode);
      check(remaining, to);
      s.write(out.data(), output.pos);
      written += output.pos;
      finished = mode == ZSTD_e_end ? remaining == 0 : input.pos == input.size;
    } while (!finished);
    if (mode == ZSTD_e_end) break;
  }
  return written;
}

namespace {

// Decompresses s.in into s.out; through `behind` (on its thread) when given.
std::uint64_t decompress(Streams& s, WriteBehind* behind = nullptr) {
  const auto& from = s.from;
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  std::vector<char> in(ZSTD_DStreamInSize()), own(behind == nullptr ? ZSTD_DStreamOutSize() : 0);
  std::uint64_t written = 0;
  std::size_t last = 0;
  for (;;) {
    check_interrupted();
    const std::size_t n = s.read(in.data(), in.size());
    if (n == 0) break;
    ZSTD_inBuffer input{in.data(), n, 0};
    while (input.pos < input.size) {
      auto& out = behind != nullptr ? behind->buffer() : own;
      ZSTD_outBuffer output{out.data(), out.size(), 0};
      last = ZSTD_decompressStream(dctx.get(), &output, &input);
      check(last, from);
      if (output.pos == 0) continue;
      if (behind != nullptr) behind->submit(output.pos);
      else s.write(out.data(), output.pos);
      written += output.pos;
    }
  }
  if (last != 0) throw Error(fmt::format("zstd {}: truncated compressed file", from.string()));
  return written;
}

}  // namespace

std::uint64_t zstd_decompress_file(const bfs::path& from, const bfs::path& to) {
  Streams s(from, to);
  return decompress(s);
}

PrivateCopy private_copy(const bfs::path& from, const bfs::path& to, bool zstd, Progress* progress) {
  Streams s(from, to);
  Sha256 hash;
  s.hash = &hash;
  s.progress = progress;
  // The backup disk is read ahead while what was read is hashed and written, on another thread.
  ::posix_fadvise(s.in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  WriteBehind behind([&s](const char* data, std::size_t size) { s.write(data, size); });
  PrivateCopy c;
  if (zstd) {
    c.bytes = decompress(s, &behind);
  } else {
    for (;;) {
      check_interrupted();
      auto& buf = behind.buffer();
      const std::size_t n = s.read(buf.data(), buf.size());
      if (n == 0) break;
      behind.submit(n);
      c.bytes += n;
    }
  }
  behind.finish();
  c.sha256 = hash.hex_digest();
  return c;
}

std::optional<std::uint64_t> zstd_content_size(const bfs::path& file) {
  const Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return std::nullopt;
  char head[18];  // a frame header at its largest (zstd_compression_format.md)
  const auto n = ::pread(fd.get(), head, sizeof head, 0);
  if (n <= 0) return std::nullopt;
  const auto size = ZSTD_getFrameContentSize(head, static_cast<std::size_t>(n));
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) return std::nullopt;
  return size;
}

PrivateCopy checked_private_copy(const Host& host, const bfs::path& from, const bfs::path& to, bool zstd,
                                 const std::string& sha256, Progress* progress) {
  const auto folder = to.parent_path();
  // What the copy will weigh: the file's size, or what its zstd frame says it decompresses to
  // (only the room is checked from it: the copy's hash decides whether it is used).
  std::optional<std::uint64_t> size;
  if (zstd) {
    size = zstd_content_size(from);
  } else if (const auto st = lstat_path(from)) {
    size = st->size;
  }
  if (size) {
    const auto free = host.free_bytes(folder);
    if (free < *size + (16ull << 20))
      throw Error(fmt::format("{} has {} MiB free; a private copy of {} ({} MiB) does not fit there: free space "
                              "there, or set TMPDIR to a folder on a disk with room",
                              folder.string(), free >> 20, from.string(), (*size >> 20) + 1));
  }
  auto copy = private_copy(from, to, zstd, progress);
  if (!sha256.empty() && copy.sha256 != sha256) {
    ::unlink(to.c_str());
    throw Error(fmt::format("{}: its content hashes to {}, its record says {}: it changed on the backup disk; not read",
                            from.string(), copy.sha256, sha256));
  }
  return copy;
}

void checked_private_copy_renamed(const Host& host, const bfs::path& from, const bfs::path& to, bool zstd,
                                  const std::string& sha256, Progress* progress) {
  const auto part = to.string() + ".part";
  ::unlink(part.c_str());
  checked_private_copy(host, from, part, zstd, sha256, progress);
  if (::rename(part.c_str(), to.c_str()) != 0) throw_errno("rename", part, errno);
}

}  // namespace kdr::core
