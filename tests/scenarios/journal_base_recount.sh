#!/usr/bin/env bash
# The journal's first epoch starts from the newest generation's recorded keyspace digest only
# when etcd still holds as many keys at its revision as the generation says. A generation that
# authenticates but recorded another count (written wrong by the node itself: a kdr with a bug,
# memory that flipped a bit; made here by editing meta.json and signing it again with the node's
# key, tests/helpers/resign_generation.cpp) is not trusted for it: the follower says so and
# reads etcd's keyspace at that revision instead, and the journal's digest is etcd's.
# Real etcd with TLS behind the kubelet stand-in.
# kdr-test: once
source "$(dirname "$0")/../lib/scenario.sh"

make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1, sync_ms: 50}'

step "5,000 ConfigMaps, then a backup whose recorded key count is one more than etcd held, signed again with the node's key"
# More keys than etcd walks cheaply for each page (etcd/client.cpp, scan): the keyspace read
# from etcd below comes in pages bounded by a keys-only listing, and must still sum to the
# digest the backup computed off its snapshot file.
k8s_store fill 5000 500 "$KDR_SOURCE_DIR/tests/fixtures/k8s-objects/configmap.json" >/dev/null
expect_rc 0 kdr backup -q
gen_dir=$(latest_gen)
gen=$(basename "$gen_dir")
gen_rev=$(jq '.etcd.snapshot.revision' "$gen_dir/meta.json")
keys=$(jq '.etcd.snapshot.keyspace_digest.keys' "$gen_dir/meta.json")
digest=$(jq -r '.etcd.snapshot.keyspace_digest.digest' "$gen_dir/meta.json")
held=$(sandbox_etcdctl "$ROOT" get "" --prefix --keys-only --rev="$gen_rev" | grep -c .)
assert_eq "$keys" "$held" "keys the backup recorded, as etcd holds them"
jq -c ".etcd.snapshot.keyspace_digest.keys = $((keys + 1))" "$gen_dir/meta.json" >"$T/meta.json"
cat "$T/meta.json" >"$gen_dir/meta.json"
"$KDR_RESIGN_GENERATION" "$ROOT/etc/kdr/node.key" "$gen_dir" || fail "resign-generation failed"
expect_rc 0 kdr verify --no-live "$gen"  # authentic: only etcd can tell the count is wrong

step "the follower starts: the count differs from etcd's, so the keyspace is read from etcd at that revision"
sandbox_etcdctl "$ROOT" put /registry/configmaps/app/after-backup x >/dev/null
start_follower
wait_caught_up
assert_contains "$(cat "$T/follower.log")" \
  "etcd holds $held keys at revision $gen_rev, generation $gen recorded $((keys + 1)): its keyspace is read from etcd"
assert_contains "$(cat "$T/follower.log")" "its digest read from etcd"
epoch=$BACKUP/journal/epoch-000001/epoch.json
assert_eq "$(jq -r '.base_generation' "$epoch")" "$gen" "the epoch's base generation"
assert_eq "$(jq '.base_revision' "$epoch")" "$gen_rev" "the epoch's base revision"
# etcd's keyspace at the revision: the digest the backup computed off its snapshot file
assert_eq "$(jq -r '.base_digest' "$epoch")" "$digest" "the epoch's base digest, read from etcd"
assert_eq "$({ kdr journal status --json || true; } | jq '.state.keys')" \
  "$(sandbox_etcdctl "$ROOT" get "" --prefix --keys-only | grep -c .)" "keys the journal's digest counts now"
stop_follower
expect_rc 0 kdr journal verify
