// The manifest of a generation: one entry per backed-up path, as JSON Lines
// (`manifest.jsonl`), plus the `SHA256SUMS` file that `sha256sum -c` accepts.
// The format is described in docs/backup-format.md.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/fs.hpp"

namespace kdr::core {

inline constexpr int manifest_format_version = 1;

struct ManifestEntry {
  std::string path;  // absolute node path, e.g. /etc/kubernetes/pki/ca.key
  FileType type = FileType::file;
  std::uint32_t mode = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_sec = 0;
  std::int64_t mtime_nsec = 0;
  std::string sha256;  // files only
  std::string target;  // symlinks only
  bool torn = false;   // the source kept changing while it was copied

  bool operator==(const ManifestEntry&) const = default;
};

class Manifest {
 public:
  std::vector<ManifestEntry> entries;

  std::string to_jsonl() const;
  // Throws Error naming `origin` and the line of the first bad entry.
  static Manifest parse(std::string_view text, const std::string& origin);
  static Manifest load(const bfs::path& file);

  // path -> index into entries
  std::unordered_map<std::string, std::size_t> index() const;
};

// A file of the generation that is not a node path (the etcd snapshot, the saved
// kubeadm configuration): path relative to the generation folder, and its SHA-256.
struct Artifact {
  std::string path;
  std::string sha256;
  std::uint64_t size = 0;
};

// `sha256sum -c` lines for the artifacts and every file entry, relative to the
// generation folder.
std::string sha256sums(const Manifest& manifest, const std::vector<Artifact>& artifacts = {});

// Where an entry's content lives inside a generation folder: files/<node path>.
std::string generation_relative_path(std::string_view node_path);

// Mode as an octal string, e.g. "0600"; and back (throws on bad text).
std::string mode_to_string(std::uint32_t mode);
std::uint32_t mode_from_string(std::string_view text);

}  // namespace kdr::core
