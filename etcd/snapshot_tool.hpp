// The program that restores an etcd snapshot: etcdutl when installed (3.5+), else etcdctl
// (3.4), with what it supports, looked up once per use.
#pragma once

#include <string>
#include <vector>

#include "core/context.hpp"

namespace kdr::restore {

struct SnapshotTool {
  std::vector<std::string> argv;  // etcdutl or etcdctl
  std::string name;
  bool bump = false;  // supports --bump-revision/--mark-compacted
  std::string version;
};

SnapshotTool snapshot_tool(const core::Context& ctx);

// The version of the etcd server program kdr runs privately (etcd.server: `etcd --version`'s
// "etcd Version: 3.5.16"); empty when it is missing or says none.
std::string etcd_server_version(const core::Context& ctx);

// "3.5" of "3.5.16" or "v3.5.16".
std::string minor_of(const std::string& version);

}  // namespace kdr::restore
