#!/usr/bin/env bash
# A file that keeps changing while it is copied is copied again (copy.retries times); if
# it never holds still, the copy is kept and marked as possibly torn in the manifest.
# Inside etcd's data dir that is expected (etcd writes constantly) and the generation is
# complete; anywhere else the generation is partial and the run exits 3.
# kdr-test: once (files only: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

sandbox_make_node "$ROOT"
files_only_config
echo "db" > "$ROOT/var/lib/etcd/db-stand-in"

# writer FILE: appends to FILE without pause until killed; ahead of other processes on the CPU
# (nice -10), so that it writes during each copy attempt even when the tests beside it take
# both cores
writer() {
  head -c 60000000 /dev/urandom > "$1"
  nice -n -10 bash -c 'while :; do echo "more data $RANDOM" >> "$1"; done' writer "$1" &
  WRITER=$!
  SCENARIO_BG_PIDS+=("$WRITER")
  sleep 0.2
}

step "a file growing during the whole run, inside /var/lib/etcd"
writer "$ROOT/var/lib/etcd/member-growing.wal"
expect_rc 0 kdr backup
kill "$WRITER"; wait "$WRITER" 2>/dev/null || true
assert_contains "$OUT" "/var/lib/etcd/member-growing.wal kept changing while it was copied (4 attempts)"
G=$(latest_gen)
assert_entry "$G" /var/lib/etcd/member-growing.wal '.torn == true'
assert_eq "$(jq -r .status "$G/meta.json")" "complete" "status"
assert_eq "$(jq .counts.torn "$G/meta.json")" "1" "torn count"
(cd "$G" && sha256sum -c --quiet SHA256SUMS) || fail "a torn copy's hash must still describe the copy"

step "the next run never hard-links a torn copy"
expect_rc 0 kdr backup
G2=$(latest_gen)
[ "$(stat -c %i "$G/files/var/lib/etcd/member-growing.wal")" != "$(stat -c %i "$G2/files/var/lib/etcd/member-growing.wal")" ] ||
  fail "torn copy hard-linked"
assert_entry "$G2" /var/lib/etcd/member-growing.wal '.torn != true'

step "the same outside etcd's data dir: partial, exit 3"
writer "$ROOT/etc/kubernetes/growing.log"
expect_rc 3 kdr backup
kill "$WRITER"; wait "$WRITER" 2>/dev/null || true
assert_contains "$OUT" "partial"
assert_eq "$(jq -r .status "$(latest_gen)/meta.json")" "partial" "status"
expect_rc 0 kdr list
assert_contains "$OUT" "partial"

step "kdr show prints each of the generation's warnings, not only how many there are"
expect_rc 0 kdr show
w=$(jq -r '.warnings[0]' "$(latest_gen)/meta.json")
[ -n "$w" ] && [ "$w" != null ] || fail "the partial generation records no warning"
assert_contains "$OUT" "warning     $w"
