#!/usr/bin/env bash
# One Deployment put back as it was just before a mistake, with the cluster running: the app
# (Namespace, ServiceAccount, Secret api-db encrypted with aescbc, Deployment, ReplicaSet, Pod,
# written by tests/helpers/k8s_store.cpp as kube-apiserver 1.32 stores them; there is no
# kube-apiserver here) is created after the last backup, then deleted in the order the API
# server and its controllers delete it (the Deployment's key; the garbage collector deletes its
# ReplicaSet, then the Pod gets its deletionTimestamp and, once the kubelet has stopped it, its
# key is deleted; the Secret is deleted by hand with it). restore-etcd-keys --set
# object=deployments/payments/api at an RFC 3339 time from the change journal lists the
# missing Secret the pod template names, puts it back with with_dependencies=true, and both
# come back byte for byte (the Secret still encrypted). A live Deployment changed after the
# point is refused unless overwrite=true, with the fields that would change.
source "$(dirname "$0")/../lib/scenario.sh"
fixtures=$KDR_SOURCE_DIR/tests/fixtures/k8s-objects

value_of() { sandbox_etcdctl "$ROOT" get "$1" -w json | jq -r '.kvs[0].value // "absent"'; }  # base64

make_running_node
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'
enc=$ROOT/etc/kubernetes/enc
mkdir -p "$enc" && chmod 700 "$enc"
printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - {name: key1, secret: %s}\n  - identity: {}\n' \
  "$(head -c 32 /dev/urandom | base64)" > "$enc/config.yaml"
chmod 600 "$enc/config.yaml"
mount_encryption_config

step "a backup, then the follower; the app is created after the backup"
expect_rc 0 kdr backup
start_follower
wait_caught_up
jq '.metadata.name = "api-db"' "$fixtures/secret-db.json" > "$T/secret-api-db.json"
k8s_store put "$fixtures"/{namespace,serviceaccount,configmap}.json >/dev/null
k8s_store --encryption "$enc/config.yaml" put "$T/secret-api-db.json" >/dev/null
k8s_store put "$fixtures"/{deployment,replicaset,pod}.json >/dev/null
deploy=/registry/deployments/payments/api secret=/registry/secrets/payments/api-db
want_deploy=$(value_of $deploy) want_secret=$(value_of $secret)
assert_eq "$(sandbox_etcdctl "$ROOT" get $secret --print-value-only | head -c 23)" "k8s:enc:aescbc:v1:key1:" "the Secret at rest"
wait_caught_up
sleep 1.2
point_time=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.2

step "the mistake: the Deployment deleted, the garbage collector and kubelet finish; its Secret deleted"
k8s_store delete deployments payments api >/dev/null
k8s_store delete replicasets payments api-6d4b9c7f8 >/dev/null
jq '.metadata.deletionTimestamp = "2026-12-01T09:00:00Z" | .metadata.deletionGracePeriodSeconds = 30' \
  "$fixtures/pod.json" > "$T/pod-deleting.json"
k8s_store put "$T/pod-deleting.json" >/dev/null
k8s_store delete pods payments api-6d4b9c7f8-x2k4q >/dev/null
k8s_store delete secrets payments api-db >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/team-1/written-after-the-delete new >/dev/null
wait_caught_up
del_rev=$(kdr journal find $deploy --json | jq '[.[] | select(.type == "delete")][0].revision')

step "kdr history names the delete"
expect_rc 0 kdr history deploy/api -n payments
assert_contains "$OUT" "deleted"

step "to=auto: just before the Deployment's deletion; the plan lists the Secret its pods need"
expect_rc 0 kdr restore restore-etcd-keys --set object=deploy/payments/api --dry-run
assert_contains "$OUT" "to=auto: Deployment payments/api began to be deleted at revision $del_rev"
assert_contains "$OUT" "the keys are read at revision $((del_rev - 1)), just before"
assert_contains "$OUT" "Deployment payments/api: absent live; put back as the change journal's revision $((del_rev - 1)) (replayed) holds it"
assert_contains "$OUT" "Deployment payments/api needs Secret payments/api-db (spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name), which is missing live; the change journal's revision $((del_rev - 1)) (replayed) holds it: --set with_dependencies=true puts it back too"
assert_contains "$OUT" "2 objects they need are live"
[ "$(value_of $deploy)" = absent ] || fail "the dry run wrote the Deployment"

step "a mistyped or incomplete object is refused, naming the value"
expect_rc 2 kdr restore restore-etcd-keys --set object=deploymnts/payments/api --dry-run
assert_contains "$OUT" "object 'deploymnts/payments/api': kdr does not know the resource 'deploymnts' (did you mean deployments"
expect_rc 2 kdr restore restore-etcd-keys --set object=deploy/api --dry-run
assert_contains "$OUT" "object 'deploy/api': deployments are namespaced: deploy/NAMESPACE/NAME"

step "restore at $point_time (before the mistake) with its dependencies: byte for byte, the rest kept"
expect_rc 0 kdr restore restore-etcd-keys --set object=deployments/payments/api --set to="$point_time" \
  --set with_dependencies=true --yes
assert_contains "$OUT" "Deployment payments/api needs Secret payments/api-db"
assert_contains "$OUT" "put back too, from the change journal's revision"
assert_contains "$OUT" "wrote 2 keys into the live etcd: deployments 1, secrets 1"
assert_eq "$(value_of $deploy)" "$want_deploy" "the Deployment's stored bytes"
assert_eq "$(value_of $secret)" "$want_secret" "the Secret's stored bytes (encrypted)"
assert_eq "$(value_of /registry/replicasets/payments/api-6d4b9c7f8)" absent "the ReplicaSet (the controller makes it again)"
assert_eq "$(sandbox_etcdctl "$ROOT" get --print-value-only /registry/configmaps/team-1/written-after-the-delete)" new \
  "a key written after the delete"
expect_rc 0 kdr get deploy api -n payments --at live -o json
assert_eq "$(echo "$OUT" | sed -n '/^{/,$p' | jq .spec.replicas)" 3 "the Deployment as kubectl shows it"
first=$(restore_id)

step "the live Deployment scaled after the point: overwriting it is refused unless told, with what changes"
jq '.spec.replicas = 5' "$fixtures/deployment.json" > "$T/deployment-5.json"
k8s_store put "$T/deployment-5.json" >/dev/null
wait_caught_up
live_rev=$(sandbox_etcdctl "$ROOT" get $deploy -w json | jq '.kvs[0].mod_revision')
expect_rc 1 kdr restore restore-etcd-keys --set object=deployments/payments/api --set to="$point_time" --yes
assert_contains "$OUT" "Deployment payments/api: it changed live at revision $live_rev, after the point"
assert_contains "$OUT" "it is not overwritten unless told (--set overwrite=true"
assert_contains "$OUT" "spec.replicas: 5 -> 3"
assert_eq "$(sandbox_etcdctl "$ROOT" get $deploy --print-value-only | head -c 3)" k8s "the live Deployment"
[ "$(value_of $deploy)" != "$want_deploy" ] || fail "the refused restore wrote the Deployment"
expect_rc 0 kdr restore restore-etcd-keys --set object=deployments/payments/api --set to="$point_time" \
  --set overwrite=true --yes
assert_contains "$OUT" "overwritten (overwrite=true)"
assert_contains "$OUT" "3 objects they need are live"
assert_eq "$(value_of $deploy)" "$want_deploy" "the Deployment after overwrite=true"
second=$(restore_id)

step "the rollbacks: the scaled Deployment back; then the Secret the first restore wrote, not the Deployment changed since"
expect_rc 0 kdr restore --rollback "$second" --yes

expect_rc 0 kdr get deploy api -n payments --at live -o json
assert_eq "$(echo "$OUT" | sed -n '/^{/,$p' | jq .spec.replicas)" 5 "after the second rollback"
expect_rc 0 kdr restore --rollback "$first" --yes
assert_eq "$(value_of $secret)" absent "the Secret after the first rollback"
assert_contains "$OUT" "changed in the live etcd since the restore wrote it: left as it is"
stop_follower
