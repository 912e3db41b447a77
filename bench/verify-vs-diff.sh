#!/usr/bin/env bash
# kdr verify beside what operators use today, on the same generated node, same run:
#   against live: kdr verify --live-only beside diff -r of backup and node
#   integrity:    kdr verify --no-live beside sha256sum -c SHA256SUMS and
#                 restic check --read-data on a restic repository of the same files
#   bench/verify-vs-diff.sh [--quick] [--size-mb N] [--kdr PATH]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_args 320 40 3 "$@"
ROOT=$W/node
echo "bench: generating a node with about $size_mb MB of etcd data..." >&2
sandbox_make_node "$ROOT"
sandbox_start_etcd "$ROOT"
bench_fill_until "$ROOT" bench_data_dir_at_least "$ROOT" "$size_mb"
sandbox_stop_etcd "$ROOT"
mkdir -p "$ROOT/etc/kdr"
echo 'etcd: {snapshot: false}' > "$ROOT/etc/kdr/kdr.yaml"
mkdir -p "$W/disk2"
"$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/kdr" -q backup
G=$(readlink -f "$W/disk2/kdr/latest")
data_mb=$(du -sm --apparent-size "$G/files" | cut -f1)
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$W/restic-cache
restic init -q -r "$W/restic" >/dev/null
(cd "$G/files" && restic -q -r "$W/restic" backup . >/dev/null)

declare -A r
run() {  # run NAME CMD...
  local name=$1 i m
  shift
  for i in $(seq 1 "$reps"); do
    m=$(bench_measure "$@")
    r[$name]+="$m"$'\n'
  done
}
diff_all() {
  local s
  for s in /var/lib/etcd /etc/kubernetes /etc/ssl/certs /etc/ca-certificates /usr/share/ca-certificates \
           /usr/local/share/ca-certificates; do
    diff -r --no-dereference "$G/files$s" "$ROOT$s" || true
  done
}
export -f diff_all
export G ROOT
run kdr_live "$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/kdr" -q verify --live-only
run kdr_integrity "$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/kdr" -q verify --no-live
run diff bash -c diff_all
run sha256sum bash -c "cd '$G' && sha256sum -c --quiet SHA256SUMS"
run restic restic -q -r "$W/restic" check --read-data

line() {  # line LABEL NAME
  read -r t m <<<"$(printf '%s' "${r[$2]}" | bench_median)"
  printf '| %s | %s | %s |\n' "$1" "$t" "$(bench_mb "$m")"
}
printf '\n## verify (%s MB of files in the generation, median of %s, page cache dropped)\n\n' "$data_mb" "$reps"
echo "| tool | wall s | peak RSS MB |"
echo "|---|---:|---:|"
line "kdr verify --live-only" kdr_live
line "diff -r backup node" diff
line "kdr verify --no-live (integrity + certificates)" kdr_integrity
line "sha256sum -c SHA256SUMS" sha256sum
line "restic check --read-data" restic
