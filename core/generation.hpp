// A generation's metadata (`meta.json`): when, where, what, how much, how it went.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/generation_facts.hpp"

namespace kdr::core {

// meta.json's "kdr_generation": the format of a generation. A reader accepts this one and every
// older one; a newer one (a generation written by a newer kdr) is refused with a message
// naming both, never read by guesswork.
inline constexpr int generation_format_version = 1;

enum class GenerationStatus { complete, partial };
std::string_view to_string(GenerationStatus status);

struct SourceStats {
  std::string path;
  std::string reason;    // why it is backed up: "config", "hostPath etcd-data of etcd"
  bool present = false;  // existed on the node at backup time
  std::uint64_t files = 0;
  std::uint64_t dirs = 0;
  std::uint64_t symlinks = 0;
  std::uint64_t bytes = 0;
  bool is_symlink = false;  // the source path itself was a symlink (never followed)
};

struct GenerationMeta {
  std::string id;
  GenerationStatus status = GenerationStatus::complete;
  std::int64_t time = 0;  // start, seconds since the epoch (UTC)
  std::string started;    // ISO 8601 UTC
  std::string finished;
  std::string hostname;
  std::string root = "/";
  std::string kdr_version;
  std::vector<SourceStats> sources;
  std::uint64_t files = 0, dirs = 0, symlinks = 0, skipped = 0, torn = 0;
  std::uint64_t bytes_total = 0;   // content bytes of all files
  std::uint64_t bytes_copied = 0;  // copied in this run (new in this generation)
  std::uint64_t bytes_linked = 0;  // hard-linked to the previous generation
  std::uint64_t files_copied = 0, files_linked = 0;
  double duration_s = 0;
  std::vector<std::string> warnings;
  std::vector<std::string> partial_because;  // why the status is partial: the causes, not every warning
  EtcdFacts etcd;                             // "etcd": its snapshot, the journal's revision, the members
  NodeFacts node;                             // "node": the node it was taken on
  std::vector<ArtifactRecord> artifacts;      // "artifacts": files kdr wrote besides the copies
  nlohmann::json extra = nlohmann::json::object();  // any other section, kept as written

  nlohmann::json to_json() const;
  static GenerationMeta from_json(const nlohmann::json& j, const std::string& origin);
  // meta.json's text; throws Error naming `origin` when it is not valid JSON or not a meta
  static GenerationMeta parse(std::string_view text, const std::string& origin);
};

// Why a generation is partial, in one line: its recorded causes, or (generations of older
// kdr versions) its first warning. Empty for a complete one.
std::string partial_reason(const GenerationMeta& meta);

// "2026-11-24T20:17:58Z"
std::string iso_time(std::int64_t epoch_seconds);
// "40 s ago", "5 min ago", "3 h ago", "2 days ago", from now (core::now_epoch).
std::string time_ago(std::int64_t epoch_seconds);

}  // namespace kdr::core
