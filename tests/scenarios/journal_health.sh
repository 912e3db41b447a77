#!/usr/bin/env bash
# A dead or a hung journal follower is visible. kdr journal status asks etcd and the journal's
# lock, not the follower's last word: it exits 1 and says for how long nothing was written and
# how far etcd is ahead. kdr verify reports it as an error. Each kdr backup warns and writes
# kdr_journal.prom in the follower's place (kdr_journal_up 0), so that the KdrJournalNotRunning
# alert fires within one backup interval.
# kdr-test: once
source "$(dirname "$0")/../lib/scenario.sh"

step "a node with the follower running: status exits 0, its metrics say up"
make_running_node
mkdir -p "$ROOT/var/lib/node_exporter"
config 'kubeconfig: ""
metrics: {textfile_dir: /var/lib/node_exporter}
journal: {stalled_after_s: 3}'
expect_rc 0 kdr backup
start_follower
wait_caught_up
expect_rc 0 kdr journal status
assert_contains "$OUT" "follower     running"
prom=$ROOT/var/lib/node_exporter/kdr_journal.prom
wait_until 20 "the follower's metrics" grep -q '^kdr_journal_up 1' "$prom"

step "the follower killed: status exits 1 saying since when, verify errors, a backup writes up 0"
stop_follower KILL
for i in 1 2 3; do sandbox_etcdctl "$ROOT" put "/registry/configmaps/default/after-$i" x >/dev/null; done
expect_rc 1 kdr journal status
assert_contains "$OUT" "NOT RUNNING: no follower runs: the last one wrote its state"
assert_contains "$OUT" "3 revision(s) ahead of the journal"
assert_eq "$({ kdr journal status --json || true; } | jq .health.ok)" false "health in the JSON status"
expect_rc 4 kdr verify
assert_contains "$OUT" "[journal not-running]"
expect_rc 0 kdr backup
assert_contains "$OUT" "journal: no follower runs"
grep -q '^kdr_journal_up 0$' "$prom" || fail "kdr_journal.prom does not say up 0: $(cat "$prom")"
grep -q '^kdr_journal_lag_revisions [1-9]' "$prom" || fail "kdr_journal.prom has no lag: $(cat "$prom")"
grep -q '^kdr_journal_state{state="stopped"} 1$' "$prom" || fail "kdr_journal.prom has no state: $(cat "$prom")"

step "the follower stopped (SIGSTOP): stalled once it has been silent for 3 s; it goes on after SIGCONT"
start_follower
wait_caught_up
kill -STOP "$FOLLOWER"
sandbox_etcdctl "$ROOT" put /registry/configmaps/default/while-stopped x >/dev/null
stalled() { ! kdr journal status >/dev/null 2>&1; }
wait_until 20 "status to call the stopped follower stalled" stalled
expect_rc 1 kdr journal status
assert_contains "$OUT" "STALLED: the follower"
assert_contains "$OUT" "holds the journal but has written nothing for"
expect_rc 4 kdr verify
assert_contains "$OUT" "[journal stalled]"
kill -CONT "$FOLLOWER"
wait_caught_up
expect_rc 0 kdr journal status
assert_contains "$OUT" "follower     running"
