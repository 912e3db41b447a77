#!/usr/bin/env bash
# An HA control plane of three real etcd members loses quorum: the data dirs of cp-2 and cp-3
# are destroyed. `kdr restore restore-etcd-cluster` on cp-1 restores its backup as a new
# one-member cluster and names the command for each other node; each runs it with its own kdr
# and backup folder (no SSH). At the end the three are one cluster (one id), all voting and
# healthy, serving the backup's keys.
source "$(dirname "$0")/../lib/scenario.sh"

R1=$T/cp-1 R2=$T/cp-2 R3=$T/cp-3

step "three control-plane nodes, each backed up onto its own second disk"
sandbox_make_ha_cluster "$R1" "$R2" "$R3"
own_disks "$R1" "$R2" "$R3"
for i in 1 2 3; do sandbox_etcdctl "$R1" put "/registry/configmaps/team-$i/settings" "value-$i" >/dev/null; done
for r in "$R1" "$R2" "$R3"; do OUT=$(on_node "$r" backup -q 2>&1) || fail "backup on $r: $OUT"; done
ROOT=$R1
backup_keys=$(member_keyspace "$R1")
old_cluster=$(member_cluster_id "$R1")

step "disaster: cp-2 and cp-3 go down and lose their data dirs; the cluster has lost quorum"
for r in "$R2" "$R3"; do
  sandbox_stop_kubelet "$r"
  rm -rf "$r/var/lib/etcd/member"
done
! sandbox_etcdctl "$R1" --dial-timeout 1s --command-timeout 3s put /registry/x y >/dev/null 2>&1 || fail "the cluster still takes writes"

step "restore-etcd-cluster on cp-1: a new one-member cluster, and the command for each other node"
rc=0
OUT=$(on_node "$R1" restore restore-etcd-cluster --yes --set accept_loss=true 2>&1) || rc=$?
[ "$rc" -eq 0 ] || { echo "$OUT"; fail "restore-etcd-cluster exited $rc"; }
assert_contains "$OUT" "no other member of the generation's 3-member cluster serves reads"
new_cluster=$(member_cluster_id "$R1")
[ -n "$new_cluster" ] && [ "$new_cluster" != "$old_cluster" ] || fail "cp-1 is still the old cluster ($old_cluster)"
new_hex=$(grep -o 'this node is now cluster [0-9a-f]*' <<<"$OUT" | awk '{print $NF}')
[ -n "$new_hex" ] || fail "the restore did not name the new cluster"
# the commands the last step printed (the plan shows them with placeholders first)
cmd2=$(grep -o "on cp-2 (.*): kdr restore replace-etcd-member .*" <<<"$OUT" | tail -n 1 | sed 's/^on cp-2 ([^)]*): kdr //')
cmd3=$(grep -o "on cp-3 (.*): kdr restore replace-etcd-member .*" <<<"$OUT" | tail -n 1 | sed 's/^on cp-3 ([^)]*): kdr //')
assert_contains "$cmd2" "--set cluster_id=$new_hex"
assert_contains "$cmd2" "--set via=https://127.0.0.11:"

step "a node told to join another cluster refuses, changing nothing"
rc=0
OUT=$(on_node "$R2" restore replace-etcd-member --yes --set "via=$(grep -o 'via=[^ ]*' <<<"$cmd2" | cut -d= -f2)" --set cluster_id=abc 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "joining the wrong cluster was not refused"
assert_contains "$OUT" "not cluster abc this node is to join"
[ -z "$(ls -d "$R2"/var/lib/etcd.kdr-* 2>/dev/null)" ] || fail "cp-2's data dir was moved"

step "cp-2 and cp-3 come back (their etcd cannot start on the lost data) and run the printed commands, one after the other"
for pair in "$R2:$cmd2" "$R3:$cmd3"; do
  r=${pair%%:*} cmd=${pair#*:}
  sandbox_start_kubelet "$r"
  rc=0
  # the printed words, as the operator pastes them (no shell string is run by kdr)
  read -r -a words <<<"$cmd"
  OUT=$(on_node "$r" "${words[@]}" 2>&1) || rc=$?
  [ "$rc" -eq 0 ] || { echo "$OUT"; fail "$(basename "$r") did not join (exit $rc)"; }
  assert_contains "$OUT" "to a voting member"
done

step "one cluster of three voting members, serving the backup's keys on every member"
members=$(sandbox_etcdctl "$R1" member list -w json)
assert_eq "$(jq '[.members[] | select(.isLearner != true)] | length' <<<"$members")" 3 "voting members"
for r in "$R1" "$R2" "$R3"; do
  assert_eq "$(member_cluster_id "$r")" "$new_cluster" "cluster id of $(basename "$r")"
  assert_eq "$(member_keyspace "$r")" "$backup_keys" "the keys on $(basename "$r")"
done
sandbox_etcdctl "$R3" put /registry/configmaps/team-1/after yes >/dev/null || fail "the cluster takes no write"
