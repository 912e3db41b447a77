// A sandbox control-plane node in a temporary folder, a backup folder beside it, and the fake
// programs a restore talks to (fake_host.hpp), for unit tests that run whole playbooks:
//
//   etcd      the node's: an in-memory keyspace (fake_etcd.hpp) served at http://127.0.0.1:2
//             while etcd's manifest is in the static pod folder (the kubelet would run it);
//             once a saved snapshot is restored into its data dir, it serves that one's keys;
//             a private one (`etcd --data-dir D --listen-client-urls URL`, started beside
//             kdr) serves the keyspace of the snapshot restored into D, and leaves the one it
//             holds in D's database when it is stopped
//   etcdctl   endpoint status / member list / snapshot save ask the etcd at --endpoints, and
//             fail with "connection refused" when nothing serves it; snapshot save writes a
//             real bbolt database holding the keyspace (etcd's key bucket) with its SHA-256
//             trailer, and the fake etcd remembers the keyspace it holds
//   etcdutl   version, snapshot restore --help (it has --bump-revision and
//             --initial-memory-map-size, as 3.5.16's does), snapshot restore
//             (checks the trailer, writes member/snap/db and a WAL into --data-dir)
//   kubeadm   version, reset -f, init --config and init phase certs|kubeconfig|control-plane
//             all and kubelet-start as tests/fakes/kubeadm documents them
//
// etcd's client URL is plain http on loopback (no TLS probe before etcdctl), so that nothing
// but the fakes is asked.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "backup/backup.hpp"
#include "bolt_builder.hpp"
#include "core/sha256.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "fake_etcd.hpp"
#include "fake_host.hpp"
#include "restore/restore.hpp"
#include "temp_dir.hpp"
#include "wal_builder.hpp"
#include "etcd/member_data.hpp"
#include "core/protobuf_wire.hpp"

namespace kdr::test {

inline const char* etcd_manifest = R"(apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=http://127.0.0.1:2
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://10.0.0.10:2380
    - --initial-cluster=cp1=https://10.0.0.10:2380
    - --listen-client-urls=http://127.0.0.1:2
    - --name=cp1
    image: registry.k8s.io/etcd:3.5.15-0
    name: etcd
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
  hostNetwork: true
  volumes:
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
)";

inline const char* apiserver_manifest = R"(apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --etcd-servers=http://127.0.0.1:2
    image: registry.k8s.io/kube-apiserver:v1.31.2
    name: kube-apiserver
)";

// Captures what a command prints (stdout and stderr apart).
class Captured {
 public:
  Captured() : out_(std::tmpfile()), err_(std::tmpfile()) {}
  ~Captured() {
    std::fclose(out_);
    std::fclose(err_);
  }
  Captured(const Captured&) = delete;
  Captured& operator=(const Captured&) = delete;
  // KDR_TEST_SHOW_OUTPUT=1 prints it instead (for debugging a test).
  core::Output output() const {
    if (std::getenv("KDR_TEST_SHOW_OUTPUT")) return core::Output();
    return core::Output(core::Verbosity::normal, false, out_, err_);
  }
  std::string out() const { return read(out_); }
  std::string err() const { return read(err_); }
  std::string all() const { return out() + err(); }

 private:
  static std::string read(std::FILE* f) {
    std::fflush(f);
    std::string text;
    std::rewind(f);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fseek(f, 0, SEEK_END);
    return text;
  }
  std::FILE* out_;
  std::FILE* err_;
};

// What differs between two trees of the node, one line per path ("" when they are equal), so
// that a failed comparison says where.
inline std::string tree_diff(const std::map<std::string, std::string>& now,
                             const std::map<std::string, std::string>& expected) {
  std::string out;
  for (const auto& [p, v] : now) {
    auto it = expected.find(p);
    if (it == expected.end()) out += "extra: " + p + "\n";
    else if (it->second != v) out += "changed: " + p + " (" + v.substr(0, 60) + " vs " + it->second.substr(0, 60) + ")\n";
  }
  for (const auto& [p, v] : expected)
    if (!now.count(p)) out += "missing: " + p + "\n";
  return out;
}

// The kubelets of the fixture's nodes: each answers the pod list it is given, keyed
// "ADDRESS:PORT"; any other address is silent (connection refused), as a machine that is gone.
class FakeKubelets final : public core::Kubelets {
 public:
  std::map<std::string, core::KubeletReply> replies;
  mutable std::vector<core::KubeletRequest> asked;
  mutable std::mutex mu;
  core::KubeletReply pods(const core::KubeletRequest& req) const override {
    std::lock_guard lock(mu);
    asked.push_back(req);
    const auto it = replies.find(req.address + ":" + std::to_string(req.port));
    if (it != replies.end()) return it->second;
    core::KubeletReply r;
    r.status = core::KubeletReply::Status::silent;
    r.problem = req.url() + ": Connection refused";
    return r;
  }
  void answer(const std::string& where, const std::string& pod_list_json) {
    core::KubeletReply r;
    r.status = core::KubeletReply::Status::answered;
    r.http = 200;
    r.body = pod_list_json;
    replies[where] = r;
  }
};

class RestoreFixture {
 public:
  TempDir dir;
  core::bfs::path root = dir.path() / "node";
  core::bfs::path backup_dir = dir.path() / "backup";
  std::shared_ptr<FakeHost> host = std::make_shared<FakeHost>();
  std::shared_ptr<FakePrograms> programs = std::make_shared<FakePrograms>();
  std::shared_ptr<FakeEtcd> etcd = std::make_shared<FakeEtcd>();
  std::shared_ptr<FakeKubelets> kubelets = std::make_shared<FakeKubelets>();
  static constexpr const char* node_etcd_url = "http://127.0.0.1:2";
  // The node's etcd: two namespaces with a few objects each, at revision 9.
  std::shared_ptr<FakeKeyspace> live = std::make_shared<FakeKeyspace>();
  // What `etcdctl member list -w json` answers: this node's member alone.
  std::string members_json = R"({"members":[{"ID":33,"name":"cp1","peerURLs":["https://10.0.0.10:2380"],)"
                             R"("clientURLs":["http://127.0.0.1:2"]}]})";
  Captured printed;
  std::string extra_config;  // more of the config file (e.g. a nodes: list)
  bool raw_copy_always = false;  // etcd.raw_copy: always (generations with a snapshot keep the raw copy too)
  std::string etcd_version = "3.5.16";  // what the etcd that backups ask says it is

  RestoreFixture() {
    make_node();
    fill_live_etcd();
    add_etcd_programs();
    add_kubeadm();
  }

  // The file `etcdctl snapshot save` writes for this keyspace (the database, then its
  // SHA-256), remembered so that an etcd started on it serves the keyspace again.
  std::string snapshot_file(const FakeKeyspace& ks) const {
    auto bytes = bolt::keyspace_snapshot_bytes(ks.values(), static_cast<std::uint64_t>(ks.revision),
                                               0x1000 + etcd->snapshots_saved());
    etcd->remember_snapshot(core::sha256_hex(bytes.substr(0, bytes.size() - 32)), ks);
    return bytes;
  }
  // The node's etcd streams its snapshot to kdr over gRPC, as a real one does (EtcdApi::snapshot).
  void stream_snapshots() {
    live->snapshot_stream = [this](FakeKeyspace& ks) { return snapshot_file(ks); };
  }

  core::Context context() const {
    auto config = core::parse_config(fmt::format("backup_dir: {}\n"
                                                 "kubeconfig: \"\"\n"
                                                 "sources:\n  - path: /etc/kubernetes\n    required: true\n"
                                                 "etcd:\n  cacert: /etc/etcd-client/ca.crt\n"
                                                 "  cert: /etc/etcd-client/client.crt\n"
                                                 "  key: /etc/etcd-client/client.key\n{}{}",
                                                 backup_dir.string(), raw_copy_always ? "  raw_copy: always\n" : "",
                                                 extra_config),
                                     "unit test config");
    core::Context ctx{config, core::NodeRoot(root), backup_dir, printed.output()};
    ctx.host = host;
    ctx.programs = programs;
    ctx.etcd = etcd;
    ctx.kubelets = kubelets;
    return ctx;
  }

  core::bfs::path generation(const std::string& id) const { return backup_dir / "generations" / id; }
  core::bfs::path node(const std::string& node_path) const { return root / node_path.substr(1); }
  bool etcd_runs() const { return core::lstat_path(node("/etc/kubernetes/manifests/etcd.yaml")).has_value(); }

  // A kubeadm node: manifests, PKI, kubeconfig, kubeadm's configuration, etcd's data.
  void make_node() const {
    write(node("/etc/kubernetes/manifests/etcd.yaml"), etcd_manifest);
    write(node("/etc/kubernetes/manifests/kube-apiserver.yaml"), apiserver_manifest);
    write(node("/etc/kubernetes/admin.conf"), "apiVersion: v1\nkind: Config\n");
    write(node("/etc/kubernetes/kubeadm-config.yaml"),
          "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\netcd:\n  local:\n    dataDir: "
          "/var/lib/etcd\n");
    write(node("/etc/kubernetes/pki/sa.key"), "a key\n");
    ::chmod(node("/etc/kubernetes/pki/sa.key").c_str(), 0600);
    write(node("/var/lib/etcd/member/snap/db"), bolt::join(bolt::sample_pages()));
    write(node("/var/lib/etcd/member/wal/0000000000000000-0000000000000000.wal"), "wal\n");
    ::chmod(node("/var/lib/etcd").c_str(), 0700);
    write(node("/var/lib/kubelet/config.yaml"), "kind: KubeletConfiguration\n");
    // etcd's client certificate, named by the config (the fake etcdctl does not read it)
    for (const auto* f : {"/etc/etcd-client/ca.crt", "/etc/etcd-client/client.crt", "/etc/etcd-client/client.key"})
      write(node(f), "not read\n");
  }

  // One backup; throws when it does not publish a generation.
  std::string backup() const {
    const auto result = backup::run_backup(context(), {});
    if (!result.generation) throw core::Error("the backup published no generation:\n" + printed.all());
    return result.generation->id;
  }

  core::ExitCode restore(const std::string& playbook, std::vector<std::string> set = {}, bool yes = true,
                         std::vector<std::string> playbook_dirs = {}, bool dry_run = false) const {
    restore::RestoreOptions o;
    o.playbook = playbook;
    o.yes = yes;
    o.dry_run = dry_run;
    o.set = std::move(set);
    o.playbook_dirs = std::move(playbook_dirs);
    return restore::run_restore(context(), o);
  }
  core::ExitCode resume(const std::string& id) const {
    restore::RestoreOptions o;
    o.resume = id;
    o.yes = true;
    return restore::run_restore(context(), o);
  }
  core::ExitCode rollback(const std::string& id) const {
    restore::RestoreOptions o;
    o.rollback = id;
    o.yes = true;
    return restore::run_restore(context(), o);
  }
  // The keys of the snapshot whose database is in the node's etcd data dir (one the fake
  // etcdctl saved); empty when it holds none of them.
  std::optional<std::map<std::string, std::string>> data_dir_keys() const {
    const auto held = etcd->snapshot(core::sha256_hex(core::read_file(node("/var/lib/etcd/member/snap/db"))));
    if (!held) return std::nullopt;
    return held->values();
  }

  // The restores on the node, oldest first.
  std::vector<std::string> restore_ids() const {
    std::vector<std::string> out;
    const auto restores = node("/var/lib/kdr/restores");
    if (!core::lstat_path(restores)) return out;
    for (const auto& name : core::list_dir(restores))
      if (!name.empty() && name[0] != '.') out.push_back(name);
    std::sort(out.begin(), out.end());
    return out;
  }

  // Every path of the node but kdr's own state: type, mode, owner, and content or target.
  std::map<std::string, std::string> tree() const {
    std::map<std::string, std::string> out;
    walk(root, "", out);
    return out;
  }

 private:
  void walk(const core::bfs::path& host_dir, const std::string& rel, std::map<std::string, std::string>& out) const {
    for (const auto& name : core::list_dir(host_dir)) {
      const auto p = host_dir / name;
      const auto r = rel + "/" + name;
      if (r == "/var/lib/kdr" || r == "/etc/kdr") continue;  // kdr's own state and each fixture's own key
      const auto st = core::lstat_path(p);
      auto& entry = out[r];
      entry = fmt::format("mode {:o} owner {}:{} ", st->mode, st->uid, st->gid);
      if (st->type == core::FileType::directory) {
        entry += "dir";
        walk(p, r, out);
      } else if (st->type == core::FileType::symlink) {
        entry += "-> " + core::read_link(p).value_or("?");
      } else {
        entry += "file " + core::read_file(p);
      }
    }
  }

  void fill_live_etcd() {
    live->revision = 1;
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, std::string>>{{"/registry/namespaces/default", "ns default"},
                                                          {"/registry/namespaces/payments", "ns payments"},
                                                          {"/registry/configmaps/payments/rates", "rates v1"},
                                                          {"/registry/secrets/payments/api-key", "key v1"},
                                                          {"/registry/configmaps/default/app", "app v1"},
                                                          {"/registry/pods/kube-system/etcd-cp1", "pod etcd"},
                                                          {"/registry/configmaps/payments/rates", "rates v2"},
                                                          {"/registry/secrets/payments/api-key", "key v2"}})
      live->write(key, value);
    etcd->serve(node_etcd_url, live);
    served_db_ = core::sha256_hex(core::read_file(node("/var/lib/etcd/member/snap/db")));
    etcd->reachable = [this](const std::string& url) {
      if (etcd_runs()) start_node_member();
      if (url != node_etcd_url) return true;
      if (!etcd_runs()) return false;
      serve_node_data_dir();
      return true;
    };
  }

 public:
  static constexpr const char* node_peer_url = "https://10.0.0.10:2380";
  // This node as cp1 of a three-member cluster: cp2 and cp3 serve the same keyspace (one
  // cluster) at http://127.0.0.1:3 and :4, and every member is listed as etcd lists it.
  // The old node cp1 (10.0.0.10) as kubeadm made it, for a rebuild under a new identity:
  // real certificates signed by a CA (openssl), kube-apiserver's serving one naming the node,
  // the etcd client one not; admin.conf with the node's address as server; its Node in etcd.
  void write_node_identity() const {
    for (const auto& [name, text] : node_identity_pki()) {
      write(node("/etc/kubernetes/pki/" + name), text);
      ::chmod(node("/etc/kubernetes/pki/" + name).c_str(), name.find(".key") != std::string::npos ? 0600 : 0644);
    }
    write(node("/etc/kubernetes/admin.conf"),
          "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.0.0.10:6443\n  name: kubernetes\n");
    write(node("/etc/kubernetes/kubeadm-config.yaml"),
          "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: 10.0.0.10:6443\n");
    live->write("/registry/minions/cp1", std::string("the Node cp1"));
  }

  // The same files for every fixture of a test run (a restore is compared across fixtures):
  // made once.
  static const std::map<std::string, std::string>& node_identity_pki() {
    static const auto files = [] {
      test::TempDir scratch;
      const auto sh = [&](const std::string& cmd) {
        if (std::system(("cd " + scratch.path().string() + " && " + cmd + " >/dev/null 2>&1").c_str()) != 0)
          throw core::Error("openssl failed: " + cmd);
      };
      sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -subj /CN=kubernetes "
         "-days 1 -out ca.crt");
      const auto cert = [&](const std::string& name, const std::string& cn, const std::string& san) {
        sh("bash -c \"openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
           ".key -subj /CN=" + cn + " | openssl x509 -req -CA ca.crt -CAkey ca.key -days 1 -out " + name + ".crt" +
           (san.empty() ? "" : " -extfile <(printf 'subjectAltName=" + san + "')") + "\"");
      };
      cert("apiserver", "kube-apiserver", "DNS:cp1,DNS:kubernetes,IP:10.96.0.1,IP:10.0.0.10");
      cert("apiserver-etcd-client", "kube-apiserver-etcd-client", "");
      std::map<std::string, std::string> out;
      for (const auto* name : {"ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "apiserver-etcd-client.crt",
                               "apiserver-etcd-client.key"})
        out[name] = core::read_file(scratch.path() / name);
      return out;
    }();
    return files;
  }

  void make_ha() {
    members_json = R"({"members":[)"
                   R"({"ID":33,"name":"cp1","peerURLs":["https://10.0.0.10:2380"],"clientURLs":["http://127.0.0.1:2"]},)"
                   R"({"ID":34,"name":"cp2","peerURLs":["https://10.0.0.11:2380"],"clientURLs":["http://127.0.0.1:3"]},)"
                   R"({"ID":35,"name":"cp3","peerURLs":["https://10.0.0.12:2380"],"clientURLs":["http://127.0.0.1:4"]}]})";
    live->members.clear();
    for (const auto& [id, n] : std::vector<std::pair<std::uint64_t, int>>{{33, 0}, {34, 1}, {35, 2}}) {
      etcd::EtcdClusterMember m;
      m.id = id;
      m.name = fmt::format("cp{}", n + 1);
      m.peer_urls = {fmt::format("https://10.0.0.{}:2380", 10 + n)};
      m.client_urls = {fmt::format("http://127.0.0.1:{}", 2 + n)};
      live->members.push_back(m);
    }
    etcd->serve("http://127.0.0.1:3", live);
    etcd->serve("http://127.0.0.1:4", live);
  }

 private:
  // etcd started on this node names the member added with its peer URL (as etcd does when
  // the new member first talks to the cluster): the manifest's --name and
  // --initial-advertise-peer-urls.
  void start_node_member() {
    const auto manifest = core::read_file(node("/etc/kubernetes/manifests/etcd.yaml"));
    const auto flag = [&](const std::string& name) {
      const auto at = manifest.find("- --" + name + "=");
      if (at == std::string::npos) return std::string();
      const auto start = at + name.size() + 5;
      return manifest.substr(start, manifest.find('\n', start) - start);
    };
    const auto name = flag("name"), peer = flag("initial-advertise-peer-urls");
    std::lock_guard lock(etcd->calls());
    for (auto& m : live->members)
      if (m.name.empty() && m.peer_urls == std::vector<std::string>{peer}) {
        m.name = name;
        m.client_urls = {node_etcd_url};
      }
  }

 public:

  // False: the node's etcd ignores what its WAL commits past its database (a test of what kdr
  // checks once etcd serves).
  bool etcd_applies_wal = true;

  // The node's etcd (re)started on a data dir a restore put there serves that snapshot's keys.
  void serve_node_data_dir() {
    std::string db;
    try {
      db = core::sha256_hex(core::read_file(node("/var/lib/etcd/member/snap/db")));
    } catch (const core::Error&) {
      return;  // no data dir: etcd would not start; the keyspace stays as it was
    }
    if (db == served_db_) return;
    etcd->remember_snapshot(served_db_, *live);  // what the data dir it left holds
    served_db_ = db;
    if (auto held = etcd->snapshot(db)) {
      live = std::make_shared<FakeKeyspace>(std::move(*held));
      if (etcd_applies_wal) apply_committed_entries(node("/var/lib/etcd"), *live);
      etcd->serve(node_etcd_url, live);
    }
  }

  // As etcd applies, when it starts, the entries its WAL commits past what its database holds
  // (here: past the restore's membership entry, index 1): a txn of puts and deletes at the next
  // revision (none when it changes nothing), a lease grant (etcdserverpb.InternalRaftRequest,
  // etcd/wal_append.hpp).
  static void apply_committed_entries(const core::bfs::path& data_dir, FakeKeyspace& ks) {
    etcd::read_wal_entries(data_dir, 1, [&](std::uint64_t, std::uint64_t, std::string_view request) {
      core::for_each_bytes_field(request, [&](std::uint64_t field, std::string_view m) {
        if (field == 8) {  // LeaseGrantRequest {TTL 1, ID 2}
          core::for_each_field(m, [&](std::uint64_t f, unsigned, std::uint64_t v, std::string_view) {
            if (f == 2) ks.leases.insert(static_cast<std::int64_t>(v));
            return true;
          });
        }
        if (field != 6) return;  // TxnRequest {success 2: RequestOp}
        const auto rev = ks.revision + 1;
        bool wrote = false;
        core::for_each_bytes_field(m, [&](std::uint64_t f, std::string_view op) {
          if (f != 2) return;
          core::for_each_bytes_field(op, [&](std::uint64_t kind, std::string_view req) {
            std::string key, value;
            std::int64_t lease = 0;
            core::for_each_field(req, [&](std::uint64_t rf, unsigned wire, std::uint64_t v, std::string_view b) {
              if (rf == 1 && wire == 2) key = std::string(b);
              if (rf == 2 && wire == 2) value = std::string(b);
              if (rf == 3 && wire == 0) lease = static_cast<std::int64_t>(v);
              return true;
            });
            if (kind == 2) {
              ks.write_at(rev, key, value, lease);
              wrote = true;
            } else if (kind == 3 && ks.kvs.count(key) != 0) {
              ks.write_at(rev, key, std::nullopt);
              wrote = true;
            }
          });
        });
        if (wrote) ks.revision = rev;
      });
    });
  }
  std::string served_db_;

  void add_etcd_programs() {
    auto refused = [](const std::string& url) {
      return answer(1, "", fmt::format("Error: dial tcp {}: connect: connection refused\n", url.substr(7)));
    };
    programs->programs["etcdctl"] = [this, refused](const std::vector<std::string>& argv, const core::ProcessOptions&) {
      const auto url = flag_value(argv, "--endpoints");
      const auto ks = etcd->at(url);
      if (has_args(argv, {"endpoint", "status"})) {
        if (!ks) return refused(url);
        return answer(0, fmt::format(R"([{{"Endpoint":"{}","Status":{{"header":{{"cluster_id":17,)"
                                     R"("member_id":33,"revision":{}}},"version":"{}","dbSize":16384}}}}])",
                                     url, ks->revision, etcd_version));
      }
      if (has_args(argv, {"member", "list"})) {
        if (!ks) return refused(url);
        return answer(0, members_json);
      }
      if (has_args(argv, {"snapshot", "save"})) {
        if (!ks) return refused(url);
        core::write_file_atomic(argv.back(), snapshot_file(*ks), 0600);
        return answer(0, "Snapshot saved at " + argv.back() + "\n");
      }
      return answer(1, "", "etcdctl stand-in: unexpected call\n");
    };
    programs->programs["etcdutl"] = [](const std::vector<std::string>& argv, const core::ProcessOptions&) {
      if (has_args(argv, {"version"})) return answer(0, "etcdutl version: 3.5.16\nAPI version: 3.5\n");
      if (has_args(argv, {"snapshot", "restore", "--help"}))
        return answer(0,
                      "      --bump-revision uint                   How much to increase the latest revision after "
                      "restore\n"
                      "      --initial-memory-map-size uint         Initial memory map size of the database in bytes. "
                      "It uses the default value if not defined or defined to 0 (default 10737418240)\n");
      if (has_args(argv, {"snapshot", "restore"})) {
        const auto file = argv.at(3);
        const auto data_dir = core::bfs::path(flag_value(argv, "--data-dir"));
        std::string bytes;
        try {
          bytes = core::read_file(file);
        } catch (const core::Error& e) {
          return answer(1, "", std::string("Error: ") + e.what() + "\n");
        }
        // as etcdutl's saveDB: a trailer is there when the size is 32 past a multiple of 512;
        // it is cut off, and checked unless --skip-hash-check
        const bool has_hash = bytes.size() % 512 == 32;
        const bool skip = has_args(argv, {"--skip-hash-check"});
        if (!has_hash && !skip) return answer(1, "", "Error: snapshot missing hash but --skip-hash-check=false\n");
        if (has_hash && !skip &&
            core::sha256_hex(bytes.substr(0, bytes.size() - 32)) != hex(bytes.substr(bytes.size() - 32)))
          return answer(1, "", "Error: expected sha256 [...], got [...]\n");
        if (has_hash) bytes.resize(bytes.size() - 32);
        if (core::lstat_path(data_dir)) return answer(1, "", "Error: data-dir \"" + data_dir.string() + "\" exists\n");
        write(data_dir / "member/snap/db", bytes);
        write(data_dir / "member/wal/0000000000000000-0000000000000000.wal", test::restored_wal());
        ::chmod(data_dir.c_str(), 0700);  // etcd makes its data dir private (fileutil.PrivateDirMode)
        return answer(0, "restored snapshot\n");
      }
      return answer(1, "", "etcdutl stand-in: unexpected call\n");
    };
    // etcd started beside kdr: serves the snapshot restored into its data dir until stopped.
    // A unix:// socket named relative to the working directory is served at its full path (the
    // URL kdr's client is given).
    programs->servers["etcd"] = [this](const std::vector<std::string>& argv,
                                       const core::bfs::path& working_dir) -> std::unique_ptr<core::RunningProgram> {
      auto url = flag_value(argv, "--listen-client-urls");
      if (url.rfind("unix://", 0) == 0 && url.compare(7, 1, "/") != 0) url = "unix://" + (working_dir / url.substr(7)).string();
      const auto db_file = core::bfs::path(flag_value(argv, "--data-dir")) / "member/snap/db";
      auto held = etcd->snapshot(core::sha256_hex(core::read_file(db_file)));
      if (!held) throw core::Error("etcd stand-in: the data dir holds no snapshot this test saved");
      held->served_db = db_file.string();
      etcd->serve(url, std::make_shared<FakeKeyspace>(std::move(*held)));
      // stopped, it leaves its database with the keyspace it holds then, as etcd closes its
      // bbolt file (read off the file by the replay and the restore test)
      return std::make_unique<FakeRunning>([this, url, db_file] {
        if (const auto ks = etcd->at(url)) {
          auto bytes = bolt::keyspace_snapshot_bytes(ks->values(), static_cast<std::uint64_t>(ks->revision),
                                                     0x1000 + etcd->snapshots_saved());
          bytes.resize(bytes.size() - 32);
          etcd->remember_snapshot(core::sha256_hex(bytes), *ks);
          write(db_file, bytes);
        }
        etcd->stop(url);
      });
    };
  }

  static std::string hex(const std::string& raw) {
    std::string out;
    for (const char c : raw) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
    return out;
  }

  void add_kubeadm() {
    programs->programs["kubeadm"] = [this](const std::vector<std::string>& argv, const core::ProcessOptions&) {
      if (has_args(argv, {"version"})) return answer(0, "v1.31.2\n");
      if (has_args(argv, {"reset"})) {
        for (const auto& p : {"/etc/kubernetes/manifests", "/etc/kubernetes/pki", "/var/lib/etcd"})
          if (core::lstat_path(node(p)))
            for (const auto& name : core::list_dir(node(p))) core::remove_tree(node(p) / name);
        ::unlink(node("/etc/kubernetes/admin.conf").c_str());
        return answer(0, "[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/etcd]\n");
      }
      // kubeadm init phase certs|kubeconfig|control-plane all, kubelet-start: each writes what
      // it makes where nothing is (tests/fakes/kubeadm does the same with real certificates)
      if (has_args(argv, {"init", "phase"})) {
        if (!core::lstat_path(flag_value(argv, "--config")))
          return answer(1, "", "unable to read config from \"" + flag_value(argv, "--config") + "\"\n");
        const auto make = [&](const std::string& p, const std::string& text) {
          if (!core::lstat_path(node(p))) write(node(p), text);
        };
        if (has_args(argv, {"certs", "all"})) {
          for (const auto* p : {"/etc/kubernetes/pki/apiserver", "/etc/kubernetes/pki/etcd/server",
                                "/etc/kubernetes/pki/etcd/peer"}) {
            make(std::string(p) + ".crt", "a certificate made by kubeadm\n");
            make(std::string(p) + ".key", "a key made by kubeadm\n");
          }
          return answer(0, "[certs] Using existing ca certificate authority\n");
        }
        if (has_args(argv, {"kubeconfig", "all"})) {
          for (const auto* p : {"/etc/kubernetes/admin.conf", "/etc/kubernetes/kubelet.conf"})
            make(p, "apiVersion: v1\nkind: Config\n");
          return answer(0, "[kubeconfig] Writing \"admin.conf\" kubeconfig file\n");
        }
        if (has_args(argv, {"control-plane", "all"})) {
          write(node("/etc/kubernetes/manifests/kube-apiserver.yaml"), apiserver_manifest);
          return answer(0, "[control-plane] Creating static Pod manifest for \"kube-apiserver\"\n");
        }
        if (has_args(argv, {"kubelet-start"})) {
          write(node("/var/lib/kubelet/kubeadm-flags.env"), "KUBELET_KUBEADM_ARGS=\"--node-ip=127.0.0.77\"\n");
          write(node("/var/lib/kubelet/config.yaml"), "kind: KubeletConfiguration\n");
          return answer(0, "[kubelet-start] Starting the kubelet\n");
        }
      }
      if (has_args(argv, {"init"})) {
        const auto etcd_dir = node("/var/lib/etcd");
        const bool ignored = std::any_of(argv.begin(), argv.end(), [](const std::string& a) {
          return a == "--ignore-preflight-errors=DirAvailable--var-lib-etcd";
        });
        if (core::lstat_path(etcd_dir) && !core::list_dir(etcd_dir).empty() && !ignored)
          return answer(1, "", "\t[ERROR DirAvailable--var-lib-etcd]: /var/lib/etcd is not empty\n");
        if (!core::lstat_path(flag_value(argv, "--config")))
          return answer(1, "", "unable to read config from \"" + flag_value(argv, "--config") + "\"\n");
        write(node("/etc/kubernetes/manifests/etcd.yaml"), etcd_manifest);
        write(node("/etc/kubernetes/manifests/kube-apiserver.yaml"), apiserver_manifest);
        // the kubeconfig phase makes what is missing (renamed aside for a new node)
        if (!core::lstat_path(node("/etc/kubernetes/admin.conf")))
          write(node("/etc/kubernetes/admin.conf"), "apiVersion: v1\nkind: Config\n");
        return answer(0, "[init] Using existing ca certificate authority\n[control-plane] writing manifests\n");
      }
      return answer(1, "", "kubeadm stand-in: unexpected call\n");
    };
  }
};

}  // namespace kdr::test
