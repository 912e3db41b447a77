#!/usr/bin/env bash
# SIGKILL at random moments of `kdr journal run` while a writer keeps etcd busy (puts,
# overwrites, deletes), each once the follower follows etcd; every third follower instead dies
# in the middle of a write (KDR_FAILPOINT=journal-append-torn:N writes half a batch, then
# SIGKILL). After every kill the next follower drops a torn end (a record cut short, or
# records after the last seal) and goes on; in the end the journal holds exactly one event per
# etcd revision since its base (nothing lost, nothing twice), `kdr journal verify` recomputes
# every digest and seal, and a replay to the newest revision equals etcd's keyspace key by key.
source "$(dirname "$0")/../lib/reliability.sh"

n=$(trials 10 200)
make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1, sync_ms: 50}'
expect_rc 0 kdr -q backup
base=$(jq '.etcd.snapshot.revision' "$(latest_gen)/meta.json")

(
  i=0
  while :; do
    i=$((i + 1))
    sandbox_etcdctl "$ROOT" put "/registry/configmaps/load/cm-$((i % 13))" "value-$i-$(head -c 200 /dev/zero | tr '\0' x)" >/dev/null 2>&1 || true
    [ $((i % 4)) -ne 0 ] || sandbox_etcdctl "$ROOT" del "/registry/configmaps/load/cm-$((i % 5))" >/dev/null 2>&1 || true
  done
) &
writer=$!
SCENARIO_BG_PIDS+=("$writer")

# follow_then_kill CS [FAILPOINT]: a follower, SIGKILLed CS hundredths of a second after it
# follows etcd (state.json names its pid, state following), unless its failpoint killed it first.
follow_then_kill() {
  local cs=$1 pid i
  KDR_FAILPOINT=${2:-} "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" journal run >"$T/killed.out" 2>&1 &
  pid=$!
  SCENARIO_BG_PIDS+=("$pid")
  for i in $(seq 1 200); do
    [ "$(jq -r --argjson p "$pid" 'select(.pid == $p) | .state' "$BACKUP/journal/state.json" 2>/dev/null)" = following ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  sleep "$(printf '%d.%02d' $((cs / 100)) $((cs % 100)))"
  kill -KILL "$pid" 2>/dev/null || true
  KILLED_RC=0
  wait "$pid" 2>/dev/null || KILLED_RC=$?
}
# what the next follower found at the end of the segment a kill left
tally_torn() {
  local line
  line=$(grep "a torn end was dropped" "$1" | head -1) || return 0
  case $line in
    *"after the last seal"*) unsealed=$((unsealed + 1)) ;;
    *"the record needs"* | *"shorter than a record header"*) cut=$((cut + 1)) ;;
    *) half=$((half + 1)) ;;
  esac
}

cut=0 unsealed=0 half=0 failpoints=0
for i in $(seq 1 "$n"); do
  if [ $((i % 3)) -eq 0 ]; then
    follow_then_kill 300 "journal-append-torn:$((1 + RANDOM % 8))"
    failpoints=$((failpoints + 1))
  else
    follow_then_kill $(( RANDOM % 100 ))
  fi
  [ "$KILLED_RC" -eq 137 ] || { cat "$T/killed.out" >&2; fail "trial $i: the follower exited $KILLED_RC before the kill"; }
  tally_torn "$T/killed.out"
  expect_rc 0 kdr journal verify
done
kill -KILL "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true

start_follower
wait_caught_up
want=$(etcd_revision)
stop_follower TERM
tally_torn "$T/follower.log"
torn=$((cut + unsealed + half))
[ "$cut" -gt 0 ] || fail "no kill left a record cut short: the torn-end recovery was not exercised"
expect_rc 0 kdr journal verify
events=$(kdr journal verify --json | jq '.events')
assert_eq "$events" "$((want - base))" "events journaled (one per revision since the base, after $n kills)"
assert_eq "$({ kdr journal status --json || true; } | jq '.gaps | length')" 0 "gaps"
expect_rc 0 kdr journal compact
snapshot_keyspace "$(ls "$BACKUP"/journal/epoch-000001/bases/*.db | tail -1)" > "$T/replayed.txt"
live_keyspace > "$T/live.txt"
diff "$T/live.txt" "$T/replayed.txt" >&2 || fail "the replayed keyspace differs from etcd's"
echo "$n kills ($failpoints in the middle of a write), torn ends dropped: $cut records cut short, $unsealed after the last seal, $half half revisions; $events events, replay equal to etcd"
record "journal follower killed (SIGKILL) under writes: at a random moment once it follows etcd, or (every third) in the middle of a write" "$n" \
  "$torn torn ends found and dropped by the next follower ($cut records cut short, $unsealed runs of records after the last seal, $half half revisions); every revision since the base journaled exactly once ($events events), kdr journal verify (digests and seals) clean after every kill, the replay to the newest revision equal to etcd's keyspace key by key" \
  nothing
