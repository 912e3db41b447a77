#!/usr/bin/env bash
# kdr verify --restore-test: a point of the backup restored into a private etcd in a scratch
# folder on the backup disk, read back whole and removed. A good generation and the journal's
# newest point are PROVEN (the metrics say so, the scratch folder and the private etcd are
# gone, the node's etcd is untouched). Three backups whose hashes are all right are not:
#   - a generation whose snapshot was damaged after it was hashed (a value rewritten in the
#     bbolt file, its SHA-256 trailer, SHA256SUMS, meta.json and AUTH recomputed with the
#     node's key, as a kdr with a bug would have written it): the restored keyspace is not the
#     one the change journal recorded at that revision (and, on etcd 3.5, not the HashKV the
#     live member gave at backup time);
#   - a journal whose events were rewritten and sealed again with the node's key (its seals
#     all hold): the replay's keyspace is not the digest the journal's checkpoint recorded;
#   - a Secret encrypted with a key the generation's EncryptionConfiguration lacks: named, with
#     its key.
# Objects are written as kube-apiserver stores them (tests/helpers/k8s_store.cpp).
source "$(dirname "$0")/../lib/scenario.sh"
fixtures=$KDR_SOURCE_DIR/tests/fixtures/k8s-objects

make_running_node
mkdir -p "$ROOT/var/lib/node-exporter"
config 'kubeconfig: ""
metrics: {textfile_dir: /var/lib/node-exporter}
journal: {checkpoint_s: 1}
etcd: {full_every_minutes: 0}'
prom=$ROOT/var/lib/node-exporter/kdr_restore_test.prom
enc=$ROOT/etc/kubernetes/enc
mkdir -p "$enc" && chmod 700 "$enc"
k_cbc=$(head -c 32 /dev/urandom | base64) k_lost=$(head -c 32 /dev/urandom | base64)
printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - {name: cbc1, secret: %s}\n  - identity: {}\n' "$k_cbc" > "$enc/config.yaml"
chmod 600 "$enc/config.yaml"
printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - {name: lost1, secret: %s}\n  - identity: {}\n' "$k_lost" > "$T/lost.yaml"
mount_encryption_config

# no_private_etcd: nothing runs from the restore test's scratch folder any more, and it is gone
no_private_etcd() {
  if pgrep -f "$BACKUP/restore-tests" >/dev/null; then fail "a process of the restore test still runs: $(pgrep -af "$BACKUP/restore-tests")"; fi
  [ ! -e "$BACKUP/restore-tests/scratch" ] || fail "the scratch folder is left behind: $(ls -la "$BACKUP/restore-tests/scratch")"
}
# resign GENERATION-FOLDER: its snapshot's sums recomputed everywhere a hash of it is kept, and
# AUTH's hmac with the node's key (docs/backup-format.md, AUTH)
resign() {
  local g=$1 sum size id key
  sum=$(sha256sum < "$g/etcd/snapshot.db" | cut -c1-64)
  size=$(stat -c %s "$g/etcd/snapshot.db")
  (cd "$g" && sed -i "s|^[0-9a-f]\{64\}  etcd/snapshot.db\$|$sum  etcd/snapshot.db|" SHA256SUMS && sha256sum -c --quiet --strict SHA256SUMS) ||
    fail "SHA256SUMS does not check after the re-hash"
  jq --arg s "$sum" --argjson n "$size" '.etcd.snapshot.sha256 = $s | .etcd.snapshot.db_sha256 = $s | .etcd.snapshot.size = $n
    | .artifacts = [.artifacts[] | if .path == "etcd/snapshot.db" then .sha256 = $s | .size = $n else . end]' \
    "$g/meta.json" > "$g/meta.new" && mv "$g/meta.new" "$g/meta.json"
  id=$(basename "$g")
  key=$(cut -d' ' -f2 "$ROOT/etc/kdr/node.key")
  local mac
  mac=$(cd "$g" && printf 'kdr generation v1\n%s\n%s\n%s\n%s\n' "$id" "$(sha256sum < meta.json | cut -c1-64)" \
    "$(sha256sum < manifest.jsonl | cut -c1-64)" "$(sha256sum < SHA256SUMS | cut -c1-64)" |
    openssl dgst -sha256 -mac HMAC -macopt hexkey:"$key" | sed 's/.*= //')
  jq --arg m "$mac" '.hmac = $m' "$g/AUTH" > "$g/AUTH.new" && mv "$g/AUTH.new" "$g/AUTH"
}

step "objects as kube-apiserver stores them, a Secret encrypted with aescbc; a backup"
k8s_store put "$fixtures"/{namespace,pod,deployment,replicaset,service,configmap,serviceaccount,lease,node}.json >/dev/null
k8s_store --encryption "$enc/config.yaml" put "$fixtures/secret-db.json" >/dev/null
sandbox_etcdctl "$ROOT" put /registry/configmaps/payments/marker "marker-value-AAAAAAAAAAAAAAAA" >/dev/null
expect_rc 0 kdr backup
gen=$(basename "$(latest_gen)")
# no proof yet: the backup proved its newest point itself (verify.restore_test_hours, 24 by default)
assert_contains "$OUT" "Restore test of generation $gen"
assert_contains "$OUT" "PROVEN: generation $gen"
[ -f "$BACKUP/restore-tests/$gen.json" ] || fail "the backup kept no proof"
node_before=$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq -c '.[0].Status | {revision: .header.revision, member: .header.member_id}')

step "the generation is proven: restored, every object decoded, the Secret decrypted; nothing left behind"
expect_rc 0 kdr verify --restore-test "$gen"
assert_contains "$OUT" "Restore test of generation $gen (etcd revision"
assert_contains "$OUT" "PROVEN: generation $gen"
assert_contains "$OUT" "1 Secrets, 1 values decrypted"
assert_contains "$OUT" "1 deployments.apps"
assert_contains "$OUT" "the snapshot file's own history (HashKV"
# the objects were read off the file the private etcd served, once it stopped: etcd's own hash
# of it while it served says it is that file (HashKV on 3.5, the whole file's Hash on 3.4)
if [ "${KDR_ETCD_VERSION:-3.4}" = 3.5 ]; then
  assert_contains "$OUT" "served      etcd's HashKV at revision"
else
  assert_contains "$OUT" "served      etcd's Hash ("
fi
assert_contains "$OUT" "asked while it served, matches its database file read after it stopped"
no_private_etcd
grep -q '^kdr_restore_test_success 1$' "$prom" || fail "the metric does not say success: $(cat "$prom")"
grep -q '^kdr_restore_test_last_success_timestamp_seconds [1-9]' "$prom" || fail "no last success time: $(cat "$prom")"
grep -q '^kdr_restore_test_objects [1-9]' "$prom" || fail "no objects counted: $(cat "$prom")"
proof=$BACKUP/restore-tests/$gen.json
[ -f "$proof" ] || fail "no proof kept for $gen"
assert_eq "$(stat -c %a "$proof")" 600 "the proof's mode"
assert_eq "$(jq -r .success "$proof")" true "the proof says success"
assert_eq "$(sandbox_etcdctl "$ROOT" endpoint status -w json | jq -c '.[0].Status | {revision: .header.revision, member: .header.member_id}')" \
  "$node_before" "the node's etcd after the test"
expect_rc 0 kdr list
assert_contains "$OUT" "RESTORES"
echo "$OUT" | grep -Eq "^$gen .* yes +( |<-|$)" || fail "kdr list does not show the proof: $OUT"
expect_rc 0 kdr show "$gen"
assert_contains "$OUT" "restore test  proven"
expect_rc 0 kdr verify --restore-test "$gen" --json
assert_eq "$(jq -r '.success' <<<"$OUT")" true "--json says success"
assert_eq "$(jq -r '.per_resource["secrets"]' <<<"$OUT")" 1 "Secrets counted per resource"

step "the follower runs; writes after a second backup: the journal's newest point is proven"
start_follower
wait_caught_up
sandbox_etcdctl "$ROOT" put /registry/configmaps/payments/marker "marker-value-BBBBBBBBBBBBBBBB" >/dev/null
# compacted below the newest revision, as kube-apiserver compacts (every 5 minutes, to the
# revision of 5 minutes before): the hashes still agree
sandbox_etcdctl "$ROOT" compact "$(( $(etcd_revision) - 1 ))" >/dev/null
wait_caught_up
expect_rc 0 kdr backup
gen2=$(basename "$(latest_gen)")
case "$OUT" in *"Restore test of"*) fail "a backup tested again within verify.restore_test_hours: $OUT" ;; esac
rev2=$(jq .etcd.snapshot.revision "$BACKUP/generations/$gen2/meta.json")
for i in 1 2 3; do sandbox_etcdctl "$ROOT" put "/registry/configmaps/payments/after-$i" "after-$i" >/dev/null; done
wait_caught_up
stop_follower
end=$(etcd_revision)
expect_rc 0 kdr verify --restore-test
assert_contains "$OUT" "Restore test of revision $end of the change journal"
assert_contains "$OUT" "the journal's digest at revision $end"
assert_contains "$OUT" "matches"
assert_contains "$OUT" "PROVEN"
no_private_etcd
if [ "${KDR_ETCD_VERSION:-3.4}" = 3.5 ]; then
  assert_eq "$(jq -r '.etcd.snapshot.hashkv.revision' "$BACKUP/generations/$gen2/meta.json")" "$rev2" "the HashKV recorded at backup"
  expect_rc 0 kdr verify --restore-test "$gen2"
  assert_contains "$OUT" "hashkv      etcd's HashKV at revision $rev2"
  assert_contains "$OUT" "matches the live member's at backup time"
  assert_contains "$OUT" "served      etcd's HashKV at revision $rev2 ("
fi

step "the second generation's snapshot damaged, then every hash of it recomputed and signed again"
g=$BACKUP/generations/$gen2
cp -a "$g" "$T/gen2-saved"
body=$(( $(stat -c %s "$g/etcd/snapshot.db") - 32 ))
n=$(grep -c -a "marker-value-BBBBBBBBBBBBBBBB" "$g/etcd/snapshot.db" || true)
[ "$n" -ge 1 ] || fail "the value is not in the snapshot file"
perl -0777 -pi -e 's/marker-value-BBBBBBBBBBBBBBBB/marker-value-XXXXXXXXXXXXXXXX/g' "$g/etcd/snapshot.db"
head -c "$body" "$g/etcd/snapshot.db" > "$T/body"
{ cat "$T/body"; printf "$(sha256sum < "$T/body" | cut -c1-64 | sed 's/../\\x&/g')"; } > "$g/etcd/snapshot.db.new"
chmod 600 "$g/etcd/snapshot.db.new" && mv "$g/etcd/snapshot.db.new" "$g/etcd/snapshot.db"
resign "$g"
expect_rc 0 kdr verify --no-live "$gen2"
expect_rc 4 kdr verify --restore-test "$gen2"
assert_contains "$OUT" "digest: "
assert_contains "$OUT" "is not the one the change journal recorded there"
assert_contains "$OUT" "FAILED: generation $gen2"
if [ "${KDR_ETCD_VERSION:-3.4}" = 3.5 ]; then
  assert_contains "$OUT" "hashkv: "
  assert_contains "$OUT" "not the one the live member gave at backup time"
fi
no_private_etcd
grep -q '^kdr_restore_test_success 0$' "$prom" || fail "the metric does not say failure: $(cat "$prom")"
assert_eq "$(jq -r .success "$BACKUP/restore-tests/$gen2.json")" false "the proof says failure"
expect_rc 0 kdr list
echo "$OUT" | grep -Eq "^$gen2 .* FAILED" || fail "kdr list does not show the failed proof: $OUT"
rm -rf "$g" && cp -a "$T/gen2-saved" "$g"

step "the journal's events rewritten and sealed again with the node's key: the replay is not the journal's digest"
cp -a "$BACKUP/journal" "$T/journal-saved"
changed=0
for seg in $(find "$BACKUP/journal" -name '*.seg'); do
  if "$KDR_FORGE_SEGMENT" --reseal "$ROOT/etc/kdr/node.key" "$seg" after-2 after-X >/dev/null; then changed=1; fi
done
assert_eq "$changed" 1 "an event rewritten"
expect_rc 4 kdr journal verify
assert_contains "$OUT" "sealed with this node's key"
assert_contains "$OUT" "the checkpoint says"
expect_rc 4 kdr verify --restore-test
assert_contains "$OUT" "the journal's events do not give the digest its checkpoint at revision"
assert_contains "$OUT" "FAILED"
no_private_etcd
rm -rf "$BACKUP/journal" && cp -a "$T/journal-saved" "$BACKUP/journal"
expect_rc 0 kdr verify --restore-test

step "a Secret encrypted with a key the generation's EncryptionConfiguration lacks: named, with its key"
jq '.metadata.name = "lost"' "$fixtures/secret-db.json" > "$T/lost.json"
k8s_store --encryption "$T/lost.yaml" put "$T/lost.json" >/dev/null
expect_rc 0 kdr backup
gen3=$(basename "$(latest_gen)")
expect_rc 4 kdr verify --restore-test "$gen3"
assert_contains "$OUT" "not-decrypted: /registry/secrets/payments/lost: Secret payments/lost does not decrypt"
assert_contains "$OUT" "aescbc:lost1"
assert_contains "$OUT" "FAILED: generation $gen3"
no_private_etcd
grep -q '^kdr_restore_test_success 0$' "$prom" || fail "the metric does not say failure"
grep -q '^kdr_restore_test_last_success_timestamp_seconds [1-9]' "$prom" || fail "the last success is forgotten"

step "live is refused as a usage error; a generation that is not there is named"
expect_rc 2 kdr verify --restore-test live
assert_contains "$OUT" "not live"
expect_rc 10 kdr verify --restore-test 2020-01-01T000000Z
assert_contains "$OUT" "no generation '2020-01-01T000000Z'"
no_private_etcd
