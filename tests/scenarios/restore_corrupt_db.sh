#!/usr/bin/env bash
# A corrupted etcd database (truncated bbolt file): etcd crash-loops under the kubelet.
# restore-etcd-snapshot brings it back with every key.
source "$(dirname "$0")/../lib/scenario.sh"

step "a running node, backed up"
make_running_node
sandbox_fill_etcd "$ROOT" 20 5000 /registry/secrets/
kdr backup -q
before_keys=$(etcd_keys /registry/)

step "disaster: the db is truncated while etcd is down; etcd cannot start again"
sandbox_stop_kubelet "$ROOT"
db=$ROOT/var/lib/etcd/member/snap/db
truncate -s 8192 "$db"
sandbox_start_kubelet "$ROOT"
sleep 3
if sandbox_etcdctl "$ROOT" --dial-timeout 1s endpoint health >/dev/null 2>&1; then fail "etcd serves a truncated db"; fi

step "kdr restore restore-etcd-snapshot --yes"
expect_rc 0 kdr restore restore-etcd-snapshot --yes
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(etcd_keys /registry/)" "$before_keys" "keys after the restore"
assert_eq "$(serving_data_dir)" "$ROOT/var/lib/etcd" "data dir of the serving etcd"
id=$(restore_id)
assert_eq "$(stat -c %s "$ROOT/var/lib/etcd.kdr-$id/member/snap/db")" 8192 "the damaged db kept aside"
