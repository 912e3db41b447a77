// kdr's configuration: /etc/kdr/kdr.yaml (read under --root), or --config FILE.
// Every key has a built-in default for a standard kubeadm node (`kdr config --defaults`
// prints them); a file only needs the keys it changes. Errors name file, line and key.
#pragma once

#include <string>
#include <vector>

#include "core/fs.hpp"

namespace kdr::core {

struct SourceConfig {
  std::string path;       // absolute node path
  bool required = false;  // missing or empty fails the run
};

struct RetentionPolicy {
  int keep_last = 12;  // the newest N generations
  int hourly = 24;     // the newest generation of each hour, for the last H hours
  int daily = 7;       // ... of each day, for the last D days
  int weekly = 4;      // ... of each ISO week, for the last W weeks
};

struct EtcdConfig {
  bool snapshot = true;  // take a consistent snapshot in every backup
  std::string endpoint;  // empty: from the etcd static pod manifest
  std::string cacert;    // node paths of the client TLS files; empty: found on the node
  std::string cert;
  std::string key;
  std::vector<std::string> etcdctl;  // argv prefix, e.g. [etcdctl] or [/opt/etcd/etcdctl]
  std::vector<std::string> etcdutl;  // for `snapshot restore` with etcd 3.5+, when present
  std::vector<std::string> server;   // the etcd server, to open a snapshot privately
  int timeout_base_s = 60;           // snapshot timeout: base + per GiB of database
  int timeout_per_gib_s = 120;
  std::string compression = "none";  // none | zstd
  // With the change journal following etcd: a full snapshot at most this often; the runs in
  // between record the journal's position instead. 0: a full snapshot in every run.
  int full_every_minutes = 60;
  std::string raw_copy = "auto";  // auto: only when no snapshot and no journal cover | always
};

// The etcd change journal (`kdr journal run`).
struct JournalConfig {
  int sync_ms = 200;          // fdatasync at most this often (group commit)
  int segment_mib = 64;       // a segment is closed at this size...
  int segment_minutes = 10;   // ... or this age
  int checkpoint_s = 10;      // a digest checkpoint at most this often while events arrive
  int stalled_after_s = 30;   // a follower silent this long is reported stalled (journal/health.hpp)
};

// The kubelets, after a restore that replaced etcd's data (restore/cluster_nodes.hpp): this
// node's is restarted with `restart`; every node's pod list is read as kube-apiserver reads it.
struct KubeletConfig {
  // The argv that restarts this node's kubelet. Under --root (a sandbox) the default is not run
  // (it would restart the machine's own kubelet): the command is printed instead.
  std::vector<std::string> restart = {"systemctl", "restart", "kubelet"};
  int port = 10250;         // when a Node object does not say (status.daemonEndpoints)
  std::string client_cert;  // node paths: kube-apiserver's kubelet client certificate and key
  std::string client_key;
  std::string ca;           // node path; "": the kubelets' serving certificates are not checked
  int timeout_s = 5;        // per kubelet
  bool default_restart() const;  // `restart` is the built-in systemctl command
};

// Another control-plane node of the cluster, reached over OpenSSH for the restores that span
// the cluster (restore-etcd-cluster). kdr runs an argv there, never a shell string.
struct NodeConfig {
  std::string name;                  // its etcd member name (as `etcdctl member list` prints it)
  std::string ssh;                   // the OpenSSH destination: host or user@host
  int port = 22;
  std::string identity_file;         // node path of the private key; "": ssh's own choice
  std::string known_hosts;           // node path of the file holding its host key; "": ssh's own
  std::vector<std::string> kdr = {"kdr"};         // kdr's argv on that node
  std::vector<std::string> ssh_command = {"ssh"};  // the OpenSSH client here
};

// Off-site copies through restic (`kdr offsite`): where, with which secrets, how often, and
// how many are kept there.
struct OffsiteConfig {
  std::string repository;                // any restic repository string; "": no off-site copies
  std::string password_file;             // node path, mode 0600 (else refused)
  std::vector<std::string> env_files;    // node paths of KEY=VALUE files for the backend (S3 keys...)
  std::vector<std::string> restic = {"restic"};  // restic's argv
  std::string push = "manual";           // manual | after-backup | every
  int push_every_minutes = 60;           // with push: every
  RetentionPolicy keep{3, 0, 7, 4};      // restic forget --keep-last/-hourly/-daily/-weekly
  int keep_monthly = 6;
  std::string check_subset = "5%";       // restic check --read-data-subset
  bool configured() const { return !repository.empty(); }
};

// Whether the backup folder is a second disk (backup/backup_disk.hpp).
struct BackupDiskConfig {
  std::string mount_point;  // must be a mount point when backup_dir lies under it; empty: not checked
  bool allow_same_filesystem = false;
};

struct Config {
  std::string origin = "built-in defaults";  // where it came from, for messages
  std::string backup_dir;
  std::string static_pod_path;
  std::string etcd_data_dir;
  std::string state_dir;
  std::string key_file;  // node path of the node's key (core/node_key.hpp)
  std::vector<SourceConfig> sources;
  bool discover_host_paths = true;
  std::vector<std::string> exclude;  // node paths never backed up (nor anything below)
  double guard_min_ratio = 0.5;      // a source below this share of the previous run fails
  int copy_retries = 3;              // re-copies of a file that changed while copied
  std::string io_priority = "idle";  // idle | best-effort | normal
  int bandwidth_mib_s = 0;           // copy cap; 0: none
  bool drop_cache = true;            // drop the backup's copies from the page cache
  RetentionPolicy retention;
  bool prune_after_backup = true;
  EtcdConfig etcd;
  JournalConfig journal;
  std::string kubeconfig;  // node path of an admin kubeconfig, for the kubeadm-config ConfigMap
  std::string metrics_dir;  // node_exporter textfile folder (node path); empty: no metrics
  bool verify_after_backup = false;
  // A backup run proves the newest point restorable (kdr verify --restore-test) when the last
  // proof is older than this; 0: never from the backup.
  int restore_test_hours = 24;
  std::vector<NodeConfig> nodes;  // the other control-plane nodes (none: commands are printed)
  KubeletConfig kubelet;
  OffsiteConfig offsite;
  BackupDiskConfig backup_disk;
};

// The built-in defaults, as the YAML text they are parsed from.
std::string_view default_config_yaml();

Config default_config();
// Defaults overlaid by the YAML `text`; `origin` names the file in errors.
Config parse_config(std::string_view text, const std::string& origin);
// Reads `file`; throws UsageError if it does not exist or is invalid.
Config load_config(const bfs::path& file);

}  // namespace kdr::core
