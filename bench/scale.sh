#!/usr/bin/env bash
# kdr at the database sizes big clusters run (etcd's suggested maximum quota is 8 GiB), each
# path timed beside the tool an operator would otherwise use, on the same node in the same run.
# The database (bench/etcd_fill.cpp): ConfigMaps of 1 KiB to 1 MiB in 40 namespaces, 200 node
# Leases renewed again and again (long histories), Events in one small namespace; never
# compacted. With --small, every ConfigMap is of 256 bytes to 4 KiB: the many small objects of a
# cluster with thousands of nodes, about 300,000 keys a GiB (where kdr's key tables are largest).
# For each size:
#   - the full backup, beside the seed's pair (rsync -a --delete of /etc/kubernetes and etcd's
#     data dir, then etcdctl snapshot save) and beside etcdctl snapshot save alone; a later run
#     after a second of writes, beside the seed's pair again, and the same with the raw copy
#     of etcd's data dir in every run (etcd.raw_copy: always), which kdr leaves out by default;
#     and a later run at normal I/O priority (copy.io_priority: normal; kdr's default is idle),
#     beside etcdctl snapshot save, which runs at normal priority;
#   - verify of that generation, beside sha256sum -c of its SHA256SUMS;
#   - the restore test, beside the same by hand (snapshot restore, etcd started on loopback,
#     every key listed with etcdctl get --keys-only);
#   - kdr get configmaps -A (every value read and decoded), beside etcdctl get --prefix -w json;
#   - the journal follower's start (its first read of the keyspace, until it follows), beside
#     etcdctl get --prefix; then its steady following of 200 writes a second for 10 s;
#   - a 5-minute run while the follower follows (the journal covers etcd: no snapshot, no copy
#     of its data dir), beside the seed's pair run again over its copy;
#   - kdr journal compact (a new full base for the journal), beside etcdctl snapshot save;
#   - restore-etcd-snapshot of a generation's snapshot, beside the seed's runbook by hand
#     (manifest out, etcdctl/etcdutl snapshot restore, manifest back, until etcd serves);
#   - restore-etcd-keys of one namespace, beside the snapshot restored on loopback and etcdctl
#     make-mirror --prefix into the node's etcd: bench-1's Events, then bench-2's ConfigMaps
#     (large values);
#   - a restore to the journal's newest point (a snapshot and 2 s of writes replayed), beside
#     the snapshot alone by hand (which loses those writes);
#   - how long each snapshot restore kept the control plane down (from its journal: stopping
#     the pods until etcd was healthy); by hand, the manifest goes out first.
# Wall seconds, kdr's own peak RSS (VmHWM, sampled every 50 ms) and the peak RSS of anything it
# started (a private etcd, etcdctl): GNU time's maximum over the process tree.
#
#   bench/scale.sh [--quick] [--scale 1,2,4,8] [--small] [--rounds N] [--kdr PATH]
#   --quick: one 96 MiB database (CI); --scale: sizes in GiB (default 1); --small: small objects
#   (above); --rounds: the full backup and its two by-hand sides, and the restore test and its
#   by-hand side, run N times in turn, each row the median run (default 1; a virtual disk's
#   speed varies by a third from run to run)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sizes_mb=(1024)
rounds=1
fill_profile=()
kdr_bin=${KDR_BIN:-$here/../build/cli/kdr}
while [ $# -gt 0 ]; do
  case $1 in
    --quick) sizes_mb=(96) ;;
    --scale) IFS=, read -r -a gib <<<"$2"; sizes_mb=(); for g in "${gib[@]}"; do sizes_mb+=($((g * 1024))); done; shift ;;
    --rounds) rounds=$2; shift ;;
    --small) fill_profile=(--small) ;;
    --kdr) kdr_bin=$2; shift ;;
    *) echo "usage: $0 [--quick] [--scale 1,2,4,8] [--small] [--rounds N] [--kdr PATH]" >&2; exit 2 ;;
  esac
  shift
done
source "$here/lib.sh"
[ -x "$kdr_bin" ] || { echo "bench: no kdr binary at $kdr_bin (build first)" >&2; exit 2; }
fill_bin=$(dirname "$kdr_bin")/../bench/kdr-etcd-fill
load_bin=$(dirname "$kdr_bin")/../bench/kdr-etcd-load
[ -x "$fill_bin" ] || { echo "bench: no kdr-etcd-fill at $fill_bin (build first)" >&2; exit 2; }
# a kdr outside its build tree finds only installed playbooks: the restores would fail after
# most of an 8 GiB run. The list is read whole first: `grep -q` leaves at its first match, and
# kdr, still writing, would die of SIGPIPE and fail the pipeline (pipefail).
playbooks=$("$kdr_bin" playbooks 2>/dev/null || true)
grep -q '^restore-etcd-snapshot ' <<<"$playbooks" ||
  { echo "bench: $kdr_bin finds no restore-etcd-snapshot playbook (run the build tree's kdr, or install kdr)" >&2; exit 2; }
: "${KDR_KUBELET:=$(dirname "$kdr_bin")/../demo/kubelet-standin}"
export KDR_KUBELET
etcd_minor=$(sandbox_etcd_minor)

# below PID ANCESTOR: PID is ANCESTOR's descendant (bash builtins only: the sampler below must
# not take a core from what it measures)
below() {
  local p=$1 line rest
  while [ "$p" -gt 1 ]; do
    read -r line 2>/dev/null </proc/"$p"/stat || return 1
    rest=${line##*) }           # after "pid (comm) "
    read -r _ p _ <<<"$rest"    # state, ppid
    [ -n "$p" ] || return 1
    [ "$p" = "$2" ] && return 0
  done
  return 1
}
# hwm_kb PID: its VmHWM in KiB (0 when gone)
hwm_kb() {
  local key value _
  while read -r key value _; do
    [ "$key" = VmHWM: ] && { echo "$value"; return; }
  done 2>/dev/null </proc/"$1"/status
  echo 0
}
# measure CMD...: "seconds kdr_hwm_kb tree_max_kb" of CMD. kdr's own peak is its VmHWM, read
# every 50 ms while it runs (the last 50 ms can escape it); the tree's is GNU time's %M. The
# sampler costs one pgrep per 50 ms: each kdr process found is checked once (is it this
# command's?) and then read with bash builtins, so the command keeps the machine's cores.
measure() {
  local rc=0 pid kpid hwm=0 h
  local -A mine=()
  /usr/bin/time -o "$W/time.out" -f '%e %M' "$@" >"$W/cmd.out" 2>"$W/cmd.err" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for kpid in $(pgrep -x kdr 2>/dev/null); do
      if [ -z "${mine[$kpid]:-}" ]; then
        if below "$kpid" "$pid"; then mine[$kpid]=yes; else mine[$kpid]=no; fi
      fi
      [ "${mine[$kpid]}" = yes ] || continue
      h=$(hwm_kb "$kpid")
      [ "$h" -gt "$hwm" ] && hwm=$h
    done
    sleep 0.05
  done
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ]; then
    echo "bench: failed ($rc): $*" >&2
    tail -n 30 "$W/cmd.err" "$W/cmd.out" >&2
    # etcd's side, printed before the folder goes: its log and the stand-in kubelet's (restarts)
    for f in "${ROOT:-}".kubelet/logs/*etcd*.log "${ROOT:-}".kubelet/kubelet.log; do
      if [ -f "$f" ]; then echo "==> $f (its last 40 lines)" >&2; tail -n 40 "$f" >&2; fi
    done
    exit 1
  fi
  read -r secs tree <<<"$(tail -n 1 "$W/time.out")"
  echo "$secs $hwm $tree"
}
# a by-hand command that may fail at this size (a response over gRPC's limit): "failed" then
measure_or_fail() {
  if /usr/bin/time -o "$W/time.out" -f '%e %M' "$@" >/dev/null 2>"$W/cmd.err"; then
    read -r secs tree <<<"$(tail -n 1 "$W/time.out")"
    echo "$secs 0 $tree"
  else
    echo "failed 0 0 $(grep -o 'larger than max ([0-9]* vs. [0-9]*)\|exhausted\|deadline exceeded' "$W/cmd.err" | head -n 1)"
  fi
}
mib() { [ "$1" = failed ] && echo - || awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
# downtime ROOT: seconds the control plane was down in the node's newest restore, from its
# journal: the steps from stopping the static pods until etcd was healthy, end to end (by hand,
# the manifest goes out first: the whole time is downtime)
downtime() {
  local journal
  journal=$(find "$1/var/lib/kdr/restores" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1)/journal.jsonl
  jq -rs '(map(select(.event == "begin") | {(.step | tostring): .type}) | add) as $type
    | map(select(.event == "done" and ($type[.step | tostring] | IN("stop-static-pods", "wait-stopped",
        "move-aside", "etcd-snapshot-restore", "start-static-pods", "wait-healthy"))) | .seconds)
    | if length == 0 then "-" else add * 100 | round / 100 end' "$journal" 2>/dev/null || echo -
}
# median LINE...: the line (measure's "seconds ...") whose seconds are the median
median() { printf '%s\n' "$@" | sort -n -k1,1 | sed -n "$((($# + 1) / 2))p"; }
# seconds LINE...: their seconds, as "a, b, c"
seconds() { local l out=(); for l in "$@"; do out+=("${l%% *}"); done; local IFS=,; echo "${out[*]}" | sed 's/,/, /g'; }
ratio() { { [ "$1" = failed ] || [ "$2" = failed ]; } && echo - || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
row() {  # row WHAT KDR_LINE BYHAND_WHAT BYHAND_LINE (also on stderr as measured: a run that fails later keeps it)
  local k=($2) h=($4) line
  line=$(printf '| %s | %s | %s | %s | %s | %s | %s | %s |' "$1" "${k[0]}" "$(mib "${k[1]}")" "$(mib "${k[2]}")" "$3" \
    "${h[0]}" "$(mib "${h[2]}")" "$(ratio "${k[0]}" "${h[0]}")")
  echo "bench: measured $line" >&2
  echo "$line"
}

etcdctl_at() {  # etcdctl_at ROOT ARGS...: the node's etcd, with timeouts that fit any size
  local root=$1 pki=$1/etc/kubernetes/pki/etcd
  shift
  ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.1:$(cat "$root/.sandbox-client-port")" --cacert "$pki/ca.crt" \
    --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" --dial-timeout 10s --command-timeout 30m "$@"
}
snapshot_restore_tool() {  # the tool that restores a snapshot: etcdutl from 3.5 on
  if [ "$etcd_minor" = 3.4 ]; then echo "etcdctl"; else echo "etcdutl"; fi
}
# by_hand_etcd SNAPSHOT: restored by hand into $W/by-hand and started on loopback (BH_PORT, BH_PID)
by_hand_etcd() {
  local d=$W/by-hand
  BH_PORT=$((30000 + RANDOM % 20000))
  rm -rf "$d"
  ETCDCTL_API=3 $(snapshot_restore_tool) snapshot restore "$1" --data-dir "$d" >/dev/null 2>&1
  etcd --data-dir "$d" --listen-client-urls "http://127.0.0.1:$BH_PORT" --advertise-client-urls "http://127.0.0.1:$BH_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((BH_PORT + 1))" --quota-backend-bytes 17179869184 >"$W/by-hand.log" 2>&1 &
  BH_PID=$!
  for _ in $(seq 1 1200); do
    ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$BH_PORT" endpoint health >/dev/null 2>&1 && return 0
    kill -0 "$BH_PID" 2>/dev/null || { tail -n 20 "$W/by-hand.log" >&2; return 1; }
    sleep 0.05
  done
  return 1
}
by_hand_stop() { kill "$BH_PID"; wait "$BH_PID" 2>/dev/null || true; rm -rf "$W/by-hand"; }
# by_hand_restore_test SNAPSHOT: restore, start on loopback, list every key, stop
by_hand_restore_test() {
  local n
  by_hand_etcd "$1"
  n=$(ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$BH_PORT" --command-timeout 30m get "" --from-key --keys-only | grep -c .)
  by_hand_stop
  echo "$n keys" >&2
}
# by_hand_restore_keys SNAPSHOT ROOT PREFIX: the keys under PREFIX put back into ROOT's etcd
# from a snapshot by hand: restored and started on loopback, etcdctl make-mirror --prefix into
# the node's etcd until it holds as many keys there, stopped
by_hand_restore_keys() {
  local pki=$2/etc/kubernetes/pki/etcd want mirror
  by_hand_etcd "$1"
  want=$(ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$BH_PORT" get --prefix "$3" --keys-only | grep -c .)
  ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$BH_PORT" make-mirror --prefix "$3" --dest-cacert "$pki/ca.crt" \
    --dest-cert "$pki/healthcheck-client.crt" --dest-key "$pki/healthcheck-client.key" \
    "https://127.0.0.1:$(cat "$2/.sandbox-client-port")" >/dev/null 2>&1 &
  mirror=$!
  until [ "$(sandbox_etcdctl "$2" get --prefix "$3" --keys-only | grep -c .)" -ge "$want" ]; do sleep 0.05; done
  kill "$mirror"; wait "$mirror" 2>/dev/null || true
  by_hand_stop
  echo "$want keys" >&2
}
export W etcd_minor
export -f by_hand_etcd by_hand_stop by_hand_restore_test by_hand_restore_keys snapshot_restore_tool bench_manual_etcd_restore bench_wait_precious sandbox_etcdctl
# follower_start: kdr journal run until it follows etcd's revision (its first read done), then stopped
follower_start() {
  local want at
  want=$(etcdctl_at "$ROOT" endpoint status -w json | jq '.[0].Status.header.revision')
  "$kdr_bin" --root "$ROOT" --backup-dir "$B" journal run >"$W/follower.log" 2>&1 &
  FOLLOWER=$!
  for _ in $(seq 1 36000); do
    # this follower's own state (not one a stopped follower left), following, at etcd's revision
    at=$("$kdr_bin" --root "$ROOT" --backup-dir "$B" journal status --json 2>/dev/null |
      jq --argjson pid "$FOLLOWER" 'if .state.pid == $pid and .state.state == "following" then .state.position else 0 end' || true)
    [ "${at:-0}" -ge "$want" ] 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: the follower did not catch up" >&2
  exit 1
}

# Room, at the largest size: the node's etcd (its database and WAL), two generations and the
# one being made, the seed's copy of the data dir and its snapshot, and rsync's temporary file
# (or, later, a data dir set aside and a restore's private copy): about 7 databases.
largest_mb=0
for size_mb in "${sizes_mb[@]}"; do [ "$size_mb" -gt "$largest_mb" ] && largest_mb=$size_mb; done
free_mb=$(df -Pm "$W" | awk 'NR == 2 { print $4 }')
if [ "$free_mb" -lt $((largest_mb * 7)) ]; then
  echo "bench: a $largest_mb MiB database needs about $((largest_mb * 7)) MiB free under $W; $free_mb MiB are (TMPDIR names another folder)" >&2
  exit 2
fi

for size_mb in "${sizes_mb[@]}"; do
  sandbox_stop_all
  rm -rf "$W/node" "$W/disk2"
  ROOT=$W/node B=$W/disk2/kdr
  mkdir -p "$W/disk2"
  # room for the database and its history, as a cluster of that size sets etcd's quota (the
  # default, 2 GiB, refuses writes before a 2 GiB database is full)
  SANDBOX_ETCD_QUOTA=$(( (size_mb * 2 > 2048 ? size_mb * 2 : 2048) << 20 )) sandbox_make_node "$ROOT"
  printf 'kubeconfig: ""\nretention: {keep_last: 2, hourly: 0, daily: 0, weekly: 0}\nverify: {restore_test_hours: 0}\njournal: {checkpoint_s: 1}\n' \
    > "$ROOT/etc/kdr/kdr.yaml"
  sandbox_start_kubelet "$ROOT"
  sandbox_wait_etcd "$ROOT" 60
  pki=$ROOT/etc/kubernetes/pki/etcd
  echo "bench: filling etcd to $size_mb MiB..." >&2
  t0=$SECONDS
  "$fill_bin" --endpoint "https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")" --cacert "$pki/ca.crt" \
    --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" --bytes $((size_mb << 20)) ${fill_profile[@]+"${fill_profile[@]}"} >"$W/fill.out"
  etcdctl_at "$ROOT" put /registry/namespaces/precious '{"kind":"Namespace"}' >/dev/null
  db_mb=$(( $(stat -c %s "$ROOT/var/lib/etcd/member/snap/db") >> 20 ))
  keys=$(etcdctl_at "$ROOT" get "" --from-key --keys-only | grep -c .)
  rev=$(etcdctl_at "$ROOT" endpoint status -w json | jq '.[0].Status.header.revision')
  echo "bench: $db_mb MiB, $keys keys, revision $rev (filled in $((SECONDS - t0)) s)" >&2
  kdr=("$kdr_bin" --root "$ROOT" --backup-dir "$B")
  etcdctl_cmd=(env ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")" --cacert "$pki/ca.crt"
    --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" --dial-timeout 10s --command-timeout 30m)
  rows=()

  # the full backup: kdr's first run, beside the seed's pair and beside etcdctl snapshot save alone
  # rsync's exit 24 (files vanished while it copied: etcd purges its old WAL files as writes
  # come) is what the seed's cron line meets on a busy node too; the copy is made all the same
  seed_run() {
    measure bash -c "rsync -a --delete '$ROOT/etc/kubernetes' '$ROOT/var/lib/etcd' '$W/disk2/seed/'; rc=\$?; \
      { [ \$rc -eq 0 ] || [ \$rc -eq 24 ]; } && \
      ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port") --cacert '$pki/ca.crt' \
      --cert '$pki/healthcheck-client.crt' --key '$pki/healthcheck-client.key' --command-timeout 30m \
      snapshot save '$W/disk2/seed/snapshot.db' >/dev/null"
  }
  # --rounds N: the three in turn, N times (the seed's pair onto an empty folder each time, as
  # kdr's run takes a full snapshot each time); each row the median of its runs
  ks=() ss=() seeds=()
  for _ in $(seq 1 "$rounds"); do
    bench_drop_caches
    ks+=("$(measure "${kdr[@]}" -q backup)")
    bench_drop_caches
    ss+=("$(measure_or_fail "${etcdctl_cmd[@]}" snapshot save "$W/disk2/plain.db")")
    rm -f "$W/disk2/plain.db"
    rm -rf "$W/disk2/seed"; mkdir -p "$W/disk2/seed"
    bench_drop_caches
    seeds+=("$(seed_run)")
  done
  k=$(median "${ks[@]}") s=$(median "${ss[@]}") seed=$(median "${seeds[@]}")
  gen=$(basename "$(readlink -f "$B/latest")")
  full_what="full backup (kdr backup, first run)"
  [ "$rounds" -gt 1 ] && full_what="full backup (kdr backup, median of $rounds runs)"
  rows+=("$(row "$full_what" "$k" "etcdctl snapshot save" "$s")")
  rows+=("$(row "$full_what" "$k" "the seed: rsync -a --delete + etcdctl snapshot save" "$seed")")
  full_line="kdr backup $(seconds "${ks[@]}") s; etcdctl snapshot save $(seconds "${ss[@]}") s; the seed's pair $(seconds "${seeds[@]}") s"
  # verify, beside sha256sum -c
  bench_drop_caches
  k=$(measure "${kdr[@]}" -q verify --no-live "$gen")
  bench_drop_caches
  h=$(measure bash -c "cd '$B/generations/$gen' && sha256sum -c --quiet SHA256SUMS")
  rows+=("$(row "kdr verify --no-live" "$k" "sha256sum -c SHA256SUMS" "$h")")

  # the restore test, beside the same by hand (--rounds N: the two in turn, N times, each the
  # median of its runs)
  ks=() hs=()
  for _ in $(seq 1 "$rounds"); do
    bench_drop_caches
    ks+=("$(measure "${kdr[@]}" verify --restore-test "$gen")")
    grep -q PROVEN "$W/cmd.out" "$W/cmd.err" || { cat "$W/cmd.out" "$W/cmd.err" >&2; echo "bench: the restore test did not prove the generation" >&2; exit 1; }
    bench_drop_caches
    hs+=("$(measure bash -c "by_hand_restore_test '$B/generations/$gen/etcd/snapshot.db'")")
  done
  k=$(median "${ks[@]}") h=$(median "${hs[@]}")
  restore_test_line=$(jq -r '"\(.seconds.restore * 100 | round / 100) s restore, \(.seconds.check * 100 | round / 100) s read back; \(.objects) objects"' \
    <("${kdr[@]}" --json verify --restore-test "$gen" 2>/dev/null) 2>/dev/null || true)
  restore_test_line="$restore_test_line (a run after the timed ones, caches warm); timed: kdr $(seconds "${ks[@]}") s, by hand $(seconds "${hs[@]}") s"
  test_what="kdr verify --restore-test (every value decoded)"
  [ "$rounds" -gt 1 ] && test_what="kdr verify --restore-test (every value decoded, median of $rounds runs)"
  rows+=("$(row "$test_what" "$k" "$(snapshot_restore_tool) snapshot restore + etcd + etcdctl get --keys-only" "$h")")

  # memory_back BYHAND_LINE: etcd restarted after a by-hand etcdctl get that failed
  memory_back() {
    [ "${1%% *}" = failed ] || return 0
    local epid
    epid=$(pgrep -f -- "--data-dir=$ROOT/var/lib/etcd" | head -n 1)
    [ -n "$epid" ] || { echo "bench: no etcd of $ROOT to restart" >&2; exit 1; }
    echo "bench: etcd held $(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$epid/status") MiB after the failed etcdctl get: restarted" >&2
    kill -TERM "$epid"
    while kill -0 "$epid" 2>/dev/null; do sleep 0.2; done
    sandbox_wait_etcd "$ROOT" 600
  }
  # every ConfigMap read and decoded, beside etcdctl get
  k=$(measure "${kdr[@]}" -q get configmaps -A --at live -o name)
  h=$(measure_or_fail "${etcdctl_cmd[@]}" get --prefix /registry/configmaps/ -w json)
  rows+=("$(row "kdr get configmaps -A --at live" "$k" "etcdctl get --prefix /registry/configmaps/ -w json" "$h")")
  # etcd refuses an answer over gRPC's limit only once it has built it, and then holds it: at
  # 8 GiB its RSS went from 9.8 to 23.8 GB (of 24), and the next snapshot stalled at a third
  # and ended "transport is closing". etcd is restarted, as the kubelet restarts it after a
  # crash, so that the rows after this one do not measure a machine out of memory.
  memory_back "$h"

  # a later run, after a second of writes: kdr's (etcd.raw_copy: auto leaves the raw copy of
  # etcd's data dir out when the snapshot was taken), then with the raw copy in every run
  # (etcd.raw_copy: always), each beside the seed's pair run again over its copy. After kdr
  # get: bench/etcd_load.cpp writes bytes, not objects.
  later_writes() {
    "$load_bin" --endpoint "https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")" --cacert "$pki/ca.crt" \
      --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" --rate 200 --seconds 1 >/dev/null
  }
  later_writes; bench_drop_caches
  k=$(measure "${kdr[@]}" -q backup)
  later_writes; bench_drop_caches
  seed=$(seed_run)
  rows+=("$(row "a later run (kdr backup)" "$k" "the seed's pair again" "$seed")")
  cp "$ROOT/etc/kdr/kdr.yaml" "$W/kdr.yaml.auto"
  printf 'etcd: {raw_copy: always}\n' >>"$ROOT/etc/kdr/kdr.yaml"
  later_writes; bench_drop_caches
  k=$(measure "${kdr[@]}" -q backup)
  cp "$W/kdr.yaml.auto" "$ROOT/etc/kdr/kdr.yaml"
  later_writes; bench_drop_caches
  seed=$(seed_run)
  rows+=("$(row "a later run with etcd.raw_copy: always" "$k" "the seed's pair again" "$seed")")
  rm -rf "$W/disk2/seed"
  # a later run at the I/O priority the by-hand tools run at (kdr's backup runs, and starts
  # etcdctl, in the idle class by default: only when the disk is otherwise free), beside
  # etcdctl snapshot save run again
  printf 'copy: {io_priority: normal}\n' >>"$ROOT/etc/kdr/kdr.yaml"
  later_writes; bench_drop_caches
  k=$(measure "${kdr[@]}" -q backup)
  cp "$W/kdr.yaml.auto" "$ROOT/etc/kdr/kdr.yaml"
  bench_drop_caches
  s_again=$(measure_or_fail "${etcdctl_cmd[@]}" snapshot save "$W/disk2/plain.db")
  rm -f "$W/disk2/plain.db"
  rows+=("$(row "a later run with copy.io_priority: normal" "$k" "etcdctl snapshot save" "$s_again")")

  # the follower: its start (first read of the keyspace), beside etcdctl get of everything (run
  # first: when it fails, etcd is restarted before the follower starts), the caches dropped
  # before each, so that neither reads what the other left cached
  bench_drop_caches
  h=$(measure_or_fail "${etcdctl_cmd[@]}" get "" --from-key -w json)
  memory_back "$h"
  bench_drop_caches
  rm -rf "$B/journal"
  t0=$(date +%s.%N)
  follower_start
  start_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  start_hwm=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$FOLLOWER/status")
  rows+=("$(row "kdr journal run: start, until it follows" "$start_s $start_hwm 0" "etcdctl get \"\" --from-key -w json" "$h")")
  # steady: 200 writes a second of 1 KiB for 10 s
  "$load_bin" --endpoint "https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")" --cacert "$pki/ca.crt" \
    --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" --rate 200 --seconds 10 >/dev/null
  lag=$("${kdr[@]}" journal status --json | jq '.state.lag_revisions // 0')
  steady_hwm=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$FOLLOWER/status")
  # the 5-minute run while the follower follows: the journal covers etcd (no snapshot, no copy
  # of its data dir), its epoch's base the snapshot of the run before the follower started (no
  # write came between); beside the seed's pair run again over its own copy, as its cron line
  # runs every 5 minutes. Should the follower have found no base and be taking a full snapshot
  # of its own, that run is let finish first (the backup folder is locked while it runs).
  for _ in $(seq 1 12000); do
    case "$("${kdr[@]}" journal status --json 2>/dev/null | jq -r '.state.full_snapshot // ""' || true)" in
      running*) sleep 0.05 ;;
      *) break ;;
    esac
  done
  rm -rf "$W/disk2/seed"; mkdir -p "$W/disk2/seed"
  seed_run >/dev/null
  later_writes; bench_drop_caches
  k=$(measure "${kdr[@]}" -q backup)
  covered=$(jq -r '.etcd.journal.revision // empty' "$B/generations/$(basename "$(readlink -f "$B/latest")")/meta.json")
  [ -n "$covered" ] || { echo "bench: the run was not covered by the journal" >&2; cat "$W/cmd.err" >&2; exit 1; }
  later_writes; bench_drop_caches
  seed=$(seed_run)
  rm -rf "$W/disk2/seed"
  rows+=("$(row "a 5-minute run, the follower following (covered by the journal to revision $covered)" "$k" "the seed's pair again" "$seed")")
  kill "$FOLLOWER"; wait "$FOLLOWER" 2>/dev/null || true

  # journal compact: a new full base, beside etcdctl snapshot save
  k=$(measure "${kdr[@]}" -q journal compact)
  rows+=("$(row "kdr journal compact" "$k" "etcdctl snapshot save" "$s")")

  # the restores. The disaster each time: the Namespace "precious" deleted; done when etcd
  # serves it again (bench_wait_precious).
  # the newest generation with a snapshot (the journal covers the newest one)
  rgen=$(cd "$B/generations" && for g in $(ls -r); do [ -f "$g/etcd/snapshot.db" ] && { echo "$g"; break; }; done)
  [ -n "$rgen" ] || { echo "bench: no generation in $B/generations holds a snapshot to restore" >&2; exit 1; }
  rsnap=$B/generations/$rgen/etcd/snapshot.db
  disaster() { sandbox_wait_etcd "$ROOT" 120; etcdctl_at "$ROOT" del /registry/namespaces/precious >/dev/null; }
  # restore-etcd-snapshot of the generation's snapshot alone, beside the seed's runbook by hand
  disaster; bench_drop_caches
  k=$(measure bash -c "$(printf '%q ' "${kdr[@]}") restore restore-etcd-snapshot -g $rgen --set to=snapshot --set accept_loss=true --yes && bench_wait_precious '$ROOT'")
  down_snapshot=$(downtime "$ROOT")
  rm -rf "$ROOT"/var/lib/etcd.kdr-*
  disaster; bench_drop_caches
  h=$(measure bash -c "bench_manual_etcd_restore '$ROOT' '$rsnap' '$ROOT/var/lib/etcd.manual' manual-$size_mb && bench_wait_precious '$ROOT'")
  rm -rf "$ROOT/var/lib/etcd.manual"
  rows+=("$(row "kdr restore restore-etcd-snapshot (to=snapshot)" "$k" "by hand: $(snapshot_restore_tool) snapshot restore + start" "$h")")
  # restore-etcd-keys of one namespace (the keys under PREFIX deleted), beside make-mirror by
  # hand: bench-1's Events (small values), then bench-2's ConfigMaps (values up to 1 MiB: what
  # kdr would hold in memory if it kept the values it plans)
  restore_keys_row() {
    local ns=$1 prefix=$2 what=$3 ns_keys k h
    ns_keys=$(etcdctl_at "$ROOT" get --prefix "$prefix" --keys-only | grep -c .)
    [ -z "$what" ] || what=", $(etcdctl_at "$ROOT" get --prefix "$prefix" --print-value-only | wc -c | awk '{ printf "%.0f", $1 / 1048576 }') MiB of $what"
    assert_keys() { local n; n=$(etcdctl_at "$ROOT" get --prefix "$prefix" --keys-only | grep -c .)
      [ "$n" -eq "$ns_keys" ] || { echo "bench: $1 put back $n of $ns_keys keys of $ns" >&2; exit 1; }; }
    etcdctl_at "$ROOT" del --prefix "$prefix" >/dev/null; bench_drop_caches
    k=$(measure "${kdr[@]}" restore restore-etcd-keys -g "$rgen" --set namespace="$ns" --set to=snapshot --yes)
    assert_keys "kdr restore restore-etcd-keys"
    etcdctl_at "$ROOT" del --prefix "$prefix" >/dev/null; bench_drop_caches
    h=$(measure bash -c "by_hand_restore_keys '$rsnap' '$ROOT' '$prefix'")
    assert_keys "make-mirror"
    rows+=("$(row "kdr restore restore-etcd-keys (namespace=$ns, $ns_keys keys$what)" "$k" "by hand: $(snapshot_restore_tool) snapshot restore + etcd + etcdctl make-mirror --prefix" "$h")")
  }
  restore_keys_row bench-1 /registry/events/bench-1/ ""
  restore_keys_row bench-2 /registry/configmaps/bench-2/ ConfigMaps
  # a restore to the journal's newest point: the follower started again (a new epoch after the
  # restores), a full run, 2 s of writes journaled, then the disaster with the follower stopped;
  # beside the snapshot restored by hand, which loses those writes
  before=$(readlink -f "$B/latest")
  follower_start
  # the follower's new epoch starts with a full run of its own (kdr backup): its generation
  for _ in $(seq 1 12000); do [ "$(readlink -f "$B/latest")" != "$before" ] && break; sleep 0.05; done
  [ "$(readlink -f "$B/latest")" != "$before" ] || { echo "bench: the follower made no full run" >&2; exit 1; }
  jsnap=$(readlink -f "$B/latest")/etcd/snapshot.db
  "$load_bin" --endpoint "https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")" --cacert "$pki/ca.crt" \
    --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" --rate 200 --seconds 2 >/dev/null
  want=$(etcdctl_at "$ROOT" endpoint status -w json | jq '.[0].Status.header.revision')
  until [ "$("${kdr[@]}" journal status --json 2>/dev/null | jq '.state.position // 0' || true)" -ge "$want" ]; do sleep 0.05; done
  kill "$FOLLOWER"; wait "$FOLLOWER" 2>/dev/null || true
  disaster; bench_drop_caches
  k=$(measure bash -c "$(printf '%q ' "${kdr[@]}") restore restore-etcd-snapshot --set to=latest --set accept_loss=true --yes && bench_wait_precious '$ROOT'")
  down_latest=$(downtime "$ROOT")
  rm -rf "$ROOT"/var/lib/etcd.kdr-*
  point_line="the snapshot at revision $(jq .etcd.snapshot.revision "$(dirname "$(dirname "$jsnap")")/meta.json"), the journal's newest point at revision $want"
  disaster; bench_drop_caches
  h=$(measure bash -c "bench_manual_etcd_restore '$ROOT' '$jsnap' '$ROOT/var/lib/etcd.manual' manual-j-$size_mb && bench_wait_precious '$ROOT'")
  rm -rf "$ROOT/var/lib/etcd.manual"
  rows+=("$(row "kdr restore restore-etcd-snapshot (to=latest: the snapshot + 2 s of journaled writes)" "$k" "by hand: the snapshot alone (loses those writes)" "$h")")

  runs="one run each"
  [ "$rounds" -gt 1 ] && runs="one run each, the full backup's rows the median of $rounds"
  objects="ConfigMaps of 1 KiB to 1 MiB"
  [ ${#fill_profile[@]} -gt 0 ] && objects="small ConfigMaps of 256 bytes to 4 KiB"
  printf '\n## %s MiB database (etcd %s, %s keys, %s, revision %s; %s)\n\n' "$db_mb" "$etcd_minor" "$keys" "$objects" "$rev" "$runs"
  echo "| kdr | s | kdr peak RSS MiB | with children MiB | by hand | s | peak RSS MiB | kdr / by hand |"
  echo "|---|---:|---:|---:|---|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "full backup, each run in turn: $full_line"
  echo "restore test: $restore_test_line"
  echo "restore to a journal point: $point_line"
  echo "control plane down (from stopping the pods until etcd is healthy): restore-etcd-snapshot $down_snapshot s with to=snapshot, $down_latest s with to=latest (its replay runs before the pods stop); by hand, its whole time"
  echo "follower: peak RSS $(mib "$start_hwm") MiB after its start, $(mib "$steady_hwm") MiB after 10 s of 200 writes/s; lag at the end: $lag revisions"
done
