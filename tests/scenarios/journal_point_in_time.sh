#!/usr/bin/env bash
# Restore to a point: a steady writer (puts, overwrites, deletes, leases), then etcd restored
# to 5 random past revisions and 2 past times through restore-etcd-snapshot with to=...; each
# time the whole keyspace must equal what etcd itself served at that revision (read with
# `get --rev` before anything was compacted). Then the RPO: a writer stamps a key every 50 ms,
# etcd is SIGKILLed and its data dir destroyed, and to=latest brings back a stamp at most 1 s
# older than the kill.
source "$(dirname "$0")/../lib/scenario.sh"

make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'

restore_to() {  # restore_to TARGET: the whole playbook, as an operator runs it
  expect_rc 0 kdr restore restore-etcd-snapshot --yes --set to="$1" --set accept_loss=true
  # one restore of the base, as this node's member, the journal replayed in it: no snapshot
  # written out and restored once more
  assert_contains "$OUT" "this node's etcd data dir to be"
  [ -n "${KDR_SHOW:-}" ] && echo "$OUT"
  sandbox_wait_etcd "$ROOT" 60
}

step "a backup, the follower, and a steady writer"
expect_rc 0 kdr backup
base_rev=$(jq '.etcd.snapshot.revision' "$(latest_gen)/meta.json")
start_follower
wait_caught_up
lease=$(sandbox_etcdctl "$ROOT" lease grant 900 | awk '{print $2}')
times=() time_revs=()
for chunk in $(seq 1 6); do
  for i in $(seq 1 25); do
    n=$((chunk * 100 + i))
    sandbox_etcdctl "$ROOT" put "/registry/configmaps/app/cm-$((n % 11))" "value-$n" >/dev/null
    [ $((n % 3)) -eq 0 ] && sandbox_etcdctl "$ROOT" del "/registry/configmaps/app/cm-$((n % 7))" >/dev/null
    [ $((n % 8)) -eq 0 ] && sandbox_etcdctl "$ROOT" put --lease="$lease" "/registry/events/app/ev-$n" "event $n" >/dev/null
  done
  if [ "$chunk" -eq 2 ] || [ "$chunk" -eq 4 ]; then
    sleep 1.2
    time_revs+=("$(etcd_revision)")
    times+=("$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)")
    sleep 1.2
  fi
done
wait_caught_up
last_rev=$(etcd_revision)

step "7 points chosen: 5 random revisions after the backup's $base_rev, up to $last_rev, and 2 times"
targets=() expect_files=()
for k in 1 2 3 4 5; do
  r=$(( base_rev + 1 + RANDOM % (last_rev - base_rev) ))
  targets+=("$r")
  live_keyspace "$r" > "$T/expect-$k.txt"
  expect_files+=("$T/expect-$k.txt")
done
for k in 0 1; do
  targets+=("${times[$k]}")
  live_keyspace "${time_revs[$k]}" > "$T/expect-t$k.txt"
  expect_files+=("$T/expect-t$k.txt")
done
echo "targets: ${targets[*]}"

step "the node loses etcd; the journal stops where it is"
stop_follower
expect_rc 0 kdr journal verify

for k in "${!targets[@]}"; do
  step "restore to ${targets[$k]}: the keyspace etcd held there, every key and value"
  restore_to "${targets[$k]}"
  assert_contains "$OUT" "keyspace digest matches the journal's"
  live_keyspace > "$T/got-$k.txt"
  diff "${expect_files[$k]}" "$T/got-$k.txt" >&2 || fail "the keyspace after to=${targets[$k]} differs from etcd's at that point"
done

step "a time before the journal, and a revision it never saw, are refused before anything changes"
expect_rc 1 kdr restore restore-etcd-snapshot --yes --set to=2001-01-01T00:00:00Z --set accept_loss=true
assert_contains "$OUT" "is before everything in the change journal"
expect_rc 1 kdr restore restore-etcd-snapshot --yes --set to=99999999 --set accept_loss=true
assert_contains "$OUT" "revision 99999999 is not in the change journal"
expect_rc 2 kdr restore restore-etcd-snapshot --yes --set to=yesterday
assert_contains "$OUT" "expected latest, a revision number, or an RFC 3339 time"

step "RPO: a stamp every 50 ms, etcd SIGKILLed and its data dir destroyed, to=latest"
expect_rc 0 kdr backup
start_follower
wait_caught_up
(
  while :; do
    sandbox_etcdctl "$ROOT" put /registry/configmaps/app/stamp "$(date +%s%3N)" >/dev/null 2>&1 || true
    sleep 0.05
  done
) &
stamper=$!
SCENARIO_BG_PIDS+=("$stamper")
sleep 4
pkill -KILL -f -- "--data-dir=$ROOT/var/lib/etcd" || fail "no etcd to kill"
killed_at=$(date +%s%3N)
kill -KILL "$stamper" 2>/dev/null || true
sandbox_stop_kubelet "$ROOT"  # it would start etcd again
rm -rf "$ROOT/var/lib/etcd"
sleep 2
stop_follower
sandbox_start_kubelet "$ROOT"
expect_rc 0 kdr restore restore-etcd-snapshot --yes --set to=latest --set accept_loss=true
sandbox_wait_etcd "$ROOT" 60
stamp=$(sandbox_etcdctl "$ROOT" get /registry/configmaps/app/stamp --print-value-only)
lost_ms=$(( killed_at - stamp ))
echo "newest stamp restored: $stamp, etcd killed at $killed_at: ${lost_ms} ms of writes lost"
[ "$lost_ms" -le 1000 ] || fail "the newest stamp is ${lost_ms} ms older than the kill (more than 1 s)"
