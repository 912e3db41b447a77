#!/usr/bin/env bash
# etcd's own latency check (`etcdctl check perf`, 60 s of writes) on a sandbox node, alone
# and while backups run back to back: kdr with its defaults (idle I/O priority, copies
# dropped from the page cache), kdr with a bandwidth cap, and the seed's
# `rsync -a --delete`. Prints etcd's verdict lines side by side as a Markdown table.
#
#   bench/etcd-latency.sh [--quick] [--size-mb N] [--kdr PATH]
# --quick (CI): the check once, while kdr backs up with its defaults, against etcd's own
# thresholds (its PASS/FAIL verdict) instead of beside etcd alone: one minute instead of five.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
quick=no
for a in "$@"; do [ "$a" = --quick ] && quick=yes; done
bench_args 200 30 1 "$@"
ROOT=$W/node
echo "bench: generating an etcd database of at least $size_mb MB..." >&2
sandbox_make_node "$ROOT"
sandbox_start_etcd "$ROOT"
bench_fill_until "$ROOT" bench_db_at_least "$ROOT" "$size_mb"
mkdir -p "$W/disk2"
printf 'kubeconfig: ""\nretention: {keep_last: 2, hourly: 0, daily: 0, weekly: 0}\n' > "$ROOT/etc/kdr/kdr.yaml"

loop_pid=""
start_loop() {  # CMD...: runs CMD back to back until stop_loop; each run's outcome counted
  : > "$W/runs"
  ( while :; do if "$@" >/dev/null 2>&1; then echo ok >> "$W/runs"; else echo failed >> "$W/runs"; fi; done ) &
  loop_pid=$!
}
stop_loop() {
  [ -n "$loop_pid" ] || return 0
  kill "$loop_pid" 2>/dev/null || true
  wait "$loop_pid" 2>/dev/null || true
  pkill -f -- "--backup-dir $W/disk2" 2>/dev/null || true
  pkill -f -- "$W/disk2/rsync" 2>/dev/null || true
  loop_pid=""
}
runs() {  # "N completed" (and how many failed) of the last loop
  local ok failed
  ok=$(grep -c '^ok$' "$W/runs" || true)
  failed=$(grep -c '^failed$' "$W/runs" || true)
  if [ "$failed" -gt 0 ]; then echo "$ok completed, $failed failed"; else echo "$ok completed"; fi
}
trap 'stop_loop; sandbox_stop_all; rm -rf "$W"' EXIT

# perf: one table row's measured cells from `etcdctl check perf`: throughput | slowest request
# | stddev | verdict. etcdctl prints "PASS: Throughput is 150 writes/s", "PASS: Slowest
# request took 0.014s", "PASS: Stddev is 0.0004s" and for a failed check the bare finding
# ("Slowest request took too long: 0.685s", "Stddev too high: 0.127s").
perf() {
  local out thr slow sd failed=()
  out=$(sandbox_etcdctl "$ROOT" check perf --load=s --auto-compact --auto-defrag 2>&1 | tr '\r' '\n') || true
  thr=$(grep -oE 'Throughput[^0-9]*[0-9.]+ writes/s' <<<"$out" | grep -oE '[0-9.]+ writes/s' | head -n 1) || true
  slow=$(grep -oE 'Slowest request[^0-9]*[0-9.]+s' <<<"$out" | grep -oE '[0-9.]+s$' | head -n 1) || true
  sd=$(grep -oE 'Stddev[^0-9]*[0-9.]+s' <<<"$out" | grep -oE '[0-9.]+s$' | head -n 1) || true
  if [ -z "$thr$slow$sd" ]; then echo "check perf failed: $(tail -n 1 <<<"$out") | - | - | -"; return; fi
  grep -qE '^(FAIL: )?Throughput too low' <<<"$out" && failed+=(throughput)
  grep -qE '^(FAIL: )?Slowest request took too long' <<<"$out" && failed+=(slowest)
  grep -qE '^(FAIL: )?Stddev too high' <<<"$out" && failed+=(stddev)
  local verdict=PASS
  [ "${#failed[@]}" -eq 0 ] || verdict="FAIL ($(IFS=,; echo "${failed[*]}" | sed 's/,/, /g'))"
  echo "${thr:--} | ${slow:--} | ${sd:--} | $verdict"
}

rows=()
if [ "$quick" = no ]; then
  echo "bench: check perf alone..." >&2
  rows+=("| etcd alone | $(perf) | - |")
fi

echo "bench: check perf while kdr backs up back to back (defaults)..." >&2
start_loop "$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/kdr" backup
result=$(perf)
stop_loop
rows+=("| kdr backup in a loop (defaults: idle I/O priority, drop_cache) | $result | $(runs) |")

if [ "$quick" = no ]; then
  echo "bench: check perf while kdr journal run follows every write..." >&2
  # As on a node: a full backup is the epoch's base, and the follower has caught up (its start
  # reads the whole keyspace once, for the digest) before the minute is measured.
  j() { "$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/journal" "$@"; }
  j -q backup >/dev/null
  j journal run >"$W/follower.log" 2>&1 &
  follower=$!
  want=$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq '.[0].Status.header.revision')
  for i in $(seq 1 600); do
    st=$(j journal status --json 2>/dev/null || true)
    [ "$(jq -r '.state.state // ""' <<<"$st")" = following ] && [ "$(jq '.state.position // 0' <<<"$st")" -ge "$want" ] && break
    sleep 0.1
  done
  result=$(perf)
  kill -TERM "$follower"
  wait "$follower" 2>/dev/null || true
  events=$("$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/journal" journal verify --json | jq '.events')
  rows+=("| \`kdr journal run\` following every write | $result | $events changes journaled |")

  echo "bench: check perf while kdr backs up with copy.bandwidth_mib_s: 50..." >&2
  printf 'kubeconfig: ""\nretention: {keep_last: 2, hourly: 0, daily: 0, weekly: 0}\ncopy: {bandwidth_mib_s: 50}\n' \
    > "$ROOT/etc/kdr/kdr.yaml"
  start_loop "$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/kdr" backup
  result=$(perf)
  stop_loop
  rows+=("| kdr backup in a loop, \`copy.bandwidth_mib_s: 50\` | $result | $(runs) |")

  echo "bench: check perf while rsync -a --delete mirrors back to back..." >&2
  mkdir -p "$W/disk2/rsync"
  start_loop rsync -a --delete "$ROOT/var/lib/etcd" "$ROOT/etc/kubernetes" "$W/disk2/rsync/"
  result=$(perf)
  stop_loop
  rows+=("| \`rsync -a --delete\` in a loop (the seed) | $result | $(runs) |")
fi

echo
echo "etcd's own latency check (etcdctl check perf --load=s, 60 s) on a $(( $(stat -c %s "$ROOT/var/lib/etcd/member/snap/db") >> 20 )) MB database;"
echo "disk I/O scheduler: $(cat /sys/block/*/queue/scheduler 2>/dev/null | head -n 1) (idle priority only counts with bfq)"
echo
echo "| while | throughput | slowest request | stddev | verdict | runs in the minute |"
echo "|---|---:|---:|---:|---|---:|"
printf '%s\n' "${rows[@]}"
