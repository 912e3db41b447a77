#!/usr/bin/env bash
# A stray etcd.yaml.bak in the static pod folder (the kubelet would run it as a second
# etcd): every playbook refuses in its preflight, names the file, and changes nothing.
# kdr-test: once (the static pod folder: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

step "a running node, backed up, with a stray copy of the etcd manifest"
make_running_node
kdr backup -q
cp -p "$ROOT/etc/kubernetes/manifests/etcd.yaml" "$ROOT/etc/kubernetes/manifests/etcd.yaml.bak"
sandbox_stop_kubelet "$ROOT"
before=$(node_state)

for pb in restore-etcd-snapshot restore-files; do
  step "kdr restore $pb refuses"
  expect_rc 1 kdr restore "$pb" --yes
  assert_contains "$OUT" "/etc/kubernetes/manifests/etcd.yaml.bak is in the static pod folder"
  assert_contains "$OUT" "nothing was changed"
  assert_eq "$(node_state)" "$before" "node after the refused $pb"
done

step "a second file defining the same pod is refused too"
mv "$ROOT/etc/kubernetes/manifests/etcd.yaml.bak" "$ROOT/etc/kubernetes/manifests/etcd-old.yaml"
expect_rc 1 kdr restore restore-etcd-snapshot --yes
assert_contains "$OUT" "both define pod 'etcd'"

step "once the stray file is gone the dry run is clean"
mv "$ROOT/etc/kubernetes/manifests/etcd-old.yaml" "$T/"
expect_rc 0 kdr restore restore-etcd-snapshot --dry-run
