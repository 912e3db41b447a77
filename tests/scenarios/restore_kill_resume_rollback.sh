#!/usr/bin/env bash
# A restore killed (SIGKILL) after each step in turn, and after each single change it makes:
# --resume finishes it (etcd serves the backup's keys), and --rollback returns the node to
# its pre-restore state byte for byte. The kills come from kdr's failpoints
# (KDR_FAILPOINT=restore-after-step:N / restore-after-action:N, docs/playbooks.md).
# kdr-test: release build (kdr's restore journal, resume and rollback: the snapshot tools of 3.4
# and 3.5 are restored with by the other restore scenarios on both; its kills and resumes of
# every step, under the sanitizers, took a fifth of their stage: the unit tests of the restore
# journal run there)
source "$(dirname "$0")/../lib/scenario.sh"

PB=restore-etcd-snapshot
STEPS=7

step "a running node, backed up"
make_running_node
kdr backup -q
backup_keys=$(etcd_keys /registry/)

disaster() {
  sandbox_wait_etcd "$ROOT" 30
  sandbox_etcdctl "$ROOT" del --prefix /registry/pods/ >/dev/null
  [ "$(etcd_keys /registry/)" != "$backup_keys" ] || fail "the disaster did not happen"
}

killed_restore() {  # FAILPOINT: runs the restore, expects it killed; sets $id
  local rc=0
  KDR_FAILPOINT=$1 kdr restore $PB --yes --set accept_loss=true >"$T/killed.log" 2>&1 || rc=$?
  [ "$rc" -eq 137 ] || { cat "$T/killed.log" >&2; fail "restore with $1 exited $rc, not killed"; }
  id=$(restore_id)
}

for k in $(seq 1 $STEPS); do
  step "killed after step $k/$STEPS, then --resume"
  disaster
  killed_restore "restore-after-step:$k"
  expect_rc 0 kdr restore --resume "$id" --yes
  sandbox_wait_etcd "$ROOT" 30
  assert_eq "$(etcd_keys /registry/)" "$backup_keys" "keys after resuming a restore killed after step $k"
  assert_eq "$(serving_data_dir)" "$ROOT/var/lib/etcd" "serving data dir after resume ($k)"
done

for n in 1 4 5 6 7 10; do
  step "killed after change $n, then --resume"
  disaster
  killed_restore "restore-after-action:$n"
  expect_rc 0 kdr restore --resume "$id" --yes
  sandbox_wait_etcd "$ROOT" 30
  assert_eq "$(etcd_keys /registry/)" "$backup_keys" "keys after resuming a restore killed after change $n"
done

step "rollback of a finished restore brings back the data it replaced"
disaster
sandbox_etcdctl "$ROOT" put /registry/after-backup written-later >/dev/null
damaged_keys=$(etcd_keys /registry/)
expect_rc 0 kdr restore $PB --yes --set accept_loss=true
id=$(restore_id)
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(etcd_keys /registry/)" "$backup_keys" "keys after the restore"
expect_rc 0 kdr restore --rollback "$id" --yes
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(etcd_keys /registry/)" "$damaged_keys" "keys after the rollback (the node's own data)"
[ ! -e "$ROOT/var/lib/etcd.kdr-$id" ] || fail "the moved-aside data dir is still aside after the rollback"
expect_rc 2 kdr restore --resume "$id" --yes
assert_contains "$OUT" "rolled back"
expect_rc 0 kdr restore --rollback "$id" --yes
assert_contains "$OUT" "rolled back already"

step "a rollback killed right after taking the restored manifests out waits for their pods when run again"
# (the restored etcd still runs then; swapping its data dir under it would leave it serving
# the restored keys)
disaster
sandbox_etcdctl "$ROOT" put /registry/pre-restore/marker written-before >/dev/null
pre_keys=$(etcd_keys /registry/)
killed_restore "restore-after-step:6"
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(etcd_keys /registry/)" "$backup_keys" "keys served once the restored manifests are in"
KDR_FAILPOINT=rollback-after-action:4 kdr restore --rollback "$id" --yes >/dev/null 2>&1 && fail "the rollback was not killed"
expect_rc 0 kdr restore --rollback "$id" --yes
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(etcd_keys /registry/)" "$pre_keys" "keys after a rollback run again"

step "byte for byte: the control plane is down (kubelet stopped), a hash of every file is taken"
sandbox_stop_kubelet "$ROOT"
before=$(node_state)
for k in $(seq 1 $((STEPS - 1))); do
  step "killed after step $k/$STEPS, then --rollback: the node is as before"
  killed_restore "restore-after-step:$k"
  expect_rc 0 kdr restore --rollback "$id" --yes
  diff <(echo "$before") <(node_state) || fail "node differs after rolling back a restore killed after step $k"
done
for n in $(seq 1 10); do
  step "killed after change $n, then --rollback"
  killed_restore "restore-after-action:$n"
  expect_rc 0 kdr restore --rollback "$id" --yes
  diff <(echo "$before") <(node_state) || fail "node differs after rolling back a restore killed after change $n"
done

step "killed while its journal folder is being made: the restore has not begun, and nothing says it has"
before=$(node_state)
listed=$(kdr restores | wc -l)
KDR_FAILPOINT=journal-before-publish:1 kdr restore "$PB" --yes >/dev/null 2>&1 && fail "the restore was not killed"
ls -a "$ROOT/var/lib/kdr/restores" | grep -q '^\..*\.tmp$' || fail "the failpoint did not stop kdr while it made the folder"
assert_eq "$(kdr restores | wc -l)" "$listed" "restores listed after one killed before it began"
assert_eq "$(node_state)" "$before" "the node after a restore killed before it began"
expect_rc 0 kdr backup --dry-run  # not refused (11) as after a half-done restore
expect_rc 0 kdr restore "$PB" --dry-run

step "a half-done restore blocks backups until it is resumed or rolled back"
killed_restore "restore-after-step:6"
! ls -a "$ROOT/var/lib/kdr/restores" | grep -q '^\..*\.tmp$' || fail "the next restore left the killed one's leftover"
expect_rc 11 kdr backup
assert_contains "$OUT" "is unfinished"
rollback=$(grep -o "roll it back (kdr [^)]*)" <<<"$OUT" | sed 's/^roll it back (//; s/)$//')
assert_eq "$rollback" "kdr --root $ROOT --backup-dir $BACKUP restore --rollback $id" "the rollback command the refusal prints"
expect_rc 2 kdr restore --discard "$id" --yes
assert_contains "$OUT" "only a finished restore's replaced data can be discarded"

step "a rollback killed half-way can be run again, as the refusal printed it"
KDR_FAILPOINT=rollback-after-action:2 kdr restore --rollback "$id" --yes >/dev/null 2>&1 && fail "the rollback was not killed"
eval "set -- $rollback"
shift
expect_rc 0 "$KDR_BIN" "$@" --yes
diff <(echo "$before") <(node_state) || fail "node differs after a rollback run twice"
