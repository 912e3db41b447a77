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

step "a folder swapped for a symlink while kdr removes a leftover: nothing outside the backup folder is deleted"
# A generation being removed (prune), left by a killed run, is removed by the next backup. The
# moment kdr opens its folder d to remove what it holds, whoever writes the disk exchanges d
# with a symlink to the victim, which holds files of the same names (tests/helpers:
# swap-on-open). A removal by path (d/f1, d/f2, ...) would go on in the victim.
: "${KDR_SWAP_ON_OPEN:?KDR_SWAP_ON_OPEN must point at the swap-on-open helper}"
victim=$T/victim
left=$BACKUP/generations/.del-2020-01-01T000000Z
trials=3
for t in $(seq 1 "$trials"); do
  rm -rf "$victim" "$left"; mkdir -p "$victim" "$left/d"
  (cd "$victim" && seq 1 2000 | sed 's/^/f/' | xargs touch)
  (cd "$left/d" && seq 1 2000 | sed 's/^/f/' | xargs touch)
  rm -rf "$BACKUP/swapped"
  "$KDR_SWAP_ON_OPEN" "$left/d" "$victim" "$BACKUP/swapped" > "$T/swap.out" 2>&1 &
  swapper=$!
  SCENARIO_BG_PIDS+=("$swapper")
  for i in $(seq 1 100); do grep -q watching "$T/swap.out" && break; sleep 0.05; done
  "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" -q backup >/dev/null 2>&1 || true
  wait "$swapper" || { cat "$T/swap.out" >&2; fail "trial $t: the swap did not happen: the test proves nothing"; }
  n=$(ls "$victim" | wc -l)
  [ "$n" = 2000 ] || fail "trial $t: kdr deleted $((2000 - n)) files outside the backup folder"
  expect_rc 0 kdr -q backup  # the leftover (a symlink now, and the folder beside it) goes; the victim stays
  [ ! -e "$left" ] || fail "trial $t: the leftover is still there"
  [ "$(ls "$victim" | wc -l)" = 2000 ] || fail "trial $t: the victim lost files to the second backup"
done
