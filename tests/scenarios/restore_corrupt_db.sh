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

step "kdr verify sees it: etcd does not answer and its database shrank (exit 4, errors, not 'expected')"
expect_rc 4 kdr verify
assert_contains "$OUT" "[live-etcd down] "
assert_contains "$OUT" "etcd does not answer: etcd at https://127.0.0.1:"
assert_contains "$OUT" "[live-etcd db-shrunk] /var/lib/etcd/member/snap/db: etcd's database is 8192 bytes, the backup's was"
assert_contains "$OUT" "[live-etcd data-dir-damaged] /var/lib/etcd: "  # read offline: the database does not read through
! grep -q "snap/db.*expected" <<<"$OUT" || { echo "$OUT"; fail "the truncated db is called an expected change"; }
next=$(grep -o 'Next: .*' <<<"$OUT")
assert_contains "$next" "etcd does not work (its database is damaged): restore it: kdr --root $ROOT --backup-dir $BACKUP restore restore-etcd-snapshot -g $(basename "$(latest_gen)")"

step "the command verify printed, run as printed (with --yes)"
cmd=$(sed 's/.*restore it: //' <<<"$next")
eval "set -- $cmd"
shift
expect_rc 0 "$KDR_BIN" "$@" --yes
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(etcd_keys /registry/)" "$before_keys" "keys after the restore"
assert_eq "$(serving_data_dir)" "$ROOT/var/lib/etcd" "data dir of the serving etcd"
id=$(restore_id)
assert_eq "$(stat -c %s "$ROOT/var/lib/etcd.kdr-$id/member/snap/db")" 8192 "the damaged db kept aside"
