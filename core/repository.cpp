#include "core/repository.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/sha256.hpp"

namespace kdr::core {

namespace {

constexpr const char* marker_name = "kdr-backup.json";
constexpr const char* staging_prefix = ".tmp-";
constexpr const char* removing_prefix = ".del-";

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

RepositoryLock::RepositoryLock(const bfs::path& dir, LockMode mode) {
  const auto file = dir / ".lock";
  fd_ = Fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd_ && errno == EROFS && mode == LockMode::shared) {
    read_only_ = true;
    fd_ = Fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd_) return;  // no lock file on a read-only disk: nobody can write it, nothing to lock against
  }
  if (!fd_ && errno == EROFS)
    throw Error(fmt::format("{}: Read-only file system: the backup folder's disk cannot be written (remount it "
                            "read-write, or check the disk: ext4 remounts read-only after errors)",
                            dir.string()));
  if (!fd_) throw_errno("open lock", file.string(), errno);
  if (const auto holder = try_flock(fd_.get(), mode == LockMode::exclusive, file))
    throw Error(fmt::format("another kdr run holds the lock on {}: {}", dir.string(), *holder), ExitCode::locked);
}

RepositoryLock Repository::read_lock(const Output& out) const {
  auto lock = RepositoryLock(dir_, LockMode::shared);
  if (lock.read_only())
    out.warn("the backup folder {} is on a read-only file system: read as it is (nothing can change it meanwhile, "
             "and nothing is written there)",
             dir_.string());
  return lock;
}

Repository Repository::open(const bfs::path& dir) {
  auto st = lstat_path(dir);
  if (!st) throw Error(fmt::format("backup folder {} does not exist", dir.string()), ExitCode::no_backup);
  if (!lstat_path(dir / marker_name))
    throw Error(fmt::format("{} is not a kdr backup folder (no {})", dir.string(), marker_name), ExitCode::no_backup);
  return Repository(dir);
}

Repository Repository::open_or_create(const bfs::path& dir) {
  auto st = lstat_path(dir);
  if (st && st->type != FileType::directory)
    throw Error(fmt::format("backup folder {} exists and is not a folder", dir.string()));
  if (st) {
    if (!lstat_path(dir / marker_name)) {
      if (!list_dir(dir).empty())
        throw Error(fmt::format("backup folder {} is not empty and not a kdr backup folder (no {}); "
                                "refusing to write into it",
                                dir.string(), marker_name));
    }
  } else {
    const auto parent = dir.parent_path();
    struct stat pst {};  // followed: a symlink to the mounted disk is fine
    if (::stat(parent.c_str(), &pst) != 0 || !S_ISDIR(pst.st_mode))
      throw Error(fmt::format("backup folder {}: its parent {} does not exist (is the backup disk mounted?)",
                              dir.string(), parent.string()));
    make_dir(dir, 0700);
  }
  // The backup holds private keys: never readable by others.
  if (st && (st->mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0) throw_errno("chmod", dir.string(), errno);
  if (!lstat_path(dir / marker_name))
    write_file_atomic(dir / marker_name, nlohmann::json{{"kdr_backup_folder", 1}}.dump() + "\n", 0600);
  make_dir(dir / "generations", 0700);
  return Repository(dir);
}

std::vector<GenerationEntry> Repository::generations() const {
  std::vector<GenerationEntry> out;
  for (const auto& name : list_dir(generations_dir())) {
    if (name.front() == '.') continue;
    GenerationEntry g{name, generation_path(name), std::nullopt, {}, {}};
    try {
      const auto file = g.path / "meta.json";
      const auto text = read_backup_file(file);
      g.meta = GenerationMeta::parse(text, file.string());
      g.meta_sha256 = sha256_hex(text);
    } catch (const std::exception& e) {
      g.problem = e.what();
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::optional<std::string> Repository::latest_id() const {
  char buf[4096];
  const auto link = dir_ / "latest";
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  std::string target(buf, static_cast<std::size_t>(n));
  auto slash = target.rfind('/');
  return slash == std::string::npos ? target : target.substr(slash + 1);
}

GenerationEntry Repository::find(const std::string& which) const {
  auto all = generations();
  if (all.empty()) throw Error(fmt::format("no generations in {}", dir_.string()), ExitCode::no_backup);
  std::string id = which;
  if (which == "latest") {
    auto latest = latest_id();
    id = latest ? *latest : all.back().id;
  }
  std::vector<GenerationEntry*> matches;
  for (auto& g : all) {
    if (g.id == id) return g;
    if (starts_with(g.id, id)) matches.push_back(&g);
  }
  if (matches.size() == 1) return *matches.front();
  if (matches.empty()) throw Error(fmt::format("no generation '{}' in {}", which, dir_.string()), ExitCode::no_backup);
  throw Error(fmt::format("'{}' matches {} generations; give more of the id", which, matches.size()), ExitCode::usage);
}

std::string Repository::new_generation_id(std::int64_t epoch_seconds) const {
  std::string base = iso_time(epoch_seconds);
  base.erase(std::remove(base.begin(), base.end(), ':'), base.end());  // 2026-11-24T201758Z
  std::string id = base;
  for (int n = 1; lstat_path(generation_path(id)) || lstat_path(staging_path(id)); ++n)
    id = fmt::format("{}.{}", base, n);
  return id;
}

bfs::path Repository::staging_path(const std::string& id) const {
  return generations_dir() / (staging_prefix + id);
}

void Repository::point_latest_at(const std::string& id) const {
  const auto tmp = dir_ / fmt::format(".latest.tmp-{}", ::getpid());
  ::unlink(tmp.c_str());
  const std::string target = "generations/" + id;
  if (::symlink(target.c_str(), tmp.c_str()) != 0) throw_errno("create symlink", tmp.string(), errno);
  if (::rename(tmp.c_str(), (dir_ / "latest").c_str()) != 0) throw_errno("rename", tmp.string(), errno);
  fsync_path(dir_);
}

void Repository::publish(const std::string& id) const {
  const auto from = staging_path(id);
  const auto to = generation_path(id);
  if (::rename(from.c_str(), to.c_str()) != 0) throw_errno("publish (rename)", from.string(), errno);
  fsync_path(generations_dir());
  point_latest_at(id);
}

void Repository::publish_pulled(const std::string& id) const {
  const auto from = staging_path(id);
  const auto to = generation_path(id);
  if (::rename(from.c_str(), to.c_str()) != 0) throw_errno("publish (rename)", from.string(), errno);
  fsync_path(generations_dir());
  const auto all = generations();
  if (!all.empty()) point_latest_at(all.back().id);
}

void Repository::remove_generation(const std::string& id) const {
  const auto from = generation_path(id);
  const auto aside = generations_dir() / (removing_prefix + id);
  if (::rename(from.c_str(), aside.c_str()) != 0) throw_errno("remove (rename)", from.string(), errno);
  fsync_path(generations_dir());
  if (latest_id() == id) {
    // Never leave `latest` dangling: point it at the newest generation left.
    auto rest = generations();
    if (!rest.empty()) point_latest_at(rest.back().id);
    else ::unlink((dir_ / "latest").c_str());
  }
  remove_tree(aside);
  ::unlink(verify_result_path(id).c_str());
  ::unlink(restore_proof_path(id).c_str());
}

std::vector<std::string> Repository::remove_leftovers() const {
  std::vector<std::string> removed;
  for (const auto& name : list_dir(generations_dir())) {
    if (starts_with(name, staging_prefix) || starts_with(name, removing_prefix)) {
      remove_tree(generations_dir() / name);
      removed.push_back(name);
    }
  }
  for (const auto& name : list_dir(dir_))
    if (starts_with(name, ".latest.tmp-")) ::unlink((dir_ / name).c_str());
  if (!removed.empty()) fsync_path(generations_dir());
  return removed;
}

bool is_generation_id(std::string_view id) {
  constexpr std::string_view shape = "dddd-dd-ddTddddddZ";
  if (id.size() < shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool digit = id[i] >= '0' && id[i] <= '9';
    if (shape[i] == 'd' ? !digit : id[i] != shape[i]) return false;
  }
  const auto counter = id.substr(shape.size());
  if (counter.empty()) return true;
  if (counter.size() < 2 || counter.size() > 7 || counter[0] != '.' || counter[1] == '0') return false;
  return std::all_of(counter.begin() + 1, counter.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace kdr::core
