#!/usr/bin/env bash
# A logical disaster on an HA control plane of three real, healthy etcd members: a namespace
# deleted. restore-etcd-cluster on cp-1 is refused while cp-2 and cp-3 keep quorum (a split
# brain); with force_new_cluster=true it restores cp-1 as a new cluster, and the command it
# prints, run on cp-2 and then cp-3, moves their data dirs aside and joins them: one cluster,
# three voting members, the namespace back on every member.
source "$(dirname "$0")/../lib/scenario.sh"

R1=$T/cp-1 R2=$T/cp-2 R3=$T/cp-3

step "three healthy members, each node backed up"
sandbox_make_ha_cluster "$R1" "$R2" "$R3"
own_disks "$R1" "$R2" "$R3"
for i in 1 2 3; do
  sandbox_etcdctl "$R1" put "/registry/namespaces/team-$i" "ns-$i" >/dev/null
  sandbox_etcdctl "$R1" put "/registry/configmaps/team-$i/settings" "value-$i" >/dev/null
done
for r in "$R1" "$R2" "$R3"; do OUT=$(on_node "$r" backup -q 2>&1) || fail "backup on $r: $OUT"; done
ROOT=$R1
backup_keys=$(member_keyspace "$R1")
old_cluster=$(member_cluster_id "$R1")

step "disaster: namespace team-2 deleted on the running cluster"
sandbox_etcdctl "$R2" del --prefix /registry/configmaps/team-2/ >/dev/null
sandbox_etcdctl "$R2" del /registry/namespaces/team-2 >/dev/null

step "restore-etcd-cluster on cp-1 is refused while cp-2 and cp-3 keep quorum"
rc=0
OUT=$(on_node "$R1" restore restore-etcd-cluster --yes --set accept_loss=true 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "the restore was not refused"
assert_contains "$OUT" "still keep quorum"
assert_eq "$(member_cluster_id "$R1")" "$old_cluster" "cp-1 is still in the cluster"

step "with force_new_cluster=true: cp-1 restored as a new cluster, then cp-2 and cp-3 join it"
rc=0
OUT=$(on_node "$R1" restore restore-etcd-cluster --yes --set accept_loss=true --set force_new_cluster=true 2>&1) || rc=$?
[ "$rc" -eq 0 ] || { echo "$OUT"; fail "restore-etcd-cluster exited $rc"; }
new_cluster=$(member_cluster_id "$R1")
[ "$new_cluster" != "$old_cluster" ] || fail "cp-1 is still the old cluster"
for n in 2 3; do
  cmd=$(grep -o "on cp-$n (.*): kdr restore replace-etcd-member .*" <<<"$OUT" | tail -n 1 | sed "s/^on cp-$n ([^)]*): kdr //")
  read -r -a words <<<"$cmd"
  rc=0
  JOIN=$(on_node "$T/cp-$n" "${words[@]}" 2>&1) || rc=$?
  [ "$rc" -eq 0 ] || { echo "$JOIN"; fail "cp-$n did not join (exit $rc)"; }
  [ -n "$(ls -d "$T/cp-$n"/var/lib/etcd.kdr-* 2>/dev/null)" ] || fail "cp-$n's old data dir was not kept aside"
done

step "one cluster of three voting members; the namespace is back on every member"
assert_eq "$(sandbox_etcdctl "$R1" member list -w json | jq '[.members[] | select(.isLearner != true)] | length')" 3 "voting members"
for r in "$R1" "$R2" "$R3"; do
  assert_eq "$(member_cluster_id "$r")" "$new_cluster" "cluster id of $(basename "$r")"
  assert_eq "$(member_keyspace "$r")" "$backup_keys" "the keys on $(basename "$r")"
done
