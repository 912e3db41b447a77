# Helpers for kdr's black-box scenario tests: each scenario runs the built binary
# ($KDR_BIN) against sandbox nodes in its own temporary folder, which is removed when it
# passes and kept (and named) when it fails. Every process it starts is stopped on exit.
set -euo pipefail

: "${KDR_BIN:?KDR_BIN must point at the kdr binary}"
KDR_SOURCE_DIR=${KDR_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=sandbox.sh
source "$KDR_SOURCE_DIR/tests/lib/sandbox.sh"
# shellcheck source=sshd.sh
source "$KDR_SOURCE_DIR/tests/lib/sshd.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/kdr-scenario-XXXXXX")
ROOT=$T/node
BACKUP=$T/disk2/kdr
mkdir -p "$T/disk2"
SCENARIO_FAILED=0
SCENARIO_BG_PIDS=()
SCENARIO_MOUNTS=()
SCENARIO_CLEANUPS=()  # commands run at exit, whatever happened (e.g. stopping what a script started)

_scenario_exit() {
  local rc=$?
  local pid
  for pid in "${SCENARIO_BG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  for pid in "${SCENARIO_CLEANUPS[@]}"; do "$pid" >/dev/null 2>&1 || true; done
  sandbox_stop_all
  sshd_stop_all
  for pid in "${SCENARIO_MOUNTS[@]}"; do umount "$pid" 2>/dev/null || umount -l "$pid" 2>/dev/null || true; done
  if [ "$rc" -eq 0 ] && [ "$SCENARIO_FAILED" -eq 0 ]; then
    rm -rf "$T"
    echo "PASS"
  else
    echo "FAIL (files kept in $T)" >&2
    [ "$rc" -eq 0 ] && rc=1
  fi
  exit "$rc"
}
trap _scenario_exit EXIT

step() { echo "--- $*"; }
fail() {
  echo "FAILED: $*" >&2
  SCENARIO_FAILED=1
  exit 1
}

kdr() { "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" "$@"; }

# expect_rc N CMD...: runs CMD, fails the scenario unless it exits with N. Output in $OUT.
expect_rc() {
  local want=$1 got=0
  shift
  OUT=$("$@" 2>&1) || got=$?
  if [ "$got" -ne "$want" ]; then
    echo "$OUT" >&2
    fail "expected exit $want, got $got: $*"
  fi
}

assert_contains() {
  grep -qF -- "$2" <<<"$1" || { echo "$1" >&2; fail "output does not contain: $2"; }
}
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: '$1' != '$2'"; }

# Scenarios about the file backup run with etcd stopped, so that its data dir holds still;
# they turn the snapshot off (the etcd scenarios cover it).
files_only_config() { config 'etcd: {snapshot: false}'; }

# A sandbox node whose /var/lib/etcd was written by a real etcd, now stopped.
make_node_with_etcd_data() {
  sandbox_make_node "$ROOT"
  files_only_config
  sandbox_start_etcd "$ROOT"
  sandbox_etcdctl "$ROOT" put /registry/namespaces/kube-system '{"kind":"Namespace","metadata":{"name":"kube-system"}}' >/dev/null
  sandbox_fill_etcd "$ROOT" "${1:-20}" "${2:-20000}"
  sandbox_stop_etcd "$ROOT"
}

latest_gen() { readlink -f "$BACKUP/latest"; }

# Every published generation verifies with sha256sum -c, and latest is a complete one.
assert_all_generations_verify() {
  local g n=0
  for g in "$BACKUP"/generations/*/; do
    [ -d "$g" ] || continue
    [ -f "$g/meta.json" ] || fail "published generation without meta.json: $g"
    (cd "$g" && sha256sum -c --quiet --strict SHA256SUMS) || fail "generation $g does not verify"
    n=$((n + 1))
  done
  [ "$n" -eq 0 ] || assert_latest_complete
}

# latest names a published generation (not one being built) that holds every file a generation
# has, whose sums check, whose meta.json says complete or partial.
assert_latest_complete() {
  local l f
  l=$(latest_gen)
  [ "$(dirname "$l")" = "$(readlink -f "$BACKUP/generations")" ] || fail "latest points outside generations/: $l"
  case "$(basename "$l")" in .*) fail "latest points at a folder being built: $l" ;; esac
  for f in meta.json manifest.jsonl SHA256SUMS AUTH; do
    [ -f "$l/$f" ] || fail "latest ($(basename "$l")) has no $f"
  done
  (cd "$l" && sha256sum -c --quiet --strict SHA256SUMS) || fail "latest ($(basename "$l")) does not verify"
  jq -e '.status == "complete" or .status == "partial"' "$l/meta.json" >/dev/null ||
    fail "latest ($(basename "$l")) has no status in its meta.json"
}

# "type mode uid gid size mtime(ns) [target]" for every path under a tree, relative.
tree_listing() {
  (cd "$1" && find . -printf '%P|%y|%m|%U|%G|%s|%T@|%l\n' | awk -F'|' '{ if ($2=="d") $6="-"; print }' OFS='|' | sort)
}

# manifest_entry GEN PATH: the manifest entry of PATH as JSON ("null" if absent).
manifest_entry() {
  tail -n +2 "$1/manifest.jsonl" | jq -c --arg p "$2" 'select(.path==$p)' | head -n 1 | grep . || echo null
}
# assert_entry GEN PATH JQ_CONDITION
assert_entry() {
  local e
  e=$(manifest_entry "$1" "$2")
  jq -e "$3" <<<"$e" >/dev/null || fail "manifest entry of $2 ($e) does not satisfy: $3"
}

# mount_tmpfs DIR SIZE: a small file system of its own (a full or read-only second disk),
# unmounted when the scenario ends.
mount_tmpfs() {
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1"
  SCENARIO_MOUNTS+=("$1")
}

# etcd_revision: the live revision of the sandbox etcd
etcd_revision() { sandbox_etcdctl "$ROOT" endpoint status -w json | jq '.[0].Status.header.revision'; }

# config YAML: writes the node's /etc/kdr/kdr.yaml
config() { mkdir -p "$ROOT/etc/kdr"; printf '%s\n' "$1" > "$ROOT/etc/kdr/kdr.yaml"; }

# A sandbox node as a kubeadm node runs: the kubelet stand-in runs its static pods (etcd
# for real), with some cluster-like keys in etcd. kdr's config turns off the API-server
# parts (no kube-apiserver can run here).
make_running_node() {
  sandbox_make_node "$ROOT"
  config 'kubeconfig: ""'
  sandbox_start_kubelet "$ROOT"
  sandbox_wait_etcd "$ROOT" 30
  local i
  for i in 1 2 3; do
    sandbox_etcdctl "$ROOT" put "/registry/namespaces/team-$i" "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team-$i\"}}" >/dev/null
    sandbox_etcdctl "$ROOT" put "/registry/configmaps/team-$i/settings" "value-$i" >/dev/null
    sandbox_etcdctl "$ROOT" put "/registry/pods/team-$i/web-$i" "pod-$i" >/dev/null
  done
}

# mount_encryption_config: the node's kube-apiserver reads /etc/kubernetes/enc/config.yaml
# (--encryption-provider-config, through a hostPath volume of /etc/kubernetes/enc)
mount_encryption_config() {
  local m=$ROOT/etc/kubernetes/manifests/kube-apiserver.yaml
  sed -i 's|    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key|&\n    - --encryption-provider-config=/etc/kubernetes/enc/config.yaml|' "$m"
  sed -i 's|^  volumes:$|&\n  - hostPath:\n      path: /etc/kubernetes/enc\n      type: DirectoryOrCreate\n    name: encryption|' "$m"
  sed -i 's|    volumeMounts:|&\n    - mountPath: /etc/kubernetes/enc\n      name: encryption\n      readOnly: true|' "$m"
  grep -q -- "--encryption-provider-config=/etc/kubernetes/enc/config.yaml" "$m" || fail "the kube-apiserver manifest edit"
}

# k8s_store [--encryption FILE] put FILE... | delete RESOURCE NS NAME | raw KEY FILE: objects written
# into the node's etcd as kube-apiserver stores them (tests/helpers/k8s_store.cpp; there is no
# kube-apiserver here).
k8s_store() {
  local pki=$ROOT/etc/kubernetes/pki/etcd
  "${KDR_K8S_STORE:?KDR_K8S_STORE must point at the k8s-store helper}" "https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")" \
    "$pki/ca.crt" "$pki/healthcheck-client.crt" "$pki/healthcheck-client.key" "$@"
}

# put_node_objects NAME IP: what a node's kubelet and kube-apiserver keep in the etcd of $ROOT's
# node: its Node and its Lease (tests/fixtures/k8s-objects, named NAME, written as kube-apiserver
# stores them) and the endpoint lease of its address IP.
put_node_objects() {
  local name=$1 ip=$2 fixtures=$KDR_SOURCE_DIR/tests/fixtures/k8s-objects
  jq --arg n "$name" '.metadata.name = $n | .metadata.labels["kubernetes.io/hostname"] = $n' "$fixtures/node.json" > "$T/node-$name.json"
  jq --arg n "$name" '.metadata.name = $n | .spec.holderIdentity = $n' "$fixtures/lease.json" > "$T/lease-$name.json"
  k8s_store put "$T/node-$name.json" "$T/lease-$name.json" >/dev/null
  sandbox_etcdctl "$ROOT" put "/registry/masterleases/$ip" '{"kind":"Endpoints"}' >/dev/null
}

# etcd_keys PREFIX: the keys under PREFIX, sorted.
etcd_keys() { sandbox_etcdctl "$ROOT" get --prefix "$1" --keys-only | grep . | sort; }

# The node's files as a restore must leave them: type, mode, owner, size, file mtime,
# symlink target and content hash of everything under ROOT except kdr's own state folder
# (folder mtimes change with every rename in them and are left out).
node_state() {
  (cd "$ROOT" &&
    find . -path ./var/lib/kdr -prune -o ! -name . -printf '%P|%y|%m|%U|%G|%s|%l|%T@\n' |
      awk -F'|' '{ if ($2=="d") $8="-"; print }' OFS='|' | sort &&
    find . -path ./var/lib/kdr -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# serving_data_dir: the --data-dir of the etcd process the kubelet stand-in runs for ROOT.
serving_data_dir() {
  local pid
  for pid in $(pgrep -x etcd); do
    tr '\0' '\n' < "/proc/$pid/cmdline" | grep -q -- "$ROOT/" || continue
    tr '\0' '\n' < "/proc/$pid/cmdline" | sed -n 's/^--data-dir=//p'
  done
}

# wait_etcd_down: until no etcd of this node runs.
wait_etcd_down() {
  local i
  for i in $(seq 1 100); do
    [ -z "$(serving_data_dir)" ] && return 0
    sleep 0.1
  done
  fail "etcd of $ROOT still runs"
}

# restore_id: the id of the most recent restore on the node.
restore_id() { ls "$ROOT/var/lib/kdr/restores" | grep -v '^\.' | sort | tail -n 1; }

# snapshot_keyspace SNAPSHOT_FILE: every key and value an etcd snapshot holds, one JSON object
# per line ({"key","value"} in base64), sorted: read by etcd itself (snapshot restore into a
# scratch folder, a plain etcd on free loopback ports, etcdctl get), independently of kdr.
snapshot_keyspace() {
  local snap=$1 dir peer client pid tool=etcdctl
  dir=$(mktemp -d "$T/snapkeys-XXXXXX")
  peer=$(_sandbox_free_port) client=$(_sandbox_free_port)
  command -v etcdutl >/dev/null && tool=etcdutl
  ETCDCTL_API=3 "$tool" snapshot restore "$snap" --data-dir "$dir/data" --name check \
    --initial-cluster "check=http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    >"$dir/restore.log" 2>&1 || { cat "$dir/restore.log" >&2; return 1; }
  etcd --name check --data-dir "$dir/data" --listen-client-urls "http://127.0.0.1:$client" \
    --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "check=http://127.0.0.1:$peer" \
    >"$dir/etcd.log" 2>&1 &
  pid=$!
  SCENARIO_BG_PIDS+=("$pid")
  local i
  for i in $(seq 1 100); do
    ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$client" --dial-timeout 1s endpoint health >/dev/null 2>&1 && break
    sleep 0.1
  done
  ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$client" get "" --prefix -w json | keyspace_lines
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

# wait_until SECONDS WHAT CMD...: runs CMD every 0.1 s until it succeeds; fails naming WHAT
# when SECONDS pass first. For waits on what a test waits for, instead of fixed sleeps.
wait_until() {
  local seconds=$1 what=$2 i
  shift 2
  for i in $(seq 1 $((seconds * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "waited $seconds s for $what"
}

# wait_paused PID WHAT OUTPUT: waits (60 s at most) until PID stops at its KDR_PAUSEPOINT
# (state T); fails naming WHAT, with the file OUTPUT holding what it printed.
wait_paused() {
  local pid=$1 what=$2 output=$3
  paused() { [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = T ]; }
  for _ in $(seq 1 600); do
    paused && return 0
    sleep 0.1
  done
  paused || fail "$what did not reach its pause point: $(cat "$output")"
}

# secret_material ROOT...: one line of key material from each private key of the nodes (a
# base64 line of each PEM key's body, of the SSH identity's) and each node's kdr key: what
# must never appear in an argv or a log.
secret_material() {
  local r f
  for r in "$@"; do
    for f in "$r"/etc/kubernetes/pki/*.key "$r"/etc/kubernetes/pki/etcd/*.key; do
      [ -f "$f" ] && sed -n 2p "$f"
    done
    [ -f "$r/etc/kdr/ssh/id_ed25519" ] && sed -n 3p "$r/etc/kdr/ssh/id_ed25519"
    [ -f "$r/etc/kdr/node.key" ] && cut -d' ' -f2 "$r/etc/kdr/node.key"
  done
  true
}

# keyspace_lines: etcdctl's `get -w json` on stdin as sorted {"key","value"} lines.
keyspace_lines() { jq -c '.kvs // [] | .[] | {key, value: (.value // "")}' | sort; }

# live_keyspace [REVISION]: the node's etcd keyspace (at REVISION), as snapshot_keyspace prints it.
live_keyspace() {
  if [ -n "${1:-}" ]; then sandbox_etcdctl "$ROOT" get "" --prefix --rev="$1" -w json | keyspace_lines
  else sandbox_etcdctl "$ROOT" get "" --prefix -w json | keyspace_lines; fi
}

# The change journal's follower for the node (kdr itself, not a subshell, so that signals reach
# it); its output goes to $T/follower.log.
#   start_follower [BACKUP_DIR]   stop_follower [SIGNAL]   wait_caught_up
FOLLOWER=
start_follower() {
  "$KDR_BIN" --root "$ROOT" --backup-dir "${1:-$BACKUP}" journal run >>"$T/follower.log" 2>&1 &
  FOLLOWER=$!
  SCENARIO_BG_PIDS+=("$FOLLOWER")
}
stop_follower() {
  kill "-${1:-TERM}" "$FOLLOWER" 2>/dev/null || true
  wait "$FOLLOWER" 2>/dev/null || true
}
# wait_caught_up: until the journal in $BACKUP holds etcd's current revision (or a later one:
# a write still in flight when the load stopped may land after the revision was read).
wait_caught_up() {
  local want i at
  want=$(etcd_revision)
  for i in $(seq 1 150); do
    at=$({ kdr journal status --json || true; } | jq '.state.position // 0')
    [ "$at" -ge "$want" ] 2>/dev/null && return 0
    sleep 0.2
  done
  tail -20 "$T/follower.log" >&2
  fail "the journal did not reach revision $want (at $({ kdr journal status --json || true; } | jq '.state.position'))"
}

# ---- HA: three nodes from sandbox_make_ha_cluster ---------------------------------------------
# on_node ROOT ARGS...: kdr on that node, with its own backup folder ($T/disk2-<node>)
on_node() { local root=$1; shift; "$KDR_BIN" --root "$root" --backup-dir "$T/disk2-$(basename "$root")" "$@"; }
# own_disks ROOT...: each node gets its own backup folder and a config without kube-apiserver
own_disks() {
  local r
  for r in "$@"; do
    mkdir -p "$r/etc/kdr" "$T/disk2-$(basename "$r")"
    echo 'kubeconfig: ""' > "$r/etc/kdr/kdr.yaml"
  done
}
# member_keyspace ROOT [PREFIX]: every key and value under PREFIX (default /registry/) that
# member holds itself (a serializable read), one [key, value] line each, sorted
member_keyspace() {
  sandbox_etcdctl "$1" get --prefix "${2-/registry/}" --consistency=s -w json | jq -c '.kvs // [] | .[] | [.key, .value]' | sort
}
# member_cluster_id ROOT: the cluster id as etcd prints it (text: jq would round a 64-bit number)
member_cluster_id() { sandbox_etcdctl "$1" endpoint status -w fields | sed -n 's/^"ClusterID" : //p'; }

# kubeadm_config DATA_DIR: the cluster's ClusterConfiguration for the sandbox node at $ROOT, as
# the kubeadm stand-in (tests/fakes, FAKE_KUBEADM_CONFIG) serves it
kubeadm_config() { sandbox_kubeadm_config "$ROOT" cp-1 127.0.0.1 "$1"; }

# make_lagging_survivor: three members (R1 R2 R3 = $T/cp-1..3), each backed up onto its own
# disk; cp-1's change journal follows the cluster through cp-2's member; cp-1's etcd stops (it
# is cut off) and cp-2 and cp-3 take 32 more changes, which the journal receives; then they die
# with their data dirs and cp-1 comes back behind, without quorum. Sets ROOT and BACKUP (cp-1's),
# old_cluster (decimal) and old_hex, want (the keyspace with every acknowledged write, as
# member_keyspace prints it), survivor_rev and final_rev.
make_lagging_survivor() {
  R1=$T/cp-1 R2=$T/cp-2 R3=$T/cp-3

  step "three control-plane nodes, each backed up onto its own second disk"
  sandbox_make_ha_cluster "$R1" "$R2" "$R3"
  own_disks "$R1" "$R2" "$R3"
  for i in 1 2 3; do sandbox_etcdctl "$R1" put "/registry/configmaps/team-$i/settings" "value-$i" >/dev/null; done
  for r in "$R1" "$R2" "$R3"; do OUT=$(on_node "$r" backup -q 2>&1) || fail "backup on $r: $OUT"; done
  ROOT=$R1 BACKUP=$T/disk2-cp-1
  old_cluster=$(member_cluster_id "$R1")
  old_hex=$(on_node "$R1" --json etcd state | jq -r .cluster_id)  # as etcdctl and kdr print it
  assert_eq "$(on_node "$R1" --json etcd state | jq -r .source)" asked "kdr etcd state on a running member"

  step "cp-1's change journal follows the cluster through cp-2's member"
  printf 'kubeconfig: ""\netcd: {endpoint: "https://127.0.0.1:%s"}\n' "$(cat "$R2/.sandbox-client-port")" >"$T/follow.yaml"
  "$KDR_BIN" --config "$T/follow.yaml" --root "$R1" --backup-dir "$BACKUP" journal run >>"$T/follower.log" 2>&1 &
  FOLLOWER=$!
  SCENARIO_BG_PIDS+=("$FOLLOWER")
  for i in $(seq 1 20); do sandbox_etcdctl "$R1" put "/registry/configmaps/app/before-$i" "b$i" >/dev/null; done
  wait_caught_up

  step "cp-1's etcd stops (it is cut off); cp-2 and cp-3 go on and take more writes"
  sandbox_stop_kubelet "$R1"
  survivor_rev=$(sandbox_etcdctl "$R2" endpoint status -w json | jq '.[0].Status.header.revision')
  acked=0
  for i in $(seq 1 30); do
    sandbox_etcdctl "$R2" put "/registry/configmaps/app/after-$i" "a$i" >/dev/null && acked=$((acked + 1))
  done
  sandbox_etcdctl "$R3" del /registry/configmaps/app/before-1 >/dev/null || fail "the delete was not acknowledged"
  sandbox_etcdctl "$R2" put /registry/configmaps/team-2/settings changed >/dev/null || fail "the update was not acknowledged"
  assert_eq "$acked" 30 "writes acknowledged by the two-member cluster"
  want=$(member_keyspace "$R2")
  final_rev=$(sandbox_etcdctl "$R2" endpoint status -w json | jq '.[0].Status.header.revision')
  [ "$final_rev" -gt "$survivor_rev" ] || fail "no write after cp-1 stopped"
  for i in $(seq 1 150); do
    at=$({ kdr journal status --json || true; } | jq '.state.position // 0')
    [ "$at" -ge "$final_rev" ] && break
    sleep 0.2
  done
  [ "$at" -ge "$final_rev" ] || { tail -20 "$T/follower.log"; fail "the journal did not reach revision $final_rev"; }

  step "disaster: cp-2 and cp-3 die with their data dirs; cp-1 comes back behind, without quorum"
  for r in "$R2" "$R3"; do
    sandbox_stop_kubelet "$r"
    rm -rf "$r/var/lib/etcd/member"
  done
  kill -TERM "$FOLLOWER"; wait "$FOLLOWER" 2>/dev/null || true
  sandbox_start_kubelet "$R1"
  sleep 2
  # a member that starts without quorum never serves its clients (it cannot publish itself)
  ! sandbox_etcdctl "$R1" --dial-timeout 1s --command-timeout 3s put /registry/x y >/dev/null 2>&1 || fail "cp-1 takes writes"
  state=$(on_node "$R1" --json etcd state)
  assert_eq "$(jq -r .source <<<"$state")" offline "kdr etcd state on cp-1 (its data dir read offline)"
  assert_eq "$(jq -r .cluster_id <<<"$state")" "$old_hex" "cp-1's cluster, read offline"
}
