#!/usr/bin/env bash
# What whoever can write the backup disk, or another local user, can leave where kdr reads:
# a meta.json that is a FIFO (a read would wait forever, holding the lock) or a symlink to
# /dev/zero (a read would never end) is reported and skipped, and the lock is released; a
# backup folder others can read is made 0700; a state folder another user owns, or one others
# can write, is refused, naming it.
# kdr-test: once
source "$(dirname "$0")/../lib/scenario.sh"

step "a node with two generations"
make_node_with_etcd_data
kdr -q backup
sleep 1.1
kdr -q backup
old=$(ls "$BACKUP/generations" | head -n 1)

for kind in fifo zero; do
  step "meta.json of the older generation replaced by a $kind: list, verify and backup go on and say so"
  meta=$BACKUP/generations/$old/meta.json
  mv "$meta" "$T/meta.json.saved"
  if [ "$kind" = fifo ]; then mkfifo "$meta"; else ln -s /dev/zero "$meta"; fi
  rc=0; OUT=$(timeout 30 "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" list 2>&1) || rc=$?
  [ "$rc" -ne 124 ] || fail "kdr list hangs on a $kind meta.json"
  assert_contains "$OUT" "$old"
  if [ "$kind" = fifo ]; then assert_contains "$OUT" "is a fifo, not a regular file"
  else assert_contains "$OUT" "is a symlink where kdr writes a file; not followed"; fi
  rc=0; OUT=$(timeout 60 "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" backup 2>&1) || rc=$?
  [ "$rc" -ne 124 ] || fail "kdr backup hangs on a $kind meta.json"
  [ "$rc" -eq 0 ] || { echo "$OUT"; fail "kdr backup: exit $rc with a $kind meta.json in an old generation"; }
  # the lock was released: the next run gets it at once
  rc=0; OUT=$(timeout 60 "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" backup 2>&1) || rc=$?
  [ "$rc" -eq 0 ] || { echo "$OUT"; fail "the backup after: exit $rc"; }
  rm -f "$meta"
  mv "$T/meta.json.saved" "$meta"
done

step "a backup folder others can read is made 0700"
chmod 755 "$BACKUP"
expect_rc 0 kdr backup
assert_eq "$(stat -c %a "$BACKUP")" 700 "mode of the backup folder after a backup"

step "a state folder another user owns, or one others can write, is refused"
state=$ROOT/var/lib/kdr
mkdir -p "$state"
chown 65534 "$state"
expect_rc 1 kdr restore restore-files --yes
assert_contains "$OUT" "$state: the folder is owned by uid 65534"
chown 0 "$state"
chmod 777 "$state"
expect_rc 1 kdr restore restore-files --yes
assert_contains "$OUT" "$state: the folder has mode 0777: others can write into it"
chmod 700 "$state"
