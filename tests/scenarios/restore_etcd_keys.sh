#!/usr/bin/env bash
# A namespace deleted by mistake while the cluster keeps working: restore-etcd-keys puts back
# only its keys, byte for byte (a binary value, a custom resource's key), from the snapshot
# opened in a private etcd on a unix socket, into the live etcd that keeps running. Keys written
# elsewhere after the backup survive, a key recreated since is a conflict left alone (or
# replaced with overwrite=true), and the rollback removes exactly what the restore wrote.
source "$(dirname "$0")/../lib/scenario.sh"

value_of() { sandbox_etcdctl "$ROOT" get "$1" -w json | jq -r '.kvs[0].value // "absent"'; }  # base64
team2_keys() { etcd_keys /registry/ | grep -E '^/registry/(namespaces/team-2$|[^/]+/team-2/|[^/]+\.[^/]+/[^/]+/team-2/)' || true; }

step "a running node with namespace team-2 (a binary secret, a custom resource), backed up"
make_running_node
# the Secret below is bytes, not an object kube-apiserver wrote: the restore test a backup runs
# would (rightly) fail on it, and this scenario is about the bytes coming back as they were
config 'kubeconfig: ""
verify: {restore_test_hours: 0}'
printf 'k8s\0\001\002\nbinary\377' | sandbox_etcdctl "$ROOT" put /registry/secrets/team-2/token >/dev/null
sandbox_etcdctl "$ROOT" put /registry/example.com/widgets/team-2/w1 '{"kind":"Widget"}' >/dev/null
kdr backup -q
gen=$(basename "$(latest_gen)")
declare -A backed_up
for k in $(team2_keys); do backed_up[$k]=$(value_of "$k"); done
[ "${#backed_up[@]}" -eq 5 ] || fail "expected 5 keys of team-2, got: ${!backed_up[*]}"
cluster=$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq -r '.[0].Status.header.cluster_id')

step "disaster: namespace team-2 deleted; the cluster keeps writing elsewhere; one of its objects is created again"
sandbox_etcdctl "$ROOT" del --prefix /registry/configmaps/team-2/ >/dev/null
sandbox_etcdctl "$ROOT" del --prefix /registry/pods/team-2/ >/dev/null
sandbox_etcdctl "$ROOT" del --prefix /registry/secrets/team-2/ >/dev/null
sandbox_etcdctl "$ROOT" del --prefix /registry/example.com/widgets/team-2/ >/dev/null
sandbox_etcdctl "$ROOT" del /registry/namespaces/team-2 >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-1/written-after-the-backup new >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-3/settings changed-after-the-backup >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-2/settings recreated >/dev/null
recreated=$(value_of /registry/configmaps/team-2/settings)
before_rev=$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq -r '.[0].Status.header.revision')

step "the dry run counts the keys per resource and names the conflict"
expect_rc 0 kdr restore restore-etcd-keys --set namespace=team-2 --dry-run
assert_contains "$OUT" "generation $gen's snapshot holds 5 keys: configmaps 1, example.com/widgets 1, namespaces 1, pods 1, secrets 1 for namespace team-2"
assert_contains "$OUT" "4 to write, 0 already live with the same value, 1 conflict"
assert_contains "$OUT" "conflict: /registry/configmaps/team-2/settings exists live with another value"
assert_contains "$OUT" "read generation $gen's snapshot off a private copy (hashed as it is copied, checked against its record"
[ "$(value_of /registry/namespaces/team-2)" = absent ] || fail "the dry run wrote a key"

step "nothing to put back for a namespace the snapshot does not hold: refused, naming the ones it holds"
expect_rc 1 kdr restore restore-etcd-keys --set namespace=nope --yes
assert_contains "$OUT" "holds no key of namespace nope (its namespaces: team-1, team-2, team-3)"
expect_rc 1 kdr restore restore-etcd-keys --yes
assert_contains "$OUT" "say which keys to put back"

step "kdr restore restore-etcd-keys --set namespace=team-2 --yes, the cluster running"
expect_rc 0 kdr restore restore-etcd-keys --set namespace=team-2 --yes
assert_contains "$OUT" "wrote 4 keys into the live etcd: example.com/widgets 1, namespaces 1, pods 1, secrets 1; 0 already there with the same value; 1 conflict left alone"
id=$(restore_id)

step "team-2's keys are back byte for byte; nothing written elsewhere was rolled back"
for k in "${!backed_up[@]}"; do
  [ "$k" = /registry/configmaps/team-2/settings ] && continue
  assert_eq "$(value_of "$k")" "${backed_up[$k]}" "value of $k"
done
assert_eq "$(value_of /registry/configmaps/team-2/settings)" "$recreated" "the key recreated since (a conflict, left alone)"
assert_eq "$(sandbox_etcdctl "$ROOT" get --print-value-only /registry/configmaps/team-1/written-after-the-backup)" new "a key written after the backup"
assert_eq "$(sandbox_etcdctl "$ROOT" get --print-value-only /registry/configmaps/team-3/settings)" changed-after-the-backup "a key changed after the backup"
status=$(sandbox_etcdctl "$ROOT" endpoint status -w json)
assert_eq "$(jq -r '.[0].Status.header.cluster_id' <<<"$status")" "$cluster" "cluster id (the same cluster, not a restore)"
[ "$(jq -r '.[0].Status.header.revision' <<<"$status")" -gt "$before_rev" ] || fail "etcd's revision went back"
assert_eq "$(grep -c '"op":"etcd-put"' "$ROOT/var/lib/kdr/restores/$id/journal.jsonl")" 4 "keys journaled"
ns_first=$(grep '"op":"etcd-put"' "$ROOT/var/lib/kdr/restores/$id/journal.jsonl" | head -1 | jq -r '.etcd.key | @base64d')
assert_eq "$ns_first" /registry/namespaces/team-2 "the first key written"

step "its rollback removes exactly the keys it wrote"
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-1/written-after-the-restore yes >/dev/null
expect_rc 0 kdr restore --rollback "$id" --yes
assert_eq "$(team2_keys)" /registry/configmaps/team-2/settings "team-2's keys after the rollback"
assert_eq "$(value_of /registry/configmaps/team-2/settings)" "$recreated" "the conflict key after the rollback"
assert_eq "$(sandbox_etcdctl "$ROOT" get --print-value-only /registry/configmaps/team-1/written-after-the-restore)" yes "a key written after the restore"
assert_eq "$(sandbox_etcdctl "$ROOT" get --print-value-only /registry/configmaps/team-1/written-after-the-backup)" new "a key written after the backup"

step "overwrite=true also replaces the conflict; its rollback puts the live value back"
expect_rc 0 kdr restore restore-etcd-keys --set namespace=team-2 --set overwrite=true --yes
assert_contains "$OUT" "wrote 5 keys into the live etcd: configmaps 1,"
for k in "${!backed_up[@]}"; do assert_eq "$(value_of "$k")" "${backed_up[$k]}" "value of $k (overwrite)"; done
id=$(restore_id)
expect_rc 0 kdr restore --rollback "$id" --yes
assert_eq "$(value_of /registry/configmaps/team-2/settings)" "$recreated" "the replaced key after the rollback"
assert_eq "$(team2_keys)" /registry/configmaps/team-2/settings "team-2's keys after the second rollback"

step "prefixes, repeated: only the keys under them"
expect_rc 0 kdr restore restore-etcd-keys --set prefix=/registry/secrets/team-2/ --set prefix=/registry/pods/team-2/ --yes
assert_contains "$OUT" "wrote 2 keys into the live etcd: pods 1, secrets 1"
assert_eq "$(value_of /registry/secrets/team-2/token)" "${backed_up[/registry/secrets/team-2/token]}" "the binary secret"
assert_eq "$(value_of /registry/namespaces/team-2)" absent "the namespace object (not under the prefixes)"
