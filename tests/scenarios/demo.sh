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

step "kdr demo refuses --root"
expect_rc 2 "$KDR_BIN" --root "$T" demo
