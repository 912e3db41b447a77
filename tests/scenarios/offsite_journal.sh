#!/usr/bin/env bash
# The change journal off site: with the follower running, a backup records the journal's
# position instead of a full snapshot; a push sends that generation and the journal folder, and
# every later push sends the journal again once it grew (restic stores only what is new). Then
# the backup folder and etcd's data are lost: `kdr offsite pull latest` brings back the
# generation, the full one it needs, and the journal, and restore-etcd-snapshot to=latest puts
# back every write up to the journal's last push, newer than any generation.
source "$(dirname "$0")/../lib/scenario.sh"
source "$KDR_SOURCE_DIR/tests/lib/offsite.sh"
REPO=$T/offsite-repo
export OFFSITE_MORE_CONFIG='kubeconfig: ""
journal: {checkpoint_s: 1}
'

step "a full backup, then the follower; a backup that records the journal's position"
make_running_node
offsite_config "$REPO"
expect_rc 0 kdr backup -q
full_gen=$(basename "$(latest_gen)")
expect_rc 0 kdr offsite init
start_follower
wait_caught_up
for i in $(seq 1 10); do sandbox_etcdctl "$ROOT" put "/registry/configmaps/a/cm-$i" "a-$i" >/dev/null; done
wait_caught_up
expect_rc 0 kdr backup -q
point_gen=$(basename "$(latest_gen)")
jq -e '.etcd.snapshot == null and .etcd.journal != null' "$(latest_gen)/meta.json" >/dev/null ||
  fail "generation $point_gen should record the journal's position, not a full snapshot"

step "push: the generations and the journal; later pushes send the journal once it grew"
expect_rc 0 kdr offsite push
assert_contains "$OUT" "pushed $full_gen"
assert_contains "$OUT" "pushed $point_gen"
assert_contains "$OUT" "pushed the change journal up to revision"
for i in $(seq 1 5); do sandbox_etcdctl "$ROOT" put "/registry/configmaps/b/cm-$i" "b-$i" >/dev/null; done
sandbox_etcdctl "$ROOT" del /registry/configmaps/a/cm-1 >/dev/null
wait_caught_up
rev=$({ kdr journal status --json || true; } | jq '.state.position')
expect_rc 0 kdr offsite push
assert_contains "$OUT" "off site already"
assert_contains "$OUT" "pushed the change journal up to revision $rev"
expect_rc 0 kdr offsite push
grep -q "change journal" <<<"$OUT" && fail "a push sent the journal again although it did not grow: $OUT"
assert_eq "$(offsite_metric kdr_offsite_journal_position_revision)" "$rev" "kdr_offsite_journal_position_revision"
JOURNALS=$(kdr --json offsite list | jq .journals)
assert_eq "$(jq length <<<"$JOURNALS")" 2 "journal snapshots off site"
assert_eq "$(jq '.[1].position' <<<"$JOURNALS")" "$rev" "the newest journal off site"
keys_at_push=$(live_keyspace "$rev")

step "forget: the point generation needs the full one before it, which stays; one journal snapshot stays"
OFFSITE_SETTINGS='  keep: {last: 1, hourly: 0, daily: 0, weekly: 0, monthly: 0}
' offsite_config "$REPO"
expect_rc 0 kdr offsite forget
assert_contains "$OUT" "keeping $full_gen off site: $point_gen has no full etcd snapshot and needs it"
LISTED=$(kdr --json offsite list)
assert_eq "$(jq -r '[.generations[] | .generation] | join(" ")' <<<"$LISTED")" "$full_gen $point_gen" "generations after forget"
assert_eq "$(jq -r '[.journals[] | .position] | join(" ")' <<<"$LISTED")" "$rev" "journal snapshots after forget"

step "the backup folder and etcd's data are lost"
stop_follower
sandbox_stop_kubelet "$ROOT"
rm -rf "$BACKUP" "$ROOT/var/lib/etcd"
mkdir -m 700 "$ROOT/var/lib/etcd"
sandbox_start_kubelet "$ROOT"

step "pull latest: the point generation, the full one it needs, the journal; restore to=latest"
expect_rc 0 kdr offsite pull latest
assert_contains "$OUT" "generation $full_gen of node"
assert_contains "$OUT" "generation $point_gen of node"
assert_contains "$OUT" "the change journal of node"
assert_contains "$OUT" "up to revision $rev"
expect_rc 0 kdr journal verify
expect_rc 0 kdr restore restore-etcd-snapshot --yes --set to=latest --set accept_loss=true
sandbox_wait_etcd "$ROOT" 60 || fail "etcd does not answer after the restore"
assert_eq "$(live_keyspace)" "$keys_at_push" "the keyspace after the restore (every write up to the journal's last push)"
