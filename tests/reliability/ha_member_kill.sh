#!/usr/bin/env bash
# replace-etcd-member on three real etcd members (cp-2's data dir destroyed), killed with
# SIGKILL right after each change it journals (KDR_FAILPOINT=restore-after-action:N: the
# manifest taken out, the member removed, the data dir moved aside, the member added, the
# rewritten manifest placed), then --resume or --rollback in turn. After --resume: three voting
# members with the same keys, cp-2's old data dir kept aside. After --rollback: cp-2's manifest
# is back byte for byte and its data dir is the very folder it was (inode, a marker file in it),
# and no member this restore added is left in the cluster;
# replace-etcd-member run again then makes the cluster whole. The other two members keep
# serving writes throughout.
source "$(dirname "$0")/../lib/reliability.sh"

n=$(trials 4 20)
actions=5
R1=$T/cp-1 R2=$T/cp-2 R3=$T/cp-3
voting() { sandbox_etcdctl "$R1" member list -w json | jq '[.members[] | select(.isLearner != true and .name != "")] | length'; }
peer2() { sed -n 's/^ *- --initial-advertise-peer-urls=//p' "$R2/etc/kubernetes/manifests/etcd.yaml" 2>/dev/null || true; }

sandbox_make_ha_cluster "$R1" "$R2" "$R3" >/dev/null
ROOT=$R2
config 'kubeconfig: ""'
for i in 1 2 3; do sandbox_etcdctl "$R1" put "/registry/configmaps/team-$i/settings" "value-$i" >/dev/null; done
expect_rc 0 kdr -q backup
cp2_peer=$(peer2)

# whole: three voting members, every key on every member
assert_whole() {
  local i
  for i in $(seq 1 100); do
    [ "$(voting)" = 3 ] && [ "$(member_keyspace "$R2")" = "$(member_keyspace "$R1")" ] && [ "$(member_keyspace "$R3")" = "$(member_keyspace "$R1")" ] && return 0
    sleep 0.2
  done
  fail "trial $trial: the cluster is not whole: $(sandbox_etcdctl "$R1" member list 2>&1)"
}

resumed=0 rolled=0
for trial in $(seq 1 "$n"); do
  idx=$((trial - 1))
  k=$(( (idx / 2 * 3) % actions + 1 ))
  sandbox_etcdctl "$R1" put "/registry/configmaps/trial/t-$trial" "$trial" >/dev/null
  # disaster: cp-2's data dir destroyed
  sandbox_stop_kubelet "$R2"
  rm -rf "$R2/var/lib/etcd/member"
  sandbox_start_kubelet "$R2"
  manifest_before=$(sha256sum < "$R2/etc/kubernetes/manifests/etcd.yaml")
  # the data dir as it is: the folder (its inode) and a marker file in it (etcd ignores it)
  echo "marker of trial $trial" > "$R2/var/lib/etcd/kdr-marker"
  dir_before=$(stat -c %i "$R2/var/lib/etcd") marker_before=$(stat -c %i "$R2/var/lib/etcd/kdr-marker")
  rc=0
  KDR_FAILPOINT=restore-after-action:$k "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" restore replace-etcd-member --yes \
    >"$T/killed.out" 2>&1 || rc=$?
  [ "$rc" -eq 137 ] || { cat "$T/killed.out"; fail "trial $trial: not killed after change $k (exit $rc)"; }
  id=$(restore_id)
  sandbox_etcdctl "$R3" put "/registry/configmaps/trial/during-$trial" x >/dev/null ||
    fail "trial $trial: the healthy members took no write while cp-2's restore was stopped"
  if [ $((idx % 2)) -eq 0 ]; then
    expect_rc 0 kdr restore --resume "$id" --yes
    resumed=$((resumed + 1))
    assert_whole
    [ -d "$R2/var/lib/etcd.kdr-$id" ] || [ "$k" -lt 3 ] || fail "trial $trial: the old data dir was not kept aside"
    expect_rc 0 kdr restore --discard "$id" --yes
  else
    expect_rc 0 kdr restore --rollback "$id" --yes
    rolled=$((rolled + 1))
    assert_eq "$(sha256sum < "$R2/etc/kubernetes/manifests/etcd.yaml")" "$manifest_before" "trial $trial: cp-2's manifest after the rollback"
    [ -d "$R2/var/lib/etcd" ] && [ ! -e "$R2/var/lib/etcd.kdr-$id" ] || fail "trial $trial: cp-2's data dir is not back"
    assert_eq "$(stat -c %i "$R2/var/lib/etcd")" "$dir_before" "trial $trial: inode of cp-2's data dir after the rollback"
    assert_eq "$(stat -c %i "$R2/var/lib/etcd/kdr-marker"):$(cat "$R2/var/lib/etcd/kdr-marker")" \
      "$marker_before:marker of trial $trial" "trial $trial: the marker file in cp-2's data dir after the rollback"
    if [ "$k" -ge 4 ]; then
      added=$(sandbox_etcdctl "$R1" member list -w json | jq --arg p "$cp2_peer" '[.members[] | select(.peerURLs | index($p))] | length')
      assert_eq "$added" 0 "trial $trial: members with cp-2's peer URL after the rollback"
    fi
    [ "$k" -lt 2 ] || assert_contains "$OUT" "cannot be added back under its id"
    # the cluster made whole again, as the rollback says
    expect_rc 0 kdr restore replace-etcd-member --yes
    assert_whole
    expect_rc 0 kdr restore --discard "$(restore_id)" --yes
  fi
done
echo "$n kills: $resumed resumed, $rolled rolled back"
record "replace-etcd-member killed (SIGKILL) right after each journaled change, then --resume or --rollback, on three real etcd members" "$n" \
  "$resumed resumed (three voting members, every key on every member, the old data dir kept aside), $rolled rolled back (cp-2's manifest back byte for byte, its data dir back as the very folder it was: its inode and a marker file in it unchanged; no member it added left; replace-etcd-member run again made the cluster whole); the other members took writes throughout" \
  nothing
