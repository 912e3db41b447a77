#!/usr/bin/env bash
# The 5-minute run with the change journal: while the follower runs and a full snapshot of its
# epoch is younger than etcd.full_every_minutes, `kdr backup` takes no snapshot and copies no
# raw bbolt file; it records the journal's position, which verify accepts and a restore
# replays to (to=snapshot: the generation's own point). Without a running follower, with
# full_every_minutes: 0, or once the full snapshot is old, the run takes a full snapshot again.
source "$(dirname "$0")/../lib/scenario.sh"

make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'

writes() { local i; for i in $(seq "$1" "$2"); do sandbox_etcdctl "$ROOT" put "/registry/configmaps/app/cm-$((i % 5))" "v$i" >/dev/null; done; }

step "without a journal, every run takes a full snapshot; the raw copy of etcd's data dir only with raw_copy: always"
expect_rc 0 kdr -v backup
g=$(latest_gen)
[ -f "$g/etcd/snapshot.db" ] || fail "no snapshot in the first generation"
if jq -e '.sources[] | select(.path == "/var/lib/etcd")' "$g/meta.json" >/dev/null; then fail "etcd's data dir was copied beside the snapshot"; fi
[ ! -e "$g/files/var/lib/etcd" ] || fail "files/var/lib/etcd in a generation with a snapshot"
assert_contains "$OUT" "not copying /var/lib/etcd: the checked snapshot at revision $(jq .etcd.snapshot.revision "$g/meta.json") holds its data (etcd.raw_copy: auto)"
config 'kubeconfig: ""
journal: {checkpoint_s: 1}
etcd: {raw_copy: always}'
expect_rc 0 kdr backup
full=$(latest_gen)
[ -f "$full/etcd/snapshot.db" ] || fail "no snapshot in the generation with the raw copy"
jq -e '.sources[] | select(.path == "/var/lib/etcd" and .files > 0)' "$full/meta.json" >/dev/null || fail "etcd's data dir not copied with raw_copy: always"
[ -f "$full/files/var/lib/etcd/member/snap/db" ] || fail "no raw copy of member/snap/db with raw_copy: always"
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'

step "with the follower: the run records the journal's position, no snapshot, no raw bbolt copy"
start_follower
wait_caught_up
writes 1 30
rev=$(etcd_revision)
live_keyspace "$rev" > "$T/at-backup.txt"
expect_rc 0 kdr backup
g=$(latest_gen)
gid=$(basename "$g")
assert_eq "$(jq -r '.status' "$g/meta.json")" complete "status of the journal-covered generation"
assert_eq "$(jq '.etcd.snapshot' "$g/meta.json")" null "its snapshot"
covered=$(jq '.etcd.journal.revision' "$g/meta.json")
[ "$covered" -ge "$rev" ] || fail "the generation covers revision $covered, etcd was at $rev when it started"
assert_eq "$(jq -r '.etcd.journal.base_generation' "$g/meta.json")" "$(basename "$full")" "the full snapshot it extends"
[ ! -e "$g/etcd" ] || fail "an etcd folder in a journal-covered generation"
if jq -e '.sources[] | select(.path == "/var/lib/etcd")' "$g/meta.json" >/dev/null; then fail "etcd's data dir was copied"; fi
[ -f "$g/files/etc/kubernetes/pki/ca.key" ] || fail "the PKI is missing from the generation"
(cd "$g" && sha256sum -c --quiet SHA256SUMS) || fail "sha256sum -c"

step "verify accepts it, and says how it restores etcd"
expect_rc 0 kdr verify
assert_contains "$OUT" "etcd at revision $covered through the change journal"
expect_rc 0 kdr list
expect_rc 0 kdr show "$gid"

step "restore-etcd-snapshot from it (to=snapshot: the generation's own point) gives etcd's keyspace at that revision"
writes 31 45
expect_rc 0 kdr restore restore-etcd-snapshot -g "$gid" --yes --set to=snapshot --set accept_loss=true
assert_contains "$OUT" "to=snapshot: the generation recorded the change journal's revision $covered"
sandbox_wait_etcd "$ROOT" 60
live_keyspace > "$T/restored.txt"
# what etcd held at the generation's revision: the keys as written up to it
diff <(grep -v stamp "$T/at-backup.txt") <(grep -v stamp "$T/restored.txt") >&2 ||
  fail "the restored keyspace is not etcd's at revision $covered"
stop_follower

step "a full snapshot again: the follower not running, full_every_minutes: 0, or an old full snapshot"
expect_rc 0 kdr -v backup
assert_eq "$(jq -r '.etcd.full_because' "$(latest_gen)/meta.json")" "the journal's follower does not run" "why a full one"
[ -f "$(latest_gen)/etcd/snapshot.db" ] || fail "no snapshot with the follower stopped"
new_full=$(basename "$(latest_gen)")
start_follower  # etcd was restored (a new cluster, a new epoch): that snapshot is the epoch's base
wait_caught_up
expect_rc 0 kdr backup
assert_eq "$(jq -r '.etcd.journal.base_generation' "$(latest_gen)/meta.json")" "$new_full" "the next run extends it"
config 'kubeconfig: ""
etcd: {full_every_minutes: 0}'
expect_rc 0 kdr backup
assert_eq "$(jq -r '.etcd.full_because' "$(latest_gen)/meta.json")" "etcd.full_every_minutes is 0" "why a full one"
config 'kubeconfig: ""'
KDR_NOW=$(( $(date +%s) + 3700 )) expect_rc 0 kdr backup
assert_contains "$(jq -r '.etcd.full_because' "$(latest_gen)/meta.json")" "min old (etcd.full_every_minutes: 60)"

step "retention: the journal's history follows the full snapshots kept"
config 'kubeconfig: ""
retention: {keep_last: 1, hourly: 0, daily: 0, weekly: 0}'
expect_rc 0 kdr prune --dry-run
assert_contains "$OUT" "would remove journal $BACKUP/journal/epoch-000001 (epoch 1 (cluster"
[ -d "$BACKUP/journal/epoch-000001" ] || fail "a dry run removed epoch 1"
expect_rc 0 kdr prune
[ ! -e "$BACKUP/journal/epoch-000001" ] || fail "epoch 1 (the cluster before the restore) was kept with no snapshot of it left"
[ -d "$BACKUP/journal/epoch-000002" ] || fail "the current epoch was removed"
expect_rc 0 kdr journal verify

step "etcd compacted right after deletions (their tombstones dropped): the snapshot holds etcd's revision, the journal's, and the run publishes"
# etcd starts on such a file at its finished compaction's revision; the key bucket ends before it
sandbox_etcdctl "$ROOT" put /registry/configmaps/default/short-lived x >/dev/null
sandbox_etcdctl "$ROOT" del /registry/configmaps/default/short-lived >/dev/null
rev=$(etcd_revision)
sandbox_etcdctl "$ROOT" compact "$rev" >/dev/null
wait_caught_up
config 'kubeconfig: ""
etcd: {full_every_minutes: 0}'
expect_rc 0 kdr backup
assert_eq "$(jq -r '.etcd.snapshot.revision' "$(latest_gen)/meta.json")" "$rev" "the snapshot's revision after a compaction past deletions"
stop_follower
