#include "etcd/private_etcd.hpp"

#include <sys/un.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/host.hpp"
#include "core/wait.hpp"
#include "core/zstd_file.hpp"
#include "etcd/snapshot_tool.hpp"

namespace kdr::etcd {

namespace {

// Longest path a unix socket address holds (sockaddr_un::sun_path, its NUL included).
constexpr std::size_t max_socket_path = sizeof(sockaddr_un::sun_path) - 1;

// etcd listens on unix sockets in the 0700 scratch folder, named relative to its working
// directory (etcd wants host:port in a URL; "client:0" is a file name here): no port, so
// nothing on loopback, and no other local user can reach it or take its place.
const std::string peer_url = "unix://peer:0", listen_url = "unix://client:0";

// The scratch folder must be root's own and closed to everyone else: its sockets are the only
// way in to the private etcd, which serves every Secret of the snapshot.
void check_private(const core::bfs::path& dir) {
  const auto st = core::lstat_path(dir);
  if (!st || st->type != core::FileType::directory || st->uid != ::geteuid() || (st->mode & 077) != 0)
    throw core::Error(fmt::format("{}: the private etcd's folder is not this user's own with mode 0700 ({}): "
                                  "refusing to serve the snapshot from it",
                                  dir.string(), st ? fmt::format("uid {}, mode {:04o}", st->uid, st->mode & 07777)
                                                   : std::string("gone")));
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

// Room in the scratch folder for `bytes` that etcd's restore and start write there, and its
// preallocated 64 MiB WAL segment with 16 MiB to spare; a clear refusal before they are
// written, instead of a disk filled halfway.
void check_room(const core::Context& ctx, const core::bfs::path& dir, std::uint64_t bytes, const std::string& what) {
  const std::uint64_t need = bytes + (80ull << 20);
  const auto free = ctx.host->free_bytes(dir);
  if (free < need)
    throw core::Error(fmt::format("{} has {} MiB free; {} needs about {} MiB there: free space there, or set TMPDIR "
                                  "to a folder on a disk with room",
                                  dir.string(), free >> 20, what, (need >> 20) + 1));
}

}  // namespace

PrivateEtcd::PrivateEtcd(const core::Context& ctx, const core::bfs::path& snapshot, bool zstd, const std::string& sha256,
                         const std::vector<std::string>& server_args, const std::string& what, bool checked_copy)
    : dir_(what) {
  check_private(dir_.path());
  // an uncompressed snapshot's size is known before it is copied: its copy and the data dir
  // etcd restores it into
  const auto source = core::lstat_path(snapshot);
  if (checked_copy && (zstd || !source))
    throw core::Error(fmt::format("{}: not an uncompressed private copy of the snapshot", snapshot.string()));
  if (!zstd && source)
    check_room(ctx, dir_.path(), (checked_copy ? 1 : 2) * source->size,
               fmt::format("opening the {} MiB snapshot in a private etcd ({}etcd's data dir)", (source->size >> 20) + 1,
                           checked_copy ? "" : "its copy and "));
  const auto file = checked_copy ? snapshot : dir_.path() / "snapshot.db";
  const auto copy = checked_copy ? core::PrivateCopy{source->size, sha256}
                                 : core::checked_private_copy(*ctx.host, snapshot, file, zstd, sha256);
  snapshot_copy_ = file;
  if (zstd)
    check_room(ctx, dir_.path(), copy.bytes,
               fmt::format("restoring the {} MiB snapshot into a private etcd", (copy.bytes >> 20) + 1));
  const auto data = dir_.path() / "data";
  choose_url();
  const std::string name = "kdr-private";
  const auto cluster = fmt::format("{}={}", name, peer_url);

  const auto tool = snapshot_tool(ctx);
  auto restore = tool.argv;
  restore.insert(restore.end(), {"snapshot", "restore", file.string(), "--data-dir", data.string(), "--name", name,
                                 "--initial-cluster", cluster, "--initial-advertise-peer-urls", peer_url,
                                 "--initial-cluster-token", fmt::format("kdr-private-{}", ::getpid())});
  const auto sizing = tool.sizing_args(copy.bytes);
  restore.insert(restore.end(), sizing.begin(), sizing.end());
  // The copy hashed to the generation's record as it was written: the tool's own check of the
  // trailer would read it all again (2.2 s of etcdctl 3.4's 4.3 s restore at 1 GiB).
  if (!sha256.empty()) restore.push_back("--skip-hash-check");
  const auto r = ctx.programs->run(restore, core::etcd_tool_options(snapshot_restore_timeout(copy.bytes)));
  if (!r.ok())
    throw core::Error(fmt::format("{} could not open the snapshot: {}", core::describe_argv(restore),
                                  r.started ? r.err + r.out : r.start_error));
  std::vector<std::string> args{"--name", name, "--initial-advertise-peer-urls", peer_url, "--initial-cluster", cluster};
  args.insert(args.end(), server_args.begin(), server_args.end());
  start(ctx, data, copy.bytes, std::move(args));
}

PrivateEtcd::PrivateEtcd(const core::Context& ctx, const MemberDir& member, const std::vector<std::string>& server_args,
                         const std::string& what)
    : dir_(what) {
  check_private(dir_.path());
  const auto data = dir_.path() / "data";
  const auto source = member.data_dir / "member";
  const auto st = core::lstat_path(source);
  if (!st || st->type != core::FileType::directory)
    throw core::Error(fmt::format("{}: no etcd member data here (no member/ folder)", member.data_dir.string()));
  // member/snap/db, member/snap/*.snap and member/wal/*.wal, as files of this user's alone
  // (a symbolic link or anything else is not followed: it is not etcd's).
  const std::function<void(const core::bfs::path&, const core::bfs::path&)> copy_dir = [&](const auto& from,
                                                                                            const auto& to) {
    core::make_dir(to, 0700);
    for (const auto& name : core::list_dir(from)) {
      const auto f = core::lstat_path(from / name);
      if (!f) continue;
      if (f->type == core::FileType::directory) copy_dir(from / name, to / name);
      else if (f->type == core::FileType::file) core::private_copy(from / name, to / name, false);
    }
  };
  check_room(ctx, dir_.path(), core::tree_bytes(source),
             fmt::format("opening {}'s data in a private etcd (a copy of it)", member.data_dir.string()));
  core::make_dir(data, 0700);
  copy_dir(source, data / "member");
  const auto db = core::lstat_path(data / "member/snap/db");
  choose_url();
  // The member's name and peer URL come from its own data; only where it listens is new.
  std::vector<std::string> args{"--name", "kdr-survivor", "--force-new-cluster"};
  args.insert(args.end(), server_args.begin(), server_args.end());
  start(ctx, data, db ? db->size : 0, std::move(args));
}

PrivateEtcd::ShortLink::~ShortLink() {
  if (dir.empty()) return;
  ::unlink((dir + "/c").c_str());
  ::rmdir(dir.c_str());
}

void PrivateEtcd::choose_url() {
  const auto socket = dir_.path() / "client:0";
  if (socket.string().size() <= max_socket_path) {
    url_ = "unix://" + socket.string();
    return;
  }
  // connect(2) follows a symbolic link to a socket: a short name in a folder only this user
  // can enter (mkdtemp makes it 0700), so nobody else can reach the socket through it.
  std::string tmpl = "/tmp/kdr-sock-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) core::throw_errno("mkdtemp", tmpl, errno);
  short_link_ = std::make_unique<ShortLink>();
  short_link_->dir = tmpl;
  const auto link = tmpl + "/c";
  if (::symlink(socket.c_str(), link.c_str()) != 0) core::throw_errno("symlink", link, errno);
  url_ = "unix://" + link;
}

void PrivateEtcd::start(const core::Context& ctx, const core::bfs::path& data, std::uint64_t db_size,
                        std::vector<std::string> args) {
  if (ctx.config.etcd.server.empty() || ctx.programs->find(ctx.config.etcd.server.front()).empty())
    throw core::Error(fmt::format("the etcd server program ({}) is not installed: it reads the snapshot privately, "
                                  "off the node. Install Debian's etcd-server package, or set etcd.server in the config",
                                  ctx.config.etcd.server.empty() ? "etcd.server" : ctx.config.etcd.server.front()));
  auto argv = ctx.config.etcd.server;
  argv.insert(argv.end(), {"--data-dir", data.string(), "--listen-client-urls", listen_url, "--advertise-client-urls",
                           listen_url, "--listen-peer-urls", peer_url});
  argv.insert(argv.end(), args.begin(), args.end());
  // Sized from the database: a quota it never reaches while kdr reads or writes it, and time
  // to open it (etcd reads its whole key index into memory as it starts: a minute, and half a
  // minute more per GiB).
  if (std::find(args.begin(), args.end(), "--quota-backend-bytes") == args.end())
    argv.insert(argv.end(), {"--quota-backend-bytes", std::to_string(private_quota_bytes(db_size))});
  data_ = data;
  const int wait_s = 60 + 30 * static_cast<int>((db_size + (1ull << 30) - 1) >> 30);
  const auto log = dir_.path() / "etcd.log";
  process_ = ctx.programs->start(argv, log, dir_.path());
  client_ = ctx.etcd->connect(EtcdEndpoint{url_, "", "", ""}, std::chrono::seconds(wait_s));
  const auto answered = core::wait_until({.timeout_s = static_cast<double>(wait_s)}, [&]() -> std::optional<std::string> {
    try {
      client_->status();
      return std::nullopt;
    } catch (const core::Error& e) {
      if (!process_->running())
        throw core::Error(fmt::format("the private etcd ({}) stopped before it served:\n{}",
                                      core::describe_argv(argv), last_lines(log, 5)));
      return std::string(e.what());
    }
  });
  if (!answered.done)
    throw core::Error(fmt::format("the private etcd at {} did not answer within {} s: {}", url_, wait_s, answered.still));
}

core::bfs::path PrivateEtcd::stop_serving() {
  client_.reset();
  constexpr auto grace = std::chrono::seconds(60);
  process_->stop(grace);
  if (process_->exit_code() == 128 + SIGKILL)
    throw core::Error(fmt::format("the private etcd did not stop within {} s of SIGTERM and was killed:\n{}",
                                  grace.count(), last_lines(dir_.path() / "etcd.log", 5)));
  return data_ / "member" / "snap" / "db";
}

}  // namespace kdr::etcd
