#!/usr/bin/env bash
# Off-site pushes against faults of the store, on real servers on loopback (tests/lib/offsite.sh):
# rclone serve restic (REST) down at push time, killed mid-push, a push killed itself (kdr
# and its restic, SIGKILL), another host's lock in the repository, a wrong password, and a store
# that fills up (a local repository on a small tmpfs; in full mode also the REST server's).
# Each fault gets its own exit code, message and metric; none of them touches a local
# generation (every file's size, time and mode compared); the next push catches up, and
# restic's own check finds the repository whole. Only this host's stale locks are removed.
source "$(dirname "$0")/../lib/reliability.sh"
source "$KDR_SOURCE_DIR/tests/lib/offsite.sh"

n=$(trials 1 8)
make_running_node
sandbox_fill_etcd "$ROOT" 10 200000
url=$(rest_start "$T/rest")
offsite_config "$url"
expect_rc 0 kdr backup -q
expect_rc 0 kdr offsite init
expect_rc 0 kdr offsite push

# The local generations as they are: each file's path, size, time and mode.
local_state() { find "$BACKUP/generations" -mindepth 1 -not -path '*/.*' -printf '%P %s %T@ %m\n' | sort | sha256sum; }
# new_generation: a run that changed something worth sending (a 4 MB blob anew)
new_generation() {
  head -c 4000000 /dev/urandom > "$ROOT/etc/kubernetes/blob.bin"
  sandbox_etcdctl "$ROOT" put "/registry/configmaps/default/t-$RANDOM" x >/dev/null
  expect_rc 0 kdr backup -q
  basename "$(latest_gen)"
}
offsite_has() { kdr --json offsite list | jq -e --arg g "$1" '[.generations[] | select(.generation == $g)] | length == 1' >/dev/null; }
# restic check through kdr, which first removes what a failed push of this host left locked
restic_whole() { kdr offsite check --subset 10% >"$T/check.out" 2>&1 || { cat "$T/check.out" >&2; fail "restic check: the repository is damaged ($1)"; }; }
# wait_for_restic ARGS_PATTERN: until a restic with that in its argv runs (10 s at most)
wait_for_restic() {
  local i
  for i in $(seq 1 200); do pgrep -f "restic.*$1.*$T" >/dev/null && return 0; sleep 0.05; done
  fail "no restic $1 started"
}

# --- the server is down when the push starts: exit 20 from kdr backup --offsite, the local
# generation published anyway; the next push sends it
for i in $(seq 1 "$n"); do
  rest_stop "$T/rest"
  before=$(local_state)
  head -c 100000 /dev/urandom > "$ROOT/etc/kubernetes/down-$i.bin"
  rc=0
  OUT=$(kdr backup --offsite 2>&1) || rc=$?
  assert_eq "$rc" 20 "exit code of kdr backup --offsite with the server down"
  assert_contains "$OUT" "does not answer (network or server down; the next push catches up)"
  assert_eq "$(offsite_metric 'kdr_offsite_push_problem{problem="unreachable"}')" 1 "the unreachable metric"
  assert_eq "$(offsite_metric kdr_offsite_last_push_exit_code)" 20 "the last push's exit code (metric)"
  missed=$(basename "$(latest_gen)")
  [ "$(find "$BACKUP/generations" -mindepth 1 -maxdepth 1 -not -name "$missed" -not -name '.*' -printf '%P\n' | wc -l)" -ge 1 ] || fail "no older generation"
  kdr_verify_all
  rest_start "$T/rest" >/dev/null
  expect_rc 0 kdr offsite push
  assert_contains "$OUT" "pushed $missed"
  offsite_has "$missed" || fail "$missed is not off site after the next push"
done
record "REST server down when the push starts" "$n" "exit 20 (unreachable), metric problem=unreachable; the generation published locally; the next push sent it" nothing

# --- the server is killed mid-push: in quick mode it comes back 2 s later (restic retries, or
# the push fails with exit 20); in full mode, every other trial, it stays down until the push
# gives up (exit 20). Then a push catches up and restic check finds the repository whole.
rest_stop "$T/rest"
rest_start "$T/rest" --bwlimit 2M >/dev/null
for i in $(seq 1 "$n"); do
  gen=$(new_generation)
  before=$(local_state)
  kdr offsite push >"$T/push.out" 2>&1 &
  push=$!
  SCENARIO_BG_PIDS+=("$push")
  wait_for_restic "backup"
  random_delay 150
  rest_stop "$T/rest"
  stay_down=no
  [ "$KDR_RELIABILITY_MODE" = full ] && [ $((i % 2)) -eq 0 ] && stay_down=yes
  [ "$stay_down" = yes ] || { sleep 2; rest_start "$T/rest" --bwlimit 2M >/dev/null; }
  rc=0
  wait "$push" || rc=$?
  if [ "$stay_down" = yes ]; then
    assert_eq "$rc" 20 "a push whose server stayed down"
    rest_start "$T/rest" --bwlimit 2M >/dev/null
  fi
  { [ "$rc" -eq 0 ] || [ "$rc" -eq 20 ]; } || { cat "$T/push.out" >&2; fail "a push whose server was killed exited $rc"; }
  assert_eq "$(local_state)" "$before" "the local generations after a push whose server was killed"
  expect_rc 0 kdr offsite push
  offsite_has "$gen" || fail "$gen is not off site after the catch-up push"
  restic_whole "server killed mid-push"
done
record "REST server killed mid-push (SIGKILL), back after 2 s or not" "$n" "the push finished through restic's retries, or failed with exit 20; the next push sent the generation; restic check: no damage" nothing

# --- the push itself is killed (kdr and its restic): the next push works; the lock it left is
# this host's, and the next command that needs the repository alone removes it
for i in $(seq 1 "$n"); do
  gen=$(new_generation)
  before=$(local_state)
  # kdr itself, not a subshell running it (the shell function kdr would be one)
  "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" offsite push >"$T/push.out" 2>&1 &
  push=$!
  SCENARIO_BG_PIDS+=("$push")
  wait_for_restic "backup"
  # once restic holds its lock: the kill lands while the data goes up
  for _ in $(seq 1 100); do [ "$(restic_own list locks --no-lock | wc -l)" -gt 0 ] && break; sleep 0.05; done
  random_delay 50
  kill -KILL "$push"
  wait "$push" 2>/dev/null || true
  for _ in $(seq 1 40); do pgrep -f "restic.*backup.*$T" >/dev/null || break; sleep 0.05; done
  pgrep -f "restic.*backup.*$T" >/dev/null && fail "restic still runs 2 s after kdr was killed"
  locks=$(restic_own list locks --no-lock | wc -l)
  echo "the killed push left $locks lock(s)"
  assert_eq "$(local_state)" "$before" "the local generations after a killed push"
  expect_rc 0 kdr offsite push
  offsite_has "$gen" || fail "$gen is not off site after the push that followed a killed one"
  [ "$locks" -ge 1 ] || fail "the killed push left no lock (it ended before the kill)"
  # check wants the repository alone: kdr removes the lock the killed push left, then checks
  restic_whole "a killed push"
  assert_contains "$(cat "$T/check.out")" "removed this host's stale restic lock"
  assert_eq "$(restic_own list locks --no-lock | wc -l)" 0 "locks left after check"
done
record "a push killed (kdr and restic, SIGKILL)" "$n" "the next push sent the generation; the lock it left (this host's, its process gone) removed when check wanted the repository alone; restic check: no damage" nothing

# --- another host's lock (a restic on other-node, killed): kdr leaves it and names it
head -c 20000000 /dev/urandom > "$T/other.bin"
# unshare itself in the background (not the shell function as_host, whose subshell a kill
# would leave the restic behind): it execs sh, which execs restic, all one pid
unshare --uts -- sh -c 'hostname other-node && exec "$@"' sh \
  env RESTIC_PASSWORD_FILE="$ROOT/etc/kdr/restic-password" restic -r "$url" backup "$T/other.bin" >"$T/other.out" 2>&1 &
other=$!
SCENARIO_BG_PIDS+=("$other")
for _ in $(seq 1 100); do [ "$(restic_own list locks --no-lock | wc -l)" -gt 0 ] && break; sleep 0.05; done
kill -KILL "$other" 2>/dev/null || { cat "$T/other.out" >&2; fail "other-node's restic ended before its lock was seen"; }
wait "$other" 2>/dev/null || true
assert_eq "$(restic_own list locks --no-lock | wc -l)" 1 "other-node's lock"
OFFSITE_SETTINGS='  keep: {last: 1, hourly: 0, daily: 0, weekly: 0, monthly: 0}
' offsite_config "$url"
rc=0
OUT=$(kdr offsite forget 2>&1) || rc=$?
assert_eq "$rc" 22 "exit code of forget with another host's lock"
assert_contains "$OUT" "on other-node (root)"
assert_contains "$OUT" "another host's; kdr leaves it"
assert_eq "$(restic_own list locks --no-lock | wc -l)" 1 "other-node's lock after kdr's forget"
gen=$(new_generation)
expect_rc 0 kdr offsite push
offsite_has "$gen" || fail "a push beside another host's (shared) lock did not send $gen"
restic_own unlock --remove-all >/dev/null 2>&1
record "another host's lock in the repository" 1 "forget refused (exit 22) naming the lock's host and PID, the lock left; pushes (shared locks) went on" nothing

# --- a wrong password: exit 21, its metric; nothing local touched
cp "$ROOT/etc/kdr/restic-password" "$T/password.good"
echo "not it" > "$ROOT/etc/kdr/restic-password"
before=$(local_state)
rc=0
OUT=$(kdr offsite push 2>&1) || rc=$?
assert_eq "$rc" 21 "exit code with a wrong password"
assert_eq "$(offsite_metric 'kdr_offsite_push_problem{problem="denied"}')" 1 "the denied metric"
assert_eq "$(local_state)" "$before" "the local generations after a refused password"
cp "$T/password.good" "$ROOT/etc/kdr/restic-password"
record "a wrong password" 1 "exit 21 (denied), metric problem=denied" nothing

# --- a store that fills up: a local repository on an 8 MB tmpfs, and in full mode the REST
# server's folder on one: exit 23, its metric; nothing local touched; once there is room the
# push works
full_store() {
  local what=$1 repo=$2 want=$3
  offsite_config "$repo"
  expect_rc 0 kdr offsite init
  head -c 12000000 /dev/urandom > "$ROOT/etc/kubernetes/blob.bin"
  expect_rc 0 kdr backup -q
  before=$(local_state)
  rc=0
  OUT=$(kdr offsite push 2>&1) || rc=$?
  assert_eq "$rc" 23 "exit code of a push into a full store ($what)"
  assert_contains "$OUT" "$want"
  assert_eq "$(offsite_metric 'kdr_offsite_push_problem{problem="full"}')" 1 "the full metric ($what)"
  assert_eq "$(local_state)" "$before" "the local generations after a full store ($what)"
}
mount_tmpfs "$T/small" 8m
full_store "local repository" "$T/small/repo" "has no space left"
# room again (64 MB, for the newest generation: every trial above left one behind)
umount "$T/small" && mount -t tmpfs -o size=64m tmpfs "$T/small" && expect_rc 0 kdr offsite init
expect_rc 0 kdr offsite push "$(basename "$(latest_gen)")"
rows="a local repository (ENOSPC)"
if [ "$KDR_RELIABILITY_MODE" = full ]; then
  rest_stop "$T/rest"
  mount_tmpfs "$T/rest-small/store" 8m
  small_url=$(rest_start "$T/rest-small")
  full_store "REST" "$small_url" "refused to store data: a full store or a quota, most often"
  rows="$rows and the REST server (500)"
fi
record "the store fills up: $rows" 1 "exit 23 (full), metric problem=full; the local repository with room again: the push worked" nothing
