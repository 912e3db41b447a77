#!/usr/bin/env bash
# The node cp-old (127.0.0.66) is gone; a replacement machine named cp-new (its own UTS
# namespace: unshare -u) at 127.0.0.77 takes its place, with the old node's second disk.
# rebuild-node --set address=127.0.0.77 --set node_name=cp-new keeps the cluster's identity
# (every CA, sa.key/sa.pub, byte for byte) and etcd's data, and has kubeadm make again what
# named the old node: kube-apiserver's serving certificate and etcd's server and peer
# certificates now name cp-new and 127.0.0.77, issued by the old CAs; etcd serves the backup's
# keys as member cp-new on its new peer and client URLs; kube-apiserver starts. Without
# address=/node_name= the other machine is refused, and so are an address the machine does
# not have and a name that is not a Node's.
# kubeadm, kubectl and kube-apiserver cannot run here: the stand-ins in tests/fakes (kubeadm:
# reset and init as documented, validating an existing certificate's SANs and a kubeconfig's
# server as kubeadm's certs and kubeconfig phases do) and the kubelet stand-in's
# kube-apiserver placeholder (which exits when its serving certificate does not name its
# advertise address, as its clients would refuse it). etcd is real.
source "$(dirname "$0")/../lib/scenario.sh"
export PATH="$KDR_SOURCE_DIR/tests/fakes:$PATH"

# on_new_machine CMD...: CMD with the hostname cp-new (a UTS namespace of its own)
on_new_machine() { unshare -u bash -c 'hostname cp-new && exec "$@"' on_new_machine "$@"; }
new_kdr() { on_new_machine "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" "$@"; }
san_of() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n 1 | sed 's/^ *//'; }
issuer_of() { openssl x509 -in "$1" -noout -issuer | sed 's/^issuer=//'; }

step "the old node cp-old at 127.0.0.66, backed up with its kubeadm configuration"
SANDBOX_NODE_NAME=cp-old SANDBOX_NODE_IP=127.0.0.66 make_running_node
cport=$(cat "$ROOT/.sandbox-client-port") pport=$(cat "$ROOT/.sandbox-peer-port")
sandbox_kubeadm_config "$ROOT" cp-old 127.0.0.66 /var/lib/etcd > "$T/kubeadm-config.yaml"
export FAKE_KUBEADM_CONFIG=$T/kubeadm-config.yaml
config '# the defaults: kubeconfig /etc/kubernetes/admin.conf'
put_node_objects cp-old 127.0.0.66
kdr backup -q
gen=$(latest_gen)
backup_keys=$(etcd_keys /registry/)
cp -p "$ROOT/etc/kdr/node.key" "$T/saved-node.key"
assert_contains "$(san_of "$gen/files/etc/kubernetes/pki/apiserver.crt")" "IP Address:127.0.0.66"

step "the node is gone; the replacement machine has the second disk, a kubelet, no control plane"
sandbox_stop_kubelet "$ROOT"
rm -rf "${ROOT:?}"/*
config '# the defaults: kubeconfig /etc/kubernetes/admin.conf'
sandbox_start_kubelet "$ROOT"

step "another machine is told what it would keep; a bad address or name is refused"
# the sandbox's backup recorded this machine's own addresses: the replacement differs by its
# name alone, which is a warning (another name and other addresses: a refusal, unit-tested)
expect_rc 0 new_kdr restore rebuild-node --set key_file="$T/saved-node.key" --dry-run
assert_contains "$OUT" "this machine is 'cp-new', the backup was taken on"
assert_contains "$OUT" "rebuild-node --set node_name=NAME --set address=IP rebuilds it under a new one"
expect_rc 1 new_kdr restore rebuild-node --set key_file="$T/saved-node.key" --set address=192.0.2.77 --set node_name=cp-new --dry-run
assert_contains "$OUT" "address 192.0.2.77 is not on this machine"
expect_rc 1 new_kdr restore rebuild-node --set key_file="$T/saved-node.key" --set address=127.0.0.77 --set node_name=Not_A_Name --dry-run
assert_contains "$OUT" "node_name 'Not_A_Name': 'N' is not allowed"
[ -z "$(ls -A "$ROOT/etc/kubernetes" 2>/dev/null)" ] || fail "a refused plan changed /etc/kubernetes"

step "rebuild-node --set address=127.0.0.77 (the name from the machine: cp-new)"
expect_rc 0 new_kdr restore rebuild-node --yes --set key_file="$T/saved-node.key" --set address=127.0.0.77
assert_contains "$OUT" "name cp-new (this machine's hostname, as kubeadm names the node"
assert_contains "$OUT" "the node is rebuilt under a new identity: cp-old (127.0.0.66) -> cp-new (127.0.0.77)"
assert_contains "$OUT" "made again by kubeadm: /etc/kubernetes/pki/apiserver.crt, /etc/kubernetes/pki/etcd/peer.crt, /etc/kubernetes/pki/etcd/server.crt, /etc/kubernetes/admin.conf"
assert_contains "$OUT" "Your Kubernetes control-plane has initialized successfully!"
assert_contains "$OUT" "kube-apiserver /livez: ok"

step "the regenerated certificates name cp-new and 127.0.0.77, issued by the backup's CAs; the CAs and sa keys are the backup's"
pki=$ROOT/etc/kubernetes/pki
for c in apiserver etcd/server etcd/peer; do
  san=$(san_of "$pki/$c.crt")
  assert_contains "$san" "DNS:cp-new"
  assert_contains "$san" "IP Address:127.0.0.77"
  [[ "$san" != *127.0.0.66* && "$san" != *cp-old* ]] || fail "$c.crt still names the old node: $san"
done
assert_eq "$(issuer_of "$pki/apiserver.crt")" "CN = kubernetes" "the apiserver certificate's issuer"
assert_eq "$(issuer_of "$pki/etcd/server.crt")" "CN = etcd-ca" "etcd's server certificate's issuer"
openssl verify -CAfile "$pki/ca.crt" "$pki/apiserver.crt" >/dev/null || fail "apiserver.crt does not verify against the restored CA"
openssl verify -CAfile "$pki/etcd/ca.crt" "$pki/etcd/peer.crt" >/dev/null || fail "etcd/peer.crt does not verify against the restored etcd CA"
for f in ca.crt ca.key front-proxy-ca.crt front-proxy-ca.key etcd/ca.crt etcd/ca.key sa.key sa.pub apiserver-etcd-client.crt; do
  cmp "$pki/$f" "$gen/files/etc/kubernetes/pki/$f" || fail "$f is not the backup's"
done
assert_contains "$(cat "$ROOT/etc/kubernetes/admin.conf")" "server: https://127.0.0.77:6443"
id=$(restore_id)
[ -f "$ROOT/etc/kubernetes/pki/apiserver.crt.kdr-$id" ] || fail "the old serving certificate was not kept aside"

step "etcd serves the backup's keys as member cp-new at 127.0.0.77, without the old node's Node, Lease and endpoint lease"
sandbox_wait_etcd "$ROOT" 30
assert_contains "$OUT" "deleted /registry/minions/cp-old (the old Node cp-old)"
assert_contains "$OUT" "deleted /registry/leases/kube-node-lease/cp-old (its kubelet's Lease)"
assert_contains "$OUT" "deleted /registry/masterleases/127.0.0.66"
assert_eq "$(etcd_keys /registry/)" "$(grep -v -e '^/registry/minions/cp-old$' -e '^/registry/leases/kube-node-lease/cp-old$' \
  -e '^/registry/masterleases/127.0.0.66$' <<<"$backup_keys")" "keys after the rebuild"
assert_contains "$backup_keys" "/registry/minions/cp-old"
members=$(sandbox_etcdctl "$ROOT" member list -w json)
assert_eq "$(jq -r '.members | length' <<<"$members")" 1 "members"
assert_eq "$(jq -r '.members[0].name' <<<"$members")" cp-new "the member's name"
assert_eq "$(jq -r '.members[0].peerURLs[0]' <<<"$members")" "https://127.0.0.77:$pport" "the member's peer URL"
ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.77:$cport" --cacert "$pki/etcd/ca.crt" \
  --cert "$pki/etcd/healthcheck-client.crt" --key "$pki/etcd/healthcheck-client.key" get /registry/namespaces/team-1 \
  --print-value-only >/dev/null || fail "etcd does not answer at its new client URL"
grep -q -- "--advertise-address=127.0.0.77" "$ROOT/etc/kubernetes/manifests/kube-apiserver.yaml" || fail "kube-apiserver's manifest"

step "the kube-apiserver stand-in refuses a serving certificate that does not name its advertise address"
cp "$ROOT/etc/kubernetes/pki/apiserver.crt.kdr-$id" "$T/old-apiserver.crt"
expect_rc 1 env KDR_STANDIN_PLACEHOLDER=1 bash -c 'exec -a kube-apiserver "$0" --advertise-address=127.0.0.77 --tls-cert-file="$1"' \
  "$KDR_KUBELET" "$T/old-apiserver.crt"
assert_contains "$OUT" "is valid for 10.96.0.1, 127.0.0.66, not 127.0.0.77"

step "kubeadm (the stand-in, as kubeadm's certs phase) would have refused the old serving certificate left in place"
mkdir -p "$T/probe/etc/kubernetes/pki"
cp -p "$T/old-apiserver.crt" "$T/probe/etc/kubernetes/pki/apiserver.crt"
expect_rc 1 env KDR_ROOT="$T/probe" kubeadm init --config "$ROOT/var/lib/kdr/restores/$id/kubeadm-config.yaml" \
  --ignore-preflight-errors=all
assert_contains "$OUT" "certificate apiserver is invalid: x509: certificate is valid for"
assert_contains "$OUT" "not 127.0.0.77"
