// Streaming zstd compression of whole files (the etcd snapshot), through libzstd.
#pragma once

#include <optional>
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
// is exactly what was hashed, whatever happens to `from` afterwards. Not flushed: a working
// copy, hashed again before it is used after a crash; a caller that keeps it fsyncs it.
// `progress`, when given, counts the bytes written.
class Progress;
PrivateCopy private_copy(const bfs::path& from, const bfs::path& to, bool zstd, Progress* progress = nullptr);

// What a zstd file's frame says it decompresses to; empty when it does not say (files written
// before kdr recorded it) or is not zstd.
std::optional<std::uint64_t> zstd_content_size(const bfs::path& file);

class Host;
// private_copy of a file whose record says what it must hash to (`sha256`; empty: nothing
// recorded). Before anything is written, `to`'s folder must have room for `from` as it will be
// written (a zstd file: what its frame says it decompresses to). Throws Error naming the
// folder, or naming `from` when the copy is not what the record says (it changed on the backup
// disk); the copy is then removed.
PrivateCopy checked_private_copy(const Host& host, const bfs::path& from, const bfs::path& to, bool zstd,
                                 const std::string& sha256, Progress* progress = nullptr);
// The same written to `to`.part and renamed to `to` once whole and checked: a crash never
// leaves a file at `to` that looks complete.
void checked_private_copy_renamed(const Host& host, const bfs::path& from, const bfs::path& to, bool zstd,
                                  const std::string& sha256, Progress* progress = nullptr);

}  // namespace kdr::core
