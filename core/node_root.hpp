// The node's file system as kdr sees it. Every node path (sources, manifests,
// /var/lib/kdr, restore targets) is an absolute path on the node; with --root DIR it is
// read and written under DIR instead, which is how sandboxes and tests run kdr.
#pragma once

#include <string>

#include "core/fs.hpp"

namespace kdr::core {

// Checks that `node_path` is absolute, has no "." or ".." parts and no empty parts,
// and returns it without a trailing slash. Throws UsageError naming `origin` otherwise.
std::string normalize_node_path(std::string_view node_path, std::string_view origin);

// True when node path `inner` is `outer` or lies below it ("/" contains everything;
// a trailing slash on `outer` is ignored). Compares whole path parts: /etc/kube is not
// inside /etc/kubernetes.
bool node_path_within(std::string_view inner, std::string_view outer);
// An absolute path with '.', '..' and empty parts resolved lexically (".." at / stays at
// /), as a symlink target is read: "/etc/ssl/certs/../../usr/x" -> "/usr/x".
std::string lexically_normal_node_path(std::string_view absolute_path);

class NodeRoot {
 public:
  explicit NodeRoot(bfs::path root = "/");
  // Where the node path lives on this machine.
  bfs::path host(std::string_view node_path) const;
  const bfs::path& root() const { return root_; }
  bool is_real_root() const { return root_ == "/"; }

 private:
  bfs::path root_;
};

}  // namespace kdr::core
