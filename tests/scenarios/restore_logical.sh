#!/usr/bin/env bash
# Logical disaster: a namespace's keys are deleted. restore-etcd-snapshot brings them back,
# etcd is healthy, and the etcd that serves runs on the manifest's data dir with the
# restored data (a new cluster id, the old data kept aside). Real etcd behind the kubelet
# stand-in.
source "$(dirname "$0")/../lib/scenario.sh"

step "a running node, backed up"
make_running_node
kdr backup -q
before_keys=$(etcd_keys /registry/)
old_cluster=$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq -r '.[0].Status.header.cluster_id')

step "disaster: namespace team-2 and everything in it deleted"
sandbox_etcdctl "$ROOT" del --prefix /registry/configmaps/team-2/ >/dev/null
sandbox_etcdctl "$ROOT" del --prefix /registry/pods/team-2/ >/dev/null
sandbox_etcdctl "$ROOT" del /registry/namespaces/team-2 >/dev/null
[ -z "$(etcd_keys /registry/pods/team-2/)" ] || fail "the keys were not deleted"
# Counted off etcd's history (a watch from the backup's revision): a key written twice counts
# once, a key written and deleted again is not lost.
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-1/written-after-the-backup w >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-1/written-after-the-backup x >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-1/also-after-the-backup y >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-1/gone-again z >/dev/null
sandbox_etcdctl "$ROOT" del /registry/configmaps/team-1/gone-again >/dev/null

step "the restore would roll a live, newer etcd back: refused, even with --yes, with what would be lost counted"
backup_rev=$(jq -r '.etcd.snapshot.revision' "$(latest_gen)/meta.json")
live_rev=$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq -r '.[0].Status.header.revision')
[ "$live_rev" -eq $((backup_rev + 8)) ] || fail "expected 8 writes since the backup (4 deletes, 4 puts): $backup_rev -> $live_rev"
loss="live etcd at revision $live_rev, the backup at revision $backup_rev: 8 changes and 2 keys written since the backup will be lost"
expect_rc 1 kdr restore restore-etcd-snapshot --yes
assert_contains "$OUT" "$loss"
assert_contains "$OUT" "--set accept_loss=true"
assert_contains "$OUT" "nothing was changed"
assert_eq "$(sandbox_etcdctl "$ROOT" get --print-value-only /registry/configmaps/team-1/written-after-the-backup)" "x" "a key written after the backup, after the refusal"
expect_rc 1 kdr restore restore-etcd-snapshot --dry-run
assert_contains "$OUT" "etcd data   $loss"

step "kdr restore restore-etcd-snapshot --set accept_loss=true, answered 'a' (yes to all) at the first question"
expect_rc 0 bash -c 'echo a | "$@"' _ "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" restore restore-etcd-snapshot --set accept_loss=true
assert_contains "$OUT" "accepted (accept_loss=true): $loss"
discard=$(grep -o 'Once the cluster is confirmed good, `[^`]*`' <<<"$OUT" | sed 's/.*`\(.*\)`/\1/')
rollback=$(grep -o 'until then `[^`]*`' <<<"$OUT" | sed 's/.*`\(.*\)`/\1/')
assert_contains "$discard" "kdr --root $ROOT --backup-dir $BACKUP restore --discard "
assert_contains "$rollback" "kdr --root $ROOT --backup-dir $BACKUP restore --rollback "
[ "$(grep -c 'Go ahead?' <<<"$OUT")" -eq 0 ] || { echo "$OUT"; fail "asked again after 'a'"; }
assert_contains "$OUT" "etcd is healthy"
assert_contains "$OUT" "finished"

step "the keys are back and etcd serves the restored data from the manifest's data dir"
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(etcd_keys /registry/)" "$before_keys" "keys after the restore"
assert_eq "$(serving_data_dir)" "$ROOT/var/lib/etcd" "data dir of the serving etcd"
new_cluster=$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq -r '.[0].Status.header.cluster_id')
[ "$new_cluster" != "$old_cluster" ] || fail "etcd still serves the old member (cluster id $old_cluster)"
id=$(restore_id)
[ -d "$ROOT/var/lib/etcd.kdr-$id/member" ] || fail "the replaced data dir was not kept aside"
for m in etcd kube-apiserver kube-controller-manager kube-scheduler; do
  [ -f "$ROOT/etc/kubernetes/manifests/$m.yaml" ] || fail "manifest $m.yaml is not back"
done
[ -z "$(ls "$ROOT/var/lib/kdr/restores/$id/manifests")" ] || fail "manifests left in kdr's state folder"

step "the journal says done; kdr restores lists it; a resume is a no-op"
expect_rc 0 kdr restores
assert_contains "$OUT" "done"
expect_rc 0 kdr restore --resume "$id"
assert_contains "$OUT" "finished already"
grep -q '"event":"finished"' "$ROOT/var/lib/kdr/restores/$id/journal.jsonl" || fail "journal has no finished event"
jq -se --argjson live "$live_rev" --argjson b "$backup_rev" 'any(.[]; .event == "loss-accepted" and
    .loss.live_revision == $live and .loss.backup_revision == $b and .loss.keys_changed == 2)' \
  "$ROOT/var/lib/kdr/restores/$id/journal.jsonl" >/dev/null || fail "the journal does not record the loss accepted"

step "a new backup of the restored node verifies"
expect_rc 0 kdr backup --verify

step "--discard, run as the restore printed it, deletes what the restore kept aside; no rollback after it"
eval "set -- $discard"
shift
expect_rc 0 "$KDR_BIN" "$@" --yes
assert_contains "$OUT" "deleted $ROOT/var/lib/etcd.kdr-$id"
[ ! -e "$ROOT/var/lib/etcd.kdr-$id" ] || fail "the data kept aside is still there"
eval "set -- $rollback"
shift
expect_rc 2 "$KDR_BIN" "$@" --yes
assert_contains "$OUT" "was discarded"
assert_eq "$(etcd_keys /registry/)" "$before_keys" "keys after the discard"
