#include "backup/backup_disk.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <fmt/format.h>

namespace kdr::backup {

namespace {

std::optional<struct stat> stat_of(const core::bfs::path& p) {
  struct stat st{};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  return st;
}

// A folder on another device than its parent, or the root itself.
bool is_mount_point(const core::bfs::path& dir) {
  const auto st = stat_of(dir);
  const auto parent = stat_of(dir / "..");
  if (!st || !parent) return false;
  return st->st_dev != parent->st_dev || st->st_ino == parent->st_ino;
}

}  // namespace

std::string FileSystem::text() const {
  return fmt::format("{} (the file system mounted at {}, device {}:{})", path, mount_point, major(device),
                     minor(device));
}

std::optional<FileSystem> file_system_of(const core::bfs::path& path) {
  auto p = core::absolute_normal(path);
  while (!stat_of(p) && p.has_parent_path() && p != p.parent_path()) p = p.parent_path();
  const auto st = stat_of(p);
  if (!st) return std::nullopt;
  FileSystem fs{path.string(), p.string(), static_cast<std::uint64_t>(st->st_dev)};
  // up while the parent is the same device: the top is where it is mounted
  while (p.has_parent_path() && p != p.parent_path()) {
    const auto parent = stat_of(p.parent_path());
    if (!parent || parent->st_dev != st->st_dev) break;
    p = p.parent_path();
  }
  fs.mount_point = p.string();
  return fs;
}

DiskFacts backup_disk_facts(const core::Context& ctx, const std::string& etcd_data_dir) {
  DiskFacts f;
  f.backup = file_system_of(ctx.backup_dir);
  if (!etcd_data_dir.empty()) f.etcd = file_system_of(ctx.root.host(etcd_data_dir));
  f.kubernetes = file_system_of(ctx.root.host("/etc/kubernetes"));
  const auto& mount = ctx.config.backup_disk.mount_point;
  if (!mount.empty() && core::path_is_within(ctx.backup_dir, mount)) {
    f.mount_point = mount;
    f.mount_point_mounted = is_mount_point(mount);
  }
  return f;
}

DiskVerdict judge_backup_disk(const DiskFacts& f, const core::BackupDiskConfig& config, bool sandbox) {
  DiskVerdict v;
  if (!f.mount_point.empty() && !f.mount_point_mounted) {
    v.refusal = fmt::format("{} is not a mount point: the backup disk is not mounted, and a backup would land on "
                            "the disk {} is on (mount the backup disk there, or set backup_disk.mount_point in the "
                            "config)",
                            f.mount_point, f.mount_point);
    return v;
  }
  if (!f.backup) return v;
  for (const auto* other : {&f.etcd, &f.kubernetes}) {
    if (!*other || (*other)->device != f.backup->device) continue;
    const auto same = fmt::format("the backup folder {} is on the same file system as {}: it is no second disk, and "
                                  "goes down with the node's data",
                                  f.backup->text(), (*other)->text());
    if (sandbox)
      v.warnings.push_back(same + " (a sandbox node under --root shares the machine's disks)");
    else if (!config.allow_same_filesystem)
      v.refusal = same + "; put backup_dir on the second disk, or set backup_disk.same_filesystem: allow in the config";
    return v;
  }
  return v;
}

std::vector<std::string> backup_disk_lines(const DiskFacts& f, const DiskVerdict& v) {
  std::vector<std::string> out;
  const auto line = [&](const char* what, const std::optional<FileSystem>& fs) {
    if (fs) out.push_back(fmt::format("{:<16}{}", what, fs->text()));
  };
  line("backup folder", f.backup);
  line("etcd data dir", f.etcd);
  line("/etc/kubernetes", f.kubernetes);
  if (!f.mount_point.empty())
    out.push_back(fmt::format("{:<16}{} {}", "mount point", f.mount_point,
                              f.mount_point_mounted ? "is mounted" : "is NOT a mount point"));
  if (v.refusal) out.push_back("REFUSED: " + *v.refusal);
  for (const auto& w : v.warnings) out.push_back("warning: " + w);
  if (!v.refusal && v.warnings.empty()) out.push_back("a second disk: another file system than the node's data");
  return out;
}

}  // namespace kdr::backup
