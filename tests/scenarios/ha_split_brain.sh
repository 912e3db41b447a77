#!/usr/bin/env bash
# An HA control plane: three real etcd members (TLS, peer certificates, 127.0.0.11-13, each
# node under its own kubelet stand-in, manifests as kubeadm init and join write them). A
# snapshot restore on one member while the two others keep quorum would start a second
# cluster beside them: refused, naming them, nothing changed. Once the two others are down
# (quorum lost), the same restore runs and the node serves the backup's keys as a one-member
# cluster.
source "$(dirname "$0")/../lib/scenario.sh"

step "three control-plane nodes of one etcd cluster"
R1=$T/cp-1 R2=$T/cp-2 R3=$T/cp-3
sandbox_make_ha_cluster "$R1" "$R2" "$R3"
ROOT=$R1
config 'kubeconfig: ""'
assert_eq "$(sandbox_etcdctl "$R1" member list -w json | jq '[.members[] | select(.isLearner != true)] | length')" 3 "voting members"
for i in 1 2 3; do sandbox_etcdctl "$R2" put "/registry/configmaps/team-$i/settings" "value-$i" >/dev/null; done
assert_eq "$(sandbox_etcdctl "$R3" get /registry/configmaps/team-2/settings --print-value-only)" value-2 "replicated to cp-3"

step "a backup on cp-1 records the three members"
kdr backup -q
gen=$(latest_gen)
assert_eq "$(jq -r '[.etcd.members[].name] | sort | join(",")' "$gen/meta.json")" "cp-1,cp-2,cp-3" "members recorded"
c2=$(jq -r '.etcd.members[] | select(.name == "cp-2") | .client_urls[0]' "$gen/meta.json")
expect_rc 0 kdr show latest
assert_contains "$OUT" "3 members: "
assert_contains "$OUT" "; the snapshot from cp-1"
assert_contains "$OUT" "restore replace-etcd-member -g"
assert_contains "$c2" "https://127.0.0.12:"

step "damage: a namespace deleted; restore-etcd-snapshot on cp-1 while cp-2 and cp-3 keep quorum: refused"
sandbox_etcdctl "$R1" del --prefix /registry/configmaps/team-2/ >/dev/null
data_inode=$(stat -c %i "$R1/var/lib/etcd")
manifest_sum=$(sha256sum "$R1/etc/kubernetes/manifests/etcd.yaml")
expect_rc 1 kdr restore restore-etcd-snapshot --yes --set accept_loss=true
assert_contains "$OUT" "the other members of this node's etcd cluster still keep quorum"
assert_contains "$OUT" "cp-2 ($c2): answers as cluster"
assert_contains "$OUT" "serves reads (the cluster has quorum)"
assert_contains "$OUT" "a split brain"
assert_contains "$OUT" "--set force_new_cluster=true restores anyway"
assert_eq "$(stat -c %i "$R1/var/lib/etcd")" "$data_inode" "cp-1's data dir moved"
assert_eq "$(sha256sum "$R1/etc/kubernetes/manifests/etcd.yaml")" "$manifest_sum" "cp-1's manifest changed"
[ -z "$(ls -d "$R1"/var/lib/etcd.kdr-* 2>/dev/null)" ] || fail "a restore folder was left beside the data dir"
assert_eq "$(sandbox_etcdctl "$R2" member list -w json | jq '.members | length')" 3 "the cluster still has three members"
sandbox_etcdctl "$R3" put /registry/configmaps/team-1/after-the-refusal yes >/dev/null

step "quorum lost: cp-2 and cp-3 down; the same restore runs and cp-1 serves the backup as a one-member cluster"
sandbox_stop_kubelet "$R2"
sandbox_stop_kubelet "$R3"
expect_rc 0 kdr restore restore-etcd-snapshot --yes --set accept_loss=true
assert_contains "$OUT" "no other member of the generation's 3-member cluster serves reads"
assert_contains "$OUT" "cp-2 ($c2): does not answer"
assert_eq "$(sandbox_etcdctl "$R1" get /registry/configmaps/team-2/settings --print-value-only)" value-2 "the deleted key is back"
assert_eq "$(sandbox_etcdctl "$R1" member list -w json | jq '.members | length')" 1 "a one-member cluster"
