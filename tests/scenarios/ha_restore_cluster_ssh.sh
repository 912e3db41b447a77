#!/usr/bin/env bash
# An HA control plane of three real etcd members loses quorum (the data of cp-2 and cp-3 is
# destroyed, their nodes stay up), and one command on cp-1 brings it back: `kdr restore restore-etcd-cluster`
# drives cp-2 and cp-3 over SSH (real sshds from Debian's openssh-server, each on its node's
# loopback address and a high port, key authentication, verified host keys). kube-apiserver is
# stopped on the other nodes first and started at the end; each node journals its own join.
# At the end the three are one cluster (one id), all voting, serving the backup's keys, and
# every node's kubelet restarted (cp-2's and cp-3's through their kdr over SSH). Then the whole
# restore is rolled back from cp-1, on every node.
source "$(dirname "$0")/../lib/scenario.sh"

R1=$T/cp-1 R2=$T/cp-2 R3=$T/cp-3

step "three control-plane nodes, each backed up onto its own second disk; cp-1 reaches the others over SSH"
sandbox_make_ha_cluster "$R1" "$R2" "$R3"
own_disks "$R1" "$R2" "$R3"
ssh_to_nodes "$T" "$KDR_BIN" "$R1" "$R2" "$R3"
# Each node's kubelet restart: a script that records it (there is no kubelet to restart here).
for r in "$R1" "$R2" "$R3"; do
  printf '#!/bin/sh\necho restarted >> %s\n' "$T/kubelet-$(basename "$r").log" > "$T/restart-kubelet-$(basename "$r")"
  chmod 755 "$T/restart-kubelet-$(basename "$r")"
  printf 'kubelet:\n  restart: [%s]\n' "$T/restart-kubelet-$(basename "$r")" >> "$r/etc/kdr/kdr.yaml"
done
for i in 1 2 3; do sandbox_etcdctl "$R1" put "/registry/configmaps/team-$i/settings" "value-$i" >/dev/null; done
for r in "$R1" "$R2" "$R3"; do OUT=$(on_node "$r" backup -q 2>&1) || fail "backup on $r: $OUT"; done
ROOT=$R1
backup_keys=$(member_keyspace "$R1")
old_cluster=$(member_cluster_id "$R1")
manifest2=$(cat "$R2/etc/kubernetes/manifests/etcd.yaml")

step "disaster: the data of cp-2 and cp-3 is destroyed (their etcd crash-loops on it); the cluster has lost quorum"
for r in "$R2" "$R3"; do
  sandbox_stop_kubelet "$r"
  head -c 1048576 /dev/urandom > "$r/var/lib/etcd/member/snap/db"
  sandbox_start_kubelet "$r"
done
! sandbox_etcdctl "$R1" --dial-timeout 1s --command-timeout 3s put /registry/x y >/dev/null 2>&1 || fail "the cluster still takes writes"

step "the plan shows every node's steps before anything runs"
OUT=$(on_node "$R1" restore restore-etcd-cluster --dry-run 2>&1) || { echo "$OUT"; fail "the dry run failed"; }
assert_contains "$OUT" "over ssh root@127.0.0.12 port $(cat "$T/sshd-cp-2/port"): $KDR_BIN --root $R2"
assert_contains "$OUT" "pods stop kube-apiserver --wait 120"
assert_contains "$OUT" "restore replace-etcd-member --yes --set via=https://127.0.0.11:"
assert_contains "$OUT" "node cp-3 answers over ssh (root@127.0.0.13 port"
[ -z "$(ls "$R2/var/lib/kdr/restores" 2>/dev/null)" ] || fail "the dry run started a restore on cp-2"

step "restore-etcd-cluster on cp-1, one command (every program it starts, here and over SSH, traced)"
rc=0
OUT=$(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  strace -f -qq -s 65536 -e trace=execve -e status=successful -o "$T/restore.trace" \
  "$KDR_BIN" --root "$R1" --backup-dir "$T/disk2-cp-1" restore restore-etcd-cluster --yes 2>&1) || rc=$?
[ "$rc" -eq 0 ] || { echo "$OUT"; fail "restore-etcd-cluster exited $rc"; }
assert_contains "$OUT" "[cp-2] kube-apiserver: moved"
assert_contains "$OUT" "[cp-3] "
assert_contains "$OUT" "to a voting member"
assert_contains "$OUT" "the cluster has 3 started voting members"
id=$(restore_id)

step "no key material in any argv of the restore, nor in any log or journal it wrote on any node"
grep -q 'execve("[^"]*/ssh"' "$T/restore.trace" || fail "strace saw no ssh started: the check proves nothing"
secret_material "$R1" "$R2" "$R3" > "$T/secrets"
[ "$(wc -l < "$T/secrets")" -ge 9 ] || fail "too few secrets to look for: $(wc -l < "$T/secrets")"
! grep -F -f "$T/secrets" "$T/restore.trace" >&2 || fail "key material in an argv of the restore"
for r in "$R1" "$R2" "$R3"; do
  ! grep -rlF -f "$T/secrets" "$r/var/lib/kdr/restores" >&2 || fail "key material in a restore's files on $(basename "$r")"
done

step "one cluster of three voting members, serving the backup's keys on every member; kube-apiserver back everywhere"
new_cluster=$(member_cluster_id "$R1")
[ -n "$new_cluster" ] && [ "$new_cluster" != "$old_cluster" ] || fail "cp-1 is still the old cluster ($old_cluster)"
members=$(sandbox_etcdctl "$R1" member list -w json)
assert_eq "$(jq '[.members[] | select(.isLearner != true)] | length' <<<"$members")" 3 "voting members"
for r in "$R1" "$R2" "$R3"; do
  assert_eq "$(member_cluster_id "$r")" "$new_cluster" "cluster id of $(basename "$r")"
  assert_eq "$(member_keyspace "$r")" "$backup_keys" "the keys on $(basename "$r")"
  [ -f "$r/etc/kubernetes/manifests/kube-apiserver.yaml" ] || fail "kube-apiserver is not back on $(basename "$r")"
  [ -z "$(ls "$r/var/lib/kdr/held-pods" 2>/dev/null)" ] || fail "a manifest is still held on $(basename "$r")"
done
for r in "$R2" "$R3"; do
  assert_eq "$(on_node "$r" --json restores | jq -r '.[] | select(.playbook == "replace-etcd-member") | .state')" \
    done "the join journaled on $(basename "$r")"
done
sandbox_etcdctl "$R3" put /registry/configmaps/team-1/after yes >/dev/null || fail "the cluster takes no write"
for r in "$R1" "$R2" "$R3"; do
  assert_eq "$(cat "$T/kubelet-$(basename "$r").log" 2>/dev/null)" "restarted" "the kubelet restarts on $(basename "$r")"
done

step "a rollback from cp-1 undoes it on every node: the joins rolled back there, each node's old data and manifests back"
rc=0
OUT=$(on_node "$R1" restore --rollback "$id" --yes 2>&1) || rc=$?
[ "$rc" -eq 0 ] || { echo "$OUT"; fail "the rollback exited $rc"; }
assert_contains "$OUT" "joined cp-2 to cluster"
for r in "$R2" "$R3"; do
  assert_eq "$(on_node "$r" --json restores | jq -r '.[] | select(.playbook == "replace-etcd-member") | .state')" \
    rolled-back "the join on $(basename "$r")"
  [ -f "$r/etc/kubernetes/manifests/kube-apiserver.yaml" ] || fail "kube-apiserver is not back on $(basename "$r")"
done
assert_eq "$(cat "$R2/etc/kubernetes/manifests/etcd.yaml")" "$manifest2" "cp-2's etcd manifest after the rollback"
[ -d "$R1/var/lib/etcd.kdr-$id" ] && fail "cp-1's old data dir is still aside"
true
