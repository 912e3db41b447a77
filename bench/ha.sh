#!/usr/bin/env bash
# HA recovery times on three real etcd members (the sandbox of tests/lib/sandbox.sh:
# sandbox_make_ha_cluster) holding an etcd database of at least 300 MB:
#   - replace-etcd-member: one member's data dir destroyed, from the start of
#     `kdr restore replace-etcd-member --yes` to three voting members serving (the command
#     returns only then); the other two keep serving writes throughout;
#   - restore-etcd-cluster: two members' data gone (quorum lost), from the start of
#     `kdr restore restore-etcd-cluster --yes` on the first node until the last of the other
#     two has run the command it printed (each returns once it votes and the cluster serves).
# Prints the medians as a Markdown table.
#
#   bench/ha.sh [--quick] [--size-mb N] [--kdr PATH]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_args 300 30 3 "$@"
R1=$W/cp-1 R2=$W/cp-2 R3=$W/cp-3
on() { local root=$1; shift; "$kdr_bin" --root "$root" --backup-dir "$W/disk2-$(basename "$root")" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
run() { local log=$W/$1.log; shift; "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }; }

echo "bench: three members with an etcd database of at least $size_mb MB..." >&2
sandbox_make_ha_cluster "$R1" "$R2" "$R3" >/dev/null
for r in "$R1" "$R2" "$R3"; do
  mkdir -p "$r/etc/kdr" "$W/disk2-$(basename "$r")"
  printf 'kubeconfig: ""\nretention: {keep_last: 1, hourly: 0, daily: 0, weekly: 0}\n' > "$r/etc/kdr/kdr.yaml"
done
bench_fill_until "$R1" bench_db_at_least "$R1" "$size_mb"
db_size=$(( $(stat -c %s "$R1/var/lib/etcd/member/snap/db") >> 20 ))

replace_times=()
cluster_times=()
for i in $(seq 1 "$reps"); do
  for r in "$R1" "$R2" "$R3"; do run "backup-$i" on "$r" backup -q; done

  # one member lost
  sandbox_stop_kubelet "$R2"
  rm -rf "$R2/var/lib/etcd/member"
  sandbox_start_kubelet "$R2"
  bench_drop_caches
  t0=$(now)
  run "replace-$i" on "$R2" restore replace-etcd-member --yes
  replace_times+=("$(since "$t0")")
  rm -rf "$R2"/var/lib/etcd.kdr-*

  # quorum lost: two members down with their data
  for r in "$R1" "$R2" "$R3"; do run "backup2-$i" on "$r" backup -q; done
  for r in "$R2" "$R3"; do
    sandbox_stop_kubelet "$r"
    rm -rf "$r/var/lib/etcd/member"
  done
  bench_drop_caches
  t0=$(now)
  run "cluster-$i" on "$R1" restore restore-etcd-cluster --yes --set accept_loss=true
  for n in 2 3; do
    r=$W/cp-$n
    sandbox_start_kubelet "$r"
    cmd=$(grep -o "on cp-$n (.*): kdr restore replace-etcd-member .*" "$W/cluster-$i.log" | tail -n 1 | sed "s/^on cp-$n ([^)]*): kdr //")
    read -r -a words <<<"$cmd"
    run "join-$n-$i" on "$r" "${words[@]}"
  done
  cluster_times+=("$(since "$t0")")
  rm -rf "$W"/cp-*/var/lib/etcd.kdr-*
done

med() { printf '%s\n' "$@" | bench_median; }
echo
echo "HA recovery on three etcd members with a database of $db_size MB, $reps run(s), median seconds:"
echo
echo "| recovery | seconds | target | what it does |"
echo "|---|---:|---:|---|"
echo "| replace-etcd-member (one member's data lost) | $(med "${replace_times[@]}") | 30 | preflight (another member serves), etcd stopped, member removed, data dir aside, added as a learner, manifest rewritten, caught up from the leader, promoted, every member voting and serving |"
echo "| restore-etcd-cluster (two members' data lost) | $(med "${cluster_times[@]}") | 60 | the snapshot restored on cp-1 as a new cluster (checked, journaled), then the printed command on cp-2 and cp-3 in turn: each joins as a learner, catches up, is promoted |"
# Where the time goes, from the journals of the last runs: seconds per step.
steps_of() {
  local journal
  journal=$(ls -d "$1"/var/lib/kdr/restores/*"$2"/ | sort | tail -n 1)journal.jsonl
  paste -d: <(jq -r 'select(.event=="begin") | .type' "$journal") \
    <(jq -r 'select(.event=="done") | .seconds' "$journal" | awk '{ printf "%.2f\n", $1 }') | paste -sd' ' -
}
echo
echo "seconds per step, last run: cp-1's restore-etcd-cluster: $(steps_of "$R1" restore-etcd-cluster)"
echo "cp-3's replace-etcd-member (joining): $(steps_of "$R3" replace-etcd-member)"
