#include "core/config.hpp"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>

#include "core/error.hpp"
#include "core/node_root.hpp"
#include "core/yaml_reader.hpp"

namespace kdr::core {

std::string_view default_config_yaml() {
  return R"(# kdr configuration. Every key is optional; these are the built-in defaults.
# The backup folder, on the second disk. Never read under --root.
backup_dir: /backup/kdr
backup_disk:
  # When backup_dir lies under this folder, it must be a mount point (the second disk
  # mounted): an unmounted disk leaves an empty folder on the root disk, and a backup written
  # there is no second copy. "" checks nothing.
  mount_point: /backup
  # A backup folder on the same file system as etcd's data dir or /etc/kubernetes is refused
  # (refuse), or allowed (allow). Under --root, where a sandbox node shares the machine's
  # disks, it is a warning.
  same_filesystem: refuse
# Where the kubelet reads static pod manifests; their hostPath volumes are backed up too.
static_pod_path: /etc/kubernetes/manifests
# etcd's data dir, only where nothing on the node says it: the etcd manifest's --data-dir
# (through its hostPath volume) or etcd's systemd settings come first. `kdr sources` says
# which was used. It is backed up as a required source wherever etcd runs on this node.
etcd_data_dir: /var/lib/etcd
# kdr's own state (restore journals); outside every path kdr backs up or restores.
state_dir: /var/lib/kdr
# The node's key (made at the first backup, 0600): kdr authenticates every generation it
# writes with it, and restores only what it authenticates. Keep a copy off
# this node, where the off-site password is kept (docs/runbook.md: a lost node).
key_file: /etc/kdr/node.key
# What to back up, besides etcd's data dir and the hostPath volumes of the static pods.
# required: true makes a missing or empty source fail the run; without it a source is optional.
sources:
  - path: /etc/kubernetes
    required: true
  - path: /etc/ssl/certs
  - path: /etc/ca-certificates
  - path: /usr/share/ca-certificates
  - path: /usr/local/share/ca-certificates
host_paths:
  # Also back up every hostPath volume of the static pod manifests.
  discover: true
  # Never back up these (nor anything below them), wherever they come from.
  exclude: [/proc, /sys, /dev, /run, /var/run, /tmp, /var/log, /var/lib/kubelet/pods]
guard:
  # A source whose file count or bytes fall below this share of the previous generation
  # (an unmounted or wiped disk) fails the run instead of being published.
  min_ratio: 0.5
copy:
  # A file that changes while it is copied is copied again up to this many times, then
  # kept and marked as possibly torn.
  retries: 3
  # Gentle on etcd, which is sensitive to disk latency: the backup runs at this I/O
  # priority (idle: only when the disk is otherwise free; best-effort; normal), copies at
  # most this many MiB/s (0: no cap), and drops its copies from the page cache once they
  # are on disk, so that etcd's own pages stay cached.
  io_priority: idle
  bandwidth_mib_s: 0
  drop_cache: true
etcd:
  # A consistent snapshot (etcdctl snapshot save) in every generation, besides the raw files.
  snapshot: true
  # Empty: from the node (the etcd manifest's client URLs, loopback first; etcd's systemd
  # settings; kube-apiserver's --etcd-servers for external etcd).
  endpoint: ""
  # The client certificate (node paths). Empty: the first found of kubeadm's health-check
  # client (pki/etcd/healthcheck-client.crt), kube-apiserver's --etcd-certfile/--etcd-keyfile/
  # --etcd-cafile, etcdctl's ETCDCTL_CERT/KEY/CACERT in etcd's environment files.
  cacert: ""
  cert: ""
  key: ""
  # The etcdctl to run, as an argv list (never a shell string), e.g. [/usr/local/bin/etcdctl].
  etcdctl: [etcdctl]
  # etcd 3.5+ checks snapshots with etcdutl; used when it is found.
  etcdutl: [etcdutl]
  # The etcd server program, run privately on loopback to read a snapshot's keys
  # (restore-etcd-keys); Debian's etcd-server package installs it.
  server: [etcd]
  # The snapshot may take base + per_gib seconds per GiB of database.
  timeout_base_s: 60
  timeout_per_gib_s: 120
  # none or zstd
  compression: none
  # With the change journal running (kdr journal run, kept running by kdr schedule): a full
  # snapshot at most every this many minutes; the runs in between save the files and record
  # the journal's position, which a restore replays to. 0: a full snapshot in every run.
  full_every_minutes: 60
  # The raw copy of etcd's data dir (a live bbolt file, not consistent): auto makes it only
  # when etcd gives no consistent copy (no snapshot, no journal cover: etcd is down, and its
  # files are still); always copies it in every run (docs/backup-format.md, The raw copy).
  raw_copy: auto
# The etcd change journal, `kdr journal run`: every change etcd makes, appended to segments in
# <backup_dir>/journal as it happens (docs/operations.md, The journal).
journal:
  # Group commit: the journal is flushed to disk (fdatasync) at most this often, in ms.
  sync_ms: 200
  # A segment is closed, and a new one begun, at this size in MiB or this age in minutes.
  segment_mib: 64
  segment_minutes: 10
  # The keyspace digest is written down at most this often (seconds) while changes arrive.
  checkpoint_s: 10
  # A follower that holds the journal but has written nothing for this long (seconds) is
  # reported stalled by kdr journal status, kdr backup and kdr verify.
  stalled_after_s: 30
# An admin kubeconfig, to save the cluster's kubeadm-config ConfigMap (needs kubectl);
# "" turns that off.
kubeconfig: /etc/kubernetes/admin.conf
# Prometheus metrics (node_exporter textfile format) after backup and verify; written only
# when this folder exists. "" turns them off.
metrics:
  textfile_dir: /var/lib/node_exporter/textfile_collector
verify:
  # Run kdr verify after every backup (as kdr backup --verify does).
  after_backup: false
  # Prove the newest point restorable (kdr verify --restore-test: restored into a private etcd
  # on the backup disk, every object read back) from a backup, when no proof is younger than
  # this many hours. 0: never.
  restore_test_hours: 24
# The other control-plane nodes of an HA cluster, for restore-etcd-cluster: kdr runs their
# steps over OpenSSH (BatchMode, verified host keys, an argv, never a shell string). Without
# them the plan prints the command to run on each node. An entry:
#   - name: cp2                                 # its etcd member name
#     ssh: root@10.0.0.12                       # OpenSSH destination
#     port: 22
#     identity_file: /etc/kdr/ssh/id_ed25519    # node paths
#     known_hosts: /etc/kdr/ssh/known_hosts     # holds its host key (never accepted blindly)
#     kdr: [kdr]                                # kdr's argv on that node
#     ssh_command: [ssh]                        # the OpenSSH client on this node
nodes: []
# The kubelets, after a restore that replaced etcd's data: this node's is restarted (and every
# node of nodes: through its kdr), the others' commands are printed; every node's pod list is
# read as kube-apiserver reads it (GET https://NODE:PORT/pods with its kubelet client
# certificate) to find the pods a kubelet runs that the restored etcd lacks.
kubelet:
  restart: [systemctl, restart, kubelet]   # an argv; under --root this default is not run
  port: 10250                              # when a Node object does not say
  client_cert: /etc/kubernetes/pki/apiserver-kubelet-client.crt
  client_key: /etc/kubernetes/pki/apiserver-kubelet-client.key
  ca: ""                                   # checks the kubelets' serving certificates; "": not checked
  timeout_s: 5
# Off-site copies through restic (kdr offsite ...): the newest generation and every generation
# holding a full etcd snapshot, tagged by node, generation and status, so that restic's own
# tools can list and restore them. The password and the backend's keys come from files, never
# from argv or logs.
offsite:
  repository: ""                  # e.g. sftp:backup@vault:/srv/kdr, rest:https://..., s3:...
  password_file: /etc/kdr/restic-password   # mode 0600
  env_files: []                   # KEY=VALUE files for the backend (AWS_ACCESS_KEY_ID=...)
  restic: [restic]
  push: manual                    # manual | after-backup | every (push_every_minutes)
  push_every_minutes: 60
  keep: {last: 3, hourly: 0, daily: 7, weekly: 4, monthly: 6}
  check_subset: 5%                # kdr offsite check: restic check --read-data-subset
retention:
  keep_last: 12
  hourly: 24
  daily: 7
  weekly: 4
  # Prune after every successful backup.
  after_backup: true
)";
}

namespace {

using Reader = YamlReader;

void read_sources(const Reader& r, const YAML::Node& node, const std::string& key, Config& c) {
  if (!node.IsSequence()) r.fail(node, key, "expected a list of sources");
  c.sources.clear();
  for (std::size_t i = 0; i < node.size(); ++i) {
    const auto item = node[i];
    const auto item_key = fmt::format("{}[{}]", key, i);
    SourceConfig s;
    bool has_path = false;
    r.mapping(item, item_key,
              {{"path", [&](const YAML::Node& n, const std::string& k) { s.path = r.node_path(n, k); has_path = true; }},
               {"required", [&](const YAML::Node& n, const std::string& k) { s.required = r.scalar<bool>(n, k, "true or false"); }}});
    if (!has_path) r.fail(item, item_key, "a source needs a 'path'");
    c.sources.push_back(s);
  }
}

// A node path, or "" for "found on the node".
std::string optional_path(const Reader& r, const YAML::Node& node, const std::string& key) {
  return r.scalar<std::string>(node, key, "a path, or \"\"").empty() ? std::string() : r.node_path(node, key);
}

std::vector<std::string> read_argv(const Reader& r, const YAML::Node& node, const std::string& key) {
  return r.strings(node, key, "a command as a non-empty list, e.g. [etcdctl] (never a shell string)");
}

void read_etcd(const Reader& r, const YAML::Node& node, const std::string& key, EtcdConfig& e) {
  using Node = YAML::Node;
  using Key = std::string;
  r.mapping(node, key, {
    {"snapshot", [&](const Node& v, const Key& k) { e.snapshot = r.scalar<bool>(v, k, "true or false"); }},
    {"endpoint", [&](const Node& v, const Key& k) { e.endpoint = r.scalar<std::string>(v, k, "a URL"); }},
    {"cacert", [&](const Node& v, const Key& k) { e.cacert = optional_path(r, v, k); }},
    {"cert", [&](const Node& v, const Key& k) { e.cert = optional_path(r, v, k); }},
    {"key", [&](const Node& v, const Key& k) { e.key = optional_path(r, v, k); }},
    {"etcdctl", [&](const Node& v, const Key& k) { e.etcdctl = read_argv(r, v, k); }},
    {"etcdutl", [&](const Node& v, const Key& k) { e.etcdutl = read_argv(r, v, k); }},
    {"server", [&](const Node& v, const Key& k) { e.server = read_argv(r, v, k); }},
    {"timeout_base_s", [&](const Node& v, const Key& k) { e.timeout_base_s = r.count(v, k); }},
    {"timeout_per_gib_s", [&](const Node& v, const Key& k) { e.timeout_per_gib_s = r.count(v, k); }},
    {"full_every_minutes", [&](const Node& v, const Key& k) { e.full_every_minutes = r.count(v, k); }},
    {"raw_copy", [&](const Node& v, const Key& k) {
       e.raw_copy = r.scalar<std::string>(v, k, "auto or always");
       if (e.raw_copy != "auto" && e.raw_copy != "always") r.fail(v, k, "expected auto or always");
     }},
    {"compression", [&](const Node& v, const Key& k) {
       e.compression = r.scalar<std::string>(v, k, "none or zstd");
       if (e.compression != "none" && e.compression != "zstd") r.fail(v, k, "expected none or zstd");
     }},
  });
}

// An OpenSSH destination: host or user@host, never an option (no leading '-'), no spaces.
std::string ssh_destination(const Reader& r, const YAML::Node& node, const std::string& key) {
  const auto text = r.scalar<std::string>(node, key, "an OpenSSH destination such as root@10.0.0.12");
  if (text.empty() || text.front() == '-' ||
      text.find_first_of(" \t\n'\"\\;|&$`<>()") != std::string::npos)
    r.fail(node, key, fmt::format("'{}' is not an OpenSSH destination (host or user@host)", text));
  return text;
}

void read_nodes(const Reader& r, const YAML::Node& node, const std::string& key, Config& c) {
  using Node = YAML::Node;
  using Key = std::string;
  if (!node.IsSequence()) r.fail(node, key, "expected a list of nodes");
  c.nodes.clear();
  for (std::size_t i = 0; i < node.size(); ++i) {
    const auto item = node[i];
    const auto item_key = fmt::format("{}[{}]", key, i);
    NodeConfig n;
    r.mapping(item, item_key, {
      {"name", [&](const Node& v, const Key& k) { n.name = r.text(v, k); }},
      {"ssh", [&](const Node& v, const Key& k) { n.ssh = ssh_destination(r, v, k); }},
      {"port", [&](const Node& v, const Key& k) {
         n.port = r.count(v, k);
         if (n.port < 1 || n.port > 65535) r.fail(v, k, "expected a port between 1 and 65535");
       }},
      {"identity_file", [&](const Node& v, const Key& k) { n.identity_file = optional_path(r, v, k); }},
      {"known_hosts", [&](const Node& v, const Key& k) { n.known_hosts = optional_path(r, v, k); }},
      {"kdr", [&](const Node& v, const Key& k) { n.kdr = read_argv(r, v, k); }},
      {"ssh_command", [&](const Node& v, const Key& k) { n.ssh_command = read_argv(r, v, k); }},
    });
    if (n.name.empty()) r.fail(item, item_key, "a node needs a 'name' (its etcd member name)");
    if (n.ssh.empty()) r.fail(item, item_key, "a node needs an 'ssh' destination");
    for (const auto& other : c.nodes)
      if (other.name == n.name) r.fail(item, item_key, fmt::format("node '{}' is listed twice", n.name));
    c.nodes.push_back(n);
  }
}

void read_offsite(const Reader& r, const YAML::Node& node, const std::string& key, OffsiteConfig& o) {
  using Node = YAML::Node;
  using Key = std::string;
  r.mapping(node, key, {
    {"repository", [&](const Node& v, const Key& k) {
       o.repository = r.scalar<std::string>(v, k, "a restic repository (e.g. sftp:user@host:/srv/kdr), or \"\"");
       if (!o.repository.empty() && o.repository.front() == '-') r.fail(v, k, "a repository never starts with '-'");
     }},
    {"password_file", [&](const Node& v, const Key& k) { o.password_file = r.node_path(v, k); }},
    {"env_files", [&](const Node& v, const Key& k) {
       if (!v.IsSequence()) r.fail(v, k, "expected a list of files");
       o.env_files.clear();
       for (std::size_t i = 0; i < v.size(); ++i) o.env_files.push_back(r.node_path(v[i], fmt::format("{}[{}]", k, i)));
     }},
    {"restic", [&](const Node& v, const Key& k) { o.restic = read_argv(r, v, k); }},
    {"push", [&](const Node& v, const Key& k) {
       o.push = r.text(v, k);
       if (o.push != "manual" && o.push != "after-backup" && o.push != "every")
         r.fail(v, k, "expected manual, after-backup or every");
     }},
    {"push_every_minutes", [&](const Node& v, const Key& k) {
       o.push_every_minutes = r.count(v, k);
       if (o.push_every_minutes < 1) r.fail(v, k, "must be 1 or more");
     }},
    {"keep", [&](const Node& v, const Key& k) {
       r.mapping(v, k, {
         {"last", [&](const Node& x, const Key& kk) { o.keep.keep_last = r.count(x, kk); }},
         {"hourly", [&](const Node& x, const Key& kk) { o.keep.hourly = r.count(x, kk); }},
         {"daily", [&](const Node& x, const Key& kk) { o.keep.daily = r.count(x, kk); }},
         {"weekly", [&](const Node& x, const Key& kk) { o.keep.weekly = r.count(x, kk); }},
         {"monthly", [&](const Node& x, const Key& kk) { o.keep_monthly = r.count(x, kk); }}});
     }},
    {"check_subset", [&](const Node& v, const Key& k) {
       o.check_subset = r.text(v, k);
       const bool percent = !o.check_subset.empty() && o.check_subset.back() == '%' &&
                            o.check_subset.find_first_not_of("0123456789.") == o.check_subset.size() - 1 &&
                            o.check_subset.size() > 1;
       const bool fraction = o.check_subset.find('/') != std::string::npos &&
                             o.check_subset.find_first_not_of("0123456789/") == std::string::npos;
       if (!percent && !fraction) r.fail(v, k, "expected a share such as 5% or 1/10 (restic --read-data-subset)");
     }},
  });
}

void apply(const Reader& r, const YAML::Node& root, Config& c) {
  using Node = YAML::Node;
  using Key = std::string;
  r.mapping(root, "", {
    {"backup_dir", [&](const Node& n, const Key& k) { c.backup_dir = r.node_path(n, k); }},
    {"backup_disk", [&](const Node& n, const Key& k) {
       r.mapping(n, k, {
         {"mount_point", [&](const Node& v, const Key& kk) {
            if (r.text(v, kk).empty()) c.backup_disk.mount_point.clear();
            else c.backup_disk.mount_point = r.node_path(v, kk);
          }},
         {"same_filesystem", [&](const Node& v, const Key& kk) {
            const auto t = r.text(v, kk);
            if (t != "refuse" && t != "allow") r.fail(v, kk, "expected refuse or allow, got '" + t + "'");
            c.backup_disk.allow_same_filesystem = t == "allow";
          }},
       });
     }},
    {"static_pod_path", [&](const Node& n, const Key& k) { c.static_pod_path = r.node_path(n, k); }},
    {"etcd_data_dir", [&](const Node& n, const Key& k) { c.etcd_data_dir = r.node_path(n, k); }},
    {"state_dir", [&](const Node& n, const Key& k) { c.state_dir = r.node_path(n, k); }},
    {"key_file", [&](const Node& n, const Key& k) { c.key_file = r.node_path(n, k); }},
    {"sources", [&](const Node& n, const Key& k) { read_sources(r, n, k, c); }},
    {"host_paths", [&](const Node& n, const Key& k) {
       r.mapping(n, k, {
         {"discover", [&](const Node& v, const Key& kk) { c.discover_host_paths = r.scalar<bool>(v, kk, "true or false"); }},
         {"exclude", [&](const Node& v, const Key& kk) {
            if (!v.IsSequence()) r.fail(v, kk, "expected a list of paths");
            c.exclude.clear();
            for (std::size_t i = 0; i < v.size(); ++i) c.exclude.push_back(r.node_path(v[i], fmt::format("{}[{}]", kk, i)));
          }}});
     }},
    {"guard", [&](const Node& n, const Key& k) {
       r.mapping(n, k, {{"min_ratio", [&](const Node& v, const Key& kk) {
         c.guard_min_ratio = r.scalar<double>(v, kk, "a number between 0 and 1");
         if (!(c.guard_min_ratio >= 0.0 && c.guard_min_ratio <= 1.0)) r.fail(v, kk, "must be between 0 and 1");
       }}});
     }},
    {"copy", [&](const Node& n, const Key& k) {
       r.mapping(n, k, {{"retries", [&](const Node& v, const Key& kk) { c.copy_retries = r.count(v, kk); }},
                        {"io_priority", [&](const Node& v, const Key& kk) {
                           c.io_priority = r.text(v, kk);
                           if (c.io_priority != "idle" && c.io_priority != "best-effort" && c.io_priority != "normal")
                             r.fail(v, kk, "expected idle, best-effort or normal");
                         }},
                        {"bandwidth_mib_s", [&](const Node& v, const Key& kk) { c.bandwidth_mib_s = r.count(v, kk); }},
                        {"drop_cache", [&](const Node& v, const Key& kk) { c.drop_cache = r.scalar<bool>(v, kk, "true or false"); }}});
     }},
    {"kubeconfig", [&](const Node& n, const Key& k) {
       const auto text = r.scalar<std::string>(n, k, "a kubeconfig path, or \"\"");
       c.kubeconfig = text.empty() ? std::string() : r.node_path(n, k);
     }},
    {"metrics", [&](const Node& n, const Key& k) {
       r.mapping(n, k, {{"textfile_dir", [&](const Node& v, const Key& kk) {
         const auto text = r.scalar<std::string>(v, kk, "a folder");
         c.metrics_dir = text.empty() ? std::string() : r.node_path(v, kk);
       }}});
     }},
    {"verify", [&](const Node& n, const Key& k) {
       r.mapping(n, k, {{"after_backup", [&](const Node& v, const Key& kk) { c.verify_after_backup = r.scalar<bool>(v, kk, "true or false"); }},
                        {"restore_test_hours", [&](const Node& v, const Key& kk) { c.restore_test_hours = r.count(v, kk); }}});
     }},
    {"etcd", [&](const Node& n, const Key& k) { read_etcd(r, n, k, c.etcd); }},
    {"nodes", [&](const Node& n, const Key& k) { read_nodes(r, n, k, c); }},
    {"kubelet", [&](const Node& n, const Key& k) {
       r.mapping(n, k, {
         {"restart", [&](const Node& v, const Key& kk) { c.kubelet.restart = read_argv(r, v, kk); }},
         {"port", [&](const Node& v, const Key& kk) {
            c.kubelet.port = r.count(v, kk);
            if (c.kubelet.port < 1 || c.kubelet.port > 65535) r.fail(v, kk, "a TCP port, 1 to 65535");
          }},
         {"client_cert", [&](const Node& v, const Key& kk) { c.kubelet.client_cert = optional_path(r, v, kk); }},
         {"client_key", [&](const Node& v, const Key& kk) { c.kubelet.client_key = optional_path(r, v, kk); }},
         {"ca", [&](const Node& v, const Key& kk) { c.kubelet.ca = optional_path(r, v, kk); }},
         {"timeout_s", [&](const Node& v, const Key& kk) {
            c.kubelet.timeout_s = r.count(v, kk);
            if (c.kubelet.timeout_s < 1) r.fail(v, kk, "must be 1 or more");
          }}});
     }},
    {"offsite", [&](const Node& n, const Key& k) { read_offsite(r, n, k, c.offsite); }},
    {"journal", [&](const Node& n, const Key& k) {
       auto positive = [&](const Node& v, const Key& kk) {
         const int value = r.count(v, kk);
         if (value < 1) r.fail(v, kk, "must be 1 or more");
         return value;
       };
       r.mapping(n, k, {
         {"sync_ms", [&](const Node& v, const Key& kk) { c.journal.sync_ms = positive(v, kk); }},
         {"segment_mib", [&](const Node& v, const Key& kk) { c.journal.segment_mib = positive(v, kk); }},
         {"segment_minutes", [&](const Node& v, const Key& kk) { c.journal.segment_minutes = positive(v, kk); }},
         {"checkpoint_s", [&](const Node& v, const Key& kk) { c.journal.checkpoint_s = positive(v, kk); }},
         {"stalled_after_s", [&](const Node& v, const Key& kk) { c.journal.stalled_after_s = positive(v, kk); }}});
     }},
    {"retention", [&](const Node& n, const Key& k) {
       r.mapping(n, k, {
         {"keep_last", [&](const Node& v, const Key& kk) { c.retention.keep_last = r.count(v, kk); }},
         {"hourly", [&](const Node& v, const Key& kk) { c.retention.hourly = r.count(v, kk); }},
         {"daily", [&](const Node& v, const Key& kk) { c.retention.daily = r.count(v, kk); }},
         {"weekly", [&](const Node& v, const Key& kk) { c.retention.weekly = r.count(v, kk); }},
         {"after_backup", [&](const Node& v, const Key& kk) { c.prune_after_backup = r.scalar<bool>(v, kk, "true or false"); }}});
     }},
  });
}

Config parse_onto(Config c, std::string_view text, const std::string& origin) {
  const YAML::Node root = load_yaml(text, origin);
  if (root.IsNull()) return c;  // an empty file changes nothing
  Reader r(origin);
  apply(r, root, c);
  c.origin = origin;
  return c;
}

}  // namespace

bool KubeletConfig::default_restart() const {
  return restart == std::vector<std::string>{"systemctl", "restart", "kubelet"};
}

Config default_config() {
  static const Config defaults = parse_onto(Config{}, default_config_yaml(), "built-in defaults");
  Config c = defaults;
  c.origin = "built-in defaults";
  return c;
}

Config parse_config(std::string_view text, const std::string& origin) {
  return parse_onto(default_config(), text, origin);
}

Config load_config(const bfs::path& file) {
  std::string text;
  try {
    text = read_file(file);
  } catch (const Error& e) {
    throw UsageError(fmt::format("config: {}", e.what()));
  }
  return parse_config(text, file.string());
}

}  // namespace kdr::core
