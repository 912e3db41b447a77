#!/usr/bin/env bash
# /etc/kubernetes wiped on a live node: restore-files puts every file back byte for byte
# (content, mode, owner, mtime, symlinks), the control plane starts from the backup's
# manifests, and etcd is healthy with its own data: files only, so a key written after the
# backup is still there (--set etcd=raw would roll etcd back; restore_dry_run plans it).
# kdr-test: once (files only: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

step "a running node, backed up while etcd is idle"
make_running_node
mkdir -p "$ROOT/etc/kubernetes/audit"
echo "apiVersion: audit.k8s.io/v1" > "$ROOT/etc/kubernetes/audit/policy.yaml"
chmod 640 "$ROOT/etc/kubernetes/audit/policy.yaml"
chown 1:2 "$ROOT/etc/kubernetes/audit/policy.yaml"
ln -s audit/policy.yaml "$ROOT/etc/kubernetes/policy-link.yaml"
sleep 1
kdr backup -q
gen=$(latest_gen)
sandbox_etcdctl "$ROOT" put /registry/configmaps/default/written-after-the-backup x >/dev/null
before_keys=$(etcd_keys /registry/)
before_rev=$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq -r '.[0].Status.header.revision')

step "disaster: everything in /etc/kubernetes deleted; the kubelet stops the pods"
rm -rf "$ROOT"/etc/kubernetes/*
wait_etcd_down

step "a generation that no longer matches its SHA-256 sums is refused before anything on the node changes"
key="$gen/files/etc/kubernetes/pki/ca.key"
cp -p "$key" "$T/ca.key.good"
printf 'X' | dd of="$key" bs=1 seek=40 conv=notrunc 2>/dev/null
before=$(node_state)
expect_rc 1 kdr restore restore-files --yes
assert_contains "$OUT" "preflight found"
assert_contains "$OUT" "generation $(basename "$gen"): /etc/kubernetes/pki/ca.key"
assert_contains "$OUT" "nothing was changed"
assert_eq "$(node_state)" "$before" "the node after the refused restore"
cp -p "$T/ca.key.good" "$key"

step "kdr restore restore-files --yes"
expect_rc 0 kdr restore restore-files --yes
assert_contains "$OUT" "every SHA-256 checked"

step "every file of /etc/kubernetes is the backup's, byte for byte, with its metadata"
diff <(tree_listing "$ROOT/etc/kubernetes") <(tree_listing "$gen/files/etc/kubernetes") || fail "/etc/kubernetes differs from the backup (above)"
diff -r --no-dereference "$ROOT/etc/kubernetes" "$gen/files/etc/kubernetes" || fail "content differs"

step "etcd is healthy with its own data, on the manifest's data dir: nothing written after the backup is lost"
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(etcd_keys /registry/)" "$before_keys" "keys after the restore"
assert_eq "$(sandbox_etcdctl "$ROOT" get --print-value-only /registry/configmaps/default/written-after-the-backup)" "x" \
  "a key written after the backup"
after_rev=$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq -r '.[0].Status.header.revision')
[ "$after_rev" -ge "$before_rev" ] || fail "etcd's revision went back: $before_rev -> $after_rev"
assert_eq "$(serving_data_dir)" "$ROOT/var/lib/etcd" "data dir of the serving etcd"
id=$(restore_id)
[ -d "$ROOT/etc/kubernetes.kdr-$id" ] || fail "the wiped /etc/kubernetes was not kept aside"
[ ! -e "$ROOT/var/lib/etcd.kdr-$id" ] || fail "etcd's data dir was replaced by a files-only restore"
expect_rc 0 kdr verify --no-live
