// Streaming zstd compression of whole files (the etcd snapshot), through libzstd.
#pragma once

#include "core/fs.hpp"

namespace kdr::core {

// Compresses `from` into a new file `to` (mode 0600); returns the bytes written.
std::uint64_t zstd_compress_file(const bfs::path& from, const bfs::path& to, int level = 3);
// Decompresses `from` into a new file `to` (mode 0600); returns the bytes written.
std::uint64_t zstd_decompress_file(const bfs::path& from, const bfs::path& to);

}  // namespace kdr::core
