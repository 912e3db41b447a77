#include "core/context.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::core {

bfs::path node_key_file(const Context& ctx) { return ctx.root.host(ctx.config.key_file); }

std::optional<NodeKey> node_key_if_any(const Context& ctx) {
  try {
    return load_node_key(node_key_file(ctx));
  } catch (const Error&) {
    return std::nullopt;
  }
}

NodeKey load_or_create_node_key(const Context& ctx) {
  const auto file = node_key_file(ctx);
  if (auto key = load_node_key(file)) return *key;
  auto key = create_node_key(file);
  ctx.out.warn("made this node's key {} (id {}): every generation and journal segment is authenticated with it, "
               "and a restore checks it. Copy it now to where the off-site password is kept: a replacement machine "
               "needs it to restore without --set unauthenticated=true (docs/runbook.md)",
               file.string(), key.id());
  return key;
}

std::vector<std::string> kdr_argv(const Context& ctx) {
  std::vector<std::string> argv = {"kdr"};
  if (!ctx.root.is_real_root()) argv.insert(argv.end(), {"--root", ctx.root.root().string()});
  // the node's own /etc/kdr/kdr.yaml is read without being named
  if (ctx.config.origin.find('/') != std::string::npos && ctx.config.origin != ctx.root.host("/etc/kdr/kdr.yaml").string())
    argv.insert(argv.end(), {"--config", ctx.config.origin});
  if (ctx.backup_dir != default_config().backup_dir) argv.insert(argv.end(), {"--backup-dir", ctx.backup_dir.string()});
  return argv;
}

}  // namespace kdr::core
