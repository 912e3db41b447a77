#!/usr/bin/env bash
# A kubespray-shaped node: Kubernetes certificates in /etc/kubernetes/ssl, etcd's in
# /etc/ssl/etcd/ssl with kubespray's names, etcd run by systemd from /etc/etcd.env (no etcd
# manifest). systemd cannot run here: the scenario starts the real etcd with the environment
# file's settings, as the unit's EnvironmentFile= does (etcd reads ETCD_* itself).
# kdr detects etcd under systemd, uses kube-apiserver's etcd client certificate, backs up the
# unit, the environment file and the certificates, verify finds the certificates and the
# service-account key in /etc/kubernetes/ssl, the etcd playbooks say what to run instead and
# change nothing, and a missing certificate is named as missing with the config key. Without
# unit or environment file, the running etcd process itself says where its data is.
source "$(dirname "$0")/../lib/scenario.sh"

step "a kubespray-like node ($(sandbox_etcd_minor))"
sandbox_make_node "$ROOT"
port=$(cat "$ROOT/.sandbox-client-port")
peer=$(cat "$ROOT/.sandbox-peer-port")
k=$ROOT/etc/kubernetes
ssl=$ROOT/etc/ssl/etcd/ssl
mkdir -p "$ssl"
cp "$k/pki/etcd/ca.crt" "$ssl/ca.pem"
cp "$k/pki/etcd/server.crt" "$ssl/member-cp-1.pem"; cp "$k/pki/etcd/server.key" "$ssl/member-cp-1-key.pem"
cp "$k/pki/apiserver-etcd-client.crt" "$ssl/node-cp-1.pem"; cp "$k/pki/apiserver-etcd-client.key" "$ssl/node-cp-1-key.pem"
cp "$k/pki/etcd/healthcheck-client.crt" "$ssl/admin-cp-1.pem"; cp "$k/pki/etcd/healthcheck-client.key" "$ssl/admin-cp-1-key.pem"
chmod 600 "$ssl"/*-key.pem
rm -r "$k/pki/etcd"
mv "$k/pki" "$k/ssl"
rm "$k/manifests/etcd.yaml"
sed -i -e 's|/etc/kubernetes/pki|/etc/kubernetes/ssl|g' \
  -e 's|--etcd-cafile=.*|--etcd-cafile=/etc/ssl/etcd/ssl/ca.pem|' \
  -e 's|--etcd-certfile=.*|--etcd-certfile=/etc/ssl/etcd/ssl/node-cp-1.pem|' \
  -e 's|--etcd-keyfile=.*|--etcd-keyfile=/etc/ssl/etcd/ssl/node-cp-1-key.pem|' "$k"/manifests/*.yaml
sed -i 's|^  volumes:|  volumes:\n  - hostPath:\n      path: /etc/ssl/etcd/ssl\n      type: DirectoryOrCreate\n    name: etcd-certs-0|' \
  "$k/manifests/kube-apiserver.yaml"
mkdir -p "$ROOT/etc/systemd/system"
cat > "$ROOT/etc/systemd/system/etcd.service" <<'EOF'
[Unit]
Description=etcd
After=network.target
[Service]
Type=notify
User=root
EnvironmentFile=/etc/etcd.env
ExecStart=/usr/local/bin/etcd
Restart=always
[Install]
WantedBy=multi-user.target
EOF
cat > "$ROOT/etc/etcd.env" <<EOF
# Environment file for etcd (kubespray's layout)
ETCD_DATA_DIR=/var/lib/etcd
ETCD_NAME=etcd1
ETCD_ADVERTISE_CLIENT_URLS=https://127.0.0.1:$port
ETCD_LISTEN_CLIENT_URLS=https://127.0.0.1:$port
ETCD_INITIAL_ADVERTISE_PEER_URLS=https://127.0.0.1:$peer
ETCD_LISTEN_PEER_URLS=https://127.0.0.1:$peer
ETCD_INITIAL_CLUSTER=etcd1=https://127.0.0.1:$peer
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_CLIENT_CERT_AUTH=true
ETCD_TRUSTED_CA_FILE=/etc/ssl/etcd/ssl/ca.pem
ETCD_CERT_FILE=/etc/ssl/etcd/ssl/member-cp-1.pem
ETCD_KEY_FILE=/etc/ssl/etcd/ssl/member-cp-1-key.pem
ETCD_PEER_CLIENT_CERT_AUTH=true
ETCD_PEER_TRUSTED_CA_FILE=/etc/ssl/etcd/ssl/ca.pem
ETCD_PEER_CERT_FILE=/etc/ssl/etcd/ssl/member-cp-1.pem
ETCD_PEER_KEY_FILE=/etc/ssl/etcd/ssl/member-cp-1-key.pem
ETCDCTL_API=3
ETCDCTL_CACERT=/etc/ssl/etcd/ssl/ca.pem
ETCDCTL_CERT=/etc/ssl/etcd/ssl/admin-cp-1.pem
ETCDCTL_KEY=/etc/ssl/etcd/ssl/admin-cp-1-key.pem
EOF
# What systemd does with EnvironmentFile=: etcd reads its ETCD_* settings from the
# environment (node paths mapped under the sandbox root).
(set -a; . <(grep '^ETCD_' "$ROOT/etc/etcd.env" | sed -e "s|=/etc/|=$ROOT/etc/|" -e "s|=/var/|=$ROOT/var/|"); exec etcd) \
  >"$T/etcd.log" 2>&1 &
SCENARIO_BG_PIDS+=("$!")
etcdctl_admin() {
  ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.1:$port" --cacert "$ssl/ca.pem" --cert "$ssl/admin-cp-1.pem" \
    --key "$ssl/admin-cp-1-key.pem" "$@"
}
for i in $(seq 1 50); do etcdctl_admin endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
etcdctl_admin endpoint health >/dev/null 2>&1 || { cat "$T/etcd.log"; fail "etcd did not start"; }
for i in 1 2 3; do etcdctl_admin put "/registry/namespaces/team-$i" "ns-$i" >/dev/null; done
config 'kubeconfig: ""'

step "kdr sources: etcd under systemd, its files, kube-apiserver's etcd client"
expect_rc 0 kdr sources
assert_contains "$OUT" "etcd: etcd under systemd (/etc/systemd/system/etcd.service), data dir /var/lib/etcd"
assert_contains "$OUT" "data dir     /var/lib/etcd (from /etc/systemd/system/etcd.service (ETCD_DATA_DIR or --data-dir))"
assert_contains "$OUT" "client cert  /etc/ssl/etcd/ssl/node-cp-1.pem (from kube-apiserver's etcd client"
for s in /etc/systemd/system/etcd.service /etc/etcd.env /etc/ssl/etcd/ssl; do
  grep -qE "^  $s " <<<"$OUT" || { echo "$OUT"; fail "$s is not a source"; }
done
grep -qE '^  /var/lib/etcd +required' <<<"$OUT" || { echo "$OUT"; fail "/var/lib/etcd is not required"; }

step "backup and verify: certificates and the service-account key found in /etc/kubernetes/ssl"
expect_rc 0 kdr backup
G=$(latest_gen)
assert_eq "$(jq -r .node.etcd.kind "$G/meta.json")" systemd "recorded layout"
assert_eq "$(jq -r .node.etcd.systemd.env.ETCD_NAME "$G/meta.json")" etcd1 "recorded etcd name"
[ -f "$G/files/etc/etcd.env" ] || fail "/etc/etcd.env is not backed up"
[ -f "$G/files/etc/ssl/etcd/ssl/member-cp-1-key.pem" ] || fail "etcd's certificates are not backed up"
[ -f "$G/etcd/snapshot.db" ] || fail "no snapshot"
expect_rc 0 kdr verify
assert_contains "$OUT" "with /etc/kubernetes/ssl/sa.key"
# backup and node alike: the kubeconfigs' 10 each, and 10 .crt in /etc/kubernetes/ssl and 4
# certificates (.pem, keys left out) in /etc/ssl/etcd/ssl, found from kube-apiserver's flags
n=$(grep -oE '[0-9]+ certificates' <<<"$OUT" | grep -oE '[0-9]+')
want=$(( 2 * (10 + $(ls "$k"/ssl/*.crt | wc -l) + 4) ))
assert_eq "$n" "$want" "certificates verify found"

step "the etcd playbooks say what to run instead, and change nothing"
before=$(node_state)
expect_rc 1 kdr restore restore-etcd-snapshot --yes
assert_contains "$OUT" "etcd under systemd"
assert_contains "$OUT" "systemctl stop etcd.service"
assert_contains "$OUT" "etcdutl snapshot restore $G/etcd/snapshot.db --name etcd1 --initial-cluster etcd1=https://127.0.0.1:$peer"
assert_contains "$OUT" "--data-dir /var/lib/etcd "
assert_contains "$OUT" "Nothing was changed"
assert_eq "$(node_state)" "$before" "the node after the refused restore"
etcdctl_admin endpoint health >/dev/null 2>&1 || fail "etcd is down after the refused restore"

step "a missing certificate is named as missing, with the config key"
config 'kubeconfig: ""
etcd: {cert: /etc/ssl/etcd/ssl/nope.pem, key: /etc/ssl/etcd/ssl/node-cp-1-key.pem, cacert: /etc/ssl/etcd/ssl/ca.pem}'
expect_rc 3 kdr backup
assert_contains "$OUT" "etcd client TLS file /etc/ssl/etcd/ssl/nope.pem is missing"
assert_contains "$OUT" "set etcd.cert in the config"
! grep -qi "refused" <<<"$OUT" || { echo "$OUT"; fail "a missing file is reported as refused"; }

step "no unit, no environment file: the running etcd itself says where its data is"
kill "${SCENARIO_BG_PIDS[0]}"; wait "${SCENARIO_BG_PIDS[0]}" 2>/dev/null || true
rm "$ROOT/etc/systemd/system/etcd.service" "$ROOT/etc/etcd.env"
mv "$ROOT/var/lib/etcd" "$ROOT/srv-etcd"
etcd --name etcd1 --data-dir "$ROOT/srv-etcd" --listen-client-urls "https://127.0.0.1:$port" \
  --advertise-client-urls "https://127.0.0.1:$port" --listen-peer-urls "https://127.0.0.1:$peer" \
  --initial-advertise-peer-urls "https://127.0.0.1:$peer" --initial-cluster "etcd1=https://127.0.0.1:$peer" \
  --client-cert-auth --trusted-ca-file "$ssl/ca.pem" --cert-file "$ssl/member-cp-1.pem" \
  --key-file "$ssl/member-cp-1-key.pem" --peer-trusted-ca-file "$ssl/ca.pem" --peer-cert-file "$ssl/member-cp-1.pem" \
  --peer-key-file "$ssl/member-cp-1-key.pem" >"$T/etcd2.log" 2>&1 &
SCENARIO_BG_PIDS+=("$!")
for i in $(seq 1 50); do etcdctl_admin endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
etcdctl_admin endpoint health >/dev/null 2>&1 || { cat "$T/etcd2.log"; fail "etcd did not start"; }
config 'kubeconfig: ""'
expect_rc 0 kdr sources
assert_contains "$OUT" "etcd: etcd running on this node outside the static pods (no manifest, no known unit), data dir /srv-etcd"
grep -qE '^  /srv-etcd +required' <<<"$OUT" || { echo "$OUT"; fail "/srv-etcd is not required"; }
expect_rc 0 kdr backup
G=$(latest_gen)
assert_eq "$(jq -r .node.etcd.kind "$G/meta.json")" local "recorded layout"
assert_eq "$(jq -r .node.etcd.data_dir "$G/meta.json")" /srv-etcd "recorded data dir (a restore puts etcd back there)"
[ -f "$G/etcd/snapshot.db" ] || fail "no snapshot of the running etcd"
before=$(node_state)
expect_rc 1 kdr restore restore-etcd-snapshot --yes
assert_contains "$OUT" "# stop etcd, however it is run here"
assert_contains "$OUT" "--name etcd1 --initial-cluster etcd1=https://127.0.0.1:$peer"
assert_eq "$(node_state)" "$before" "the node after the refused restore"

step "another local user's process named etcd is never taken for the node's etcd"
kill "${SCENARIO_BG_PIDS[-1]}"; wait "${SCENARIO_BG_PIDS[-1]}" 2>/dev/null || true
mkdir -p "$ROOT/home/mallory/data"
chmod 755 "$T"
setpriv --reuid 65534 --regid 65534 --clear-groups bash -c 'exec -a etcd bash -c "while :; do sleep 0.2; done" etcd --data-dir "$0" --listen-client-urls http://127.0.0.1:1' "$ROOT/home/mallory/data" >/dev/null 2>&1 &
SCENARIO_BG_PIDS+=("$!")
for i in $(seq 1 50); do pgrep -u 65534 -f "data-dir $ROOT/home/mallory" >/dev/null && break; sleep 0.1; done
pgrep -u 65534 -f "data-dir $ROOT/home/mallory" >/dev/null || fail "the unprivileged fake etcd did not start"
rc=0; OUT=$(kdr sources 2>&1) || rc=$?
! grep -q "/home/mallory" <<<"$OUT" || { echo "$OUT"; fail "kdr took an unprivileged user's process for etcd"; }
! grep -qE '127\.0\.0\.1:1([^0-9]|$)' <<<"$OUT" || { echo "$OUT"; fail "kdr took an unprivileged user's endpoint"; }
