#!/usr/bin/env bash
# backup (twice, as overlapping cron runs), verify, prune and a restore from the oldest
# generation (the one retention wants gone) started together, round after round. Each
# command either does its job or exits 11 (locked) at once, naming the holder; afterwards
# every generation verifies, a restore that ran left etcd serving the generation's keys,
# and a restore that did not run left the node untouched. The locks are described in
# docs/architecture.md ("Locking").
source "$(dirname "$0")/../lib/reliability.sh"

n=$(trials 5 30)
make_running_node
config 'kubeconfig: ""
retention: {keep_last: 2, hourly: 0, daily: 0, weekly: 0, after_backup: false}'
sandbox_fill_etcd "$ROOT" 10 20000
for k in 1 2 3; do sandbox_etcdctl "$ROOT" put "/registry/gen/$k" "$k" >/dev/null; expect_rc 0 kdr -q backup; done

declare -A ran=() locked=()
for c in backup verify prune restore; do ran[$c]=0; locked[$c]=0; done
pruned_first=0
# tally COMMAND OUTFILE RC [OK_CODES...]: a lock-out (11) must name its holder, and the holder
# must be one of this round's commands (a backup or prune by pid, or the restore by its id).
tally() {
  local c=$1 out=$2 rc=$3 ok holder
  shift 3
  if [ "$rc" -eq 11 ]; then
    holder=$(grep -oE 'pid [0-9]+ \(' "$T/$out.out" | head -n 1 | grep -oE '[0-9]+' || true)
    if [ -n "$holder" ]; then
      [[ " $round_pids " == *" $holder "* ]] || { cat "$T/$out.out" >&2; fail "round $round: $out was locked out by pid $holder, not one of this round's commands ($round_pids)"; }
    elif ! grep -qE 'restore [0-9]{8}-[0-9]{6}-restore-etcd-snapshot[-0-9]* is (running|unfinished)' "$T/$out.out"; then
      cat "$T/$out.out" >&2
      fail "round $round: $out exited 11 without naming the holder"
    fi
    locked[$c]=$((locked[$c] + 1))
    return
  fi
  for ok in "$@"; do [ "$rc" -eq "$ok" ] && { ran[$c]=$((ran[$c] + 1)); return; }; done
  cat "$T/$out.out" >&2
  fail "round $round: $c exited $rc"
}

for round in $(seq 1 "$n"); do
  step "round $round"
  sandbox_wait_etcd "$ROOT" 30
  sandbox_etcdctl "$ROOT" put "/registry/round/$round" "$round" >/dev/null
  oldest=$(ls "$BACKUP/generations" | grep -v '^\.' | sort | head -n 1)
  sandbox_etcdctl "$ROOT" get --prefix /registry/ --keys-only >/dev/null
  pre_keys=$(etcd_keys /registry/)
  # what etcd held when the generation was taken, read from its snapshot by etcd itself
  gen_keys=$(snapshot_keys "$BACKUP/generations/$oldest/etcd/snapshot.db")
  [ -n "$gen_keys" ] || fail "round $round: no key read from $oldest's snapshot"
  last_restore=$(restore_id 2>/dev/null || true)
  # each starts within one second in a random order; in turn, one of them is
  # given a head start, so that every one of them gets to hold the lock first
  first=$((round % 5))
  d() { if [ "$1" -eq "$first" ]; then echo 0; else echo $((40 + RANDOM % 60)); fi; }
  start() {  # INDEX OUT ARGS...
    local cs
    cs=$(d "$1")
    local out=$2
    shift 2
    (sleep "$(printf '%d.%02d' $((cs / 100)) $((cs % 100)))"; exec "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" -q "$@") >"$T/$out.out" 2>&1 &
  }
  start 0 backup backup; b1=$!
  start 1 backup2 backup; b2=$!
  start 2 verify verify --no-live; v=$!
  start 3 prune prune; p=$!
  start 4 restore restore restore-etcd-snapshot -g "$oldest" --yes --set accept_loss=true; r=$!
  SCENARIO_BG_PIDS+=("$b1" "$b2" "$v" "$p" "$r")
  round_pids="$b1 $b2 $v $p $r"
  for pid in $b1 $b2 $v $p $r; do rc=0; wait "$pid" || rc=$?; eval "rc_$pid=$rc"; done
  eval "tally backup backup \$rc_$b1 0"; eval "tally backup backup2 \$rc_$b2 0"
  eval "tally verify verify \$rc_$v 0"; eval "tally prune prune \$rc_$p 0"
  eval "restore_rc=\$rc_$r"
  if [ "$restore_rc" -eq 10 ]; then
    # prune removed the generation before the restore took its lock: said so, nothing done
    grep -q "no generation '$oldest'" "$T/restore.out" || { cat "$T/restore.out" >&2; fail "round $round: restore exited 10"; }
    [ ! -e "$BACKUP/generations/$oldest" ] || fail "round $round: restore said $oldest is gone, but it is there"
    pruned_first=$((pruned_first + 1))
  else
    tally restore restore "$restore_rc" 0
  fi
  sandbox_wait_etcd "$ROOT" 30
  if [ "$restore_rc" -eq 0 ]; then
    id=$(restore_id)
    [ "$id" != "$last_restore" ] || fail "round $round: the restore said it ran but wrote no journal"
    assert_eq "$(etcd_keys /registry/)" "$gen_keys" "round $round: keys after restoring $oldest (its snapshot's, read by etcd)"
    expect_rc 0 kdr restore --discard "$id" --yes
  else
    assert_eq "$(etcd_keys /registry/)" "$pre_keys" "round $round: keys after a restore that did not run"
  fi
  [ -z "$(kdr restores --json | jq -r '.[] | select(.state != "done" and .state != "rolled-back") | .id')" ] ||
    fail "round $round: an unfinished restore was left"
  kdr_verify_all
  # keep three generations for the next round
  while [ "$(ls "$BACKUP/generations" | grep -vc '^\.')" -lt 3 ]; do expect_rc 0 kdr -q backup; done
done
summary=""
for c in backup verify prune restore; do summary+="$c ran ${ran[$c]}, locked out ${locked[$c]}; "; done
summary+="restore found its generation pruned first $pruned_first; "
echo "$summary"
[ "${ran[restore]}" -gt 0 ] || fail "no restore ran in any round: the trials prove nothing"
record "backup ×2, verify, prune and restore started together" "$n rounds" \
  "${summary}each either did its job (verify: exit 0, no finding; exit 4 fails the round), exited 11 naming its holder (one of the round's commands, by pid or restore id), or (restore) exited 10 because prune had removed its generation before it started; every generation verified after each round; a restore that ran left etcd serving exactly the keys of its generation's snapshot (read by etcd itself, not from kdr's records), one locked out left the node untouched" \
  nothing
