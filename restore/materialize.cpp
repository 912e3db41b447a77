#include "restore/materialize.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/node_root.hpp"
#include "core/sha256.hpp"

namespace kdr::restore {

using core::FileType;

std::vector<const core::ManifestEntry*> entries_under(const core::Manifest& manifest, const std::string& path,
                                                      const std::vector<std::string>& exclude) {
  std::vector<const core::ManifestEntry*> out;
  for (const auto& e : manifest.entries) {
    if (!core::node_path_within(e.path, path)) continue;
    bool below_excluded = std::any_of(exclude.begin(), exclude.end(), [&](const std::string& x) {
      return e.path != x && core::node_path_within(e.path, x);
    });
    if (!below_excluded) out.push_back(&e);
  }
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->path < b->path; });
  return out;
}

namespace {

void set_times(const core::bfs::path& p, const core::ManifestEntry& e) {
  struct timespec ts[2];
  ts[0].tv_sec = e.mtime_sec;
  ts[0].tv_nsec = e.mtime_nsec;
  ts[1] = ts[0];
  if (::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) core::throw_errno("utimensat", p.string(), errno);
}

void set_owner(const core::bfs::path& p, const core::ManifestEntry& e) {
  if (::lchown(p.c_str(), e.uid, e.gid) != 0 && errno != EPERM) core::throw_errno("lchown", p.string(), errno);
}

}  // namespace

void apply_metadata(const core::bfs::path& p, const core::ManifestEntry& e) {
  set_owner(p, e);
  if (e.type != FileType::symlink && ::chmod(p.c_str(), e.mode & ~setuid_setgid_bits) != 0)
    core::throw_errno("chmod", p.string(), errno);
  set_times(p, e);
}

void copy_generation_file(const core::ManifestEntry& e, const core::bfs::path& generation_dir,
                          const core::bfs::path& dest, core::Progress* progress) {
  const auto src = generation_dir / core::generation_relative_path(e.path);
  core::Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in) core::throw_errno("open", src.string(), errno);
  core::Fd out(::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!out) core::throw_errno("create", dest.string(), errno);
  core::Sha256 hasher;
  std::vector<char> buf(1 << 20);
  std::uint64_t total = 0;
  for (;;) {
    core::check_interrupted();
    const auto n = core::read_some(in.get(), buf.data(), buf.size(), src.string());
    if (n == 0) break;
    hasher.update(buf.data(), n);
    total += n;
    if (progress) progress->add(n);
    core::write_all(out.get(), buf.data(), n, dest.string());
  }
  const auto digest = hasher.hex_digest();
  if (digest != e.sha256 || total != e.size)
    throw core::Error(fmt::format("{} in the generation does not match its manifest (SHA-256 {}, {} bytes; the "
                                  "manifest says {}, {} bytes): the generation is damaged; run `kdr verify` and "
                                  "restore from another generation (kdr list)",
                                  e.path, digest, total, e.sha256, e.size));
}

MaterializeStats materialize(const std::vector<const core::ManifestEntry*>& entries, const std::string& path,
                             const core::bfs::path& generation_dir, const core::bfs::path& dest,
                             const KeepSpecialBits& keep_special, core::Progress* progress) {
  MaterializeStats stats;
  const auto mode_of = [&](const core::ManifestEntry& e) {
    if ((e.mode & setuid_setgid_bits) == 0 || keep_special(e)) return e.mode;
    stats.special_dropped.push_back(e.path);
    return e.mode & ~setuid_setgid_bits;
  };
  if (entries.empty() || entries.front()->path != path)
    throw core::Error(fmt::format("the generation has no entry for {}", path));
  if (core::lstat_path(dest)) throw core::Error(fmt::format("{} already exists", dest.string()));
  std::set<std::string> made_dirs;  // node paths of the folders created here
  std::vector<const core::ManifestEntry*> dirs;
  for (const auto* e : entries) {
    // Entries come from a manifest on the backup disk: never trust them to stay inside.
    std::string normal;
    try {
      normal = core::normalize_node_path(e->path, "manifest entry");
    } catch (const core::Error&) {
      throw core::Error(fmt::format("unsafe manifest entry '{}': not a clean absolute path; refusing to restore it",
                                    e->path));
    }
    if (normal != e->path || !core::node_path_within(e->path, path))
      throw core::Error(fmt::format("unsafe manifest entry '{}': outside {}; refusing to restore it", e->path, path));
    const auto rel = e->path.substr(path.size());
    const auto target = rel.empty() ? dest : core::bfs::path(dest.string() + rel);
    if (!rel.empty()) {
      const auto parent = e->path.substr(0, e->path.rfind('/'));
      const auto parent_node = parent.empty() ? std::string("/") : parent;
      if (!made_dirs.count(parent_node))
        throw core::Error(fmt::format("unsafe manifest entry '{}': its folder {} is not a folder of the restored "
                                      "tree (a symlink or a missing entry); refusing to write through it",
                                      e->path, parent_node));
    }
    core::check_interrupted();
    switch (e->type) {
      case FileType::directory:
        core::make_dir(target, 0700);
        made_dirs.insert(e->path);
        dirs.push_back(e);
        ++stats.dirs;
        break;
      case FileType::file:
        copy_generation_file(*e, generation_dir, target, progress);
        set_owner(target, *e);
        if (::chmod(target.c_str(), mode_of(*e)) != 0) core::throw_errno("chmod", target.string(), errno);
        set_times(target, *e);
        ++stats.files;
        stats.bytes += e->size;
        break;
      case FileType::symlink:
        if (::symlink(e->target.c_str(), target.c_str()) != 0) core::throw_errno("symlink", target.string(), errno);
        set_owner(target, *e);
        set_times(target, *e);
        ++stats.symlinks;
        break;
      case FileType::other:
        throw core::Error(fmt::format("manifest entry {} is of a type kdr does not restore", e->path));
    }
  }
  // Folders last, deepest first: their times would change with every entry made in them.
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    const auto* e = *it;
    const auto rel = e->path.substr(path.size());
    const auto target = rel.empty() ? dest : core::bfs::path(dest.string() + rel);
    set_owner(target, *e);
    if (::chmod(target.c_str(), mode_of(*e)) != 0) core::throw_errno("chmod", target.string(), errno);
    set_times(target, *e);
  }
  core::Fd fd(::open(dest.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd && ::syncfs(fd.get()) != 0) core::throw_errno("syncfs", dest.string(), errno);
  return stats;
}

}  // namespace kdr::restore
