#!/usr/bin/env bash
# etcd's data dir wiped while the change journal's follower runs: the kubelet starts etcd again
# on an empty data dir, with the same cluster id, at a low revision. That is a disaster, never
# the new normal: the follower keeps its epoch whole and waits, kdr backup refuses to publish
# the empty cluster, verify says so with the journal's last revision, the plan of the older
# full generation counts the journaled writes it would not bring back and names them as objects,
# and the default restore
# (to=auto) brings back every acknowledged write. Once kdr's own restore put etcd back, or the
# operator accepts it (kdr backup --allow-shrink), a new epoch begins from it, and the
# generation says which of the two it was.
source "$(dirname "$0")/../lib/scenario.sh"

make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'

step "a full generation, the follower, 20 writes, and a generation the journal covers"
expect_rc 0 kdr backup
full_gen=$(basename "$(latest_gen)")
full_rev=$(jq '.etcd.snapshot.revision' "$(latest_gen)/meta.json")
start_follower
wait_caught_up
for i in $(seq 1 20); do
  sandbox_etcdctl "$ROOT" put "/registry/configmaps/app/acked-$i" "written after the full backup: $i" >/dev/null
done
wait_caught_up
expect_rc 0 kdr backup
assert_eq "$(jq -r '.etcd.journal.base_generation' "$(latest_gen)/meta.json")" "$full_gen" "the covered generation's base"
last_rev=$(etcd_revision)
live_keyspace > "$T/before.txt"
generations_before=$(ls "$BACKUP/generations" | wc -l)
echo "full generation at revision $full_rev, the journal at $last_rev"

step "the data dir is wiped; the kubelet starts etcd afresh (same cluster id, revision 1), the API server writes"
cluster_before=$(member_cluster_id "$ROOT")
pkill -KILL -f -- "--data-dir=$ROOT/var/lib/etcd" || fail "no etcd to kill"
sandbox_stop_kubelet "$ROOT"
rm -rf "$ROOT/var/lib/etcd/member"
sandbox_start_kubelet "$ROOT"
sandbox_wait_etcd "$ROOT" 60
sandbox_etcdctl "$ROOT" put /registry/namespaces/default '{"kind":"Namespace"}' >/dev/null
sandbox_etcdctl "$ROOT" put /registry/leases/kube-node-lease/node '{"kind":"Lease"}' >/dev/null
assert_eq "$(member_cluster_id "$ROOT")" "$cluster_before" "the cluster id of the emptied etcd"
[ "$(etcd_revision)" -lt "$last_rev" ] || fail "the emptied etcd is at revision $(etcd_revision), not below $last_rev"

step "the follower keeps epoch 1 whole and waits, saying what it saw; status exits 1"
wait_until 30 "the follower to see etcd go back" bash -c "'$KDR_BIN' --root '$ROOT' --backup-dir '$BACKUP' journal status --json | jq -e '.state.state == \"etcd-rewound\"'"
expect_rc 1 kdr journal status
assert_contains "$OUT" "WAITING"
assert_contains "$OUT" "etcd's revision went back from $last_rev (the change journal) to"
assert_contains "$OUT" "The journal keeps epoch 1 whole up to revision $last_rev"
assert_eq "$(ls -d "$BACKUP"/journal/epoch-* | wc -l)" 1 "epochs in the journal"
grep -q "etcd's revision went back from $last_rev" "$T/follower.log" || fail "the follower's log does not say what it saw"
sleep 2
assert_eq "$(ls "$BACKUP/generations" | wc -l)" "$generations_before" "generations (the follower asked for no backup)"

step "kdr backup refuses the emptied etcd, naming what happened and the journal's last revision"
expect_rc 1 kdr backup
assert_contains "$OUT" "not publishing a generation of an etcd that lost its data: etcd's revision went back from"
assert_contains "$OUT" "the change journal holds every change up to revision $last_rev"
assert_contains "$OUT" "kdr backup --allow-shrink"
assert_eq "$(ls "$BACKUP/generations" | wc -l)" "$generations_before" "generations after the refused backup"

step "verify: an error, with the journal's last revision as the point to restore"
expect_rc 4 kdr verify
assert_contains "$OUT" "[live-etcd data-dir-lost]"
assert_contains "$OUT" "the change journal reaches revision $last_rev"
assert_contains "$OUT" "[journal etcd-went-back]"

step "the full generation's own snapshot: the plan counts the journaled writes it would not bring back, and refuses"
expect_rc 1 kdr restore restore-etcd-snapshot -g "$full_gen" --set to=snapshot --dry-run
assert_contains "$OUT" "the change journal holds data this restore's point does not"
assert_contains "$OUT" "the change journal holds $((last_rev - full_rev)) more revisions of this cluster, up to revision $last_rev"
assert_contains "$OUT" "--set to=latest restores them"
assert_contains "$OUT" "objects written or deleted since the backup, from the change journal: 20 configmaps; the newest: configmaps app/acked-20, configmaps app/acked-19"
[[ "$OUT" != *"nothing written since"* ]] || fail "the plan says nothing is lost: $OUT"

step "the runbook's restore (to=auto, the newest generation): revision $last_rev, every acknowledged write"
expect_rc 0 kdr restore restore-etcd-snapshot --yes
assert_contains "$OUT" "to=auto: the change journal reaches revision $last_rev"
assert_contains "$OUT" "went back to revision"
sandbox_wait_etcd "$ROOT" 60
live_keyspace > "$T/after.txt"
diff "$T/before.txt" "$T/after.txt" >&2 || fail "the restored keyspace differs from etcd's at revision $last_rev"

step "after kdr's restore: a new epoch of the restored cluster, and backups go on"
newest_epoch() { ls -d "$BACKUP"/journal/epoch-* | tail -n 1; }
epoch_count() { ls -d "$BACKUP"/journal/epoch-* | wc -l; }
more_epochs_than() { [ "$(epoch_count)" -gt "$1" ]; }
wait_until 60 "a new epoch" more_epochs_than 1
jq -e '.reason | contains("another cluster now")' "$(newest_epoch)/epoch.json" >/dev/null ||
  fail "the new epoch does not say etcd was restored: $(cat "$(newest_epoch)/epoch.json")"
snapshot_taken() { "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" journal status --json | jq -e '.state.full_snapshot | startswith("taken")'; }
wait_until 60 "the follower's full snapshot of the new epoch" snapshot_taken
wait_caught_up
expect_rc 0 kdr backup
expect_rc 0 kdr journal status

step "the operator accepts an emptied etcd: kdr backup --allow-shrink, and a new epoch from it"
epochs=$(epoch_count)
rev=$(etcd_revision)
pkill -KILL -f -- "--data-dir=$ROOT/var/lib/etcd" || fail "no etcd to kill"
sandbox_stop_kubelet "$ROOT"
rm -rf "$ROOT/var/lib/etcd/member"
sandbox_start_kubelet "$ROOT"
sandbox_wait_etcd "$ROOT" 60
wait_until 30 "the follower to see etcd go back again" bash -c "'$KDR_BIN' --root '$ROOT' --backup-dir '$BACKUP' journal status --json | jq -e '.state.state == \"etcd-rewound\"'"
expect_rc 1 kdr backup
assert_contains "$OUT" "not publishing a generation of an etcd that lost its data"
expect_rc 0 kdr backup --allow-shrink
assert_contains "$OUT" "accepted by the operator (kdr backup --allow-shrink) as the new normal"
jq -e '.warnings | map(select(contains("accepted by the operator"))) | length == 1' "$(latest_gen)/meta.json" >/dev/null ||
  fail "the generation does not record who accepted it"
wait_until 30 "the follower's new epoch" more_epochs_than "$epochs"
jq -e '.reason | contains("accepted by kdr backup --allow-shrink")' "$(newest_epoch)/epoch.json" >/dev/null ||
  fail "the new epoch does not say who accepted it: $(cat "$(newest_epoch)/epoch.json")"
echo "etcd went back from revision $rev; accepted"
stop_follower
