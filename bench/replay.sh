#!/usr/bin/env bash
# Restore to a point with the change journal, end to end, on a sandbox node (real etcd with
# TLS run by the kubelet stand-in): a full snapshot of a database of at least 300 MB, then
# 100,000 changes (1 KiB values, bench/etcd_load.cpp) followed by `kdr journal run`; then a
# namespace is deleted and `kdr restore restore-etcd-snapshot --set to=<the revision before>`
# runs, from its start to etcd serving the namespace again. Beside it, the same node restored
# by hand from the snapshot alone (what an operator without the journal gets back: none of the
# 100,000 changes). Prints where the time goes, per step, from the restore's journal.
#
#   bench/replay.sh [--quick] [--size-mb N] [--events N] [--kdr PATH]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
events=100000
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --events) events=$2; shift ;;
    --quick) events=3000; args+=("$1") ;;
    *) args+=("$1") ;;
  esac
  shift
done
bench_args 300 30 1 "${args[@]}"
load_bin=${KDR_ETCD_LOAD:-$(dirname "$kdr_bin")/../bench/kdr-etcd-load}
[ -x "$load_bin" ] || { echo "bench: no load generator at $load_bin (build first)" >&2; exit 2; }

ROOT=$W/node
B=$W/disk2/kdr
mkdir -p "$W/disk2"
echo "bench: an etcd database of at least $size_mb MB..." >&2
sandbox_make_node "$ROOT"
printf 'kubeconfig: ""\nretention: {keep_last: 10, hourly: 0, daily: 0, weekly: 0}\njournal: {checkpoint_s: 1}\n' \
  > "$ROOT/etc/kdr/kdr.yaml"
sandbox_start_kubelet "$ROOT"
sandbox_wait_etcd "$ROOT" 60
bench_fill_until "$ROOT" bench_db_at_least "$ROOT" "$size_mb"
sandbox_etcdctl "$ROOT" put /registry/namespaces/precious '{"kind":"Namespace"}' >/dev/null
pki=$ROOT/etc/kubernetes/pki/etcd
endpoint=https://127.0.0.1:$(cat "$ROOT/.sandbox-client-port")
k() { "$kdr_bin" --root "$ROOT" --backup-dir "$B" "$@"; }
revision() { sandbox_etcdctl "$ROOT" endpoint status -w json | jq '.[0].Status.header.revision'; }
now() { date +%s.%N; }

k -q backup
snapshot=$(readlink -f "$B/latest")/etcd/snapshot.db
snap_mb=$(( $(stat -c %s "$snapshot") >> 20 ))
"$kdr_bin" --root "$ROOT" --backup-dir "$B" journal run >"$W/follower.log" 2>&1 &
follower=$!
base=$(revision)
echo "bench: $events changes on top of the snapshot at revision $base..." >&2
until [ $(( $(revision) - base )) -ge "$events" ]; do
  left=$(( events - ($(revision) - base) ))
  "$load_bin" --endpoint "$endpoint" --cacert "$pki/ca.crt" --cert "$pki/healthcheck-client.crt" \
    --key "$pki/healthcheck-client.key" --rate 2500 --seconds "$(( left / 2500 + 1 ))" --value-bytes 1024 \
    --keys 5000 --threads 16 >>"$W/load.out"
done
target=$(revision)
for i in $(seq 1 600); do
  [ "$({ k journal status --json || true; } | jq '.state.position // 0')" -ge "$target" ] && break
  sleep 0.1
done
[ "$({ k journal status --json || true; } | jq '.state.position // 0')" -ge "$target" ] || { echo "bench: the journal did not catch up" >&2; exit 1; }
journaled=$(( target - base ))

# The disaster: the namespace deleted; the point to go back to is the revision before it.
sandbox_etcdctl "$ROOT" del /registry/namespaces/precious >/dev/null
kill -TERM "$follower"
wait "$follower" 2>/dev/null || true
db_mb=$(( $(stat -c %s "$ROOT/var/lib/etcd/member/snap/db") >> 20 ))

bench_drop_caches
t0=$(now)
k restore restore-etcd-snapshot --yes --set to="$target" --set accept_loss=true >"$W/restore.log" 2>&1 ||
  { cat "$W/restore.log" >&2; exit 1; }
bench_wait_precious "$ROOT"
kdr_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
served=$(sandbox_etcdctl "$ROOT" get /registry/configmaps/load/ --prefix --keys-only | grep -c . || true)
journal=$(ls -d "$ROOT"/var/lib/kdr/restores/*/ | sort | tail -n 1)journal.jsonl
per_step=$(jq -r 'select(.event=="begin") | .type' "$journal" |
  paste -d: - <(jq -r 'select(.event=="done") | .seconds' "$journal" | awk '{ printf "%.2f\n", $1 }') | paste -sd' ' -)
replay_s=$(tr ' ' '\n' <<<"$per_step" | awk -F: '$1 == "etcd-replay" { print $2 }')

# By hand, from the snapshot alone: manifest out, wait, data dir aside, snapshot restore, manifest back.
bench_drop_caches
t0=$(now)
bench_manual_etcd_restore "$ROOT" "$snapshot" "$W/etcd.kdr-restored" manual
bench_wait_precious "$ROOT"
manual_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')

echo
echo "## Restore to a point: a $snap_mb MB snapshot plus $journaled journaled changes, to serving etcd"
echo
echo "| recovery | seconds until etcd serves the namespace again | changes after the snapshot that come back |"
echo "|---|---:|---:|"
echo "| kdr restore restore-etcd-snapshot --set to=$target (replay off the node, digest check, restore, restart) | $kdr_s | $journaled of $journaled |"
echo "| by hand: etcdctl snapshot restore of the snapshot + start | $manual_s | 0 of $journaled |"
echo
echo "the replay step (a private etcd: the snapshot restored, $journaled changes applied, the digest checked, a snapshot saved): ${replay_s} s"
echo "inside it: $(grep -o 'changes in .*' "$W/restore.log" | head -1)"
echo "kdr's restore, seconds per step: $per_step"
echo "live etcd database before the restore: $db_mb MB; load keys served after it: $served"
