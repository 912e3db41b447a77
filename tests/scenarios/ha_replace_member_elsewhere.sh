#!/usr/bin/env bash
# An HA control plane of three real etcd members (127.0.0.11-13); cp-3's machine is gone. A
# replacement machine named cp-new (its own UTS namespace: unshare -u) at 127.0.0.78 takes its
# place with cp-3's second disk: `kdr restore replace-etcd-member --set address=127.0.0.78
# --set node_name=cp-new` removes member cp-3, brings the generation's /etc/kubernetes back,
# has kubeadm's init phases (certs, kubeconfig, control-plane, kubelet-start) make again what
# named cp-3, adds and joins etcd member cp-new at its new peer URL and promotes it, and
# removes cp-3's Node and Lease. The certificates name cp-new and 127.0.0.78 and are issued by
# the backup's CAs; the CAs and sa keys are the backup's; cp-new holds every key of the live
# cluster, written after the backup too. A bad address or name is refused before anything
# changes.
# kubeadm, kubectl and kube-apiserver cannot run here: the stand-ins in tests/fakes (kubeadm's
# init phases as kubeadm documents them) and the kubelet stand-in's kube-apiserver placeholder
# (which exits when its serving certificate does not name its advertise address). etcd is real.
source "$(dirname "$0")/../lib/scenario.sh"
export PATH="$KDR_SOURCE_DIR/tests/fakes:$PATH"

R1=$T/cp-1 R2=$T/cp-2 R3=$T/cp-3
on_new_machine() { unshare -u bash -c 'hostname cp-new && exec "$@"' on_new_machine "$@"; }
new_kdr() { on_new_machine "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" "$@"; }
san_of() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n 1 | sed 's/^ *//'; }
issuer_of() { openssl x509 -in "$1" -noout -issuer | sed 's/^issuer=//'; }

step "three control-plane nodes of one etcd cluster; cp-3 backed up with its kubeadm configuration"
sandbox_make_ha_cluster "$R1" "$R2" "$R3"
ROOT=$R3
cport=$(cat "$R3/.sandbox-client-port") pport=$(cat "$R3/.sandbox-peer-port")
sandbox_kubeadm_config "$R3" cp-3 127.0.0.13 /var/lib/etcd > "$T/kubeadm-config.yaml"
export FAKE_KUBEADM_CONFIG=$T/kubeadm-config.yaml
config '# the defaults: kubeconfig /etc/kubernetes/admin.conf'
put_node_objects cp-3 127.0.0.13
for i in 1 2 3; do sandbox_etcdctl "$R1" put "/registry/configmaps/team-$i/settings" "value-$i" >/dev/null; done
kdr backup -q
gen=$(latest_gen)
cp -p "$R3/etc/kdr/node.key" "$T/saved-node.key"
old_id=$(sandbox_etcdctl "$R1" member list -w json | jq -r '.members[] | select(.name == "cp-3") | .ID')
[ -n "$old_id" ] || fail "no member cp-3"

step "cp-3's machine is gone; the cluster goes on with two members and takes writes the backup lacks"
sandbox_stop_kubelet "$R3"
rm -rf "${R3:?}"/*
for i in 1 2 3; do sandbox_etcdctl "$R1" put "/registry/configmaps/after/w-$i" "$i" >/dev/null; done

step "the replacement machine: the second disk, a kubelet, no control plane"
config '# the defaults: kubeconfig /etc/kubernetes/admin.conf'
sandbox_start_kubelet "$R3"

step "a bad address or name is refused before anything changes"
expect_rc 1 new_kdr restore replace-etcd-member --set key_file="$T/saved-node.key" --set address=192.0.2.78 --set node_name=cp-new --dry-run
assert_contains "$OUT" "address 192.0.2.78 is not on this machine"
expect_rc 1 new_kdr restore replace-etcd-member --set key_file="$T/saved-node.key" --set address=127.0.0.78 --set node_name=cp_new --dry-run
assert_contains "$OUT" "node_name 'cp_new'"
[ -z "$(ls -A "$R3/etc/kubernetes" 2>/dev/null)" ] || fail "a refused plan changed /etc/kubernetes"
assert_eq "$(sandbox_etcdctl "$R1" member list -w json | jq -r '[.members[].name] | sort | join(",")')" "cp-1,cp-2,cp-3" \
  "the members after the refusals"

step "the plan: cp-3's member out, cp-new's in, through kubeadm's init phases"
expect_rc 0 new_kdr restore replace-etcd-member --set key_file="$T/saved-node.key" --set address=127.0.0.78 --set node_name=cp-new --dry-run
assert_contains "$OUT" "cp-3 (127.0.0.13) -> cp-new (127.0.0.78)"
assert_contains "$OUT" "remove the old node's member cp-3 (https://127.0.0.13:$pport)"
assert_contains "$OUT" "add this node back with peer URL https://127.0.0.78:$pport"
assert_contains "$OUT" "kubeadm init phase certs all"
assert_contains "$OUT" "the generation's etcd manifest, for cp-new at 127.0.0.78"

step "replace-etcd-member --set address=127.0.0.78 --set node_name=cp-new"
expect_rc 0 new_kdr restore replace-etcd-member --yes --set key_file="$T/saved-node.key" --set address=127.0.0.78 --set node_name=cp-new
assert_contains "$OUT" "removed member cp-3"
assert_contains "$OUT" "as a learner"
assert_contains "$OUT" "to a voting member"
assert_contains "$OUT" "the cluster has 3 voting members, each serving reads"
assert_contains "$OUT" "[kubelet-start] Writing kubelet environment file"

step "three voting members: cp-1, cp-2 and cp-new at its new peer URL; cp-3 is gone"
members=$(sandbox_etcdctl "$R1" member list -w json)
assert_eq "$(jq -r '[.members[].name] | sort | join(",")' <<<"$members")" "cp-1,cp-2,cp-new" "member names"
assert_eq "$(jq '[.members[] | select(.isLearner != true)] | length' <<<"$members")" 3 "voting members"
assert_eq "$(jq -r '.members[] | select(.name == "cp-new") | .peerURLs[0]' <<<"$members")" "https://127.0.0.78:$pport" "cp-new's peer URL"
[ -z "$(jq -r --arg id "$old_id" '.members[] | select((.ID | tostring) == $id) | .name' <<<"$members")" ] || fail "cp-3's member id is still in the cluster"

step "the regenerated certificates name cp-new and 127.0.0.78, issued by the backup's CAs; the CAs and sa keys are the backup's"
pki=$R3/etc/kubernetes/pki
for c in apiserver etcd/server etcd/peer; do
  san=$(san_of "$pki/$c.crt")
  assert_contains "$san" "DNS:cp-new"
  assert_contains "$san" "IP Address:127.0.0.78"
  [[ "$san" != *127.0.0.13* && "$san" != *cp-3* ]] || fail "$c.crt still names the old node: $san"
done
assert_eq "$(issuer_of "$pki/apiserver.crt")" "CN = kubernetes" "the apiserver certificate's issuer"
openssl verify -CAfile "$pki/etcd/ca.crt" "$pki/etcd/peer.crt" >/dev/null || fail "etcd/peer.crt does not verify against the restored etcd CA"
for f in ca.crt ca.key front-proxy-ca.crt front-proxy-ca.key etcd/ca.crt etcd/ca.key sa.key sa.pub; do
  cmp "$pki/$f" "$gen/files/etc/kubernetes/pki/$f" || fail "$f is not the backup's"
  cmp "$pki/$f" "$R1/etc/kubernetes/pki/$f" || fail "$f is not the cluster's (cp-1's)"
done
assert_contains "$(cat "$R3/etc/kubernetes/admin.conf")" "server: https://127.0.0.78:6443"
assert_contains "$(cat "$R3/etc/kubernetes/kubelet.conf")" "system:node:cp-new"
grep -q -- "--advertise-address=127.0.0.78" "$R3/etc/kubernetes/manifests/kube-apiserver.yaml" || fail "kube-apiserver's manifest"
grep -q -- "--name=cp-new" "$R3/etc/kubernetes/manifests/etcd.yaml" || fail "etcd's manifest does not name cp-new"
grep -q -- "--initial-cluster-state=existing" "$R3/etc/kubernetes/manifests/etcd.yaml" || fail "etcd's manifest does not join"
! grep -q -e 127.0.0.13 -e 'cp-3\b' "$R3/etc/kubernetes/manifests/etcd.yaml" || fail "etcd's manifest still names cp-3"
assert_contains "$(cat "$R3/var/lib/kubelet/kubeadm-flags.env")" "--node-ip=127.0.0.78"
[ -f "$pki/apiserver.crt.kdr-$(restore_id)" ] || fail "the old serving certificate was not kept aside"

step "kube-apiserver runs with its new certificate (the stand-in exits on one that does not name its address)"
sleep 1.5
grep -q 'started kube-apiserver.* from kube-apiserver.yaml' "$R3.kubelet/kubelet.log" || fail "kube-apiserver was not started"
! grep -q 'kube-apiserver.*exited' "$R3.kubelet/kubelet.log" || fail "kube-apiserver exited: $(tail -n 5 "$R3.kubelet/logs/kube-apiserver.yaml.log" 2>/dev/null)"

step "cp-new holds every key of the live cluster, the writes after the backup too; cp-3's Node and Lease are gone"
ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.78:$cport" --cacert "$pki/etcd/ca.crt" \
  --cert "$pki/etcd/healthcheck-client.crt" --key "$pki/etcd/healthcheck-client.key" get /registry/configmaps/after/w-3 \
  --consistency=s --print-value-only | grep -qx 3 || fail "cp-new does not serve a write made after the backup at its new client URL"
for i in $(seq 1 50); do [ "$(member_keyspace "$R3" "")" = "$(member_keyspace "$R1" "")" ] && break; sleep 0.2; done
assert_eq "$(member_keyspace "$R3" "")" "$(member_keyspace "$R1" "")" "cp-new's keys"
assert_contains "$OUT" "deleted /registry/minions/cp-3 (the old Node cp-3)"
assert_contains "$OUT" "deleted /registry/leases/kube-node-lease/cp-3 (its kubelet's Lease)"
assert_contains "$OUT" "deleted /registry/masterleases/127.0.0.13"
[ -z "$(sandbox_etcdctl "$R1" get --prefix /registry/minions/cp-3 --keys-only)" ] || fail "cp-3's Node is still in etcd"
