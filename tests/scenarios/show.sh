#!/usr/bin/env bash
# kdr show and kdr list at a glance: sources, the etcd snapshot, certificates, the last
# verify (kept beside the generations, removed with them), and the playbooks that can
# restore from a generation.
# kdr-test: once (what kdr show and kdr list print: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

step "a running node, two generations, the second verified"
make_running_node
kdr backup -q
first=$(basename "$(latest_gen)")
kdr backup -q --verify
second=$(basename "$(latest_gen)")

step "kdr list: the verify column"
expect_rc 0 kdr list
assert_contains "$(grep -F "$second" <<<"$OUT")" " ok "
assert_contains "$(grep -F "$first " <<<"$OUT")" " - "

step "kdr show: what it holds and what can restore from it"
expect_rc 0 kdr show
assert_contains "$OUT" "Generation $second  (latest)"
assert_contains "$OUT" "etcd          snapshot at revision"
assert_contains "$OUT" "/etc/kubernetes"
assert_contains "$OUT" "certificates  20, the first expires"
assert_contains "$OUT" "last verify"
assert_contains "$OUT" "clean (0 errors, 0 warnings; all)"
assert_contains "$OUT" "kdr --root $ROOT --backup-dir $BACKUP restore restore-etcd-snapshot -g $second"
assert_contains "$OUT" "kdr --root $ROOT --backup-dir $BACKUP restore restore-etcd-keys --set namespace=NAME -g $second"
assert_contains "$OUT" "kdr --root $ROOT --backup-dir $BACKUP restore restore-files -g $second"
assert_contains "$OUT" "configuration not saved (rebuild-node needs it)"
expect_rc 0 kdr show "$first"
assert_contains "$OUT" "last verify   never"
expect_rc 0 kdr --json show
jq -e '.playbooks == ["restore-etcd-keys --set namespace=NAME", "restore-etcd-snapshot", "restore-files"] and .last_verify.exit_code == 0' <<<"$OUT" >/dev/null ||
  fail "show --json: $OUT"

step "a verify that finds problems is what show and list report"
echo tampered >> "$(latest_gen)/files/etc/kubernetes/admin.conf"
expect_rc 4 kdr verify --no-live
expect_rc 0 kdr show
assert_contains "$OUT" "PROBLEMS"
expect_rc 0 kdr list
assert_contains "$(grep -F "$second" <<<"$OUT")" " err"

step "retention removes a generation's verify result with it"
config 'kubeconfig: ""
retention: {keep_last: 1, hourly: 0, daily: 0, weekly: 0}'
kdr prune -q
[ ! -e "$BACKUP/verify/$first.json" ] || fail "verify result of a pruned generation left"
[ ! -d "$BACKUP/generations/$first" ] || fail "the first generation was not pruned"
