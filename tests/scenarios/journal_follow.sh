#!/usr/bin/env bash
# kdr journal run against a real etcd with TLS (the kubelet stand-in runs it from the node's
# manifest): every change lands in the journal with no gap and no duplicate, through a
# SIGKILL of the follower, a torn last record, an etcd restart, defrags and compactions behind
# its position, and a full disk; a compaction (and defrag) past its position begins a new
# epoch that status and verify report, and a full snapshot is taken for it at once. The digest the journal keeps from the events equals the digest
# of etcd's keyspace read whole by a second journal.
source "$(dirname "$0")/../lib/scenario.sh"

make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1, sync_ms: 50}'

# (it exits 1 once no follower runs; the JSON says so too)
status_json() { kdr journal status --json || true; }
writes() {  # writes FROM TO: puts, overwrites and deletes
  local i
  for i in $(seq "$1" "$2"); do
    sandbox_etcdctl "$ROOT" put "/registry/configmaps/app/cm-$((i % 7))" "value-$i" >/dev/null
    [ $((i % 5)) -eq 0 ] && sandbox_etcdctl "$ROOT" del "/registry/configmaps/app/cm-$((i % 7))" >/dev/null
  done
  return 0
}
journal_events() { kdr journal verify --json | jq '.events'; }

step "a backup first: the journal starts from its snapshot"
expect_rc 0 kdr backup
gen=$(basename "$(latest_gen)")
gen_rev=$(jq '.etcd.snapshot.revision' "$(latest_gen)/meta.json")
sandbox_etcdctl "$ROOT" put /registry/secrets/app/after-backup x >/dev/null
start_follower
wait_caught_up
epoch=$BACKUP/journal/epoch-000001/epoch.json
assert_eq "$(jq -r '.base_generation' "$epoch")" "$gen" "the epoch's base generation"
assert_eq "$(jq '.base_revision' "$epoch")" "$gen_rev" "the epoch's base revision"
# its digest is the one the backup computed off the snapshot file (not the keyspace read again
# from etcd); the second journal at the end reads etcd's keyspace whole and must agree with it
assert_contains "$(cat "$T/follower.log")" "its digest as the backup recorded it"
assert_eq "$(jq -r '.base_digest' "$epoch")" "$(jq -r '.etcd.snapshot.keyspace_digest.digest' "$(latest_gen)/meta.json")" \
  "the epoch's base digest: the generation's recorded one"

step "puts, overwrites, deletes and an expiring lease: every revision journaled once"
lease=$(sandbox_etcdctl "$ROOT" lease grant 2 | awk '{print $2}')
sandbox_etcdctl "$ROOT" put --lease="$lease" /registry/leases/app/short-lived v >/dev/null
writes 1 40
lease_gone() { [ -z "$(sandbox_etcdctl "$ROOT" get /registry/leases/app/short-lived --print-value-only)" ]; }
wait_until 20 "the lease to expire and etcd to delete its key" lease_gone
wait_caught_up
rev=$(etcd_revision)
assert_eq "$(journal_events)" "$((rev - gen_rev))" "events in the journal (one per revision since the base)"
expect_rc 0 kdr journal find /registry/leases/app/short-lived
assert_contains "$OUT" "delete /registry/leases/app/short-lived"
last_put=$(sandbox_etcdctl "$ROOT" get /registry/configmaps/app/cm-3 -w json | jq '.kvs[0].mod_revision')
expect_rc 0 kdr journal find /registry/configmaps/app/cm-3 --limit 1 --json
assert_eq "$(jq '.[0].revision' <<<"$OUT")" "$last_put" "the newest change find names for cm-3"
assert_eq "$(status_json | jq '.state.keys')" "$(sandbox_etcdctl "$ROOT" get "" --prefix --keys-only | grep -c .)" \
  "keys counted by the journal's digest"

step "kdr verify looks at the journal: no gap, the follower runs"
expect_rc 0 kdr verify
assert_eq "$(kdr verify --json | jq '.checks.journal.follower_running')" true "verify: the follower runs"

step "the follower SIGKILLed while etcd is written: nothing lost, nothing twice"
before_writes=$(etcd_revision)
writes 41 200 &
writer=$!
writing() { [ "$(etcd_revision)" -gt $((before_writes + 20)) ]; }
wait_until 20 "the writer to be writing" writing
stop_follower KILL
start_follower
following() { [ "$(jq -r --argjson p "$FOLLOWER" 'select(.pid == $p) | .state' "$BACKUP/journal/state.json")" = following ]; }
wait_until 20 "the new follower to follow etcd" following
stop_follower KILL
start_follower
wait "$writer"
wait_caught_up
rev=$(etcd_revision)
assert_eq "$(journal_events)" "$((rev - gen_rev))" "events after two SIGKILLs"
expect_rc 0 kdr journal verify

step "a torn last record (a crash inside a write) is dropped, and the journal goes on"
stop_follower KILL
expect_rc 4 kdr verify
assert_contains "$OUT" "[journal not-running]"
open_seg=$(ls "$BACKUP"/journal/epoch-000001/*-open.seg)
printf '\x40\x00\x00\x00\x11\x22' >>"$open_seg"  # a record header that promises 64 bytes
expect_rc 0 kdr journal verify
assert_contains "$OUT" "the follower drops it when it starts"
start_follower
writes 201 210
wait_caught_up
assert_contains "$(cat "$T/follower.log")" "a torn end was dropped"
assert_eq "$(journal_events)" "$(($(etcd_revision) - gen_rev))" "events after the torn record"
expect_rc 0 kdr journal verify

step "etcd restarted under the follower: it reconnects and resumes at the next revision"
pkill -KILL -f -- "--data-dir=$ROOT/var/lib/etcd" || pkill -KILL -f -- "--data-dir $ROOT/var/lib/etcd" || fail "no etcd to kill"
sandbox_wait_etcd "$ROOT" 60
writes 211 230
wait_caught_up
assert_eq "$(journal_events)" "$(($(etcd_revision) - gen_rev))" "events after etcd's restart"
assert_eq "$(status_json | jq '.gaps | length')" 0 "gaps"

step "the digest kept from events equals etcd's keyspace read whole"
stop_follower TERM
assert_eq "$(status_json | jq -r '.state.state')" stopped "state after SIGTERM"
digest=$(status_json | jq -r '.state.digest')
mkdir -p "$T/other"
start_follower "$T/other/kdr"
wait_until 60 "the second follower to start its epoch" test -f "$T/other/kdr/journal/epoch-000001/epoch.json"
stop_follower TERM
assert_eq "$(jq -r '.base_digest' "$T/other/kdr/journal/epoch-000001/epoch.json")" "$digest" "digest of a fresh read of etcd"
expect_rc 0 kdr journal verify
assert_contains "$OUT" "ok: 1 epoch(s)"

step "a recorded digest this node's key does not vouch for is not trusted: the keyspace is read from etcd"
recorded=$(jq -r '.etcd.snapshot.keyspace_digest.digest' "$BACKUP/generations/$gen/meta.json")
cp -a "$BACKUP" "$T/forged"
rm -rf "$T/forged/journal"
jq '.etcd.snapshot.keyspace_digest.digest = "'"$(printf '0%.0s' $(seq 1 64))"'"' "$BACKUP/generations/$gen/meta.json" \
  >"$T/forged/generations/$gen/meta.json"
: >"$T/follower.log"
start_follower "$T/forged"
wait_until 60 "the follower beside the forged record to start its epoch" test -f "$T/forged/journal/epoch-000001/epoch.json"
stop_follower TERM
assert_contains "$(cat "$T/follower.log")" "its digest read from etcd"
assert_eq "$(jq -r '.base_digest' "$T/forged/journal/epoch-000001/epoch.json")" "$recorded" \
  "the epoch's base digest: etcd's keyspace at the generation's revision, not the forged record"

step "a compaction and a defrag past the journal's position: a new epoch, the gap said, a full snapshot at once"
generations_before=$(ls "$BACKUP/generations" | grep -vc '^\.')
writes 231 240
sandbox_etcdctl "$ROOT" compact "$(etcd_revision)" >/dev/null
sandbox_etcdctl "$ROOT" defrag >/dev/null
start_follower
wait_caught_up
assert_eq "$(status_json | jq '.gaps | length')" 1 "gaps after the compaction"
assert_contains "$(status_json | jq -r '.gaps[0].reason')" "compacted"
expect_rc 0 kdr journal status
assert_contains "$OUT" "GAP"
expect_rc 0 kdr journal verify
assert_contains "$OUT" "gap before epoch 2"
for i in $(seq 1 150); do
  [ "$(ls "$BACKUP/generations" | grep -vc '^\.')" -gt "$generations_before" ] && break
  sleep 0.2
done
[ "$(ls "$BACKUP/generations" | grep -vc '^\.')" -gt "$generations_before" ] || fail "no full snapshot was taken for the new epoch"
for i in $(seq 1 300); do status_json | jq -r '.state.full_snapshot' | grep -q '^taken' && break; sleep 0.2; done
assert_contains "$(status_json | jq -r '.state.full_snapshot')" "taken for epoch 2"
expect_rc 4 kdr verify
assert_contains "$OUT" "[journal gap]"
assert_contains "$OUT" "not in the journal (etcd compacted its history"

step "a defrag and a compaction behind the journal's position while it follows: no gap, nothing lost"
events_before=$(journal_events)
writes 241 260 &
writer=$!
sandbox_etcdctl "$ROOT" defrag >/dev/null
wait "$writer"
sandbox_etcdctl "$ROOT" compact "$(etcd_revision)" >/dev/null
sandbox_etcdctl "$ROOT" defrag >/dev/null
writes 261 270
wait_caught_up
assert_eq "$(status_json | jq '.gaps | length')" 1 "gaps after a defrag and a compaction behind the position"
# 30 puts and 6 deletes (every fifth), each its own revision
assert_eq "$(journal_events)" "$((events_before + 36))" "events journaled across the defrags"
expect_rc 0 kdr journal verify
assert_contains "$OUT" "ok:"

step "a full disk: the follower stops, says so, and goes on once there is space"
stop_follower TERM
mount_tmpfs "$T/small" 2m
start_follower "$T/small/kdr"
small_following() { [ "$(jq -r --argjson p "$FOLLOWER" 'select(.pid == $p) | .state' "$T/small/kdr/journal/state.json")" = following ]; }
wait_until 20 "the follower on the small disk to follow etcd" small_following
head -c $(( $(df -B1 --output=avail "$T/small" | tail -1) - 4096 )) /dev/zero > "$T/small/filler" 2>/dev/null || true
sandbox_fill_etcd "$ROOT" 20 2000 /registry/configmaps/big/
# (the new epoch's full snapshot is tried first, and fails on this disk: a minute at most under
# the sanitizers on a loaded machine)
for i in $(seq 1 300); do
  [ "$(jq -r '.state' "$T/small/kdr/journal/state.json")" = disk-full ] && break
  sleep 0.2
done
assert_eq "$(jq -r '.state' "$T/small/kdr/journal/state.json")" disk-full "state on a full disk"
assert_contains "$(jq -r '.message' "$T/small/kdr/journal/state.json")" "No space left on device"
rm -f "$T/small/filler"
want=$(etcd_revision)
for i in $(seq 1 150); do
  [ "$(jq '.position' "$T/small/kdr/journal/state.json")" = "$want" ] && break
  sleep 0.2
done
assert_eq "$(jq '.position' "$T/small/kdr/journal/state.json")" "$want" "position after space came back"
expect_rc 0 "$KDR_BIN" --root "$ROOT" --backup-dir "$T/small/kdr" journal verify
assert_eq "$({ "$KDR_BIN" --root "$ROOT" --backup-dir "$T/small/kdr" journal status --json || true; } | jq '.gaps | length')" 0 "gaps after the full disk"
stop_follower TERM

step "kdr journal start (cron's way): starts one follower, detached, and only one"
expect_rc 0 kdr journal start
assert_contains "$OUT" "journal started: pid"
pid=$(jq '.pid' "$BACKUP/journal/state.json")
for i in $(seq 1 200); do pid=$(jq '.pid' "$BACKUP/journal/state.json"); kill -0 "$pid" 2>/dev/null && grep -q "journal run" "/proc/$pid/cmdline" && break; sleep 0.1; done
kill -0 "$pid" || fail "no follower runs after kdr journal start"
stop_started() { kill -TERM "$pid" 2>/dev/null; }
SCENARIO_CLEANUPS+=(stop_started)
expect_rc 0 kdr journal start
[ "$(pgrep -fc -- "--backup-dir $BACKUP journal run")" = 1 ] || fail "a second start made a second follower"
writes 241 250
wait_caught_up
kill -TERM "$pid"
for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "the started follower did not stop on SIGTERM"
assert_eq "$(status_json | jq -r '.state.state')" stopped "state after SIGTERM"
assert_contains "$(cat "$BACKUP/journal/follower.log")" "journal: stopped at revision"
