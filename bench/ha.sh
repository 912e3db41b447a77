#!/usr/bin/env bash
# HA recovery times on three real etcd members (the sandbox of tests/lib/sandbox.sh:
# sandbox_make_ha_cluster) holding an etcd database of at least 300 MB, kdr beside the same
# procedure by hand (etcd's documented steps, with etcdctl), in the same run:
#   - one member lost (its data dir destroyed; the other two keep quorum): from the start of
#     `kdr restore replace-etcd-member --yes` on that node to three voting members serving (the
#     command returns only then); by hand: member remove, data dir aside, member add --learner,
#     the manifest's --initial-cluster and --initial-cluster-state=existing, member promote once
#     it has caught up, until every member is healthy;
#   - quorum lost (the data of cp-2 and cp-3 destroyed; their etcd crash-loops on it): from the
#     start of `kdr restore restore-etcd-cluster --yes` on cp-1, which drives cp-2 and cp-3 over
#     SSH (real sshds on loopback), to its end (three voting members, kube-apiserver back on
#     every node); by hand: on cp-1 the pods stopped, `etcdctl snapshot restore` of the same
#     snapshot as a new one-member cluster, the pods started; then cp-2 and cp-3 each joined as
#     above.
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

# ---- by hand ---------------------------------------------------------------------------------
peer_of() { echo "https://$(cat "$1/.sandbox-node-ip"):$(cat "$1/.sandbox-peer-port")"; }
name_of() { cat "$1/.sandbox-node-name"; }
etcd_runs_on() { pgrep -f -- "--data-dir=$1/var/lib/etcd( |$)" >/dev/null; }
wait_for() { local i; for i in $(seq 1 1200); do "$@" && return 0; sleep 0.1; done; echo "bench: timed out: $*" >&2; exit 1; }
not() { ! "$@"; }
# the member id (hex) with ROOT's peer URL, asked through VIA
member_id() { sandbox_etcdctl "$2" member list | awk -F', ' -v p="$(peer_of "$1")" '$4 == p { print $1 }'; }
cluster_healthy() { sandbox_etcdctl "$1" endpoint health --cluster >/dev/null 2>&1; }
voting() { [ "$(sandbox_etcdctl "$1" member list -w json | jq '[.members[] | select(.isLearner != true)] | length')" -eq 3 ]; }
# by_hand_join ROOT VIA: ROOT's member (re)joined through VIA, as etcd's runtime
# reconfiguration guide replaces a failed member
by_hand_join() {
  local r=$1 via=$2 id out cluster
  mv "$r/etc/kubernetes/manifests/etcd.yaml" "$W/etcd.yaml.held"
  wait_for not etcd_runs_on "$r"
  id=$(member_id "$r" "$via")
  [ -z "$id" ] || sandbox_etcdctl "$via" member remove "$id" >/dev/null
  mv "$r/var/lib/etcd" "$r/var/lib/etcd.by-hand"
  mkdir -m 700 "$r/var/lib/etcd"
  until out=$(sandbox_etcdctl "$via" member add "$(name_of "$r")" --peer-urls "$(peer_of "$r")" --learner 2>&1); do sleep 0.2; done
  cluster=$(sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p' <<<"$out")
  sed -e "s|--initial-cluster=.*|--initial-cluster=$cluster|" -e "s|--initial-cluster-state=.*|--initial-cluster-state=existing|" \
    "$W/etcd.yaml.held" > "$r/etc/kubernetes/manifests/etcd.yaml"
  id=$(member_id "$r" "$via")
  until sandbox_etcdctl "$via" member promote "$id" >/dev/null 2>&1; do sleep 0.2; done
}
# by_hand_cluster ROOT SNAPSHOT: ROOT restored from SNAPSHOT as a new one-member cluster
by_hand_cluster() {
  local r=$1 snap=$2 f
  mkdir -p "$W/held"
  for f in etcd kube-apiserver kube-controller-manager kube-scheduler; do mv "$r/etc/kubernetes/manifests/$f.yaml" "$W/held/"; done
  wait_for not etcd_runs_on "$r"
  mv "$r/var/lib/etcd" "$r/var/lib/etcd.by-hand"
  ETCDCTL_API=3 etcdctl snapshot restore "$snap" --data-dir "$r/var/lib/etcd" --name "$(name_of "$r")" \
    --initial-cluster "$(name_of "$r")=$(peer_of "$r")" --initial-cluster-token "by-hand-$RANDOM" \
    --initial-advertise-peer-urls "$(peer_of "$r")" >/dev/null 2>&1
  for f in etcd kube-apiserver kube-controller-manager kube-scheduler; do mv "$W/held/$f.yaml" "$r/etc/kubernetes/manifests/"; done
  wait_for cluster_healthy "$r"
}
# ---------------------------------------------------------------------------------------------

echo "bench: three members with an etcd database of at least $size_mb MB..." >&2
sandbox_make_ha_cluster "$R1" "$R2" "$R3" >/dev/null
for r in "$R1" "$R2" "$R3"; do mkdir -p "$r/etc/kdr" "$W/disk2-$(basename "$r")"; done
ssh_to_nodes "$W" "$kdr_bin" "$R1" "$R2" "$R3"
for r in "$R1" "$R2" "$R3"; do
  [ "$r" = "$R1" ] || printf 'kubeconfig: ""\n' > "$r/etc/kdr/kdr.yaml"
  printf 'retention: {keep_last: 1, hourly: 0, daily: 0, weekly: 0}\n' >> "$r/etc/kdr/kdr.yaml"
done
bench_fill_until "$R1" bench_db_at_least "$R1" "$size_mb"
db_size=$(( $(stat -c %s "$R1/var/lib/etcd/member/snap/db") >> 20 ))

destroy() {  # ROOT: its data destroyed, its etcd crash-looping on it
  sandbox_stop_kubelet "$1"
  head -c 1048576 /dev/urandom > "$1/var/lib/etcd/member/snap/db"
  sandbox_start_kubelet "$1"
}
tidy() { rm -rf "$W"/cp-*/var/lib/etcd.kdr-* "$W"/cp-*/var/lib/etcd.by-hand; }

replace_kdr=() replace_hand=() cluster_kdr=() cluster_hand=()
for i in $(seq 1 "$reps"); do
  for r in "$R1" "$R2" "$R3"; do run "backup-$i" on "$r" backup -q; done

  # one member lost: kdr
  destroy "$R2"
  bench_drop_caches
  t0=$(now)
  run "replace-$i" on "$R2" restore replace-etcd-member --yes
  replace_kdr+=("$(since "$t0")")
  tidy
  # one member lost: by hand
  destroy "$R2"
  bench_drop_caches
  t0=$(now)
  by_hand_join "$R2" "$R1"
  wait_for voting "$R1"
  wait_for cluster_healthy "$R1"
  replace_hand+=("$(since "$t0")")
  tidy

  # quorum lost: kdr, one command
  for r in "$R1" "$R2" "$R3"; do run "backup2-$i" on "$r" backup -q; done
  destroy "$R2"
  destroy "$R3"
  bench_drop_caches
  t0=$(now)
  run "cluster-$i" on "$R1" restore restore-etcd-cluster --yes --set accept_loss=true
  cluster_kdr+=("$(since "$t0")")
  tidy
  # quorum lost: by hand, from the same generation's snapshot
  snap=$(readlink -f "$W/disk2-cp-1/latest")/etcd/snapshot.db
  destroy "$R2"
  destroy "$R3"
  bench_drop_caches
  t0=$(now)
  by_hand_cluster "$R1" "$snap"
  by_hand_join "$R2" "$R1"
  by_hand_join "$R3" "$R1"
  wait_for voting "$R1"
  wait_for cluster_healthy "$R1"
  cluster_hand+=("$(since "$t0")")
  tidy
done

med() { printf '%s\n' "$@" | bench_median; }
echo
echo "HA recovery on three etcd members with a database of $db_size MB, $reps run(s), median seconds:"
echo
echo "| recovery | kdr | by hand | target | what kdr does besides |"
echo "|---|---:|---:|---:|---|"
echo "| one member's data lost: replace-etcd-member | $(med "${replace_kdr[@]}") | $(med "${replace_hand[@]}") | 30 | preflight (another member serves, the cluster id), every change journaled and reversible, waits until every member votes and serves |"
echo "| quorum lost: restore-etcd-cluster, cp-2 and cp-3 over SSH | $(med "${cluster_kdr[@]}") | $(med "${cluster_hand[@]}") | 60 | preflight on every node (ssh, split brain, the snapshot re-hashed), kube-apiserver held on the other nodes, each node's join journaled there, every member voting at the end |"
# Where the time goes, from the journals of the last runs: seconds per step.
steps_of() {
  local journal
  journal=$(ls -d "$1"/var/lib/kdr/restores/*"$2"/ | sort | tail -n 1)journal.jsonl
  paste -d: <(jq -r 'select(.event=="begin") | .type' "$journal") \
    <(jq -r 'select(.event=="done") | .seconds' "$journal" | awk '{ printf "%.2f\n", $1 }') | paste -sd' ' -
}
echo
echo "seconds per step, last run: cp-1's restore-etcd-cluster: $(steps_of "$R1" restore-etcd-cluster)"
echo "cp-3's replace-etcd-member (joining over SSH): $(steps_of "$R3" replace-etcd-member)"
