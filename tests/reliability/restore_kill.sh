#!/usr/bin/env bash
# SIGKILL at random moments of a guided restore (restore-etcd-snapshot on a node whose
# static pods run under the kubelet stand-in, with a real etcd), then --resume or
# --rollback in turn; every third time the recovery command is killed at a random moment
# too and run again. After --resume etcd serves the backup's keys from the manifest's data
# dir and the pre-restore data dir is kept aside; after --rollback etcd serves exactly the
# pre-restore keys. Nothing of the node's own data is ever lost.
source "$(dirname "$0")/../lib/reliability.sh"

n=$(trials 4 60)
PB=restore-etcd-snapshot
make_running_node
sandbox_fill_etcd "$ROOT" 20 50000
expect_rc 0 kdr -q backup
backup_keys=$(etcd_keys /registry/)

disaster() {  # TRIAL: deletes keys, writes a marker only the pre-restore data holds
  sandbox_wait_etcd "$ROOT" 30
  sandbox_etcdctl "$ROOT" del --prefix /registry/pods/ >/dev/null
  sandbox_etcdctl "$ROOT" put "/registry/pre-restore/marker-$1" "trial-$1" >/dev/null
  pre_keys=$(etcd_keys /registry/)
}

step "an unkilled restore and rollback, timed"
disaster 0
restore_cs=$(elapsed_cs kdr restore $PB --yes --set accept_loss=true)
id=$(restore_id)
rollback_cs=$(elapsed_cs kdr restore --rollback "$id" --yes)
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(etcd_keys /registry/)" "$pre_keys" "keys after the timed rollback"
echo "a restore takes $restore_cs cs, a rollback $rollback_cs cs"

# recover VERB ID: runs `kdr restore --VERB ID --yes`; killed first at a random moment
# every third trial (then run again)
recover() {
  if [ $((trial % 3)) -eq 0 ]; then
    local range=$rollback_cs
    [ "$1" = rollback ] || range=$restore_cs
    run_killed_at $(( RANDOM % (range + 1) )) "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" restore "--$1" "$2" --yes
    [ "$KILLED_RC" -ne 137 ] || recovery_kills=$((recovery_kills + 1))
  fi
  expect_rc 0 kdr restore "--$1" "$2" --yes
}

resumed=0 rolled=0 finished=0 before_start=0 recovery_kills=0
last=$(restore_id)
for trial in $(seq 1 "$n"); do
  step "trial $trial"
  disaster "$trial"
  run_killed_at $(( RANDOM % (restore_cs + 1) )) "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" restore $PB --yes --set accept_loss=true
  id=$(restore_id)
  if [ "$id" = "$last" ]; then
    # killed before the restore wrote its plan: nothing happened
    before_start=$((before_start + 1))
    assert_eq "$(etcd_keys /registry/)" "$pre_keys" "keys after a restore killed before it began"
    continue
  fi
  last=$id
  case $KILLED_RC in
    137) ;;
    0) finished=$((finished + 1)) ;;
    *) cat "$T/killed.out" >&2; fail "trial $trial: restore exited $KILLED_RC" ;;
  esac
  if [ "$KILLED_RC" -eq 0 ] || [ $((trial % 2)) -eq 1 ]; then
    [ "$KILLED_RC" -eq 0 ] || { recover resume "$id"; resumed=$((resumed + 1)); }
    sandbox_wait_etcd "$ROOT" 30
    assert_eq "$(etcd_keys /registry/)" "$backup_keys" "trial $trial: keys after the restore"
    assert_eq "$(serving_data_dir)" "$ROOT/var/lib/etcd" "trial $trial: serving data dir"
    grep -rqa "pre-restore/marker-$trial" "$ROOT/var/lib/etcd.kdr-$id" ||
      fail "trial $trial: the pre-restore data dir was not kept aside"
    expect_rc 0 kdr restore --discard "$id" --yes
  else
    recover rollback "$id"
    rolled=$((rolled + 1))
    sandbox_wait_etcd "$ROOT" 30
    assert_eq "$(etcd_keys /registry/)" "$pre_keys" "trial $trial: keys after the rollback"
    [ ! -e "$ROOT/var/lib/etcd.kdr-$id" ] || fail "trial $trial: data still aside after the rollback"
  fi
  [ -z "$(ls -A "$ROOT/etc/kubernetes/manifests" | grep -v '\.yaml$')" ] || fail "trial $trial: stray files in the static pod folder"
done
echo "$n kills: $resumed resumed, $rolled rolled back, $finished finished first, $before_start before the plan was written; $recovery_kills recoveries killed and run again"
record "restore killed (SIGKILL) at a random moment, then --resume or --rollback" "$n" \
  "$resumed resumed (etcd serves the backup's keys from the manifest's data dir, the pre-restore data dir kept aside), $rolled rolled back (etcd serves exactly the pre-restore keys), $finished had finished, $before_start had not begun; $recovery_kills resumes or rollbacks were themselves killed and run again" \
  nothing
