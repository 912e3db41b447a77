// The backup folder on the second disk (docs/backup-format.md):
//   kdr-backup.json           marks the folder as kdr's
//   .lock                     flock(2): one writer at a time
//   generations/<id>/         published generations (meta.json, manifest.jsonl, SHA256SUMS, files/)
//   generations/.tmp-<id>/    a generation being built; removed by the next run
//   generations/.del-<id>/    a generation being removed by retention
//   latest -> generations/<id>
//   verify/<id>.json          the last verify of each generation (a summary)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/fs.hpp"
#include "core/generation.hpp"
#include "core/output.hpp"

namespace kdr::core {

struct GenerationEntry {
  std::string id;
  bfs::path path;
  std::optional<GenerationMeta> meta;  // empty when meta.json cannot be read
  std::string meta_sha256;             // of the meta.json text `meta` was parsed from
  std::string problem;                 // why meta is empty
};

enum class LockMode { shared, exclusive };

// Holds flock(2) on the folder's .lock until destroyed (or the process dies).
class RepositoryLock {
 public:
  // A shared lock on a read-only file system (ext4 remounted read-only on errors, a disk
  // mounted read-only for the recovery) is taken through a read-only descriptor, or, when the
  // lock file cannot be made there, not at all: nothing can write the folder then either, and
  // read_only() says so. An exclusive lock there is an error naming the file system.
  RepositoryLock(const bfs::path& dir, LockMode mode);
  RepositoryLock(RepositoryLock&&) = default;
  bool read_only() const { return read_only_; }

 private:
  Fd fd_;
  bool read_only_ = false;
};

class Repository {
 public:
  // An existing kdr backup folder; throws Error(no_backup) if it is not one.
  static Repository open(const bfs::path& dir);
  // Opens, or makes a new one (mode 0700). The parent folder must exist: a missing
  // mount point is not silently replaced by a folder on the main disk.
  static Repository open_or_create(const bfs::path& dir);

  const bfs::path& dir() const { return dir_; }
  bfs::path generations_dir() const { return dir_ / "generations"; }
  bfs::path generation_path(const std::string& id) const { return generations_dir() / id; }
  // The outcome of the last `kdr verify` of a generation (verify/<id>.json), kept beside
  // the generations so that the generation itself is never written after it is published.
  bfs::path verify_result_path(const std::string& id) const { return dir_ / "verify" / (id + ".json"); }
  // The last restore test of a generation (restore-tests/<id>.json, signed under the node's
  // key: jobs/restore_proof.hpp), and the scratch folder restore tests run in.
  bfs::path restore_proof_path(const std::string& id) const { return dir_ / "restore-tests" / (id + ".json"); }
  bfs::path restore_test_scratch() const { return dir_ / "restore-tests" / "scratch"; }

  RepositoryLock lock(LockMode mode) const { return RepositoryLock(dir_, mode); }
  // A shared lock for reading, with a warning on `out` when the folder is read-only.
  RepositoryLock read_lock(const Output& out) const;

  // Published generations, oldest first.
  std::vector<GenerationEntry> generations() const;
  // The generation `latest` points at, if any.
  std::optional<std::string> latest_id() const;
  // Resolves "latest", an id, or a unique id prefix; throws Error(no_backup) otherwise.
  GenerationEntry find(const std::string& which) const;

  // A new id from the time, unique within the folder (is_generation_id).
  std::string new_generation_id(std::int64_t epoch_seconds) const;
  // Where a generation is built before it is published.
  bfs::path staging_path(const std::string& id) const;
  // Renames the staging folder into place and switches `latest` to it, durably.
  void publish(const std::string& id) const;
  // The same for a generation that comes back from elsewhere (an off-site copy): `latest`
  // points at the newest generation afterwards, which need not be this one.
  void publish_pulled(const std::string& id) const;
  // Removes a published generation: renamed out of sight first, then deleted.
  void remove_generation(const std::string& id) const;
  // Removes what interrupted runs left (staging and half-removed folders). Returns them.
  std::vector<std::string> remove_leftovers() const;

 private:
  explicit Repository(bfs::path dir) : dir_(std::move(dir)) {}
  void point_latest_at(const std::string& id) const;
  bfs::path dir_;
};

// An id of kdr's own format: 2026-11-24T201758Z, or with a counter (2026-11-24T201758Z.2).
// Ids read from elsewhere (an off-site repository's tags) are names of folders kdr writes:
// nothing else is accepted.
bool is_generation_id(std::string_view id);

}  // namespace kdr::core
