#!/usr/bin/env bash
# The node cp-old (127.0.0.66) is gone; a replacement machine, cp-new at 127.0.0.77 (its own
# UTS namespace: unshare -u), has the old node's second disk. Two ways to bring the control
# plane back under the new name and address, from the same generation, in the same run:
#   - kdr restore rebuild-node --set address=127.0.0.77 --set node_name=cp-new;
#   - by hand, as an operator would on a machine with another address: the generation's
#     /etc/kubernetes copied back (rsync -a, manifests left out), the certificates and keys that
#     name the old node removed (apiserver, etcd server and peer), the kubeconfigs and kubeadm's
#     configuration edited by sed (old address and name -> new; the node's InitConfiguration
#     added), etcd's snapshot restored with etcdctl under the new member name and peer URL, then
#     kubeadm init with the edited configuration (its certs, kubeconfig, control-plane and etcd
#     phases; a non-empty etcd data dir allowed).
# For each: seconds from the first command to etcd serving the backup's keys as member cp-new at
# the new address, and what is left behind (the old node's Node, Lease and endpoint lease in etcd).
# kubeadm cannot run here: tests/fakes/kubeadm stands in for it (both ways run the same one).
#
#   bench/rebuild-elsewhere.sh [--quick] [--size-mb N] [--kdr PATH]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_args 200 20 1 "$@"
export PATH="$here/../tests/fakes:$PATH"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
run() { local log=$W/$1.log; shift; "$@" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }; }
on_new_machine() { unshare -u bash -c 'hostname cp-new && exec "$@"' on_new_machine "$@"; }
ROOT=$W/node
B=$W/disk2/kdr
mkdir -p "$W/disk2"

echo "bench: the old node cp-old (127.0.0.66) with an etcd database of at least $size_mb MB..." >&2
SANDBOX_NODE_NAME=cp-old SANDBOX_NODE_IP=127.0.0.66 sandbox_make_node "$ROOT"
mkdir -p "$ROOT/etc/kdr"
echo '# the defaults: kubeconfig /etc/kubernetes/admin.conf, read by the kubectl stand-in' > "$ROOT/etc/kdr/kdr.yaml"
sandbox_start_kubelet "$ROOT"
sandbox_wait_etcd "$ROOT" 30
cport=$(cat "$ROOT/.sandbox-client-port") pport=$(cat "$ROOT/.sandbox-peer-port")
sandbox_kubeadm_config "$ROOT" cp-old 127.0.0.66 /var/lib/etcd > "$W/kubeadm-config.yaml"
export FAKE_KUBEADM_CONFIG=$W/kubeadm-config.yaml
bench_fill_until "$ROOT" bench_db_at_least "$ROOT" "$size_mb"
db_size=$(( $(stat -c %s "$ROOT/var/lib/etcd/member/snap/db") >> 20 ))
sandbox_etcdctl "$ROOT" put /registry/minions/cp-old node >/dev/null
sandbox_etcdctl "$ROOT" put /registry/leases/kube-node-lease/cp-old lease >/dev/null
sandbox_etcdctl "$ROOT" put /registry/masterleases/127.0.0.66 endpoints >/dev/null
run backup "$kdr_bin" --root "$ROOT" --backup-dir "$B" backup -q
gen=$(readlink -f "$B/latest")
cp -p "$ROOT/etc/kdr/node.key" "$W/node.key"
want=$(sandbox_etcdctl "$ROOT" get --prefix /registry/ --keys-only | grep . | grep -v -e /minions/cp-old -e /kube-node-lease/cp-old -e /masterleases/ | sort | md5sum)

# the machine replaced: nothing of the old node but its second disk (and a kubelet)
wipe() {
  sandbox_stop_kubelet "$ROOT"
  rm -rf "${ROOT:?}"/* "$ROOT.kubeadm-calls"
  mkdir -p "$ROOT/etc/kdr"
  echo '# the defaults: kubeconfig /etc/kubernetes/admin.conf, read by the kubectl stand-in' > "$ROOT/etc/kdr/kdr.yaml"
  sandbox_start_kubelet "$ROOT"
}
serves_as_new() {
  local m
  m=$(ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.77:$cport" --cacert "$ROOT/etc/kubernetes/pki/etcd/ca.crt" \
    --cert "$ROOT/etc/kubernetes/pki/etcd/healthcheck-client.crt" --key "$ROOT/etc/kubernetes/pki/etcd/healthcheck-client.key" \
    --dial-timeout 1s --command-timeout 5s member list -w json 2>/dev/null) || return 1
  [ "$(jq -r '.members[0].name' <<<"$m")" = cp-new ]
}
wait_serves() { local i; for i in $(seq 1 1200); do serves_as_new && return 0; sleep 0.1; done; echo "bench: etcd never served as cp-new" >&2; exit 1; }
keys_now() { sandbox_etcdctl "$ROOT" get --prefix /registry/ --keys-only | grep . | grep -v -e /minions/cp-old -e /kube-node-lease/cp-old -e /masterleases/ | sort | md5sum; }
left_behind() { sandbox_etcdctl "$ROOT" get --prefix /registry/ --keys-only | grep -c -e /minions/cp-old -e /kube-node-lease/cp-old -e /masterleases/127.0.0.66 || true; }

declare -A secs left
wipe
bench_drop_caches
t0=$(now)
run kdr on_new_machine "$kdr_bin" --root "$ROOT" --backup-dir "$B" restore rebuild-node --yes \
  --set key_file="$W/node.key" --set address=127.0.0.77 --set node_name=cp-new
wait_serves
secs[kdr]=$(since "$t0")
[ "$(keys_now)" = "$want" ] || { echo "bench: kdr's rebuild does not serve the backup's keys" >&2; exit 1; }
left[kdr]=$(left_behind)
# where kdr's seconds went: its journal's steps, the slowest first
kdr_steps=$(jq -s -r '(map(select(.event == "begin")) | map({key: (.step | tostring), value: .type}) | from_entries) as $t
  | map(select(.event == "done")) | sort_by(-.seconds) | .[0:4] | map("\($t[.step | tostring]) \(.seconds * 100 | round / 100) s") | join(", ")' \
  "$ROOT"/var/lib/kdr/restores/*/journal.jsonl)

wipe
bench_drop_caches
t0=$(now)
by_hand() {
  set -e
  rsync -a --exclude /manifests/ "$gen/files/etc/kubernetes/" "$ROOT/etc/kubernetes/"
  rm -f "$ROOT"/etc/kubernetes/pki/apiserver.{crt,key} "$ROOT"/etc/kubernetes/pki/etcd/{server,peer}.{crt,key}
  sed -i 's/127\.0\.0\.66/127.0.0.77/g' "$ROOT"/etc/kubernetes/*.conf
  sed -e 's/127\.0\.0\.66/127.0.0.77/g' -e 's/cp-old/cp-new/g' "$W/kubeadm-config.yaml" > "$W/kubeadm-new.yaml"
  printf -- '---\napiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 127.0.0.77\nnodeRegistration:\n  name: cp-new\n' >> "$W/kubeadm-new.yaml"
  ETCDCTL_API=3 etcdctl snapshot restore "$gen/etcd/snapshot.db" --name cp-new --data-dir "$ROOT/var/lib/etcd" \
    --initial-cluster "cp-new=https://127.0.0.77:$pport" --initial-advertise-peer-urls "https://127.0.0.77:$pport" \
    --initial-cluster-token "restored-$RANDOM"
  chmod 700 "$ROOT/var/lib/etcd"
  KDR_ROOT=$ROOT FAKE_KUBEADM_CONFIG=$W/kubeadm-new.yaml kubeadm init --config "$W/kubeadm-new.yaml" \
    --ignore-preflight-errors=DirAvailable--var-lib-etcd
}
run by-hand on_new_machine bash -c "$(declare -f by_hand); ROOT='$ROOT' W='$W' gen='$gen' pport='$pport' by_hand"
wait_serves
secs[by_hand]=$(since "$t0")
[ "$(keys_now)" = "$want" ] || { echo "bench: the by-hand rebuild does not serve the backup's keys" >&2; exit 1; }
left[by_hand]=$(left_behind)

echo
echo "A node rebuilt onto a replacement machine with another name and address (cp-old at 127.0.0.66 -> cp-new at 127.0.0.77), from one generation with an etcd database of $db_size MB. Seconds from the first command to etcd serving the backup's keys as member cp-new at the new address, and the old node's keys left in etcd (its Node, its kubelet's Lease, kube-apiserver's endpoint lease of the old address):"
echo
echo "| way | seconds | old node's keys left | what it does |"
echo "|---|---:|---:|---|"
echo "| kdr restore rebuild-node --set address= --set node_name= | ${secs[kdr]} | ${left[kdr]} | the generation re-hashed and authenticated first; the certificates naming the old node set aside and made again by kubeadm from the saved configuration rewritten for the new node; etcd restored as member cp-new; the old node's keys deleted; the nodes checked; every change journaled and reversible (slowest steps: $kdr_steps) |"
echo "| by hand: rsync, rm of three certificates, sed, etcdctl snapshot restore, kubeadm init | ${secs[by_hand]} | ${left[by_hand]} | the same files in place, nothing checked, nothing kept to go back to |"
