#!/usr/bin/env bash
# Quorum lost, one member kept its data but lags: what each way back costs and loses, on three
# real etcd members holding a database of at least 200 MB, in the same run. cp-1's change
# journal follows the cluster through cp-2; cp-1's etcd stops; cp-2 and cp-3 take WRITES more
# changes (10 KB values) and then die with their data dirs; cp-1 comes back without quorum.
# From that same state (cp-1's node copied before each way, put back after):
#   - kdr restore restore-etcd-cluster --set from=survivor: cp-1's data opened with
#     --force-new-cluster privately, the journal replayed past it, the one-member cluster made;
#   - by hand, as a quorum-restore script does: --force-new-cluster added to cp-1's etcd manifest
#     until it serves alone (the survivor as it is);
#   - kdr restore restore-etcd-cluster (from=backup, to=snapshot): the newest generation's snapshot.
# For each: the seconds from the command to cp-1 serving, and the acknowledged writes it loses
# (the WRITES later keys missing or different, and the earlier keys that are not as they were).
#
#   bench/survivor.sh [--quick] [--size-mb N] [--kdr PATH]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_args 200 20 1 "$@"
writes=$([ "$size_mb" -ge 100 ] && echo 2000 || echo 300)
R1=$W/cp-1 R2=$W/cp-2 R3=$W/cp-3
on() { local root=$1; shift; "$kdr_bin" --root "$root" --backup-dir "$W/disk2-$(basename "$root")" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
run() { local log=$W/$1.log; shift; "$@" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }; }
wait_for() { local i; for i in $(seq 1 1200); do "$@" && return 0; sleep 0.1; done; echo "bench: timed out: $*" >&2; exit 1; }
serves() { sandbox_etcdctl "$R1" --dial-timeout 1s --command-timeout 5s put /bench/probe x >/dev/null 2>&1; }
# every key under /registry/ with its value's length and its first and last 48 base64 digits
# (the values are random: two that differ differ there)
keyspace() {
  sandbox_etcdctl "$1" get --prefix /registry/ --consistency=s -w json |
    jq -r '.kvs // [] | .[] | "\(.key) \(.value | length) \(.value[0:48]) \(.value[-48:])"'
}
# lost WANT_FILE: the lines of WANT_FILE that cp-1 does not serve as they were
lost() { keyspace "$R1" > "$W/have"; comm -23 <(sort "$1") <(sort "$W/have") | wc -l; }

echo "bench: three members with an etcd database of at least $size_mb MB..." >&2
sandbox_make_ha_cluster "$R1" "$R2" "$R3" >/dev/null
for r in "$R1" "$R2" "$R3"; do
  mkdir -p "$r/etc/kdr" "$W/disk2-$(basename "$r")"
  printf 'kubeconfig: ""\n' > "$r/etc/kdr/kdr.yaml"
done
bench_fill_until "$R1" bench_db_at_least "$R1" "$size_mb"
db_size=$(( $(stat -c %s "$R1/var/lib/etcd/member/snap/db") >> 20 ))
run backup on "$R1" backup -q
printf 'kubeconfig: ""\netcd: {endpoint: "https://127.0.0.1:%s"}\n' "$(cat "$R2/.sandbox-client-port")" > "$W/follow.yaml"
"$kdr_bin" --config "$W/follow.yaml" --root "$R1" --backup-dir "$W/disk2-cp-1" journal run >>"$W/follower.log" 2>&1 &
follower=$!
sleep 3
echo "bench: cp-1 stops; $writes changes on the two others; they die..." >&2
sandbox_stop_kubelet "$R1"
sandbox_fill_etcd "$R2" "$writes" 10000 /registry/configmaps/after/cm-
want_rev=$(sandbox_etcdctl "$R2" endpoint status -w json | jq '.[0].Status.header.revision')
keyspace "$R2" > "$W/want"
until [ "$(on "$R1" journal status --json | jq '.state.position // 0')" -ge "$want_rev" ]; do sleep 0.2; done
kill "$follower"; wait "$follower" 2>/dev/null || true
for r in "$R2" "$R3"; do sandbox_stop_kubelet "$r"; rm -rf "$r/var/lib/etcd/member"; done
cp -a "$R1" "$W/cp-1.saved"
reset() { sandbox_stop_kubelet "$R1"; rm -rf "$R1"; cp -a "$W/cp-1.saved" "$R1"; sandbox_start_kubelet "$R1"; sleep 1; }

declare -A secs lost_writes
sandbox_start_kubelet "$R1"
sleep 1
bench_drop_caches
t0=$(now)
run survivor on "$R1" restore restore-etcd-cluster --yes --set from=survivor
wait_for serves
secs[survivor]=$(since "$t0")
lost_writes[survivor]=$(lost "$W/want")
replayed=$(grep -o 'the journal.s [0-9]* change(s) after revision' "$W/survivor.log" | head -n 1 | grep -o '[0-9]*' | head -n 1)

reset
bench_drop_caches
t0=$(now)
sed -i 's|^\( *\)- --data-dir=\(.*\)$|&\n\1- --force-new-cluster|' "$R1/etc/kubernetes/manifests/etcd.yaml"
wait_for serves
secs[by_hand]=$(since "$t0")
lost_writes[by_hand]=$(lost "$W/want")

reset
bench_drop_caches
t0=$(now)
run backup-restore on "$R1" restore restore-etcd-cluster --yes --set to=snapshot --set accept_loss=true
wait_for serves
secs[backup]=$(since "$t0")
lost_writes[backup]=$(lost "$W/want")

total=$(wc -l < "$W/want")
echo
echo "Quorum lost with a lagging survivor: three etcd members, a database of $db_size MB, $writes changes (10 KB values) after the survivor stopped; $total keys acknowledged before the disaster. Seconds from the command to cp-1 serving writes alone, and the acknowledged keys it does not serve as they were (compared by key, value length and both ends of the value):"
echo
echo "| way back | seconds | keys lost or not as acknowledged | what it does |"
echo "|---|---:|---:|---|"
echo "| kdr restore-etcd-cluster --set from=survivor | ${secs[survivor]} | ${lost_writes[survivor]} | members ranked, the survivor's data copied and opened with --force-new-cluster privately, the journal's ${replayed:-?} changes replayed past it, digests checked at both ends, the cluster made (its revision bumped where etcdutl can); every change journaled and reversible |"
echo "| by hand: --force-new-cluster in the survivor's manifest | ${secs[by_hand]} | ${lost_writes[by_hand]} | the survivor as it is (its data dir changed in place, no way back) |"
echo "| kdr restore-etcd-cluster (the newest generation's snapshot) | ${secs[backup]} | ${lost_writes[backup]} | the snapshot restored as a new one-member cluster |"
