#!/usr/bin/env bash
# A kubeadm node with etcd.external: no etcd manifest, kube-apiserver names the members and
# its etcd client certificate. The external etcd is a real etcd started outside the kubelet
# stand-in, its data dir outside the node. kdr says "external etcd at ...", backs up
# /etc/kubernetes and a snapshot taken with kube-apiserver's client certificate (kubeadm's
# health-check client does not exist here), records the members, refuses the etcd playbook
# with the etcdutl command for each member, changing nothing, and restores the node's own
# files with restore-files, leaving etcd alone.
source "$(dirname "$0")/../lib/scenario.sh"

step "a control-plane node whose etcd runs elsewhere ($(sandbox_etcd_minor))"
sandbox_make_node "$ROOT"
rm "$ROOT/etc/kubernetes/manifests/etcd.yaml"
rmdir "$ROOT/var/lib/etcd"
# The etcd host: its own copy of the etcd CA and its server certificates, its own data dir;
# nothing of it on the node (kdr must not find it in the node's process table either).
host=$T/etcd-host
mkdir -p "$host/pki"
cp "$ROOT"/etc/kubernetes/pki/etcd/{ca.crt,server.crt,server.key,peer.crt,peer.key} "$host/pki/"
port=$(cat "$ROOT/.sandbox-client-port")
peer=$(cat "$ROOT/.sandbox-peer-port")
etcd --name cp-1 --data-dir "$host/data" \
  --listen-client-urls "https://127.0.0.1:$port" --advertise-client-urls "https://127.0.0.1:$port" \
  --listen-peer-urls "https://127.0.0.1:$peer" --initial-advertise-peer-urls "https://127.0.0.1:$peer" \
  --initial-cluster "cp-1=https://127.0.0.1:$peer" --client-cert-auth --trusted-ca-file "$host/pki/ca.crt" \
  --cert-file "$host/pki/server.crt" --key-file "$host/pki/server.key" --peer-client-cert-auth \
  --peer-trusted-ca-file "$host/pki/ca.crt" --peer-cert-file "$host/pki/peer.crt" --peer-key-file "$host/pki/peer.key" \
  >"$host/etcd.log" 2>&1 &
SCENARIO_BG_PIDS+=("$!")
# Only kube-apiserver's etcd client stays on the node, as on a real external-etcd node.
mkdir -p "$T/client"
mv "$ROOT"/etc/kubernetes/pki/etcd/healthcheck-client.* "$T/client/"
ext_etcdctl() {
  ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.1:$port" --cacert "$ROOT/etc/kubernetes/pki/etcd/ca.crt" \
    --cert "$T/client/healthcheck-client.crt" --key "$T/client/healthcheck-client.key" "$@"
}
for i in $(seq 1 50); do ext_etcdctl endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
for i in 1 2 3; do ext_etcdctl put "/registry/namespaces/team-$i" "ns-$i" >/dev/null; done
config 'kubeconfig: ""'
sandbox_start_kubelet "$ROOT"

step "kdr sources: external etcd, kube-apiserver's client certificate, no data dir"
expect_rc 0 kdr sources
assert_contains "$OUT" "etcd: external etcd at https://127.0.0.1:$port"
assert_contains "$OUT" "client cert  /etc/kubernetes/pki/apiserver-etcd-client.crt (from kube-apiserver's etcd client"
! grep -q "etcd data dir" <<<"$OUT" || { echo "$OUT"; fail "a data dir is listed for external etcd"; }
! grep -qE '^  /var/lib/etcd ' <<<"$OUT" || fail "/var/lib/etcd is a source"

step "backup: /etc/kubernetes and a snapshot from the external endpoint, members recorded"
expect_rc 0 kdr backup
G=$(latest_gen)
assert_eq "$(jq -r .status "$G/meta.json")" complete "generation status"
assert_eq "$(jq -r .node.etcd.kind "$G/meta.json")" external "recorded layout"
assert_eq "$(jq -r .node.etcd.data_dir "$G/meta.json")" null "recorded data dir"
assert_eq "$(jq -r .etcd.snapshot.endpoint "$G/meta.json")" "https://127.0.0.1:$port" "snapshot endpoint"
assert_eq "$(jq -r '.etcd.members[0].name' "$G/meta.json")" cp-1 "recorded member"
[ -f "$G/etcd/snapshot.db" ] || fail "no snapshot"
jq -e '[.sources[].path] | index("/etc/kubernetes") != null and index("/var/lib/etcd") == null' "$G/meta.json" >/dev/null ||
  fail "sources of the generation: $(jq -c '[.sources[].path]' "$G/meta.json")"
expect_rc 0 kdr verify
expect_rc 0 kdr show
assert_contains "$OUT" "etcd layout   external etcd at https://127.0.0.1:$port"
assert_contains "$OUT" "kdr --root $ROOT --backup-dir $BACKUP restore restore-files -g"
! grep -q "^    kdr .*restore restore-etcd-snapshot" <<<"$OUT" || { echo "$OUT"; fail "show offers an etcd restore on this node"; }

step "restore-etcd-snapshot is refused with the commands for each member; nothing changes"
before=$(node_state)
etcd_before=$(ext_etcdctl endpoint status -w json | jq -r '.[0].Status.header.cluster_id')
expect_rc 1 kdr restore restore-etcd-snapshot --yes
assert_contains "$OUT" "external etcd at https://127.0.0.1:$port"
assert_contains "$OUT" "Nothing was changed"
assert_contains "$OUT" "etcdutl snapshot restore $G/etcd/snapshot.db --name cp-1 --initial-cluster cp-1=https://127.0.0.1:"
assert_contains "$OUT" "--initial-cluster-token kdr-restore-$(basename "$G")"
assert_eq "$(node_state)" "$before" "the node after the refused restore"
[ ! -d "$ROOT/var/lib/kdr/restores" ] || [ -z "$(restore_id)" ] || fail "a restore was journaled"
expect_rc 1 kdr restore rebuild-node --dry-run
assert_contains "$OUT" "external etcd"

step "restore-files: the node's certificates back, etcd left alone"
rm "$ROOT/etc/kubernetes/pki/apiserver.crt" "$ROOT/etc/kubernetes/admin.conf"
expect_rc 0 kdr restore restore-files --dry-run
assert_contains "$OUT" "etcd is not restored by this plan"
! grep -q "move-aside /var/lib/etcd" <<<"$OUT" || { echo "$OUT"; fail "the plan moves a data dir"; }
expect_rc 0 kdr restore restore-files --yes
assert_contains "$OUT" "etcd is healthy"
cmp "$ROOT/etc/kubernetes/pki/apiserver.crt" "$G/files/etc/kubernetes/pki/apiserver.crt" || fail "apiserver.crt is not back"
[ -f "$ROOT/etc/kubernetes/admin.conf" ] || fail "admin.conf is not back"
assert_eq "$(ext_etcdctl endpoint status -w json | jq -r '.[0].Status.header.cluster_id')" "$etcd_before" \
  "the external etcd's cluster id"
assert_eq "$(ext_etcdctl get --prefix /registry/namespaces/ --keys-only | grep -c .)" 3 "keys of the external etcd"
[ ! -e "$ROOT/var/lib/etcd" ] || fail "the restore made /var/lib/etcd"
