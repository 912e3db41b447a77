#!/usr/bin/env bash
# Progress: on a terminal (a pty from script(1)) long work draws a bar with bytes, rate and
# time left; without a terminal, and with -q on one, no bar and no control characters at all.
# kdr-test: once (the terminal's progress bar: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"
# script(1) gives kdr a terminal; without it this test cannot run, which is a failure, not a pass
command -v script >/dev/null || fail "script(1) is not installed (Debian's bsdutils; scripts/install-deps.sh installs it)"

step "a node with some etcd data"
sandbox_make_node "$ROOT"
config 'kubeconfig: ""'
sandbox_start_etcd "$ROOT"
sandbox_fill_etcd "$ROOT" 20 1000000 /registry/configmaps/big/
kdr_cmd="$KDR_BIN --root $ROOT --backup-dir $BACKUP"

step "not a terminal: plain lines only"
out=$($kdr_cmd backup --verify 2>&1)
grep -q $'\r' <<<"$out" && fail "carriage returns without a terminal"
grep -q $'\033' <<<"$out" && fail "escape sequences without a terminal"
assert_contains "$out" "generation"

step "a terminal: a progress bar for the snapshot, the copy and the verify"
tty_out=$(script -qec "$kdr_cmd backup --verify" /dev/null 2>&1)
for what in "etcd snapshot" "backing up" "verifying"; do
  grep -q $'\r\033\[K  '"$what"' *\[[#-]*\] *[0-9]*%' <<<"$tty_out" || { cat -v <<<"$tty_out" >&2; fail "no bar for $what"; }
done
assert_contains "$tty_out" "MiB/s"

step "-q on a terminal: no bar"
q_out=$(script -qec "$kdr_cmd -q backup" /dev/null 2>&1)
grep -q '%' <<<"$q_out" && { cat -v <<<"$q_out" >&2; fail "a bar with -q"; }
true
