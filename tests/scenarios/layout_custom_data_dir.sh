#!/usr/bin/env bash
# A node whose etcd keeps its data on a disk of its own (kubeadm's etcd.local.dataDir:
# /data/etcd). kdr finds the data dir in the etcd manifest, backs it up while etcd writes
# (complete, not partial), verify calls etcd's own changes there expected, and
# restore-etcd-snapshot puts the backup's keys back into /data/etcd: the etcd that serves
# runs on /data/etcd, with the revision bumped past 1e9 on etcd 3.5. Nothing is asked of
# /var/lib/etcd, which does not exist. Real etcd behind the kubelet stand-in.
source "$(dirname "$0")/../lib/scenario.sh"

step "a node with etcd's data dir at /data/etcd ($(sandbox_etcd_minor))"
SANDBOX_ETCD_DATA_DIR=/data/etcd make_running_node
# the raw copy of the data dir too (auto leaves it out beside a snapshot): where it lands is checked
config 'kubeconfig: ""
etcd: {raw_copy: always}'
[ ! -e "$ROOT/var/lib/etcd" ] || fail "the sandbox made /var/lib/etcd"
assert_eq "$(serving_data_dir)" "$ROOT/data/etcd" "data dir of the etcd the kubelet runs"
expect_rc 0 kdr sources
assert_contains "$OUT" "data dir     /data/etcd (from etcd manifest /etc/kubernetes/manifests/etcd.yaml: --data-dir=/data/etcd)"
grep -qE '^  /data/etcd +required +etcd data dir' <<<"$OUT" || { echo "$OUT"; fail "/data/etcd is not a required source"; }
! grep -qE '^  /var/lib/etcd ' <<<"$OUT" || { echo "$OUT"; fail "/var/lib/etcd is listed as a source"; }

step "backup while etcd writes: complete, with its snapshot"
(for i in $(seq 1 400); do sandbox_etcdctl "$ROOT" put "/registry/configmaps/busy/cm-$i" "v$i" >/dev/null 2>&1 || true; done) &
writer=$!
SCENARIO_BG_PIDS+=("$writer")
sleep 0.5
expect_rc 0 kdr backup
wait "$writer" || true
G=$(latest_gen)
assert_eq "$(jq -r .status "$G/meta.json")" complete "generation status"
assert_eq "$(jq -r .node.etcd.data_dir "$G/meta.json")" /data/etcd "recorded data dir"
assert_eq "$(jq -r .node.etcd.kind "$G/meta.json")" static-pod "recorded etcd layout"
jq -e '.sources[] | select(.path == "/data/etcd" and .present and .files > 0)' "$G/meta.json" >/dev/null ||
  fail "/data/etcd is not in the generation"
[ -f "$G/files/data/etcd/member/snap/db" ] || fail "the raw copy of /data/etcd/member/snap/db is missing"
[ -f "$G/etcd/snapshot.db" ] || fail "no snapshot"
backup_keys=$(sandbox_etcdctl "$ROOT" get --prefix /registry/ --keys-only --rev "$(jq -r .etcd.snapshot.revision "$G/meta.json")" | grep . | sort)

step "verify: etcd's own changes in /data/etcd are expected, nothing else differs"
for i in $(seq 1 30); do sandbox_etcdctl "$ROOT" put "/registry/configmaps/after/cm-$i" "later" >/dev/null; done
expect_rc 0 kdr verify
assert_contains "$OUT" "EXPECTED"
assert_contains "$OUT" "Next: nothing to do"
expect_rc 0 kdr show
assert_contains "$OUT" "etcd layout   stacked etcd (static pod /etc/kubernetes/manifests/etcd.yaml), data dir /data/etcd"

step "restore-etcd-snapshot: the plan and the restore use /data/etcd"
expect_rc 0 kdr restore restore-etcd-snapshot --dry-run --set accept_loss=true
assert_contains "$OUT" "data dir /data/etcd"
! grep -q "/var/lib/etcd" <<<"$OUT" || { echo "$OUT"; fail "the plan names /var/lib/etcd"; }
expect_rc 0 kdr restore restore-etcd-snapshot --yes --set accept_loss=true
assert_contains "$OUT" "etcd is healthy"
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(serving_data_dir)" "$ROOT/data/etcd" "data dir of the etcd serving after the restore"
assert_eq "$(etcd_keys /registry/)" "$backup_keys" "keys after the restore (the backup's)"
id=$(restore_id)
[ -d "$ROOT/data/etcd.kdr-$id/member" ] || fail "the replaced /data/etcd was not kept aside"
[ ! -e "$ROOT/var/lib/etcd" ] || fail "the restore made /var/lib/etcd"
rev=$(etcd_revision)
if [ "$(sandbox_etcd_minor)" != 3.4 ]; then
  [ "$rev" -gt 1000000000 ] || fail "etcd $(sandbox_etcd_minor): the revision was not bumped past 1e9 ($rev)"
  assert_contains "$OUT" "etcdutl"
else
  [ "$rev" -ge "$(jq -r .etcd.snapshot.revision "$G/meta.json")" ] || fail "revision $rev below the snapshot's"
fi

step "a backup of the restored node verifies"
expect_rc 0 kdr backup --verify
