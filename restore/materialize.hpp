// Building a tree from a generation: the manifest's entries under one node path, written
// into a fresh folder with their content checked against the manifest's SHA-256 and their
// owners, modes and times as recorded. Nothing is ever written outside that folder: an
// entry that would escape it (.. parts, a path through a symlink) is refused.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/fs.hpp"
#include "core/manifest.hpp"
#include "core/progress.hpp"

namespace kdr::restore {

struct MaterializeStats {
  std::uint64_t files = 0, dirs = 0, symlinks = 0, bytes = 0;
  std::vector<std::string> special_dropped;  // node paths restored without their setuid/setgid bits
};

// setuid and setgid: a generation that a forger wrote could hand root a setuid shell. They are
// restored only for the entries this says yes to (copy-back: where the node's own file had them,
// or allow_setuid=true); the others are restored without them.
inline constexpr std::uint32_t setuid_setgid_bits = 06000;
using KeepSpecialBits = std::function<bool(const core::ManifestEntry&)>;

// Entries of `manifest` at or below node path `path`, minus what lies strictly below one
// of `exclude` (the excluded folders themselves are kept, empty).
std::vector<const core::ManifestEntry*> entries_under(const core::Manifest& manifest, const std::string& path,
                                                      const std::vector<std::string>& exclude);

// Writes the entries (as returned above, `path` first) to `dest`, which must not exist:
// `path` becomes `dest`. Content comes from `generation_dir`/files/... Throws Error naming
// the entry on a hash mismatch, an unsafe entry, or an I/O error. Files are flushed with
// one syncfs at the end.
MaterializeStats materialize(const std::vector<const core::ManifestEntry*>& entries, const std::string& path,
                             const core::bfs::path& generation_dir, const core::bfs::path& dest,
                             const KeepSpecialBits& keep_special, core::Progress* progress = nullptr);

// Copies one generation file to `dest` (mode 0600 while written), checking its hash.
void copy_generation_file(const core::ManifestEntry& entry, const core::bfs::path& generation_dir,
                          const core::bfs::path& dest, core::Progress* progress = nullptr);

// Owner (when allowed), mode and modification time of `p` as the entry records them; never
// setuid or setgid.
void apply_metadata(const core::bfs::path& p, const core::ManifestEntry& entry);

}  // namespace kdr::restore
