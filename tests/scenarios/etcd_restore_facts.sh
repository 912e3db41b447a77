#!/usr/bin/env bash
# Key material and facts outside etcd are in every generation: a file kube-apiserver
# mounts for --encryption-provider-config (outside /etc/kubernetes), even under an exclusion,
# a warning and a partial generation for one it names but does not mount, and the cluster's kubeadm configuration saved from the
# kubeadm-config ConfigMap. kubectl is a stand-in here (tests/fakes/kubectl): there is no
# kube-apiserver on these machines for the real one to talk to.
source "$(dirname "$0")/../lib/scenario.sh"

sandbox_make_node "$ROOT"
sandbox_start_etcd "$ROOT"
mkdir -p "$ROOT/srv/kubernetes/encryption"
cat > "$ROOT/srv/kubernetes/encryption/config.yaml" <<'YAML'
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aescbc:
      keys:
      - name: key1
        secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==
  - identity: {}
YAML
chmod 600 "$ROOT/srv/kubernetes/encryption/config.yaml"
m=$ROOT/etc/kubernetes/manifests/kube-apiserver.yaml
sed -i 's|    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key|&\n    - --encryption-provider-config=/etc/kubernetes/enc/config.yaml\n    - --audit-policy-file=/etc/audit/policy.yaml|' "$m"
sed -i 's|^  volumes:$|&\n  - hostPath:\n      path: /srv/kubernetes/encryption\n      type: DirectoryOrCreate\n    name: encryption|' "$m"
sed -i 's|    volumeMounts:|&\n    - mountPath: /etc/kubernetes/enc\n      name: encryption\n      readOnly: true|' "$m"
grep -q "encryption-provider-config" "$m" || fail "manifest edit"

cat > "$T/cluster-config.yaml" <<'YAML'
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: kubernetes
controlPlaneEndpoint: cp-1:6443
kubernetesVersion: v1.31.2
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
YAML

step "backup with the kubectl stand-in and an encryption config"
PATH="$KDR_SOURCE_DIR/tests/fakes:$PATH" FAKE_KUBEADM_CONFIG="$T/cluster-config.yaml" expect_rc 0 kdr backup
G=$(latest_gen)
cmp "$ROOT/srv/kubernetes/encryption/config.yaml" "$G/files/srv/kubernetes/encryption/config.yaml" ||
  fail "encryption config not in the generation"
assert_eq "$(stat -c %a "$G/files/srv/kubernetes/encryption/config.yaml")" "600" "encryption config mode"
assert_contains "$OUT" "kube-apiserver --audit-policy-file=/etc/audit/policy.yaml is not mounted from a hostPath volume"
[ -f "$G/node/kubeadm-config.yaml" ] || fail "kubeadm config not saved"
grep -q "^kind: ClusterConfiguration$" "$G/node/kubeadm-config.yaml" || fail "kubeadm config content"
grep -q "controlPlaneEndpoint: cp-1:6443" "$G/node/kubeadm-config.yaml" || fail "kubeadm config content"
assert_eq "$(jq -r .node.kubeadm_config "$G/meta.json")" "node/kubeadm-config.yaml" "meta points at it"
sums=$(cd "$G" && sha256sum -c --strict SHA256SUMS) || fail "sha256sum -c"
grep -qx 'node/kubeadm-config.yaml: OK' <<<"$sums" || fail "kubeadm config not in SHA256SUMS"
jq -e '.node.not_captured | length == 0' "$G/meta.json" >/dev/null || fail "something not captured: $(jq -c .node.not_captured "$G/meta.json")"

step "a hostPath the config excludes: the EncryptionConfiguration is backed up all the same, the exclusion not applied"
config 'host_paths: {exclude: [/proc, /srv/kubernetes]}'
expect_rc 0 kdr backup
assert_contains "$OUT" "host_paths.exclude /srv/kubernetes would leave out kube-apiserver's EncryptionConfiguration: not applied"
[ -f "$(latest_gen)/files/srv/kubernetes/encryption/config.yaml" ] || fail "the EncryptionConfiguration is not in the generation"
jq -e '.status == "complete"' "$(latest_gen)/meta.json" >/dev/null || fail "not complete: $(jq -c '{status, partial_because}' "$(latest_gen)/meta.json")"

step "an EncryptionConfiguration kube-apiserver does not mount from the node: named, and the generation is partial"
cp "$ROOT/etc/kubernetes/manifests/kube-apiserver.yaml" "$T/kube-apiserver.yaml"
sed -i 's|    - --encryption-provider-config=.*|    - --encryption-provider-config=/run/not-mounted/config.yaml|' "$ROOT/etc/kubernetes/manifests/kube-apiserver.yaml"
config 'host_paths: {exclude: [/proc]}'
expect_rc 3 kdr backup
assert_contains "$OUT" "kube-apiserver --encryption-provider-config=/run/not-mounted/config.yaml is not mounted from a hostPath volume"
jq -e '.status == "partial" and (.partial_because | any(startswith("the EncryptionConfiguration is not in it")))' "$(latest_gen)/meta.json" >/dev/null ||
  fail "not partial for the missing EncryptionConfiguration: $(jq -c '{status, partial_because}' "$(latest_gen)/meta.json")"
cp "$T/kube-apiserver.yaml" "$ROOT/etc/kubernetes/manifests/kube-apiserver.yaml"

step "no admin kubeconfig: the kubeadm configuration is listed as not captured"
config 'kubeconfig: /etc/kubernetes/missing.conf'
PATH="$KDR_SOURCE_DIR/tests/fakes:$PATH" FAKE_KUBEADM_CONFIG="$T/cluster-config.yaml" expect_rc 0 kdr backup
G=$(latest_gen)
[ ! -e "$G/node/kubeadm-config.yaml" ] || fail "kubeadm config saved without a kubeconfig"
jq -e '.node.not_captured | any(contains("no admin kubeconfig at /etc/kubernetes/missing.conf"))' "$G/meta.json" >/dev/null ||
  fail "reason not listed"
