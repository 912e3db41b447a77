#!/usr/bin/env bash
# restore-etcd-cluster reaches the other nodes over SSH (real sshds from Debian's
# openssh-server on loopback). When one of them cannot be reached as it should be, the
# preflight stops the restore with an error of its own, and nothing changes on any node:
#   - cp-3's host key is not the one cp-1's known_hosts holds (a rebuilt node, or another host);
#   - cp-3 refuses cp-1's key;
#   - cp-3's sshd is down (unreachable).
# kdr-test: once (SSH faults, refused before etcd is touched: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

R1=$T/cp-1 R2=$T/cp-2 R3=$T/cp-3

# node_shape ROOT: what a restore would change on a node (its manifests and PKI, the names under
# /var/lib: a data dir moved aside; on the other nodes kdr's state too: a pod held, a restore
# begun), not what a running etcd writes. cp-1 journals the refused restore in its own state
# folder (kdr restores lists it), which is no change to the node.
node_shape() {
  tree_listing "$1/etc/kubernetes"
  ls -a "$1/var/lib" | grep -vx kdr
  [ "$1" = "$R1" ] || [ ! -d "$1/var/lib/kdr" ] || tree_listing "$1/var/lib/kdr"
}
shapes() { local r; for r in "$R1" "$R2" "$R3"; do node_shape "$r"; done; }

# expect_refused WHAT MESSAGE: the restore fails in its preflight with MESSAGE, changing nothing
expect_refused() {
  local before rc=0
  before=$(shapes)
  OUT=$(on_node "$R1" restore restore-etcd-cluster --yes 2>&1) || rc=$?
  [ "$rc" -eq 1 ] || { echo "$OUT"; fail "$1: restore-etcd-cluster exited $rc, not 1"; }
  assert_contains "$OUT" "preflight found"
  assert_contains "$OUT" "$2"
  assert_contains "$OUT" "nothing was changed"
  local after
  after=$(shapes)
  [ "$after" = "$before" ] || { diff <(echo "$before") <(echo "$after") || true; fail "$1: the nodes changed"; }
}

step "three control-plane nodes, backed up; cp-1 reaches the others over SSH; then quorum is lost"
sandbox_make_ha_cluster "$R1" "$R2" "$R3"
own_disks "$R1" "$R2" "$R3"
ssh_to_nodes "$T" "$KDR_BIN" "$R1" "$R2" "$R3"
for r in "$R1" "$R2" "$R3"; do OUT=$(on_node "$r" backup -q 2>&1) || fail "backup on $r: $OUT"; done
ROOT=$R1
sandbox_stop_kubelet "$R2"
sandbox_stop_kubelet "$R3"
known=$R1/etc/kdr/ssh/known_hosts
port3=$(cat "$T/sshd-cp-3/port")
cp "$known" "$T/known_hosts.good"

step "cp-3 answers with another host key than the one known: refused, nothing changed"
ssh-keygen -q -t ed25519 -N '' -f "$T/other_host_key"
grep -v "127.0.0.13" "$T/known_hosts.good" > "$known"
echo "[127.0.0.13]:$port3 $(cut -d' ' -f1,2 "$T/other_host_key.pub")" >> "$known"
expect_refused "host key" "node cp-3 (root@127.0.0.13 port $port3): its host key is not the one /etc/kdr/ssh/known_hosts holds"
[ -z "$(ls "$R2/var/lib/kdr/held-pods" 2>/dev/null)" ] || fail "kube-apiserver was stopped on cp-2"

step "cp-3's host key is not known at all: refused, nothing changed"
grep -v "127.0.0.13" "$T/known_hosts.good" > "$known"
expect_refused "unknown host key" "node cp-3 (root@127.0.0.13 port $port3): /etc/kdr/ssh/known_hosts holds no host key for it"
cp "$T/known_hosts.good" "$known"

step "cp-3 refuses cp-1's key: refused, nothing changed"
mv "$T/sshd-cp-3/authorized_keys" "$T/authorized_keys.cp-3"
: > "$T/sshd-cp-3/authorized_keys"
expect_refused "refused key" "node cp-3 (root@127.0.0.13 port $port3): it refused kdr's key /etc/kdr/ssh/id_ed25519"
mv "$T/authorized_keys.cp-3" "$T/sshd-cp-3/authorized_keys"

step "cp-3's sshd is down: refused, nothing changed"
sshd_stop "$T/sshd-cp-3"
expect_refused "unreachable" "node cp-3 (root@127.0.0.13 port $port3): cannot connect (ssh: connect to host 127.0.0.13 port $port3: Connection refused)"

step "every fault in one run is named, each node once"
echo "[127.0.0.12]:$(cat "$T/sshd-cp-2/port") $(cut -d' ' -f1,2 "$T/other_host_key.pub")" > "$known"
expect_refused "two faults" "node cp-2 (root@127.0.0.12 port $(cat "$T/sshd-cp-2/port")): its host key is not the one"
assert_contains "$OUT" "node cp-3 (root@127.0.0.13 port $port3): cannot connect"
assert_eq "$(grep -c 'node cp-2 (root@' <<<"$OUT")" 1 "lines naming cp-2's fault"
