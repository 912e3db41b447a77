#!/usr/bin/env bash
# The main disk is lost: the sandbox root is emptied, the backup disk is kept. rebuild-node
# restores the PKI, kubeconfigs and config, restores etcd from the snapshot, and runs
# kubeadm init with the saved kubeadm configuration; etcd then serves the backup's keys.
# Once with kubeadm's default data dir and once with etcd.local.dataDir: /data/etcd (kubeadm
# names its preflight check after the path). A generation without the kubeadm-config
# ConfigMap shows the plan with the kubeadm step marked as needing it (dry run exit 1), and a
# kubeadm config file among its files is offered instead.
# kubeadm and kubectl cannot run here: this test uses the stand-ins in tests/fakes (kubeadm:
# reset -f and init as documented; kubectl: the kubeadm-config ConfigMap and /livez). etcd
# is real, run by the kubelet stand-in.
source "$(dirname "$0")/../lib/scenario.sh"
export PATH="$KDR_SOURCE_DIR/tests/fakes:$PATH"

rebuild_drill() {
  local data_dir=$1 check=$2
  step "[$data_dir] a running node whose kubeadm-config ConfigMap kdr can read, backed up"
  sandbox_stop_all
  rm -rf "$ROOT" "$ROOT.kubelet" "$ROOT.kubeadm-calls" "$BACKUP"
  SANDBOX_ETCD_DATA_DIR=$data_dir make_running_node
  kubeadm_config "$data_dir" > "$T/kubeadm-config.yaml"
  export FAKE_KUBEADM_CONFIG=$T/kubeadm-config.yaml
  config '# the defaults: kubeconfig /etc/kubernetes/admin.conf'
  kdr backup -q
  gen=$(latest_gen)
  [ -f "$gen/node/kubeadm-config.yaml" ] || fail "the backup did not save the kubeadm config"
  backup_keys=$(etcd_keys /registry/)

  # the node's key, kept off the node as the runbook says (with the off-site password)
  cp -p "$ROOT/etc/kdr/node.key" "$T/saved-node.key"

  step "[$data_dir] disaster: the main disk is gone; the machine is reinstalled (kubelet running, no control plane)"
  sandbox_stop_kubelet "$ROOT"
  rm -rf "${ROOT:?}"/*
  config '# the defaults: kubeconfig /etc/kubernetes/admin.conf'
  sandbox_start_kubelet "$ROOT"

  step "[$data_dir] kdr restore rebuild-node --yes --set key_file=<the saved key>"
  expect_rc 1 kdr restore rebuild-node --dry-run
  assert_contains "$OUT" "this machine has no key to check it with"
  expect_rc 0 kdr restore rebuild-node --yes --set key_file="$T/saved-node.key"
  assert_contains "$OUT" "Your Kubernetes control-plane has initialized successfully!"
  assert_contains "$OUT" "kube-apiserver /livez: ok"

  step "[$data_dir] etcd serves the backup's keys from $data_dir; kubeadm reused the restored CA"
  sandbox_wait_etcd "$ROOT" 30
  assert_eq "$(etcd_keys /registry/)" "$backup_keys" "keys after the rebuild"
  assert_eq "$(serving_data_dir)" "$ROOT$data_dir" "data dir of the serving etcd"
  cmp "$ROOT/etc/kubernetes/pki/ca.crt" "$gen/files/etc/kubernetes/pki/ca.crt" || fail "the CA is not the backup's"
  cmp "$ROOT/etc/kubernetes/pki/sa.key" "$gen/files/etc/kubernetes/pki/sa.key" || fail "sa.key is not the backup's"
  calls=$(cat "$ROOT.kubeadm-calls")
  assert_contains "$calls" "kubeadm reset -f"
  assert_contains "$calls" "kubeadm init --config $gen/node/kubeadm-config.yaml --ignore-preflight-errors=$check"

  step "[$data_dir] without --ignore-preflight-errors kubeadm would have refused the restored data dir (the stand-in checks it)"
  expect_rc 1 env KDR_ROOT="$ROOT" "$KDR_SOURCE_DIR/tests/fakes/kubeadm" init --config "$gen/node/kubeadm-config.yaml"
  assert_contains "$OUT" "$check"
}

rebuild_drill /var/lib/etcd DirAvailable--var-lib-etcd
rebuild_drill /data/etcd DirAvailable--data-etcd

step "no kubeadm-config ConfigMap saved: the plan shows the kubeadm step as needing it, the dry run exits 1"
config 'kubeconfig: ""'
# the rebuilt sandbox has no system CA folders: the guard would (rightly) stop a shrunken backup
kdr backup -q --allow-shrink
gen=$(latest_gen)
[ ! -e "$gen/node/kubeadm-config.yaml" ] || fail "the ConfigMap was saved although kubeconfig is off"
expect_rc 1 kdr restore rebuild-node --dry-run
assert_contains "$OUT" "kubeadm init with the cluster's saved configuration"
assert_contains "$OUT" "CANNOT RUN: needs \${kubeadm_config}: generation $(basename "$gen") has no saved kubeadm configuration"
assert_contains "$OUT" "preflight found"
assert_contains "$OUT" "Steps ('*' changes the node):"

step "a kubeadm config file among the generation's files is offered instead"
kubeadm_config /data/etcd > "$ROOT/etc/kubernetes/kubeadm-config.yaml"
kdr backup -q
gen=$(latest_gen)
expect_rc 0 kdr restore rebuild-node --dry-run
assert_contains "$OUT" "note: the kubeadm configuration comes from the generation's copy of /etc/kubernetes/kubeadm-config.yaml"
assert_contains "$OUT" "run: kubeadm init --config $gen/files/etc/kubernetes/kubeadm-config.yaml --ignore-preflight-errors=DirAvailable--data-etcd"
