#!/usr/bin/env bash
# The deliberately damaged generation kept as a fixture (tests/fixtures/README.md): verify
# names each damage, with the right check and kind, and exits 4.
# kdr-test: once (a committed generation checked offline: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

tar -C "$T" -xzf "$KDR_SOURCE_DIR/tests/fixtures/damaged-generation.tar.gz"
B=$T/backup
now=$(cat "$B/fixture-now")
rc=0
out=$(KDR_NOW=$now "$KDR_BIN" --backup-dir "$B" --json verify --no-live 2>/dev/null) || rc=$?
assert_eq "$rc" "4" "exit code"
has() {  # has CHECK KIND PATH
  jq -e --arg c "$1" --arg k "$2" --arg p "$3" \
    '[.findings[] | select(.check == $c and .kind == $k and .path == $p and .severity == "error")] | length == 1' \
    <<<"$out" >/dev/null || fail "not reported: $1 $2 $3"
}
has integrity content /etc/kubernetes/admin.conf
has integrity truncated /etc/kubernetes/pki/sa.pub
has integrity missing /etc/kubernetes/pki/front-proxy-client.crt
has integrity mode /etc/kubernetes/pki/sa.key
has integrity target /etc/ssl/certs/a1b2c3d4.0
has integrity content etcd/snapshot.db
has etcd trailer etcd/snapshot.db
has certificates expired /etc/kubernetes/pki/expired.crt
# nothing else is an error: the rest of the generation is sound
assert_eq "$(jq '.counts.error' <<<"$out")" "8" "error count"
assert_eq "$(jq -r '.summary.next' <<<"$out" | cut -c1-44)" "do not restore from this generation: check a" "next step"

step "the human report groups by severity and names the way out"
rc=0
text=$(KDR_NOW=$now "$KDR_BIN" --backup-dir "$B" verify --no-live 2>&1) || rc=$?
assert_eq "$rc" "4" "exit code"
assert_contains "$text" "ERRORS (8):"
assert_contains "$text" "[integrity mode] /etc/kubernetes/pki/sa.key: mode 0644"
assert_contains "$text" "Next: do not restore from this generation"

step "-q keeps every error on stderr, one line each, and nothing on stdout (kdr -q backup --verify 2>&1 | logger)"
rc=0
KDR_NOW=$now "$KDR_BIN" --backup-dir "$B" -q verify --no-live >"$T/q.out" 2>"$T/q.err" || rc=$?
assert_eq "$rc" "4" "exit code with -q"
assert_eq "$(wc -c < "$T/q.out")" 0 "bytes on stdout with -q"
assert_eq "$(grep -c '^kdr: error: verify .*: \[' "$T/q.err")" 8 "error lines on stderr with -q"
grep -q '^kdr: error: verify .*: \[certificates expired\] /etc/kubernetes/pki/expired.crt' "$T/q.err" ||
  fail "the expired certificate is not named with -q"
grep -q '^kdr: error: verify .*: next: do not restore from this generation' "$T/q.err" || fail "-q does not say what to do"
