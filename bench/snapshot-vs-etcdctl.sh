#!/usr/bin/env bash
# kdr's etcd snapshot step beside a plain `etcdctl snapshot save` of the same database,
# in the same run. kdr's step: endpoint status, snapshot save to a temporary name, the
# SHA-256 trailer check, kdr's own read of the bbolt structure, the live key count at the
# snapshot's revision, rename, and the generation's syncfs. Prints
# the median of several runs as a Markdown table.
#
#   bench/snapshot-vs-etcdctl.sh [--quick] [--size-mb N] [--kdr PATH]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_args 260 30 5 "$@"
ROOT=$W/node
echo "bench: generating an etcd database of at least $size_mb MB..." >&2
sandbox_make_node "$ROOT"
sandbox_start_etcd "$ROOT"
bench_fill_until "$ROOT" bench_db_at_least "$ROOT" "$size_mb"
db_size=$(( $(stat -c %s "$ROOT/var/lib/etcd/member/snap/db") >> 20 ))

# kdr with nothing but the snapshot: no file sources, no hostPath discovery, no kubectl
mkdir -p "$ROOT/etc/kdr"
printf 'sources: []\nhost_paths: {discover: false}\nkubeconfig: ""\nretention: {keep_last: 1, hourly: 0, daily: 0, weekly: 0}\n' \
  > "$ROOT/etc/kdr/kdr.yaml"
mkdir -p "$W/disk2"

# etcd serves the snapshot from its own memory-mapped database: warm runs, like production
measure() { bench_measure --warm "$@"; }
median() { bench_median; }

etcdctl_times=()
kdr_times=()
steps=()
plain() {
  local m
  rm -f "$W/disk2/plain.db"
  m=$(measure env ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")" \
    --cacert "$ROOT/etc/kubernetes/pki/etcd/ca.crt" --cert "$ROOT/etc/kubernetes/pki/etcd/healthcheck-client.crt" \
    --key "$ROOT/etc/kubernetes/pki/etcd/healthcheck-client.key" snapshot save "$W/disk2/plain.db")
  etcdctl_times+=("$m")
}
with_kdr() {
  local m
  m=$(measure "$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/kdr" -q backup)
  kdr_times+=("$m")
  steps+=("$(jq .etcd.snapshot.duration_s "$W/disk2/kdr/latest/meta.json")")
}
# alternate which goes first, so neither always finds a warmer etcd
for r in $(seq 1 "$reps"); do
  if [ $((r % 2)) -eq 1 ]; then plain; with_kdr; else with_kdr; plain; fi
done
read -r et em <<<"$(printf '%s\n' "${etcdctl_times[@]}" | median)"
read -r kt km <<<"$(printf '%s\n' "${kdr_times[@]}" | median)"
step=$(printf '%.2f\n' "${steps[@]}" | median)

printf '\n## etcd snapshot: kdr beside etcdctl snapshot save (%s MB database, median of %s)\n\n' "$db_size" "$reps"
echo "| tool | wall s | peak RSS MB |"
echo "|---|---:|---:|"
printf '| etcdctl snapshot save | %s | %s |\n' "$et" "$(bench_mb "$em")"
printf '| kdr backup (snapshot only) | %s | %s |\n' "$kt" "$(bench_mb "$km")"
echo
awk -v k="$kt" -v s="$step" -v e="$et" 'BEGIN {
  printf "kdr'"'"'s snapshot step (status, save, trailer check, bbolt read, key count, rename; from meta.json): %s s\n", s
  printf "the step adds %.0f%% on top of etcdctl snapshot save (target: at most 10%%); the whole run adds %.0f%%\n", (s / e - 1) * 100, (k / e - 1) * 100 }'
echo "peak RSS counts child processes (etcdctl snapshot save among them)"
