#!/usr/bin/env bash
# `kdr demo` (the README's first quick-start command) runs its whole story and its closing
# claims hold: every key restored, verify clean, the emptied data dir refused.
source "$(dirname "$0")/../lib/scenario.sh"

step "kdr demo"
expect_rc 0 "$KDR_BIN" demo
assert_contains "$OUT" "What this drill proved"
keys_line=$(grep -o 'checked etcd serves [0-9]* of [0-9]* keys' <<<"$OUT") || fail "no restore claim in the output"
read -r _ _ _ restored _ total _ <<<"$keys_line"
[ "$restored" -gt 0 ] && [ "$restored" -eq "$total" ] || fail "the demo restored $restored of $total keys"
assert_contains "$OUT" "An emptied etcd data dir was refused (exit 1)"
assert_contains "$OUT" "verify compared the node with the generation (exit 0"
grep -q $'\033' <<<"$OUT" && fail "escape sequences in output that is not a terminal"

step "no process and no sandbox folder is left behind"
sleep 1
for pid in $(pgrep -x etcd); do
  tr '\0' '\n' < "/proc/$pid/cmdline" | grep -q -- "/tmp/kdr-demo-" && fail "etcd of the demo still runs (pid $pid)"
done
leftover=$(find /tmp -maxdepth 1 -name 'kdr-demo-*' -newer "$T" 2>/dev/null | head -n 1)
[ -z "$leftover" ] || fail "the demo left $leftover"

step "kdr demo --keep: the sandbox stays (in \$TMPDIR), stopped, with the commands to use it; each runs as printed"
mkdir -p "$T/tmp"
expect_rc 0 env TMPDIR="$T/tmp" "$KDR_BIN" demo --keep
kept=$(grep -o 'The sandbox is kept in [^,]*' <<<"$OUT" | sed 's/The sandbox is kept in //')
case $kept in "$T/tmp/kdr-demo-"*) ;; *) fail "the demo ignored TMPDIR: kept in '$kept'" ;; esac
[ -d "$kept/node/etc/kubernetes" ] || fail "no kept sandbox node in '$kept'"
SCENARIO_CLEANUPS+=("$kept/sandbox remove")
for pid in $(pgrep -x etcd); do
  tr '\0' '\n' < "/proc/$pid/cmdline" | grep -q -- "$kept/" && fail "the kept sandbox's etcd still runs (pid $pid)"
done
printed() { grep -E "^  $kept/sandbox $1" <<<"$OUT" | sed 's/ *#.*//' | head -n 1; }
start=$(printed start) list=$(printed 'kdr list') names=$(printed etcdctl) stop=$(printed stop) remove=$(printed remove)
assert_contains "$OUT" "run kdr against it: $KDR_BIN --root $kept/node --backup-dir $kept/second-disk/kdr list"
expect_rc 0 $start
assert_contains "$OUT" "etcd answers"
expect_rc 0 $list
assert_contains "$OUT" "complete"
expect_rc 0 $names
assert_contains "$OUT" "/registry/namespaces/payments"
expect_rc 0 $stop
sleep 0.5
for pid in $(pgrep -x etcd); do
  tr '\0' '\n' < "/proc/$pid/cmdline" | grep -q -- "$kept/" && fail "etcd still runs after stop (pid $pid)"
done
expect_rc 0 $remove
[ ! -e "$kept" ] || fail "$kept is still there after remove"

step "kdr demo refuses --root"
expect_rc 2 "$KDR_BIN" --root "$T" demo
