#!/usr/bin/env bash
# An etcd manifest whose --data-dir (/data/etcd) is under none of its hostPath volumes (the
# volume mounts /var/lib/etcd): a real container would write its data inside itself, where
# it is lost with the pod. kdr says so in sources, backup, verify and the restore plan, does
# not demand /data/etcd on the node, and still takes the consistent snapshot. (The kubelet
# stand-in runs etcd on ROOT/data/etcd, as close as a sandbox gets to "inside the container".)
source "$(dirname "$0")/../lib/scenario.sh"

step "etcd.yaml: --data-dir=/data/etcd, hostPath volume /var/lib/etcd ($(sandbox_etcd_minor))"
SANDBOX_ETCD_DATA_DIR=/data/etcd SANDBOX_ETCD_HOSTPATH=/var/lib/etcd make_running_node
problem="etcd's --data-dir=/data/etcd in /etc/kubernetes/manifests/etcd.yaml is under none of the pod's hostPath volumes"

expect_rc 0 kdr sources
assert_contains "$OUT" "$problem"
! grep -qE '^  /data/etcd +required' <<<"$OUT" || { echo "$OUT"; fail "/data/etcd is required"; }

step "backup: the snapshot is taken, the problem is in the generation's warnings"
expect_rc 0 kdr backup
G=$(latest_gen)
[ -f "$G/etcd/snapshot.db" ] || fail "no snapshot"
jq -e --arg p "$problem" '.warnings | map(select(startswith($p))) | length == 1' "$G/meta.json" >/dev/null ||
  fail "the generation's warnings do not name the unmounted data dir"
assert_eq "$(jq -r .node.etcd.data_dir_mounted "$G/meta.json")" false "recorded data_dir_mounted"

step "verify reports it as a finding"
expect_rc 4 kdr verify
assert_contains "$OUT" "[etcd layout] etcd: $problem"

step "the restore plan says it too"
expect_rc 0 kdr restore restore-etcd-snapshot --dry-run
assert_contains "$OUT" "note: $problem"
