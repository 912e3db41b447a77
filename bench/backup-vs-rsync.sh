#!/usr/bin/env bash
# kdr backup beside the seed's `rsync -a --delete` of the same paths, in the same run, on
# the same generated node: first run, nothing changed, and after a burst of etcd writes.
# Prints wall time and peak RSS side by side as a Markdown table.
#
#   bench/backup-vs-rsync.sh [--quick] [--size-mb N] [--kdr PATH]
#
# --quick: a small node (40 MB of etcd data), for CI; the full run uses 320 MB.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tests/lib/sandbox.sh"

size_mb=320
reps=3
kdr_bin=${KDR_BIN:-$here/../build/cli/kdr}
while [ $# -gt 0 ]; do
  case $1 in
    --quick) size_mb=40; reps=1 ;;
    --size-mb) size_mb=$2; shift ;;
    --kdr) kdr_bin=$2; shift ;;
    *) echo "usage: $0 [--quick] [--size-mb N] [--kdr PATH]" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$kdr_bin" ] || { echo "bench: no kdr binary at $kdr_bin (build first)" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/kdr-bench-XXXXXX")
trap 'sandbox_stop_all; rm -rf "$W"' EXIT
ROOT=$W/node
sources=(/var/lib/etcd /etc/kubernetes /etc/ssl/certs /etc/ca-certificates /usr/share/ca-certificates /usr/local/share/ca-certificates)

echo "bench: generating a node with about $size_mb MB of etcd data (db plus WAL)..." >&2
sandbox_make_node "$ROOT"
sandbox_start_etcd "$ROOT"
while [ "$(du -sm "$ROOT/var/lib/etcd" | cut -f1)" -lt "$size_mb" ]; do
  sandbox_fill_etcd "$ROOT" 10 1000000 "/registry/configmaps/bench/cm-$RANDOM-"
done
sandbox_stop_etcd "$ROOT"

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
cache_note="page cache dropped before each run"
if ! (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; then cache_note="warm page cache (cannot drop caches here)"; fi

# measure CMD...: prints "seconds max_rss_kb" of CMD (and its children)
measure() {
  drop_caches
  /usr/bin/time -o "$W/time.out" -f '%e %M' "$@" >/dev/null 2>"$W/cmd.err" || {
    echo "bench: failed: $*" >&2
    cat "$W/cmd.err" >&2
    exit 1
  }
  tail -n 1 "$W/time.out"
}

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
median() { printf '%s' "${results[$1,$2]}" | grep . | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }
measure_all() {
  local name=$1
  record "$name" rsync "$(measure bash "$W/rsync.sh")"
  record "$name" rsync_sync "$(measure bash "$W/rsync-synced.sh")"
  record "$name" kdr "$(measure "$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/kdr" -q backup)"
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

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
printf '\n## kdr backup vs rsync -a --delete (%s MB etcd data, median of %s, %s)\n\n' "$data_mb" "$reps" "$cache_note"
echo "| case | rsync s | rsync + sync s | kdr s | kdr / rsync | rsync peak RSS MB | kdr peak RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for c in first unchanged burst; do
  read -r rt rm <<<"$(median "$c" rsync)"
  read -r st _ <<<"$(median "$c" rsync_sync)"
  read -r kt km <<<"$(median "$c" kdr)"
  ratio=$(awk -v k="$kt" -v r="$rt" 'BEGIN { if (r > 0) printf "%.2f", k / r; else print "-" }')
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$rt" "$st" "$kt" "$ratio" "$(mb "$rm")" "$(mb "$km")"
done
echo
echo "kdr makes every generation durable (syncfs) before publishing it; rsync leaves its copy in the page cache."
"$kdr_bin" --backup-dir "$W/disk2/kdr" list
