// A published generation as a command reads it: its meta.json, its manifest and the files
// of its own, with what locates them in the backup format (core/generation.hpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/generation.hpp"
#include "core/manifest.hpp"
#include "core/static_pods.hpp"

namespace kdr::core {

// A published generation, read for checking.
struct GenerationView {
  std::string id;
  bfs::path dir;
  GenerationMeta meta;
  std::optional<Manifest> manifest;  // empty when it cannot be read (a finding says why)
  std::vector<Artifact> artifacts;
  // etcd's data dir on the node when the backup ran, as the generation recorded it; ""
  // when etcd's data was not on the node (external etcd); empty optional: not recorded.
  std::optional<std::string> recorded_etcd_data_dir;
  // Of the texts `meta` and `manifest` were parsed from: what authenticate_generation checks.
  std::string meta_sha256, manifest_sha256;
  std::string manifest_problem;  // why the manifest cannot be read (empty when it can)
};

// A path meta.json gives for a file of the generation's own: relative, no "." or ".." parts,
// not under files/ (the copies are the manifest's).
bool safe_artifact_path(const std::string& p);

// The static pods of a generation (its copy of the static pod folder).
StaticPodScan generation_pods(const GenerationView& g, const std::string& static_pod_path);

// The generation's etcd data dir, or the config's etcd_data_dir when it recorded none.
std::string etcd_data_dir_of(const GenerationView& g, const Config& config);

// `meta_sha256`: of the meta.json text `meta` was parsed from (GenerationEntry::meta_sha256).
// A manifest that cannot be read leaves `manifest` empty and says why in manifest_problem.
GenerationView load_generation(const std::string& id, const bfs::path& dir, const GenerationMeta& meta,
                               const std::string& meta_sha256);

}  // namespace kdr::core
