#!/usr/bin/env bash
# Recovery time on a sandbox node (real etcd run by the kubelet stand-in) with an etcd
# database of at least 300 MB: from the start of `kdr restore restore-etcd-snapshot --yes`
# to etcd serving the restored keys, beside the same recovery done by hand from the same
# snapshot (manifest out, wait for etcd to stop, data dir aside, `etcdctl snapshot
# restore`, manifest back). Prints the medians as a Markdown table.
#
#   bench/restore-vs-manual.sh [--quick] [--size-mb N] [--kdr PATH]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_args 300 30 3 "$@"
ROOT=$W/node
echo "bench: generating an etcd database of at least $size_mb MB..." >&2
sandbox_make_node "$ROOT"
printf 'kubeconfig: ""\nretention: {keep_last: 1, hourly: 0, daily: 0, weekly: 0}\n' > "$ROOT/etc/kdr/kdr.yaml"
sandbox_start_kubelet "$ROOT"
sandbox_wait_etcd "$ROOT" 60
bench_fill_until "$ROOT" bench_db_at_least "$ROOT" "$size_mb"
sandbox_etcdctl "$ROOT" put /registry/namespaces/precious '{"kind":"Namespace"}' >/dev/null
db_size=$(( $(stat -c %s "$ROOT/var/lib/etcd/member/snap/db") >> 20 ))
mkdir -p "$W/disk2"
kdr=("$kdr_bin" --root "$ROOT" --backup-dir "$W/disk2/kdr")
"${kdr[@]}" backup -q
snapshot=$(readlink -f "$W/disk2/kdr/latest")/etcd/snapshot.db
now() { date +%s.%N; }
disaster() {
  sandbox_wait_etcd "$ROOT" 60
  sandbox_etcdctl "$ROOT" del /registry/namespaces/precious >/dev/null
}
wait_restored() { bench_wait_precious "$ROOT"; }

kdr_times=()
manual_times=()
for i in $(seq 1 "$reps"); do
  disaster
  bench_drop_caches
  t0=$(now)
  "${kdr[@]}" restore restore-etcd-snapshot --yes --set accept_loss=true >"$W/kdr-restore.log" 2>&1 || { cat "$W/kdr-restore.log" >&2; exit 1; }
  wait_restored
  kdr_times+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')")
  rm -rf "$ROOT"/var/lib/etcd.kdr-*

  disaster
  bench_drop_caches
  t0=$(now)
  bench_manual_etcd_restore "$ROOT" "$snapshot" "$ROOT/var/lib/etcd.manual" "manual-$i"
  wait_restored
  manual_times+=("$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')")
  rm -rf "$ROOT/var/lib/etcd.manual"
done

med() { printf '%s\n' "$@" | bench_median; }
# Where kdr's time goes, from the journal of its last restore.
journal=$(ls -d "$ROOT"/var/lib/kdr/restores/*/ | sort | tail -n 1)journal.jsonl
breakdown=$(jq -r 'select(.event=="begin") as $b | $b.type' "$journal" | paste -sd' ' -)
steps_s=$(jq -r 'select(.event=="done") | .seconds' "$journal" | awk '{ printf "%s%.2f", (NR>1?" ":""), $1 }')
echo
echo "Recovery of an etcd database of $db_size MB (snapshot $(( $(stat -c %s "$snapshot") >> 20 )) MB), $reps run(s), median seconds until etcd serves the restored keys:"
echo
echo "| recovery | seconds | what it does |"
echo "|---|---:|---|"
echo "| kdr restore restore-etcd-snapshot --yes --set accept_loss=true | $(med "${kdr_times[@]}") | preflight (checks the whole generation and re-hashes the snapshot it restores; tools, space, certificates, node identity, what the live etcd would lose), stops all 4 control-plane pods, journals every change, restores the snapshot while they stop, restarts, waits for revision and key count |"
echo "| by hand: etcdctl snapshot restore + start | $(med "${manual_times[@]}") | moves etcd's manifest out and back, nothing checked, no journal |"
echo
echo "kdr's last run, seconds per step: $(paste -d: <(tr ' ' '\n' <<<"$breakdown") <(tr ' ' '\n' <<<"$steps_s") | paste -sd' ' -)"
