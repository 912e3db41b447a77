#!/usr/bin/env bash
# One run at a time (a cron overlap exits at once with the 'locked' code), and a run killed
# with SIGKILL at any moment leaves every earlier generation intact, nothing that looks
# complete, and leftovers that the next run removes.
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

step "SIGKILL at several moments of a run"
trials=${KDR_CRASH_TRIALS:-12}
seen_staging=0
for i in $(seq 1 "$trials"); do
  # every trial changes the big file so the run has real copying to do
  printf '%08d' "$i" | dd of="$ROOT/var/lib/etcd/member/big.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
  before=$(latest_gen)
  "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" -q backup >/dev/null 2>&1 &
  pid=$!
  SCENARIO_BG_PIDS+=("$pid")
  cs=$(( 5 + (i * 37) % 180 ))  # 0.05 s to 1.84 s: from start-up to publishing
  sleep "$(printf '%d.%02d' $((cs / 100)) $((cs % 100)))"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  ls -A "$BACKUP/generations" | grep -q '^\.tmp-' && seen_staging=$((seen_staging + 1))
  assert_all_generations_verify
  # the last good generation survives a killed run, unless that run published a newer one
  # (retention may then remove the older)
  [ -f "$before/meta.json" ] || [ "$(latest_gen)" != "$before" ] || fail "a killed run lost the last good generation"
done
echo "killed $trials runs; $seen_staging were killed while building a generation, the rest before or after"
[ "$seen_staging" -gt 0 ] || fail "no kill landed during a run (the trials prove nothing)"

step "the next run cleans the leftovers and publishes a complete generation"
expect_rc 0 kdr -v backup
[ -z "$(ls -A "$BACKUP/generations" | grep '^\.')" ] || fail "leftovers remain: $(ls -A "$BACKUP/generations")"
assert_all_generations_verify
cmp "$ROOT/var/lib/etcd/member/big.bin" "$(latest_gen)/files/var/lib/etcd/member/big.bin" || fail "latest content"
