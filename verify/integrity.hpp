// Integrity: every file of a generation re-read and compared with its manifest (content
// hash, size, type, mode, owner, mtime, symlink target), entries missing or extra,
// SHA256SUMS in agreement, the generation's own files (snapshot, kubeadm config) intact,
// possibly torn copies listed.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "core/config.hpp"
#include "core/generation.hpp"
#include "core/generation_view.hpp"
#include "core/manifest.hpp"
#include "core/progress.hpp"
#include "core/static_pods.hpp"
#include "verify/findings.hpp"

namespace kdr::verify {

// core::load_generation, with a manifest that cannot be read as an error finding.
using core::GenerationView;
GenerationView load_generation(const std::string& id, const core::bfs::path& dir, const core::GenerationMeta& meta,
                               const std::string& meta_sha256, Findings& findings);

struct IntegrityStats {
  std::uint64_t entries = 0, files_hashed = 0, bytes_hashed = 0;
};

// What an integrity check re-hashes: everything (verify), or only what a restore will read:
// the entries at or below some node paths and some of the generation's own files (its etcd
// snapshot). Everything else is still checked by type, size, mode, owner and SHA256SUMS.
struct HashScope {
  bool everything = true;
  std::vector<std::string> paths;    // node paths
  std::set<std::string> artifacts;   // relative to the generation: etcd/snapshot.db
  bool hashes_entry(const std::string& node_path) const;
  bool hashes_artifact(const std::string& path) const { return everything || artifacts.count(path) != 0; }
};

// Re-hashing (files and the generation's own files together, on every core) reports its
// bytes to `progress` when given.
IntegrityStats check_integrity(const GenerationView& g, const std::string& etcd_data_dir, Findings& findings,
                               core::Progress* progress = nullptr, const HashScope& scope = {});
// The bytes `check_integrity` re-hashes with this scope.
std::uint64_t bytes_to_hash(const GenerationView& g, const HashScope& scope);

}  // namespace kdr::verify
