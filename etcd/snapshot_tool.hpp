// The program that restores an etcd snapshot: etcdutl when installed (3.5+), else etcdctl
// (3.4), with what it supports, looked up once per use.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/context.hpp"

namespace kdr::etcd {

struct SnapshotTool {
  std::vector<std::string> argv;  // etcdutl or etcdctl
  std::string name;
  bool bump = false;         // supports --bump-revision/--mark-compacted
  bool memory_map = false;   // supports --initial-memory-map-size (etcdutl 3.5.14+)
  std::string version;

  // What sizes a restore to the database: bbolt's first memory map, a quarter larger than the
  // database in whole GiB, where the tool lets it be set (its default, 10 GiB, is refused
  // where virtual memory is limited, etcd#16052, and remapped past 10 GiB).
  std::vector<std::string> sizing_args(std::uint64_t db_size) const;
};

// Whole GiB in `bytes`, rounded up (timeouts and map sizes grow by the GiB).
std::uint64_t whole_gibs(std::uint64_t bytes);

// How long restoring a snapshot of `db_size` may take: etcd's own figure is about a minute for
// 8 GiB (etcd#9771); ten minutes and two more per GiB leave room for slow disks.
std::chrono::seconds snapshot_restore_timeout(std::uint64_t db_size);

// etcd's backend quota for a private etcd holding a database of `db_size`: twice its size, at
// least etcd's default 2 GiB, so that it is never refused for space while kdr reads or writes it.
std::uint64_t private_quota_bytes(std::uint64_t db_size);

SnapshotTool snapshot_tool(const core::Context& ctx);

// The version of the etcd server program kdr runs privately (etcd.server: `etcd --version`'s
// "etcd Version: 3.5.16"); empty when it is missing or says none.
std::string etcd_server_version(const core::Context& ctx);

// "3.5" of "3.5.16" or "v3.5.16".
std::string minor_of(const std::string& version);

}  // namespace kdr::etcd
