#!/usr/bin/env bash
# The main disk is lost: the sandbox root is emptied, the backup disk is kept. rebuild-node
# restores the PKI, kubeconfigs and config, restores etcd from the snapshot, and runs
# kubeadm init with the saved kubeadm configuration; etcd then serves the backup's keys.
# kubeadm and kubectl cannot run here: this test uses the stand-ins in tests/fakes (kubeadm:
# reset -f and init as documented; kubectl: the kubeadm-config ConfigMap and /livez). etcd
# is real, run by the kubelet stand-in.
source "$(dirname "$0")/../lib/scenario.sh"
export PATH="$KDR_SOURCE_DIR/tests/fakes:$PATH"

step "a running node whose kubeadm-config ConfigMap kdr can read, backed up"
make_running_node
cport=$(cat "$ROOT/.sandbox-client-port")
pport=$(cat "$ROOT/.sandbox-peer-port")
cat > "$T/kubeadm-config.yaml" <<YAML
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.31.2
clusterName: kubernetes
controlPlaneEndpoint: 127.0.0.1:6443
etcd:
  local:
    dataDir: /var/lib/etcd
    extraArgs:
      name: cp-1
      listen-client-urls: https://127.0.0.1:$cport
      advertise-client-urls: https://127.0.0.1:$cport
      listen-peer-urls: https://127.0.0.1:$pport
      initial-advertise-peer-urls: https://127.0.0.1:$pport
      initial-cluster: cp-1=https://127.0.0.1:$pport
YAML
export FAKE_KUBEADM_CONFIG=$T/kubeadm-config.yaml
config '# the defaults: kubeconfig /etc/kubernetes/admin.conf'
kdr backup -q
gen=$(latest_gen)
[ -f "$gen/node/kubeadm-config.yaml" ] || fail "the backup did not save the kubeadm config"
backup_keys=$(etcd_keys /registry/)

step "disaster: the main disk is gone; the machine is reinstalled (kubelet running, no control plane)"
sandbox_stop_kubelet "$ROOT"
rm -rf "${ROOT:?}"/*
config '# the defaults: kubeconfig /etc/kubernetes/admin.conf'
sandbox_start_kubelet "$ROOT"

step "kdr restore rebuild-node --yes"
expect_rc 0 kdr restore rebuild-node --yes
assert_contains "$OUT" "Your Kubernetes control-plane has initialized successfully!"
assert_contains "$OUT" "kube-apiserver /livez: ok"

step "etcd serves the backup's keys; kubeadm reused the restored CA"
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(etcd_keys /registry/)" "$backup_keys" "keys after the rebuild"
assert_eq "$(serving_data_dir)" "$ROOT/var/lib/etcd" "data dir of the serving etcd"
cmp "$ROOT/etc/kubernetes/pki/ca.crt" "$gen/files/etc/kubernetes/pki/ca.crt" || fail "the CA is not the backup's"
cmp "$ROOT/etc/kubernetes/pki/sa.key" "$gen/files/etc/kubernetes/pki/sa.key" || fail "sa.key is not the backup's"
calls=$(cat "$ROOT.kubeadm-calls")
assert_contains "$calls" "kubeadm reset -f"
assert_contains "$calls" "kubeadm init --config $gen/node/kubeadm-config.yaml --ignore-preflight-errors=DirAvailable--var-lib-etcd"

step "without --ignore-preflight-errors kubeadm would have refused the restored data dir (the stand-in checks it)"
expect_rc 1 env KDR_ROOT="$ROOT" "$KDR_SOURCE_DIR/tests/fakes/kubeadm" init --config "$gen/node/kubeadm-config.yaml"
assert_contains "$OUT" "DirAvailable--var-lib-etcd"
