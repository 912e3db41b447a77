#!/usr/bin/env bash
# kdr get: Kubernetes objects as kube-apiserver stores them (the corpus of
# tests/fixtures/k8s-objects, written by tests/helpers/k8s_store.cpp: Kubernetes' own .proto
# types, the runtime.Unknown envelope, Secrets encrypted with the aescbc, aesgcm and secretbox
# providers, a custom resource as JSON), read back from a generation's snapshot (off the file,
# no etcd), from the change journal at a revision and a time, and live; printed as kubectl
# prints them. A Secret under a key the configuration lacks, one whose key is wrong, a
# truncated envelope and an unknown kind are each reported and the rest still listed. There
# is no kube-apiserver here: k8s-store writes what it would.
# kdr-test: once (objects read through the v3 JSON gateway, the same in 3.4 and 3.5)
source "$(dirname "$0")/../lib/scenario.sh"
fixtures=$KDR_SOURCE_DIR/tests/fixtures/k8s-objects

make_running_node
enc=$ROOT/etc/kubernetes/enc
mkdir -p "$enc" && chmod 700 "$enc"
k_cbc=$(head -c 32 /dev/urandom | base64) k_gcm=$(head -c 32 /dev/urandom | base64) k_box=$(head -c 32 /dev/urandom | base64)
k_lost=$(head -c 32 /dev/urandom | base64)
# providers FIRST...: an EncryptionConfiguration for secrets whose providers come in this order
providers() {
  {
    printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n'
    local p
    for p in "$@"; do
      case $p in
        aescbc) printf '  - aescbc:\n      keys:\n      - {name: cbc1, secret: %s}\n' "$k_cbc" ;;
        aesgcm) printf '  - aesgcm:\n      keys:\n      - {name: gcm1, secret: %s}\n' "$k_gcm" ;;
        secretbox) printf '  - secretbox:\n      keys:\n      - {name: box1, secret: %s}\n' "$k_box" ;;
        lost) printf '  - aescbc:\n      keys:\n      - {name: lost1, secret: %s}\n' "$k_lost" ;;
        wrong) printf '  - aesgcm:\n      keys:\n      - {name: gcm1, secret: %s}\n' "$k_lost" ;;
      esac
    done
    printf '  - identity: {}\n'
  } > "$T/$1.yaml"
}
for p in aescbc aesgcm secretbox lost wrong; do providers "$p"; done
# The live configuration (and so the generation's): every key but the lost one.
{
  printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n'
  printf '  - aescbc:\n      keys:\n      - {name: cbc1, secret: %s}\n' "$k_cbc"
  printf '  - aesgcm:\n      keys:\n      - {name: gcm1, secret: %s}\n' "$k_gcm"
  printf '  - secretbox:\n      keys:\n      - {name: box1, secret: %s}\n' "$k_box"
  printf '  - identity: {}\n'
} > "$enc/config.yaml"
chmod 600 "$enc/config.yaml"
mount_encryption_config

step "the corpus written as kube-apiserver stores it; Secrets under aescbc, aesgcm and secretbox"
k8s_store put "$fixtures"/{namespace,pod,deployment,replicaset,service,configmap,serviceaccount,lease,node,custom-resource}.json >/dev/null
k8s_store --encryption "$T/aescbc.yaml" put "$fixtures/secret-db.json" >/dev/null
k8s_store --encryption "$T/aesgcm.yaml" put "$fixtures/secret-api-token.json" >/dev/null
k8s_store --encryption "$T/secretbox.yaml" put "$fixtures/secret-tls.json" >/dev/null
value=$(sandbox_etcdctl "$ROOT" get /registry/secrets/payments/api-token --print-value-only | head -c 23)
assert_eq "$value" "k8s:enc:aesgcm:v1:gcm1:" "the stored Secret's prefix"
assert_eq "$(sandbox_etcdctl "$ROOT" get /registry/deployments/payments/api --print-value-only | head -c 3)" "k8s" "a Deployment's envelope"
expect_rc 0 kdr backup
gen=$(basename "$(latest_gen)")

step "verify decrypts every encrypted value of the snapshot; show says it"
expect_rc 0 kdr verify "$gen"
expect_rc 0 kdr show "$gen"
assert_contains "$OUT" "encryption    1 encrypted with aescbc:cbc1, all decrypt; 1 encrypted with aesgcm:gcm1, all decrypt; 1 encrypted with secretbox:box1, all decrypt (last verify)"

step "kdr get deploy -n payments --at GENERATION: the table kubectl prints"
expect_rc 0 kdr get deploy -n payments --at "$gen"
assert_contains "$OUT" "kdr: generation $gen (etcd revision"
assert_contains "$OUT" "NAME   READY   UP-TO-DATE   AVAILABLE   AGE"
echo "$OUT" | grep -Eq '^api    3/3     3            3           [0-9]+d' || fail "the Deployment's row: $OUT"

step "-o json: the Deployment as kubectl printed it, resourceVersion from the key's mod revision"
expect_rc 0 kdr get deployments.apps api -n payments --at "$gen" -o json
json=$(echo "$OUT" | sed -n '/^{/,$p')
rev=$(sandbox_etcdctl "$ROOT" get /registry/deployments/payments/api -w json | jq '.kvs[0].mod_revision')
assert_eq "$(jq -r .metadata.resourceVersion <<<"$json")" "$rev" "resourceVersion"
assert_eq "$(jq -S 'del(.metadata.resourceVersion)' <<<"$json")" "$(jq -S . "$fixtures/deployment.json")" "the Deployment"
assert_eq "$(jq -r 'keys_unsorted | join(",")' <<<"$json")" "apiVersion,kind,metadata,spec,status" "kubectl's field order"

step "Secrets of each provider decrypt; -o yaml shows their data as base64"
expect_rc 0 kdr get secrets -n payments --at "$gen"
assert_contains "$OUT" "NAME        TYPE     DATA   AGE"
for s in api-token db tls; do echo "$OUT" | grep -Eq "^$s +Opaque +2 " || fail "Secret $s: $OUT"; done
expect_rc 0 kdr get secret tls -n payments --at "$gen" -o yaml
assert_contains "$OUT" "  password: $(printf 'hunter2-tls' | base64 -w0)"
assert_contains "$OUT" 'creationTimestamp: "2026-11-30T08:05:00Z"'

step "every kind of the corpus, and the custom resource stored as JSON"
expect_rc 0 kdr get po -n payments --at "$gen"
echo "$OUT" | grep -Eq '^api-6d4b9c7f8-x2k4q +1/1 +Running +2 ' || fail "the Pod's row: $OUT"
expect_rc 0 kdr get pods -n payments --at "$gen" -o wide
assert_contains "$OUT" "10.244.0.17"
expect_rc 0 kdr get svc -n payments --at "$gen"
echo "$OUT" | grep -Eq '^api +ClusterIP +10.96.14.7 +80/TCP ' || fail "the Service's row: $OUT"
expect_rc 0 kdr get no --at "$gen"
echo "$OUT" | grep -Eq '^cp1 +Ready +v1.32.0 ' || fail "the Node's row: $OUT"
expect_rc 0 kdr get leases -n kube-node-lease cp1 --at "$gen" -o json
assert_eq "$(echo "$OUT" | sed -n '/^{/,$p' | jq -r .spec.renewTime)" "2026-11-30T09:15:02.123456Z" "a MicroTime"
expect_rc 0 kdr get ns --at "$gen" -o name
assert_contains "$OUT" "namespace/payments"
expect_rc 0 kdr get crontabs.stable.example.com -n payments --at "$gen" -o json
assert_eq "$(echo "$OUT" | sed -n '/^{/,$p' | jq -r '.kind + " " + .items[0].spec.cronSpec')" "List 0 3 * * *" "the custom resource, in a List"
expect_rc 0 kdr get sa -A --at "$gen"
echo "$OUT" | grep -Eq '^payments +api +0 ' || fail "the ServiceAccount with its namespace: $OUT"
expect_rc 0 kdr get deploy -n payments -l app=api,team=payments --at "$gen" -o name
assert_eq "$(echo "$OUT" | grep -v '^kdr:')" "deployment.apps/api" "a label selector"
expect_rc 0 kdr get deploy -n payments -l 'app!=api' --at "$gen"
assert_contains "$OUT" "No resources found in payments namespace."

step "live: the running etcd"
expect_rc 0 kdr get cm api-config -n payments --at live -o yaml
assert_contains "$OUT" "kdr: the live etcd at"
assert_contains "$OUT" "    retries: 3"

step "one bad object never hides the others: a lost key, a wrong key, a truncated envelope, an unknown kind"
for s in lost wrong; do
  jq ".metadata.name = \"$s\"" "$fixtures/secret-db.json" > "$T/$s.json"
  k8s_store --encryption "$T/$s.yaml" put "$T/$s.json" >/dev/null
done
printf 'k8s\0\n\x0c\n\x02v1\x12\x06Secret\x12\x40truncated' > "$T/truncated.bin"
k8s_store raw /registry/secrets/payments/truncated "$T/truncated.bin" >/dev/null
printf 'k8s\0\n\x1c\n\x12widgets.example/v1\x12\x06Widget\x12\x02\x08\x01\x1a\x00"\x00' > "$T/widget.bin"
k8s_store raw /registry/widgets.example/widgets/payments/w1 "$T/widget.bin" >/dev/null
expect_rc 3 kdr get secrets -n payments --at live
for s in api-token db tls; do echo "$OUT" | grep -Eq "^$s +Opaque +2 " || fail "Secret $s among bad ones: $OUT"; done
assert_contains "$OUT" "3 objects could not be read"
assert_contains "$OUT" "/registry/secrets/payments/lost: encrypted with aescbc:lost1, which /etc/kubernetes/enc/config.yaml has no key for"
assert_contains "$OUT" "/registry/secrets/payments/wrong: encrypted with aesgcm:gcm1, and /etc/kubernetes/enc/config.yaml's key of that name does not decrypt it"
assert_contains "$OUT" "/registry/secrets/payments/truncated: its envelope (runtime.Unknown) is truncated or damaged"
expect_rc 3 kdr get widgets.widgets.example w1 -n payments --at live -o yaml
assert_contains "$OUT" "widgets.example/v1 Widget is not among the Kubernetes types kdr knows"
assert_contains "$OUT" "kind: Widget"
# many unreadable objects: the first ten listed, the rest counted
printf 'junk' > "$T/junk.bin"
for i in $(seq -w 1 12); do k8s_store raw "/registry/secrets/junk/s$i" "$T/junk.bin" >/dev/null; done
expect_rc 3 kdr get secrets -n junk --at live
assert_contains "$OUT" "12 objects could not be read"
assert_contains "$OUT" "  ... and 2 more"
assert_eq "$(grep -c '^  /registry/secrets/junk/' <<<"$OUT")" 10 "unreadable objects listed one a line"
sandbox_etcdctl "$ROOT" del --prefix /registry/secrets/junk/ >/dev/null

step "verify: the lost key, the wrong one and a Secret in the clear, each named; the metric counts the failures"
jq '.metadata.name = "plain"' "$fixtures/secret-db.json" > "$T/plain.json"
k8s_store put "$T/plain.json" >/dev/null
config 'kubeconfig: ""
metrics: {textfile_dir: /var/lib/node-exporter}'
mkdir -p "$ROOT/var/lib/node-exporter"
expect_rc 0 kdr backup
expect_rc 4 kdr verify
assert_contains "$OUT" "[encryption unknown-key]"
assert_contains "$OUT" "1 value encrypted with aescbc:lost1 in the snapshot, and no EncryptionConfiguration here holds that key"
assert_contains "$OUT" "[encryption undecryptable]"
assert_contains "$OUT" "1 of 2 values encrypted with aesgcm:gcm1 do not decrypt with"
assert_contains "$OUT" "[encryption plaintext]"
assert_contains "$OUT" "2 secrets stored in the clear although"  # the plain one and the truncated value
grep -q '^kdr_verify_encrypted_values{key="aesgcm:gcm1",outcome="fails"} 1$' "$ROOT/var/lib/node-exporter/kdr_verify.prom" ||
  fail "the metric: $(grep encrypted "$ROOT/var/lib/node-exporter/kdr_verify.prom")"
k8s_store delete secrets payments plain >/dev/null

step "aesgcm authenticates the key: a value copied under another key does not decrypt"
sandbox_etcdctl "$ROOT" get /registry/secrets/payments/api-token --print-value-only | head -c -1 > "$T/moved.bin"
k8s_store raw /registry/secrets/payments/moved "$T/moved.bin" >/dev/null
expect_rc 3 kdr get secret moved -n payments --at live
assert_contains "$OUT" "/registry/secrets/payments/moved: encrypted with aesgcm:gcm1, and /etc/kubernetes/enc/config.yaml's key of that name does not decrypt it"

step "the change journal: the Deployment deleted; at the revision and the time before, it is there, as it was"
config 'kubeconfig: ""
journal: {checkpoint_s: 1}'
start_follower
wait_caught_up
expect_rc 0 kdr backup
jq '.spec.replicas = 5' "$fixtures/deployment.json" > "$T/scaled.json"
k8s_store put "$T/scaled.json" >/dev/null
wait_caught_up
jq '.spec.replicas = 5 | .spec.template.spec.containers[0].image = "registry.example/payments/api:1.5.0"
    | .metadata.managedFields += [{"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}},
                                   "manager": "kubectl-edit", "operation": "Update", "time": "2026-12-01T09:00:00Z"}]' \
  "$fixtures/deployment.json" > "$T/edited.json"
k8s_store put "$T/edited.json" >/dev/null
wait_caught_up
rev_before=$(etcd_revision)
sleep 1.1
time_before=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.1
k8s_store delete deployments payments api >/dev/null
wait_caught_up
expect_rc 0 kdr get deploy -n payments
assert_contains "$OUT" "No resources found in payments namespace."
assert_contains "$OUT" "of the change journal"
for at in "$rev_before" "$time_before"; do
  expect_rc 0 kdr get deploy -n payments --at "$at"
  echo "$OUT" | grep -Eq '^api +3/5 ' || fail "the Deployment at $at: $OUT"
  expect_rc 0 kdr get deploy api -n payments --at "$at" -o json
  assert_eq "$(echo "$OUT" | sed -n '/^{/,$p' | jq -r .spec.template.spec.containers[0].image)" \
    "registry.example/payments/api:1.5.0" "the image at $at"
done
assert_contains "$OUT" "over generation"

step "kdr history: the Deployment's changes in the journal, who made them, what changed"
expect_rc 0 kdr history deploy/api -n payments
assert_contains "$OUT" "kdr history: deployment.apps/api in namespace payments, 3 changes in the change journal"
assert_contains "$OUT" "updated by kubectl-client-side-apply (Update)"
assert_contains "$OUT" "      spec.replicas: 3 -> 5"  # the journal's first change, against the snapshot it starts over
assert_contains "$OUT" "updated by kubectl-edit (Update)"
assert_contains "$OUT" '      spec.template.spec.containers[0].image: "registry.example/payments/api:1.4.2" -> "registry.example/payments/api:1.5.0"'
assert_contains "$OUT" "deleted"
echo "$OUT" | grep -q managedFields && fail "managedFields in the field diff: $OUT"
expect_rc 0 kdr --json history deployments api -n payments
assert_eq "$(jq -c '[.changes[].what]' <<<"$OUT")" '["updated","updated","deleted"]' "history --json"

step "kdr diff: from the first generation to live, field by field; a Secret re-encrypted unchanged does not differ"
jq '.data.LOG_LEVEL = "debug"' "$fixtures/configmap.json" > "$T/cm.json"
k8s_store put "$T/cm.json" >/dev/null
k8s_store --encryption "$T/aescbc.yaml" put "$fixtures/secret-db.json" >/dev/null
expect_rc 0 kdr diff --from "$gen" -n payments
assert_contains "$OUT" "kdr diff: from generation $gen"
assert_contains "$OUT" "  - deployments.apps payments/api"
assert_contains "$OUT" "  ~ configmaps payments/api-config"
assert_contains "$OUT" '      data.LOG_LEVEL: "info" -> "debug"'
assert_contains "$OUT" "  + secrets payments/lost"
echo "$OUT" | grep -q "secrets payments/db" && fail "the re-encrypted Secret differs: $OUT"
echo "$OUT" | grep -q "kube-node-lease" && fail "another namespace in a -n diff: $OUT"
expect_rc 0 kdr --json diff cm --from "$gen"
assert_eq "$(jq -c '[.changed[] | {name, fields: [.fields[].path]}]' <<<"$OUT")" '[{"name":"api-config","fields":["data.LOG_LEVEL"]}]' "diff --json"
expect_rc 0 kdr diff cm/api-config -n payments --from "$gen" --all
assert_contains "$OUT" "      metadata.resourceVersion: "  # what diff leaves out by default

step "kdr diff between a journal time and its latest revision; a Secret's changed value never shown"
jq '.data.password = "bmV3LXBhc3N3b3Jk"' "$fixtures/secret-db.json" > "$T/db2.json"
k8s_store --encryption "$T/aescbc.yaml" put "$T/db2.json" >/dev/null
wait_caught_up
expect_rc 0 kdr diff --from "$time_before" --to latest -n payments
assert_contains "$OUT" "  - deployments.apps payments/api"
assert_contains "$OUT" '      data.LOG_LEVEL: "info" -> "debug"'
assert_contains "$OUT" '      data.password: "*** (before)" -> "*** (after)"'
echo "$OUT" | grep -Eq "bmV3LXBhc3N3b3Jk|aHVudGVyMi1kYg" && fail "a Secret's value in the diff: $OUT"

step "a restore's plan names what it would lose as objects, the newest first"
expect_rc 1 kdr restore restore-etcd-snapshot -g "$gen" --set to=snapshot --dry-run
assert_contains "$OUT" "the live etcd holds data this restore's point does not"
assert_contains "$OUT" "objects changed since the backup: "
assert_contains "$OUT" "configmaps payments/api-config"
echo "$OUT" | grep -Eq "objects changed since the backup: .*[0-9]+ secrets" || fail "the count per resource: $OUT"

step "bad input: an unknown resource, a malformed time, a generation that is not there"
expect_rc 2 kdr get deploymnts
assert_contains "$OUT" 'no resource type "deploymnts" among the ones kdr knows (did you mean deployments?)'
expect_rc 2 kdr get deploy --at 2026-13-40T25:00
assert_contains "$OUT" "--at 2026-13-40T25:00: not an RFC 3339 time"
expect_rc 10 kdr get deploy --at 1999-nope
assert_contains "$OUT" "1999-nope"
expect_rc 1 kdr get deploy --at 1999-01-01T00:00:00Z
assert_contains "$OUT" "1999-01-01T00:00:00Z is before everything in the change journal"
expect_rc 1 kdr get deploy gone -n payments --at "$gen"
assert_contains "$OUT" "deployments.apps \"gone\" not found in payments namespace at generation $gen"
expect_rc 2 kdr get deploy -l 'tier in (web)'
assert_contains "$OUT" "'tier in (web)' is not a label selector term"
expect_rc 2 kdr get deploy -o xml
assert_contains "$OUT" "-o xml: not an output format kdr prints"

step "more ConfigMaps than etcd walks cheaply for each page: every one listed once (the range is listed keys only first, then read in pages that end at listed keys)"
# etcd counts a range's every key for each page it answers (etcd/client.cpp, scan): a range
# of more than 4,096 keys is read in pages whose range ends where a keys-only listing says.
# Values of 700 bytes and of 120 KB, so that pages hold from a dozen keys to a thousand.
k8s_store fill 6000 700 "$fixtures/configmap.json" >/dev/null
for i in 1 2 3 4; do  # ten of 120 KB to a transaction, under etcd's request limit
  jq --arg name "big$i" '.metadata.name = $name' "$fixtures/configmap.json" >"$T/big.json"
  k8s_store fill 10 120000 "$T/big.json" >/dev/null
done
# (the sandbox node's three team-N/settings values are not objects: said, and listed with
# what their keys say)
want=$(sandbox_etcdctl "$ROOT" get --prefix /registry/configmaps/ --keys-only | grep . | sed 's|^/registry/configmaps/||' | sort)
[ "$(grep -c . <<<"$want")" -gt 6040 ] || fail "etcd holds $(grep -c . <<<"$want") ConfigMaps, not the 6,040 written and more"
rc=0
"$KDR_BIN" -v --root "$ROOT" --backup-dir "$BACKUP" get configmaps -A --at live -o json >"$T/all.json" 2>"$T/all.err" || rc=$?
assert_eq "$rc" 3 "kdr get's exit code with three values that are not objects (partial)"
assert_contains "$(cat "$T/all.err")" "3 objects could not be read"
# the pages came over gRPC (HTTP/2 on etcd's client URL), not the JSON gateway
assert_contains "$(cat "$T/all.err")" "read over gRPC"
jq -r '.items[] | .metadata.namespace + "/" + .metadata.name' "$T/all.json" | sort >"$T/got.txt"
diff <(echo "$want") "$T/got.txt" >"$T/diff.txt" || fail "the ConfigMaps kdr get lists, against etcd's keys: $(head -n 20 "$T/diff.txt")"
big=$("$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" get configmaps big4-000009 -n ns-09 --at live -o json)
assert_eq "$(jq '.metadata.annotations["bench.kdr/padding"] | length' <<<"$big")" 120000 "a large ConfigMap's padding, read whole"
