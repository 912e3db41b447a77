#!/usr/bin/env bash
# The preflight refuses a node that is not the one the generation came from, before anything on
# it changes: a --root that points at a folder with no node in it (as a forgotten --root on a
# machine without a cluster), another member of the cluster, another machine (another
# hostname and none of its addresses, in a private UTS and network namespace). --set
# same_node=true overrides it, explicitly. A damaged node of the right identity is only warned
# about, except where the restore could not work (no etcd manifest for a playbook that
# restarts the node's own).
# kdr-test: once (refused in the preflight: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

step "a node with a backup; the kubelet stand-in is stopped so that nothing moves"
make_running_node
kdr backup -q
sandbox_stop_kubelet "$ROOT"
gen=$(basename "$(latest_gen)")

step "a node root with nothing of a node in it: every playbook refused, nothing written there"
mkdir "$T/not-a-node"
for pb in restore-files restore-etcd-snapshot rebuild-node; do
  expect_rc 1 "$KDR_BIN" --root "$T/not-a-node" --backup-dir "$BACKUP" restore "$pb" --yes
  assert_contains "$OUT" "$T/not-a-node does not look like a control-plane node: no /etc/kubernetes/manifests, no /var/lib/etcd, no /var/lib/kubelet"
  assert_contains "$OUT" "is --root the right folder?"
  assert_contains "$OUT" "--set same_node=true"
  left=$(cd "$T/not-a-node" && find . -path ./var/lib/kdr -prune -o ! -name . ! -name var ! -name lib -print)
  assert_eq "$left" "" "what the refused $pb left in the folder besides kdr's journal"
done
expect_rc 1 "$KDR_BIN" --root "$T/not-a-node" --backup-dir "$BACKUP" restore restore-files --dry-run
assert_contains "$OUT" "does not look like a control-plane node"
expect_rc 0 "$KDR_BIN" --root "$T/not-a-node" --backup-dir "$BACKUP" restore restore-files --dry-run --set same_node=true \
  --set key_file="$ROOT/etc/kdr/node.key"
assert_contains "$OUT" "accepted (same_node=true): $T/not-a-node does not look like a control-plane node"

step "another member of the cluster (its own etcd name): refused, unless same_node=true"
cp "$ROOT/etc/kubernetes/manifests/etcd.yaml" "$T/etcd.yaml.orig"
member=$(grep -o -- '--name=[^ "]*' "$T/etcd.yaml.orig" | head -1 | cut -d= -f2)
sed -i "s/--name=$member/--name=cp-2/" "$ROOT/etc/kubernetes/manifests/etcd.yaml"
before=$(node_state)
expect_rc 1 kdr restore restore-etcd-snapshot --yes
assert_contains "$OUT" "the node's etcd member is 'cp-2' (/etc/kubernetes/manifests/etcd.yaml), the backup's was '$member': a backup of another member"
assert_eq "$(node_state)" "$before" "node after the refusal"
expect_rc 0 kdr restore restore-etcd-snapshot --dry-run --set same_node=true
assert_contains "$OUT" "accepted (same_node=true): the node's etcd member is 'cp-2'"
cp "$T/etcd.yaml.orig" "$ROOT/etc/kubernetes/manifests/etcd.yaml"

step "another machine: another hostname and none of the backup's addresses (private UTS and network namespaces)"
other_machine() { unshare --uts --net sh -c 'hostname not-the-node && exec "$@"' _ "$@"; }
rc=0; OUT=$(other_machine "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" restore restore-files --dry-run 2>&1) || rc=$?
assert_eq "$rc" 1 "exit code on another machine"
assert_contains "$OUT" "this machine is 'not-the-node' (addresses none), the backup was taken on '$(hostname)'"
assert_contains "$OUT" "another machine (a replacement for it: rebuild-node --set address=IP --set node_name=NAME); if this is the node the backup was taken on, run again with --set same_node=true"
rc=0; OUT=$(other_machine "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" restore restore-files --dry-run --set same_node=true 2>&1) || rc=$?
assert_eq "$rc" 0 "exit code on another machine with same_node=true"
assert_contains "$OUT" "accepted (same_node=true): this machine is 'not-the-node'"

step "a damaged node of the right identity: no etcd manifest"
mv "$ROOT/etc/kubernetes/manifests/etcd.yaml" "$T/etcd.yaml.moved"
expect_rc 1 kdr restore restore-etcd-snapshot --dry-run
assert_contains "$OUT" "/etc/kubernetes/manifests has no etcd manifest (the backup's node had /etc/kubernetes/manifests/etcd.yaml) and this playbook starts the node's own manifests again"
expect_rc 0 kdr restore restore-files --dry-run
assert_contains "$OUT" "this restore puts the generation's back"
mv "$T/etcd.yaml.moved" "$ROOT/etc/kubernetes/manifests/etcd.yaml"

step "the real node is accepted as it is"
expect_rc 0 kdr restore restore-files --dry-run -g "$gen"
assert_contains "$OUT" "ok    node identity: hostname and an address match the backup"
