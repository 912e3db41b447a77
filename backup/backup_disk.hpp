// Is the backup folder a second disk? An unmounted backup disk leaves an empty mount point,
// and a backup written into it lands on the root disk; a backup folder on the same file system
// as etcd's data dir or /etc/kubernetes goes down with them. kdr backup checks both before it
// writes anything (config backup_disk): not a mount point where one is declared is refused;
// the same file system is refused on a node (same_filesystem: allow permits it) and a warning
// under --root, where a sandbox node shares the machine's disks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/context.hpp"

namespace kdr::backup {

// The file system a path lies on (the path, or its nearest folder that exists).
struct FileSystem {
  std::string path;         // as asked
  std::string mount_point;  // where that file system is mounted
  std::uint64_t device = 0;
  std::string text() const;  // "/var/lib/etcd (the file system mounted at /, device 8:1)"
};
std::optional<FileSystem> file_system_of(const core::bfs::path& path);

// The backup folder's file system and those of etcd's data dir and /etc/kubernetes (host paths).
struct DiskFacts {
  std::optional<FileSystem> backup, etcd, kubernetes;
  std::string mount_point;        // the declared one that backup_dir lies under; empty: none
  bool mount_point_mounted = true;
};
DiskFacts backup_disk_facts(const core::Context& ctx, const std::string& etcd_data_dir);

struct DiskVerdict {
  std::optional<std::string> refusal;
  std::vector<std::string> warnings;
};
DiskVerdict judge_backup_disk(const DiskFacts& facts, const core::BackupDiskConfig& config, bool sandbox);

// The facts and the verdict, as `kdr sources` and `kdr config` print them: one line each.
std::vector<std::string> backup_disk_lines(const DiskFacts& facts, const DiskVerdict& verdict);

}  // namespace kdr::backup
