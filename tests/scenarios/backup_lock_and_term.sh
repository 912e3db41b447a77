#!/usr/bin/env bash
# One run at a time (a cron overlap exits at once with the 'locked' code), and SIGTERM stops
# a run cleanly. SIGKILL at random moments is tests/reliability/backup_kill.sh.
# kdr-test: once (files only: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

make_node_with_etcd_data 20 20000
# few generations kept, so that checking them all after every kill stays quick
config 'etcd: {snapshot: false}
retention: {keep_last: 3, hourly: 0, daily: 0, weekly: 0}'
# A big file so that kills land in the middle of copying, too.
head -c 150000000 /dev/urandom > "$ROOT/var/lib/etcd/member/big.bin"
expect_rc 0 kdr backup

step "a second run while the lock is held exits with 'locked' (11)"
exec 9>"$BACKUP/.lock"
flock -x 9
expect_rc 11 kdr backup
assert_contains "$OUT" "another kdr run holds the lock"
exec 9>&-

step "SIGTERM (or Ctrl-C) stops a run cleanly: exit 130, its staging folder removed"
printf 'term' | dd of="$ROOT/var/lib/etcd/member/big.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
stopped=0
for delay in 0.1 0.2 0.3 0.4 0.6; do
  "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" -q backup >"$T/term.out" 2>&1 &
  pid=$!
  SCENARIO_BG_PIDS+=("$pid")
  sleep "$delay"
  kill -TERM "$pid" 2>/dev/null || true
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" -eq 130 ]; then
    stopped=$((stopped + 1))
    grep -q "interrupted by a signal" "$T/term.out" || fail "no message for an interrupted run"
    [ -z "$(ls -A "$BACKUP/generations" | grep '^\.tmp-')" ] || fail "an interrupted run left its staging folder"
  else
    # 0: the run finished first; 143: the signal came before kdr had started up
    [ "$rc" -eq 0 ] || [ "$rc" -eq 143 ] || fail "a run stopped by SIGTERM exited $rc"
  fi
  assert_all_generations_verify
done
[ "$stopped" -gt 0 ] || fail "no SIGTERM landed during a run"

step "backup --verify verifies under the backup's own lock, kept: no prune or backup slips in between"
KDR_PAUSEPOINT=backup-before-verify "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" backup --verify >"$T/bv.out" 2>&1 &
pid=$!
SCENARIO_BG_PIDS+=("$pid")
wait_paused "$pid" "backup --verify" "$T/bv.out"
grep -q "FLOCK  ADVISORY  WRITE $pid " /proc/locks || fail "backup --verify (pid $pid), between backup and verify, does not hold the exclusive lock: $(cat /proc/locks)"
expect_rc 11 kdr prune
assert_contains "$OUT" "another kdr run holds the lock on $BACKUP: pid $pid"
expect_rc 11 kdr backup
assert_contains "$OUT" "pid $pid"
kill -CONT "$pid"
rc=0; wait "$pid" || rc=$?
# 4: this node's etcd is not running (verify says so); the backup and the verify both ran
[ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || fail "the paused backup --verify exited $rc: $(cat "$T/bv.out")"
grep -q "kdr verify: generation" "$T/bv.out" || fail "no verify after the backup: $(cat "$T/bv.out")"
