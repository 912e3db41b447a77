#!/usr/bin/env bash
# kdr backup beside the seed's `rsync -a --delete` of the same paths, in the same run, on
# the same generated node: first run, nothing changed, and after a burst of etcd writes.
# Prints wall time and peak RSS side by side as a Markdown table.
#
#   bench/backup-vs-rsync.sh [--quick] [--size-mb N] [--kdr PATH]
#
# --quick: a small node (40 MB of etcd data), for CI; the full run uses 320 MB.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_args 320 40 3 "$@"
ROOT=$W/node
sources=(/var/lib/etcd /etc/kubernetes /etc/ssl/certs /etc/ca-certificates /usr/share/ca-certificates /usr/local/share/ca-certificates)

echo "bench: generating a node with about $size_mb MB of etcd data (db plus WAL)..." >&2
sandbox_make_node "$ROOT"
sandbox_start_etcd "$ROOT"
bench_fill_until "$ROOT" bench_data_dir_at_least "$ROOT" "$size_mb"
sandbox_stop_etcd "$ROOT"
# The same job as the seed's rsync: the files. The etcd snapshot has its own benchmark
# (snapshot-vs-etcdctl.sh), and etcd is stopped here so both tools see the same data;
# kubectl (the kubeadm configuration) is not run either: it is a separate process.
mkdir -p "$ROOT/etc/kdr"
printf 'etcd: {snapshot: false}\nkubeconfig: ""\n' > "$ROOT/etc/kdr/kdr.yaml"

cache_note="page cache dropped before each run"
bench_can_drop_caches || cache_note="warm page cache (cannot drop caches here)"

# The seed's cron job: one rsync -a --delete per path into the mirror on the second disk.
rsync_script() {
  local mirror=$1 sync=$2 s
  for s in "${sources[@]}"; do
    echo "mkdir -p '$mirror$(dirname "$s")' && rsync -a --delete '$ROOT$s' '$mirror$(dirname "$s")/'"
  done
  [ "$sync" = yes ] && echo "sync -f '$mirror'"
  true
}
rsync_script "$W/disk2/mirror" no > "$W/rsync.sh"
rsync_script "$W/disk2/mirror-synced" yes > "$W/rsync-synced.sh"

declare -A results
# record CASE TOOL "seconds rss": collects one measurement
record() { results[$1,$2]="${results[$1,$2]:-}$3"$'\n'; }
# median CASE TOOL: "seconds rss" of the median-time measurement
median() { printf '%s' "${results[$1,$2]}" | bench_median; }
measure_all() {
  local name=$1 m
  m=$(bench_measure bash "$W/rsync.sh")
  record "$name" rsync "$m"
  m=$(bench_measure bash "$W/rsync-synced.sh")
  record "$name" rsync_sync "$m"
  m=$(bench_measure "$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/kdr" -q backup)
  record "$name" kdr "$m"
}

burst() {
  sandbox_start_etcd "$ROOT"
  # db pages change, the WAL grows into a new 64 MB segment
  sandbox_fill_etcd "$ROOT" $(( size_mb / 5 > 8 ? size_mb / 5 : 8 )) 1000000 /registry/configmaps/bench/burst-$RANDOM-
  sandbox_stop_etcd "$ROOT"
}

data_mb=$(du -sm "$ROOT/var/lib/etcd" | cut -f1)
echo "bench: etcd data dir $data_mb MB; measuring, median of $reps..." >&2
for r in $(seq 1 "$reps"); do
  rm -rf "$W/disk2"/*
  mkdir -p "$W/disk2"
  measure_all first
done
for r in $(seq 1 "$reps"); do measure_all unchanged; done
for r in $(seq 1 "$reps"); do burst; measure_all burst; done

printf '\n## kdr backup vs rsync -a --delete (%s MB etcd data, median of %s, %s)\n\n' "$data_mb" "$reps" "$cache_note"
echo "| case | rsync s | rsync + sync s | kdr s | kdr / rsync | rsync peak RSS MB | kdr peak RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for c in first unchanged burst; do
  read -r rt rm <<<"$(median "$c" rsync)"
  read -r st _ <<<"$(median "$c" rsync_sync)"
  read -r kt km <<<"$(median "$c" kdr)"
  ratio=$(awk -v k="$kt" -v r="$rt" 'BEGIN { if (r > 0) printf "%.2f", k / r; else print "-" }')
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$rt" "$st" "$kt" "$ratio" "$(bench_mb "$rm")" "$(bench_mb "$km")"
done
echo
echo "kdr makes every generation durable (syncfs) before publishing it; rsync leaves its copy in the page cache."
"$kdr_bin" --backup-dir "$W/disk2/kdr" list
