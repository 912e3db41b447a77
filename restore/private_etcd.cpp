#include "restore/private_etcd.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/wait.hpp"
#include "core/zstd_file.hpp"
#include "restore/snapshot_tool.hpp"

namespace kdr::restore {

namespace {

// A port on 127.0.0.1 that nothing listens on now (the kernel picks it).
int free_loopback_port() {
  core::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) core::throw_errno("socket", "127.0.0.1", errno);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    core::throw_errno("bind", "127.0.0.1:0", errno);
  return ntohs(a.sin_port);
}

std::string last_lines(const core::bfs::path& log, std::size_t n) {
  std::string text;
  try {
    text = core::read_file(log);
  } catch (const core::Error&) {
    return {};
  }
  std::size_t pos = text.size();
  for (std::size_t i = 0; i <= n && pos != std::string::npos && pos > 0; ++i) pos = text.rfind('\n', pos - 1);
  return text.substr(pos == std::string::npos ? 0 : pos + 1);
}

}  // namespace

PrivateEtcd::PrivateEtcd(const core::Context& ctx, const core::bfs::path& snapshot, bool zstd,
                         const std::vector<std::string>& server_args, const std::string& what)
    : dir_(what) {
  auto file = snapshot;
  if (zstd) {
    file = dir_.path() / "snapshot.db";
    core::zstd_decompress_file(snapshot, file);
  }
  const auto data = dir_.path() / "data";
  const int peer = free_loopback_port(), client = free_loopback_port();
  const auto peer_url = fmt::format("http://127.0.0.1:{}", peer);
  url_ = fmt::format("http://127.0.0.1:{}", client);
  const std::string name = "kdr-private";
  const auto cluster = fmt::format("{}={}", name, peer_url);

  const auto tool = snapshot_tool(ctx);
  auto restore = tool.argv;
  restore.insert(restore.end(), {"snapshot", "restore", file.string(), "--data-dir", data.string(), "--name", name,
                                 "--initial-cluster", cluster, "--initial-advertise-peer-urls", peer_url,
                                 "--initial-cluster-token", fmt::format("kdr-private-{}", ::getpid())});
  const auto r = ctx.programs->run(restore, core::etcd_tool_options(std::chrono::minutes(30)));
  if (!r.ok())
    throw core::Error(fmt::format("{} could not open the snapshot: {}", core::describe_argv(restore),
                                  r.started ? r.err + r.out : r.start_error));

  if (ctx.config.etcd.server.empty() || ctx.programs->find(ctx.config.etcd.server.front()).empty())
    throw core::Error(fmt::format("the etcd server program ({}) is not installed: it reads the snapshot privately on "
                                  "loopback. Install Debian's etcd-server package, or set etcd.server in the config",
                                  ctx.config.etcd.server.empty() ? "etcd.server" : ctx.config.etcd.server.front()));
  auto argv = ctx.config.etcd.server;
  argv.insert(argv.end(), {"--name", name, "--data-dir", data.string(), "--listen-client-urls", url_,
                           "--advertise-client-urls", url_, "--listen-peer-urls", peer_url,
                           "--initial-advertise-peer-urls", peer_url, "--initial-cluster", cluster});
  argv.insert(argv.end(), server_args.begin(), server_args.end());
  const auto log = dir_.path() / "etcd.log";
  process_ = ctx.programs->start(argv, log);
  client_ = ctx.etcd->connect(core::EtcdEndpoint{url_, "", "", ""}, std::chrono::seconds(60));
  const auto answered = core::wait_until({.timeout_s = 60}, [&]() -> std::optional<std::string> {
    try {
      client_->status();
      return std::nullopt;
    } catch (const core::Error& e) {
      if (!process_->running())
        throw core::Error(fmt::format("the private etcd ({}) stopped before it served the snapshot:\n{}",
                                      core::describe_argv(argv), last_lines(log, 5)));
      return std::string(e.what());
    }
  });
  if (!answered.done)
    throw core::Error(fmt::format("the private etcd at {} did not answer within 60 s: {}", url_, answered.still));
}

}  // namespace kdr::restore
