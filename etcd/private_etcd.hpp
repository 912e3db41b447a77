// A generation's etcd snapshot opened off the node: restored into a private scratch folder
// (0700, root's) and served by an etcd of its own on unix sockets inside it (no port: nobody
// but root reaches it, nobody can answer in its place; its own cluster token), so that its
// keys can be read while the cluster keeps running. The process dies with kdr and is
// stopped, and the folder removed, on every path out.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/fs.hpp"
#include "core/process.hpp"
#include "etcd/api.hpp"

namespace kdr::etcd {

class PrivateEtcd {
 public:
  // `snapshot`: a file `etcdctl snapshot save` wrote (zstd-compressed when `zstd`), copied
  // into the scratch folder first and opened from there; `sha256`: what that copy must hash
  // to (the generation's record of it), so that the snapshot opened is the one checked, even
  // if the backup disk's file changes meanwhile (empty: none recorded). Throws core::Error
  // saying what failed (a hash that differs, tool missing, restore failed, etcd did not start).
  // `server_args` are added to the etcd server's (e.g. --max-txn-ops for a replay); its
  // --quota-backend-bytes, unless given there, is sized from the database.
  // `checked_copy`: `snapshot` is already a private copy this process wrote and hashed to
  // `sha256` (uncompressed), opened where it lies and left there.
  PrivateEtcd(const core::Context& ctx, const core::bfs::path& snapshot, bool zstd, const std::string& sha256,
              const std::vector<std::string>& server_args = {}, const std::string& what = "etcd-keys",
              bool checked_copy = false);
  // A stopped member's data dir (etcd's --data-dir, holding member/): its files are copied
  // into the scratch folder (the original is never opened for writing) and etcd starts on the
  // copy with --force-new-cluster, as the only member of its cluster: it applies what its WAL
  // committed, discards what it did not, and serves the member's keyspace at its revision.
  struct MemberDir {
    core::bfs::path data_dir;
  };
  PrivateEtcd(const core::Context& ctx, const MemberDir& member, const std::vector<std::string>& server_args = {},
              const std::string& what = "etcd-survivor");
  EtcdApi& client() { return *client_; }
  // unix:///PATH/client:0, for kdr's client and etcdctl --endpoints.
  const std::string& url() const { return url_; }
  // Stops etcd (SIGTERM: it commits what it has pending and closes its database) and gives
  // the database file it served, member/snap/db, to read offline (etcd/backend_hash.hpp,
  // etcd/snapshot_keys.hpp) until this object goes. client() is gone. Throws core::Error when
  // etcd had to be killed.
  core::bfs::path stop_serving();
  // The private copy of the snapshot it was restored from (decompressed, checked against the
  // generation's SHA-256); empty for a member's data dir.
  const core::bfs::path& snapshot_copy() const { return snapshot_copy_; }

 private:
  // The socket's URL, checked against the length a unix socket path may have.
  void choose_url();
  // etcd on `data` (a data dir holding a database of `db_size`) with `args` besides the
  // sockets, until it answers.
  void start(const core::Context& ctx, const core::bfs::path& data, std::uint64_t db_size, std::vector<std::string> args);

  // Where the scratch folder's path is too long for a socket address (a backup disk mounted
  // deep): a symbolic link to the socket in a 0700 folder of /tmp, removed with it.
  struct ShortLink {
    std::string dir;
    ShortLink() = default;
    ShortLink(const ShortLink&) = delete;
    ShortLink& operator=(const ShortLink&) = delete;
    ~ShortLink();
  };

  core::ScratchDir dir_;
  core::bfs::path data_;  // etcd's --data-dir
  core::bfs::path snapshot_copy_;
  std::string url_;
  std::unique_ptr<ShortLink> short_link_;
  std::unique_ptr<core::RunningProgram> process_;
  std::unique_ptr<EtcdApi> client_;
};

}  // namespace kdr::etcd
