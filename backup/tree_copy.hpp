// Copies the node's sources into a staging generation: every entry recorded in the
// manifest with its metadata, files hashed while they are copied, files unchanged since
// the previous generation hard-linked to it instead of copied.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/generation.hpp"
#include "core/manifest.hpp"
#include "core/node_root.hpp"
#include "core/progress.hpp"
#include "core/sha256.hpp"

namespace kdr::backup {

// The previous generation, for hard links and reused hashes.
struct PreviousGeneration {
  core::bfs::path dir;  // its folder
  core::Manifest manifest;
  std::unordered_map<std::string, std::size_t> index;
};

struct CopyCounters {
  std::uint64_t files_copied = 0, files_linked = 0;
  std::uint64_t bytes_copied = 0, bytes_linked = 0;
};

class TreeCopier {
 public:
  TreeCopier(const core::NodeRoot& root, core::bfs::path staging, const PreviousGeneration* previous,
             std::vector<std::string> excludes, int retries, bool preserve_owner);

  // Copies one source (file, folder or symlink) and everything below it.
  // Returns the source's statistics; warnings go to warnings().
  core::SourceStats copy_source(const std::string& node_path);

  // Bytes copied or linked are reported here as they go.
  void set_progress(core::Progress* progress) { progress_ = progress; }
  // At most this many bytes per second are copied (0: no cap); hard links are free.
  void set_bandwidth(std::uint64_t bytes_per_s) { bandwidth_ = bytes_per_s; }
  core::Manifest& manifest() { return manifest_; }
  const core::Manifest& manifest() const { return manifest_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const CopyCounters& counters() const { return counters_; }
  std::uint64_t skipped() const { return skipped_; }
  std::uint64_t torn() const { return torn_; }
  // Set when something could not be read: the generation must not be called complete.
  bool incomplete() const { return not_copied_ > 0; }
  // Paths that could not be read and are missing from the generation (each has a warning).
  std::uint64_t not_copied() const { return not_copied_; }

 private:
  core::Progress* progress_ = nullptr;
  std::uint64_t bandwidth_ = 0, throttled_bytes_ = 0;
  double throttle_start_ = -1;
  void throttle(std::uint64_t bytes);
  void walk(const std::string& node_path, core::SourceStats& stats);
  void copy_dir(const std::string& node_path, const core::FileStat& st, core::SourceStats& stats);
  void copy_symlink(const std::string& node_path, const core::FileStat& st);
  void copy_file(const std::string& node_path, const core::FileStat& st, core::SourceStats& stats);
  bool try_link_previous(const std::string& node_path, const core::FileStat& st, core::ManifestEntry& entry);
  core::bfs::path dest(const std::string& node_path) const;
  // Copies `in` to the empty `out`, holes kept; returns the copy's size and SHA-256.
  std::pair<std::uint64_t, std::string> copy_contents(int in, const core::bfs::path& src, int out,
                                                      const core::bfs::path& dst);
  std::uint64_t copy_range(int in, const core::bfs::path& src, int out, const core::bfs::path& dst, off_t from,
                           off_t to);
  std::uint64_t hash_file(int fd, const core::bfs::path& p, core::Sha256& sha);
  void apply_metadata(const core::bfs::path& path, const core::FileStat& st, bool is_symlink);
  core::ManifestEntry entry_for(const std::string& node_path, const core::FileStat& st) const;

  const core::NodeRoot& root_;
  core::bfs::path staging_;
  const PreviousGeneration* previous_;
  std::vector<std::string> excludes_;
  int retries_;
  bool preserve_owner_;
  core::Manifest manifest_;
  std::vector<std::string> warnings_;
  CopyCounters counters_;
  std::uint64_t skipped_ = 0, torn_ = 0;
  std::uint64_t not_copied_ = 0;
  std::vector<char> buffer_;
  bool use_copy_file_range_ = true;
};

}  // namespace kdr::backup
