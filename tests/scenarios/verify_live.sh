#!/usr/bin/env bash
# kdr verify against a live sandbox node with etcd running: only etcd's own files differ
# and the report says that is expected; a changed key file on the node is unexpected.
# Also: backup --verify, --json, metrics in the node_exporter textfile format.
source "$(dirname "$0")/../lib/scenario.sh"

sandbox_make_node "$ROOT"
mkdir -p "$ROOT/var/lib/node_exporter/textfile_collector"
# with the raw copy of etcd's data dir (auto leaves it out beside a snapshot): how verify tells
# etcd's own changes from damage is checked below
config 'etcd: {raw_copy: always}'
sandbox_start_etcd "$ROOT"
sandbox_fill_etcd "$ROOT" 20 5000

step "backup --verify on a healthy node: clean"
expect_rc 0 kdr backup --verify
assert_contains "$OUT" "This generation can restore:"
assert_contains "$OUT" "etcd from a consistent snapshot at revision"
assert_contains "$OUT" "Next: nothing to do"

step "etcd keeps writing: only etcd's files differ, and that is expected"
sandbox_fill_etcd "$ROOT" 10 5000 /registry/events/default/ev-
expect_rc 0 kdr verify
assert_contains "$OUT" "EXPECTED ("
expect_rc 0 kdr --json verify
report=$OUT
[ "$(jq '.checks.live.expected_etcd_changes' <<<"$report")" -ge 1 ] || fail "no expected etcd change reported"
assert_eq "$(jq '.counts.error + .counts.warning' <<<"$report")" "0" "problems on a healthy node"
jq -e '[.findings[] | select(.severity == "info" and .check == "live") | .path | startswith("/var/lib/etcd")] | all' <<<"$report" >/dev/null ||
  fail "an expected difference outside etcd's data dir"

step "a key changed on the node: unexpected, an error, exit 4"
openssl ecparam -name prime256v1 -genkey -noout -out "$ROOT/etc/kubernetes/pki/apiserver.key" 2>/dev/null
expect_rc 4 kdr verify
assert_contains "$OUT" "[live content-differs] /etc/kubernetes/pki/apiserver.key"
assert_contains "$OUT" "Next: files under /etc/kubernetes are missing or changed: if that is damage, put them back (files only, etcd's data is kept): kdr --root $ROOT --backup-dir $BACKUP restore restore-files -g $(basename "$(latest_gen)")"
expect_rc 4 kdr verify --live-only
assert_contains "$OUT" "[live content-differs] /etc/kubernetes/pki/apiserver.key"
expect_rc 4 kdr --json verify
jq -e '.findings[] | select(.path == "/etc/kubernetes/pki/apiserver.key" and .severity == "error" and .kind == "content-differs")' \
  <<<"$OUT" >/dev/null || fail "json finding"

step "a kubeconfig whose mode changed, a manifest removed: named"
chmod 0644 "$ROOT/etc/kubernetes/admin.conf"
mv "$ROOT/etc/kubernetes/manifests/kube-scheduler.yaml" "$T/"
expect_rc 4 kdr verify
assert_contains "$OUT" "[live metadata-differs] /etc/kubernetes/admin.conf"
assert_contains "$OUT" "[live only-in-backup] /etc/kubernetes/manifests/kube-scheduler.yaml"
mv "$T/kube-scheduler.yaml" "$ROOT/etc/kubernetes/manifests/"

step "etcd answers but serves far fewer keys than the snapshot: an error, and Next rolls etcd back with the loss counted"
expect_rc 0 kdr backup -q
gen=$(basename "$(latest_gen)")
snap_keys=$(jq -r '.etcd.snapshot.keys' "$(latest_gen)/meta.json")
sandbox_etcdctl "$ROOT" del --prefix /registry/ >/dev/null
live_keys=$(sandbox_etcdctl "$ROOT" get "" --from-key --keys-only | grep -c . || true)
expect_rc 4 kdr verify
assert_contains "$OUT" "[live-etcd keys-missing] "
assert_contains "$OUT" "etcd serves $live_keys keys, the backup's snapshot holds $snap_keys: most of the data is gone (deleted since the backup)"
assert_contains "$OUT" "Next: etcd lost most of its keys since the backup: to put back only what was deleted (a namespace, some objects) with the cluster running: kdr --root $ROOT --backup-dir $BACKUP restore restore-etcd-keys -g $gen --set namespace=NAME; to roll all of etcd back to this generation (what was written since is lost, and counted in the plan): kdr --root $ROOT --backup-dir $BACKUP restore restore-etcd-snapshot -g $gen --set accept_loss=true"
expect_rc 4 kdr --json verify
jq -e --argjson k "$live_keys" '.checks.live_etcd.answered and .checks.live_etcd.keys == $k' <<<"$OUT" >/dev/null ||
  fail "live etcd facts in the JSON report: $(jq -c .checks.live_etcd <<<"$OUT")"

step "etcd stopped: verify says it does not answer (exit 4), and what its data dir holds, read offline"
rev=$(etcd_revision)
cluster=$(printf '%x' "$(member_cluster_id "$ROOT")")
sandbox_stop_etcd "$ROOT"
expect_rc 4 kdr verify
assert_contains "$OUT" "[live-etcd down] "
assert_contains "$OUT" "; read offline, its data dir /var/lib/etcd holds revision $rev, "
assert_contains "$OUT" "(applied raft index "
assert_contains "$OUT" "cluster $cluster, member "
assert_contains "$OUT" "Next: etcd does not work (it does not answer): restore it: kdr --root $ROOT --backup-dir $BACKUP restore restore-etcd-snapshot -g $gen"

step "etcd started afresh on an emptied data dir: a lost data dir, not keys deleted, and Next restores all of etcd"
mv "$ROOT/var/lib/etcd/member" "$T/member.kept"
sandbox_start_etcd "$ROOT"
sandbox_etcdctl "$ROOT" put /registry/namespaces/default '{"kind":"Namespace"}' >/dev/null
expect_rc 4 kdr verify
assert_contains "$OUT" "[live-etcd data-dir-lost] "
assert_contains "$OUT" "its revision went back, so etcd started afresh on an empty data dir"
assert_contains "$OUT" "Next: etcd started afresh on an empty data dir: restore all of etcd"
sandbox_stop_etcd "$ROOT"
rm -rf "$ROOT/var/lib/etcd/member"
mv "$T/member.kept" "$ROOT/var/lib/etcd/member"

step "--no-live checks the generation alone"
expect_rc 0 kdr verify --no-live
assert_contains "$OUT" "live comparison skipped"

step "metrics for Prometheus, atomically in the textfile folder"
prom=$ROOT/var/lib/node_exporter/textfile_collector
grep -q '^kdr_verify_findings{severity="error"} 0$' "$prom/kdr_verify.prom" || fail "verify metrics: $(cat "$prom/kdr_verify.prom")"
grep -q '^kdr_certificate_earliest_expiry_timestamp_seconds ' "$prom/kdr_verify.prom" || fail "certificate expiry metric"
grep -q '^kdr_backup_last_success_timestamp_seconds ' "$prom/kdr_backup.prom" || fail "backup metrics"
grep -q '^kdr_etcd_snapshot_revision ' "$prom/kdr_backup.prom" || fail "snapshot revision metric"
[ -z "$(ls -A "$prom" | grep -v '\.prom$')" ] || fail "temporary files left in the textfile folder"
expect_rc 0 kdr verify --no-live
last=$(awk '/^kdr_backup_last_success_timestamp_seconds /{print $2}' "$prom/kdr_backup.prom")
sandbox_stop_etcd "$ROOT"
expect_rc 3 kdr backup
assert_eq "$(awk '/^kdr_backup_last_run_exit_code /{print $2}' "$prom/kdr_backup.prom")" "3" "exit code metric"
assert_eq "$(awk '/^kdr_backup_last_success_timestamp_seconds /{print $2}' "$prom/kdr_backup.prom")" "$last" \
  "a partial run does not count as a success"
