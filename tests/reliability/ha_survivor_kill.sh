#!/usr/bin/env bash
# The survivor restore killed after a journaled change (KDR_FAILPOINT=restore-after-action:N:
# SIGKILL right after the Nth action record reaches the disk), then resumed or rolled back, in
# turn. Real etcd members: cp-1 lags behind a cluster that went on without it and lost quorum
# (make_lagging_survivor). After --resume, cp-1 serves every acknowledged write as a one-member
# cluster; after --rollback, /etc/kubernetes is byte for byte what it was, no data dir is left
# aside, and the data dir is cp-1's own again (its cluster, its revision, read offline), ready for
# the next try. Full mode: every action, each both resumed and rolled back; quick mode: two.
# kdr-test: once (the restore engine it puts through kills is the same over etcd 3.4 and 3.5;
# tests/scenarios/ha_restore_survivor.sh runs the survivor restore on both)
source "$(dirname "$0")/../lib/reliability.sh"

# /etc/kubernetes, each file with its mode, owner, size and mtime (a folder's mtime changes when
# a manifest leaves it and comes back)
etc_tree() { tree_listing "$R1/etc/kubernetes" | awk -F'|' '$2 == "d" { $7 = "-" } 1' OFS='|'; }
restore_survivor() { kdr restore restore-etcd-cluster --yes --set from=survivor "$@"; }

make_lagging_survivor
sandbox_stop_kubelet "$R1"
before_tree=$(etc_tree)
before_state=$(on_node "$R1" --json etcd state | jq -c '{cluster_id, revision}')

# reset: cp-1 as it was after the disaster, its etcd started by the kubelet again
reset_node() {
  sandbox_stop_kubelet "$R1"
  assert_eq "$(etc_tree)" "$before_tree" "/etc/kubernetes before the try"
  [ -z "$(ls -d "$R1"/var/lib/etcd.kdr-* 2>/dev/null)" ] || fail "a data dir is left aside: $(ls -d "$R1"/var/lib/etcd.kdr-*)"
  assert_eq "$(on_node "$R1" --json etcd state | jq -c '{cluster_id, revision}')" "$before_state" \
    "cp-1's own data dir (read offline)"
  sandbox_start_kubelet "$R1"
}

step "an uninterrupted survivor restore, rolled back: how many actions it journals"
sandbox_start_kubelet "$R1"
expect_rc 0 restore_survivor
id=$(restore_id)
actions=$(grep -c '"event":"action"' "$R1/var/lib/kdr/restores/$id/journal.jsonl")
[ "$actions" -ge 8 ] || fail "the restore journaled only $actions actions"
expect_rc 0 kdr restore --rollback "$id" --yes
reset_node
echo "the survivor restore journals $actions actions"

if [ "$KDR_RELIABILITY_MODE" = full ]; then
  points=$(seq 1 "$actions")
  verbs="resume rollback"
else
  points="$(( (actions + 1) / 2 )) $actions"
  verbs=""
fi
tries=0 resumed=0 rolled=0 turn=0
for n in $points; do
  for verb in ${verbs:-$([ $((turn % 2)) -eq 0 ] && echo rollback || echo resume)}; do
    turn=$((turn + 1))
    step "killed after action $n of $actions, then --$verb"
    rc=0
    KDR_FAILPOINT="restore-after-action:$n" restore_survivor >"$T/killed.out" 2>&1 || rc=$?
    [ "$rc" -eq 137 ] || { tail -5 "$T/killed.out"; fail "the restore was not killed after action $n (exit $rc)"; }
    id=$(restore_id)
    expect_rc 0 kdr restore "--$verb" "$id" --yes
    tries=$((tries + 1))
    if [ "$verb" = resume ]; then
      resumed=$((resumed + 1))
      assert_eq "$(member_keyspace "$R1")" "$want" "cp-1's keys after the resumed restore"
      assert_eq "$(sandbox_etcdctl "$R1" member list -w json | jq '.members | length')" 1 "members after the resume"
      expect_rc 0 kdr restore --rollback "$id" --yes
    else
      rolled=$((rolled + 1))
    fi
    reset_node
  done
done
record "SIGKILL after a journaled action of restore-etcd-cluster from=survivor, then --resume or --rollback" \
  "$tries" "$resumed resumed to every acknowledged write on a one-member cluster; $rolled rolled back to the node as it was" \
  "nothing"
