#include "etcd/snapshot_tool.hpp"

#include <algorithm>

#include "core/process.hpp"

namespace kdr::etcd {

SnapshotTool snapshot_tool(const core::Context& ctx) {
  SnapshotTool t;
  const auto& e = ctx.config.etcd;
  if (!e.etcdutl.empty() && !ctx.programs->find(e.etcdutl.front()).empty()) {
    t.argv = e.etcdutl;
    t.name = "etcdutl";
  } else {
    t.argv = e.etcdctl;
    t.name = "etcdctl";
  }
  const auto opts = core::etcd_tool_options(std::chrono::seconds(20));
  auto help = t.argv;
  help.insert(help.end(), {"snapshot", "restore", "--help"});
  auto r = ctx.programs->run(help, opts);
  t.bump = (r.out + r.err).find("bump-revision") != std::string::npos;
  t.memory_map = (r.out + r.err).find("initial-memory-map-size") != std::string::npos;
  auto v = t.argv;
  v.push_back("version");
  auto rv = ctx.programs->run(v, opts);
  if (rv.ok()) {
    auto pos = rv.out.find("version: ");
    if (pos != std::string::npos) t.version = rv.out.substr(pos + 9, rv.out.find('\n', pos) - pos - 9);
  }
  return t;
}

namespace {
constexpr std::uint64_t gib = 1ull << 30;
}  // namespace

std::uint64_t whole_gibs(std::uint64_t bytes) { return (bytes + gib - 1) / gib; }

std::vector<std::string> SnapshotTool::sizing_args(std::uint64_t db_size) const {
  if (!memory_map) return {};
  const auto gibs = std::max<std::uint64_t>(1, whole_gibs(db_size + db_size / 4));
  return {"--initial-memory-map-size", std::to_string(gibs * gib)};
}

std::chrono::seconds snapshot_restore_timeout(std::uint64_t db_size) {
  return std::chrono::seconds(600 + 120 * whole_gibs(db_size));
}

std::uint64_t private_quota_bytes(std::uint64_t db_size) { return std::max<std::uint64_t>(2 * gib, 2 * db_size); }

std::string etcd_server_version(const core::Context& ctx) {
  const auto& server = ctx.config.etcd.server;
  if (server.empty() || ctx.programs->find(server.front()).empty()) return {};
  auto argv = server;
  argv.push_back("--version");
  const auto r = ctx.programs->run(argv, core::etcd_tool_options(std::chrono::seconds(20)));
  if (!r.ok()) return {};
  const auto pos = r.out.find("etcd Version: ");
  if (pos == std::string::npos) return {};
  return r.out.substr(pos + 14, r.out.find('\n', pos) - pos - 14);
}

std::string minor_of(const std::string& version) {
  auto v = version;
  if (!v.empty() && v[0] == 'v') v.erase(0, 1);
  auto first = v.find('.');
  if (first == std::string::npos) return v;
  auto second = v.find('.', first + 1);
  return v.substr(0, second);
}

}  // namespace kdr::etcd
