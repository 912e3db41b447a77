#!/usr/bin/env bash
# The restore test on a backup disk (a small tmpfs) with too little room for it. The test
# restores into a private etcd in a scratch folder on that disk: the snapshot's private copy
# and etcd's restored data dir (the database's size each) and etcd's preallocated 64 MiB log
# segment.
#   - room for the backup but not for its restore test: the backup publishes its generation,
#     the test is refused before it writes anything (exit 4, a finding that names the disk,
#     its free MiB and what the test needs), the metric says it failed, nothing is left;
#   - kdr verify --restore-test on the same disk: the same refusal;
#   - room again: PROVEN;
#   - all free space taken right after the test checked its room (held there by
#     KDR_PAUSEPOINT): the test fails with a clear error, stops its private etcd, removes its
#     scratch folder, and every generation still verifies.
# kdr-test: once (room on the backup disk: the same on either etcd)
source "$(dirname "$0")/../lib/scenario.sh"

make_running_node
mkdir -p "$ROOT/var/lib/node-exporter"
config 'kubeconfig: ""
metrics: {textfile_dir: /var/lib/node-exporter}'
prom=$ROOT/var/lib/node-exporter/kdr_restore_test.prom
sandbox_fill_etcd "$ROOT" 20 400000
mount_tmpfs "$T/disk2" 400m
mib=1048576
db=$(stat -c %s "$ROOT/var/lib/etcd/member/snap/db")
free_bytes() { echo $(( $(stat -f -c '%a * %S' "$T/disk2") )); }
# leave BYTES: a filler file takes all free space on the backup disk but BYTES
leave() {
  rm -f "$T/disk2/filler"
  fallocate -l $(( $(free_bytes) - $1 )) "$T/disk2/filler"
}
# no_leftovers: no process of the restore test runs, its scratch folder is gone
no_leftovers() {
  if pgrep -f "$BACKUP/restore-tests" >/dev/null; then fail "a process of the restore test still runs: $(pgrep -af "$BACKUP/restore-tests")"; fi
  [ ! -e "$BACKUP/restore-tests/scratch" ] || fail "the scratch folder is left behind: $(ls -la "$BACKUP/restore-tests/scratch")"
}

step "room for the backup ($((db / mib)) MiB database), not for its restore test: the generation is published, the test refused"
# the backup needs the database and 64 MiB; the test twice the database, a fifth more and 80 MiB
leave $(( db + 80 * mib ))
expect_rc 4 kdr backup
gen=$(basename "$(latest_gen)")
assert_contains "$OUT" "Restore test of generation $gen"
assert_contains "$OUT" "no-room: $BACKUP/restore-tests/scratch: the backup disk has"
assert_contains "$OUT" "MiB free here; the restore test needs about"
assert_contains "$OUT" "nothing was restored"
assert_contains "$OUT" "FAILED: generation $gen"
no_leftovers
grep -q '^kdr_restore_test_success 0$' "$prom" || fail "the metric does not say the test failed: $(cat "$prom")"
expect_rc 0 kdr verify "$gen"
expect_rc 0 kdr show "$gen"
assert_contains "$OUT" "the restore test needs about"

step "kdr verify --restore-test on the same disk: refused the same way, before it writes"
expect_rc 4 kdr verify --restore-test
assert_contains "$OUT" "the restore test needs about"
no_leftovers

step "room again: PROVEN"
rm -f "$T/disk2/filler"
expect_rc 0 kdr verify --restore-test
assert_contains "$OUT" "PROVEN: generation $gen"
grep -q '^kdr_restore_test_success 1$' "$prom" || fail "the metric does not say success: $(cat "$prom")"
no_leftovers

step "all free space taken once the room was checked: a clear failure, nothing left behind"
# The test is held right after its room check (KDR_PAUSEPOINT stops it there), the disk is
# filled but 4 KiB, and it goes on: every write it makes then fails for want of space.
KDR_PAUSEPOINT=restore-test-after-room-check "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" verify --restore-test \
  >"$T/test.out" 2>&1 &
pid=$!
SCENARIO_BG_PIDS+=("$pid")
wait_paused "$pid" "the restore test (after its room check)" "$T/test.out"
[ -d "$BACKUP/restore-tests/scratch" ] || fail "no scratch folder when the room was checked"
fallocate -l $(( $(free_bytes) - 4096 )) "$T/disk2/filler.full"
kill -CONT "$pid"
rc=0
wait "$pid" || rc=$?
OUT=$(cat "$T/test.out")
echo "$OUT"
assert_eq "$rc" 4 "a restore test that ran out of space"
grep -qiE 'no space left|MiB free' <<<"$OUT" || fail "no clear message for the full disk"
assert_contains "$OUT" "FAILED: generation $gen"
no_leftovers
rm -f "$T/disk2"/filler.*
expect_rc 0 kdr verify
