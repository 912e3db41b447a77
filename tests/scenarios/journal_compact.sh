#!/usr/bin/env bash
# kdr journal compact: a new full snapshot at the journal's newest revision, made from the
# last one and the journal in a private etcd, without touching the live etcd; it holds exactly
# the keyspace the live etcd held at that revision (read back by etcd itself), and it becomes
# the base a later replay starts from. Changes are collapsed per key and sent in transactions
# capped by bytes: a burst of 1 MB values still comes back exact.
source "$(dirname "$0")/../lib/scenario.sh"

make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'

step "a backup, then the follower and a writer: puts, overwrites, deletes, binary values, leases"
expect_rc 0 kdr backup
start_follower
wait_caught_up
lease=$(sandbox_etcdctl "$ROOT" lease grant 600 | awk '{print $2}')
for i in $(seq 1 60); do
  sandbox_etcdctl "$ROOT" put "/registry/configmaps/app/cm-$((i % 9))" "value-$i" >/dev/null
  [ $((i % 4)) -eq 0 ] && sandbox_etcdctl "$ROOT" del "/registry/configmaps/app/cm-$((i % 9))" >/dev/null
  [ $((i % 10)) -eq 0 ] && head -c 300 /dev/urandom | sandbox_etcdctl "$ROOT" put "/registry/secrets/app/bin-$i" >/dev/null
  [ $((i % 15)) -eq 0 ] && sandbox_etcdctl "$ROOT" put --lease="$lease" "/registry/events/app/ev-$i" "event $i" >/dev/null
done
wait_caught_up
rev=$(etcd_revision)

step "kdr journal compact: a checked snapshot at revision $rev, the live etcd untouched"
expect_rc 0 kdr journal compact
assert_contains "$OUT" "journal base at revision $rev"
assert_eq "$(etcd_revision)" "$rev" "the live etcd's revision (compact writes nothing to it)"
base=$(ls "$BACKUP"/journal/epoch-000001/bases/*.db)
meta=${base%.db}.json
assert_eq "$(jq '.revision' "$meta")" "$rev" "the base's revision"
assert_eq "$(sha256sum "$base" | cut -d' ' -f1)" "$(jq -r '.db_sha256' "$meta")" "the base's recorded SHA-256"
assert_eq "$(stat -c %a "$base")" 600 "mode of the base"

step "it holds exactly the live keyspace at revision $rev, read by etcd itself"
live_keyspace "$rev" > "$T/live.txt"
snapshot_keyspace "$base" > "$T/base.txt"
[ -s "$T/live.txt" ] || fail "the live keyspace is empty"
diff "$T/live.txt" "$T/base.txt" >&2 || fail "the compacted snapshot differs from the live keyspace at $rev"

step "the next compact starts from it"
sandbox_etcdctl "$ROOT" put /registry/configmaps/app/after-compact x >/dev/null
wait_caught_up
expect_rc 0 kdr journal compact
assert_contains "$OUT" "journal base $rev (kdr journal compact)"
assert_contains "$OUT" "1 change(s) of the journal"
expect_rc 0 kdr journal compact
assert_contains "$OUT" "nothing to compact"

step "large values: the changes split into transactions of at most 8 MiB, the keyspace still exact"
sandbox_fill_etcd "$ROOT" 12 1000000 /registry/configmaps/app/big-
sandbox_etcdctl "$ROOT" put /registry/configmaps/app/big-3 small >/dev/null
sandbox_etcdctl "$ROOT" del /registry/configmaps/app/big-4 >/dev/null
wait_caught_up
rev=$(etcd_revision)
expect_rc 0 kdr journal compact
assert_contains "$OUT" "journal base at revision $rev"
assert_contains "$OUT" "14 changes in 2 transactions"
base=$(ls "$BACKUP"/journal/epoch-000001/bases/*.db | tail -n 1)
live_keyspace "$rev" > "$T/live.txt"
snapshot_keyspace "$base" > "$T/base.txt"
diff "$T/live.txt" "$T/base.txt" >&2 || fail "the compacted snapshot differs from the live keyspace at $rev"

step "a restore to the journal's newest point starts from the last base, and etcd serves its keyspace"
# The base's file holds the numbering of the private etcd that made it (below the journal's
# revision); restored without --bump-revision (etcdctl 3.4) etcd serves that numbering, and the
# restore must know it is the restored data.
stop_follower
sandbox_etcdctl "$ROOT" put /registry/configmaps/app/after-the-journal lost >/dev/null
expect_rc 0 kdr restore restore-etcd-snapshot --yes --set to=latest --set accept_loss=true
assert_contains "$OUT" "journal base $rev (kdr journal compact)"
assert_contains "$OUT" "etcd is healthy"
live_keyspace > "$T/restored.txt"
diff "$T/base.txt" "$T/restored.txt" >&2 || fail "the restored etcd does not serve the keyspace at revision $rev"
