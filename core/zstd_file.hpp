// Streaming zstd compression of whole files (the etcd snapshot), through libzstd.
#pragma once

#include <string>

#include "core/fs.hpp"

namespace kdr::core {

// Compresses `from` into a new file `to` (mode 0600); returns the bytes written.
std::uint64_t zstd_compress_file(const bfs::path& from, const bfs::path& to, int level = 3);
// Decompresses `from` into a new file `to` (mode 0600); returns the bytes written.
std::uint64_t zstd_decompress_file(const bfs::path& from, const bfs::path& to);

struct PrivateCopy {
  std::uint64_t bytes = 0;
  std::string sha256;  // of what was written
};
// A file from the backup disk (not a symlink, a regular file), copied, or decompressed when
// `zstd`, into a new file `to` (0600), hashed as it is written: what is then read from `to`
// is exactly what was hashed, whatever happens to `from` afterwards.
PrivateCopy private_copy(const bfs::path& from, const bfs::path& to, bool zstd);

}  // namespace kdr::core
