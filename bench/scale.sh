#!/usr/bin/env bash
# kdr at the database sizes big clusters run (etcd's suggested maximum quota is 8 GiB), each
# path timed beside the tool an operator would otherwise use, on the same node in the same run.
# The database (bench/etcd_fill.cpp): ConfigMaps of 1 KiB to 1 MiB in 40 namespaces, 200 node
# Leases renewed again and again (long histories), Events in one small namespace; never
# compacted. For each size:
#   - the full backup, beside the seed's pair (rsync -a --delete of /etc/kubernetes and etcd's
#     data dir, then etcdctl snapshot save) and beside etcdctl snapshot save alone; a later run
#     after a second of writes, beside the seed's pair again, and the same with the raw copy
#     of etcd's data dir in every run (etcd.raw_copy: always), which kdr leaves out by default;
#   - verify of that generation, beside sha256sum -c of its SHA256SUMS;
#   - the restore test, beside the same by hand (snapshot restore, etcd started on loopback,
#     every key listed with etcdctl get --keys-only);
#   - kdr get configmaps -A (every value read and decoded), beside etcdctl get --prefix -w json;
#   - the journal follower's start (its first read of the keyspace, until it follows), beside
#     etcdctl get --prefix; then its steady following of 200 writes a second for 10 s;
#   - kdr journal compact (a new full base for the journal), beside etcdctl snapshot save;
# (The restores at these sizes are not measured here yet: bench/restore-vs-manual.sh,
# bench/replay.sh and bench/journal.sh measure them at a few hundred MB.)
# Wall seconds, kdr's own peak RSS (VmHWM, sampled every 50 ms) and the peak RSS of anything it
# started (a private etcd, etcdctl): GNU time's maximum over the process tree.
#
#   bench/scale.sh [--quick] [--scale 1,2,4,8] [--kdr PATH]
#   --quick: one 96 MiB database (CI); --scale: sizes in GiB (default 1)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sizes_mb=(1024)
kdr_bin=${KDR_BIN:-$here/../build/cli/kdr}
while [ $# -gt 0 ]; do
  case $1 in
    --quick) sizes_mb=(96) ;;
    --scale) IFS=, read -r -a gib <<<"$2"; sizes_mb=(); for g in "${gib[@]}"; do sizes_mb+=($((g * 1024))); done; shift ;;
    --kdr) kdr_bin=$2; shift ;;
    *) echo "usage: $0 [--quick] [--scale 1,2,4,8] [--kdr PATH]" >&2; exit 2 ;;
  esac
  shift
done
source "$here/lib.sh"
[ -x "$kdr_bin" ] || { echo "bench: no kdr binary at $kdr_bin (build first)" >&2; exit 2; }
fill_bin=$(dirname "$kdr_bin")/../bench/kdr-etcd-fill
load_bin=$(dirname "$kdr_bin")/../bench/kdr-etcd-load
[ -x "$fill_bin" ] || { echo "bench: no kdr-etcd-fill at $fill_bin (build first)" >&2; exit 2; }
: "${KDR_KUBELET:=$(dirname "$kdr_bin")/../demo/kubelet-standin}"
export KDR_KUBELET
etcd_minor=$(sandbox_etcd_minor)

# measure CMD...: "seconds kdr_hwm_kb tree_max_kb" of CMD. kdr's own peak is its VmHWM, read
# every 50 ms while it runs (the last 50 ms can escape it); the tree's is GNU time's %M.
measure() {
  local rc=0 pid kpid hwm=0 h
  /usr/bin/time -o "$W/time.out" -f '%e %M' "$@" >"$W/cmd.out" 2>"$W/cmd.err" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for kpid in $(pgrep -P "$pid" -x kdr 2>/dev/null); do
      h=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$kpid/status" 2>/dev/null || true)
      [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
    done
    sleep 0.05
  done
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ]; then
    echo "bench: failed ($rc): $*" >&2
    tail -n 30 "$W/cmd.err" "$W/cmd.out" >&2
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
ratio() { { [ "$1" = failed ] || [ "$2" = failed ]; } && echo - || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
row() {  # row WHAT KDR_LINE BYHAND_WHAT BYHAND_LINE
  local k=($2) h=($4)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "${k[0]}" "$(mib "${k[1]}")" "$(mib "${k[2]}")" "$3" \
    "${h[0]}" "$(mib "${h[2]}")" "$(ratio "${k[0]}" "${h[0]}")"
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
# by_hand_restore_test SNAPSHOT: restore, start on loopback, list every key, stop
by_hand_restore_test() {
  local d=$W/by-hand port=$((30000 + RANDOM % 20000)) pid n
  rm -rf "$d"
  ETCDCTL_API=3 $(snapshot_restore_tool) snapshot restore "$1" --data-dir "$d" >/dev/null 2>&1
  etcd --data-dir "$d" --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$((port + 1))" --quota-backend-bytes 17179869184 >"$W/by-hand.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do
    ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$port" endpoint health >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$W/by-hand.log" >&2; return 1; }
    sleep 0.05
  done
  n=$(ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$port" --command-timeout 30m get "" --from-key --keys-only | grep -c .)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$d"
  echo "$n keys" >&2
}
export W etcd_minor
export -f by_hand_restore_test snapshot_restore_tool
# follower_start: kdr journal run until it follows etcd's revision (its first read done), then stopped
follower_start() {
  local want at
  want=$(etcdctl_at "$ROOT" endpoint status -w json | jq '.[0].Status.header.revision')
  "$kdr_bin" --root "$ROOT" --backup-dir "$B" journal run >"$W/follower.log" 2>&1 &
  FOLLOWER=$!
  for _ in $(seq 1 36000); do
    at=$("$kdr_bin" --root "$ROOT" --backup-dir "$B" journal status --json 2>/dev/null | jq '.state.position // 0')
    [ "$at" -ge "$want" ] 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: the follower did not catch up" >&2
  exit 1
}

for size_mb in "${sizes_mb[@]}"; do
  sandbox_stop_all
  rm -rf "$W/node" "$W/disk2"
  ROOT=$W/node B=$W/disk2/kdr
  mkdir -p "$W/disk2"
  sandbox_make_node "$ROOT"
  printf 'kubeconfig: ""\nretention: {keep_last: 4, hourly: 0, daily: 0, weekly: 0}\nverify: {restore_test_hours: 0}\njournal: {checkpoint_s: 1}\n' \
    > "$ROOT/etc/kdr/kdr.yaml"
  sandbox_start_kubelet "$ROOT"
  sandbox_wait_etcd "$ROOT" 60
  pki=$ROOT/etc/kubernetes/pki/etcd
  echo "bench: filling etcd to $size_mb MiB..." >&2
  t0=$SECONDS
  "$fill_bin" --endpoint "https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")" --cacert "$pki/ca.crt" \
    --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" --bytes $((size_mb << 20)) >"$W/fill.out"
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
  seed_run() {
    measure bash -c "rsync -a --delete '$ROOT/etc/kubernetes' '$ROOT/var/lib/etcd' '$W/disk2/seed/' && \
      ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port") --cacert '$pki/ca.crt' \
      --cert '$pki/healthcheck-client.crt' --key '$pki/healthcheck-client.key' --command-timeout 30m \
      snapshot save '$W/disk2/seed/snapshot.db' >/dev/null"
  }
  bench_drop_caches
  k=$(measure "${kdr[@]}" -q backup)
  gen=$(basename "$(readlink -f "$B/latest")")
  bench_drop_caches
  s=$(measure_or_fail "${etcdctl_cmd[@]}" snapshot save "$W/disk2/plain.db")
  rm -rf "$W/disk2/seed"; mkdir -p "$W/disk2/seed"
  bench_drop_caches
  seed=$(seed_run)
  rows+=("$(row "full backup (kdr backup, first run)" "$k" "etcdctl snapshot save" "$s")")
  rows+=("$(row "full backup (kdr backup, first run)" "$k" "the seed: rsync -a --delete + etcdctl snapshot save" "$seed")")
  # verify, beside sha256sum -c
  bench_drop_caches
  k=$(measure "${kdr[@]}" -q verify --no-live "$gen")
  bench_drop_caches
  h=$(measure bash -c "cd '$B/generations/$gen' && sha256sum -c --quiet SHA256SUMS")
  rows+=("$(row "kdr verify --no-live" "$k" "sha256sum -c SHA256SUMS" "$h")")

  # the restore test, beside the same by hand
  bench_drop_caches
  k=$(measure "${kdr[@]}" verify --restore-test "$gen")
  grep -q PROVEN "$W/cmd.out" "$W/cmd.err" || { cat "$W/cmd.out" "$W/cmd.err" >&2; echo "bench: the restore test did not prove the generation" >&2; exit 1; }
  restore_test_line=$(jq -r '"\(.seconds.restore * 100 | round / 100) s restore, \(.seconds.check * 100 | round / 100) s read back; \(.objects) objects"' \
    <("${kdr[@]}" --json verify --restore-test "$gen" 2>/dev/null) 2>/dev/null || true)
  bench_drop_caches
  h=$(measure bash -c "by_hand_restore_test '$B/generations/$gen/etcd/snapshot.db'")
  rows+=("$(row "kdr verify --restore-test (every value decoded)" "$k" "$(snapshot_restore_tool) snapshot restore + etcd + etcdctl get --keys-only" "$h")")

  # every ConfigMap read and decoded, beside etcdctl get
  k=$(measure "${kdr[@]}" -q get configmaps -A --at live -o name)
  h=$(measure_or_fail "${etcdctl_cmd[@]}" get --prefix /registry/configmaps/ -w json)
  rows+=("$(row "kdr get configmaps -A --at live" "$k" "etcdctl get --prefix /registry/configmaps/ -w json" "$h")")

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

  # the follower: its start (first read of the keyspace), beside etcdctl get of everything
  rm -rf "$B/journal"
  t0=$(date +%s.%N)
  follower_start
  start_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  start_hwm=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$FOLLOWER/status")
  h=$(measure_or_fail "${etcdctl_cmd[@]}" get "" --from-key -w json)
  rows+=("$(row "kdr journal run: start, until it follows" "$start_s $start_hwm 0" "etcdctl get \"\" --from-key -w json" "$h")")
  # steady: 200 writes a second of 1 KiB for 10 s
  "$load_bin" --endpoint "https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")" --cacert "$pki/ca.crt" \
    --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" --rate 200 --seconds 10 >/dev/null
  lag=$("${kdr[@]}" journal status --json | jq '.state.lag_revisions // 0')
  steady_hwm=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$FOLLOWER/status")
  kill "$FOLLOWER"; wait "$FOLLOWER" 2>/dev/null || true

  # journal compact: a new full base, beside etcdctl snapshot save
  k=$(measure "${kdr[@]}" -q journal compact)
  rows+=("$(row "kdr journal compact" "$k" "etcdctl snapshot save" "$s")")

  printf '\n## %s MiB database (etcd %s, %s keys, revision %s; one run each)\n\n' "$db_mb" "$etcd_minor" "$keys" "$rev"
  echo "| kdr | s | kdr peak RSS MiB | with children MiB | by hand | s | peak RSS MiB | kdr / by hand |"
  echo "|---|---:|---:|---:|---|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "restore test: $restore_test_line"
  echo "follower: peak RSS $(mib "$start_hwm") MiB after its start, $(mib "$steady_hwm") MiB after 10 s of 200 writes/s; lag at the end: $lag revisions"
done
