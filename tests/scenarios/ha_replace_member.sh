#!/usr/bin/env bash
# An HA control plane of three real etcd members (TLS, peer certificates, 127.0.0.11-13, each
# node under its own kubelet stand-in): cp-2's data dir is destroyed (its etcd then crash-loops
# as raft does with a lost log), and `kdr restore replace-etcd-member` on cp-2 joins it again
# through the healthy members. A writer runs against cp-1 and cp-3 throughout: it never sees
# errors for longer than one election timeout (1 s). At the end there are three voting members
# and every key is on every member.
source "$(dirname "$0")/../lib/scenario.sh"

R1=$T/cp-1 R2=$T/cp-2 R3=$T/cp-3
endpoint() { echo "https://127.0.0.1:$(cat "$1/.sandbox-client-port")"; }

step "three control-plane nodes of one etcd cluster, a backup on cp-2"
sandbox_make_ha_cluster "$R1" "$R2" "$R3"
ROOT=$R2
config 'kubeconfig: ""'
for i in 1 2 3; do sandbox_etcdctl "$R1" put "/registry/configmaps/team-$i/settings" "value-$i" >/dev/null; done
kdr backup -q

step "a writer against cp-1 and cp-3 for the whole replacement"
writes=$T/writes.log
(
  pki=$R1/etc/kubernetes/pki/etcd i=0
  while [ ! -f "$T/stop-writer" ]; do
    i=$((i + 1))
    if ETCDCTL_API=3 etcdctl --endpoints "$(endpoint "$R1"),$(endpoint "$R3")" --cacert "$pki/ca.crt" \
      --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" --dial-timeout 2s \
      --command-timeout 3s put "/registry/configmaps/writer/w-$i" "$i" >/dev/null 2>&1; then
      echo "ok $(date +%s%3N)"
    else
      echo "err $(date +%s%3N)"
    fi >> "$writes"
  done
) &
writer=$!
SCENARIO_BG_PIDS+=("$writer")
wait_until 20 "the writer's first acknowledged write" grep -q '^ok ' "$writes"

step "disaster: cp-2's data dir destroyed; its etcd crash-loops"
sandbox_stop_kubelet "$R2"
rm -rf "$R2/var/lib/etcd/member"
starts_before=$(grep -c 'started .* from etcd.yaml' "$R2.kubelet/kubelet.log" || true)
sandbox_start_kubelet "$R2"
crash_looped() { [ "$(grep -c 'started .* from etcd.yaml' "$R2.kubelet/kubelet.log")" -ge $((starts_before + 2)) ]; }
wait_until 60 "the kubelet to start cp-2's etcd twice (a crash loop on the empty data dir)" crash_looped
! sandbox_etcdctl "$R2" --dial-timeout 1s --command-timeout 2s get --consistency=s /registry/configmaps/team-1/settings >/dev/null 2>&1 ||
  fail "cp-2's etcd still serves its data"

step "kdr restore replace-etcd-member on cp-2"
expect_rc 0 kdr restore replace-etcd-member --yes
assert_contains "$OUT" "the cluster keeps quorum without this node"
assert_contains "$OUT" "removed member cp-2"
assert_contains "$OUT" "as a learner"
assert_contains "$OUT" "to a voting member"
assert_contains "$OUT" "the cluster has 3 voting members, each serving reads"
grep -q -- '--initial-cluster-state=existing' "$R2/etc/kubernetes/manifests/etcd.yaml" || fail "the manifest does not join"
[ -d "$R2/var/lib/etcd.kdr-$(restore_id)" ] || fail "the old data dir was not kept aside"

touch "$T/stop-writer"
wait "$writer"
step "three voting members, and every key on every member"
members=$(sandbox_etcdctl "$R1" member list -w json)
assert_eq "$(jq '[.members[] | select(.isLearner != true)] | length' <<<"$members")" 3 "voting members"
assert_eq "$(jq -r '[.members[].name] | sort | join(",")' <<<"$members")" "cp-1,cp-2,cp-3" "member names"
sandbox_etcdctl "$R1" put /registry/configmaps/team-1/after-the-replacement yes >/dev/null
for i in $(seq 1 50); do
  [ "$(member_keyspace "$R2" "")" = "$(member_keyspace "$R1" "")" ] && [ "$(member_keyspace "$R3" "")" = "$(member_keyspace "$R1" "")" ] && break
  sleep 0.2
done
assert_eq "$(member_keyspace "$R2" "")" "$(member_keyspace "$R1" "")" "cp-2's keys"
assert_eq "$(member_keyspace "$R3" "")" "$(member_keyspace "$R1" "")" "cp-3's keys"
assert_eq "$(sandbox_etcdctl "$R2" get --consistency=s --print-value-only /registry/configmaps/team-1/after-the-replacement)" yes "a key written after the replacement, read on cp-2"

step "the writer never saw errors for longer than one election timeout"
total=$(wc -l < "$writes")
errors=$(grep -c '^err' "$writes" || true)
longest=$(awk '$1 == "err" && !start { start = $2 } $1 == "ok" && start { d = $2 - start; if (d > m) m = d; start = 0 } END { print m + 0 }' "$writes")
echo "writer: $total writes, $errors failed, longest run of failures $longest ms"
[ "$total" -gt 20 ] || fail "the writer made only $total writes"
[ "$longest" -le 1000 ] || fail "the writer saw errors for $longest ms"
