#!/usr/bin/env bash
# Encryption at rest and a key rotation. Secrets are stored as kube-apiserver's aescbc provider
# stores them (k8s:enc:aescbc:v1:<key name>: then a random IV and the AES-256-CBC ciphertext,
# made here with openssl). The backup counts the values per key; after the keys are rotated
# (key2 added, every Secret rewritten, key1 removed) a restore of the old generation, whole or
# one namespace, is refused before anything stops, naming key1 and the number of values; with
# key1 back as a secondary key it passes. verify flags a generation whose values name a key
# that no EncryptionConfiguration here holds. There is no kube-apiserver here: nothing reads the
# configuration but kdr, and the test restarts nothing.
# kdr-test: once
source "$(dirname "$0")/../lib/scenario.sh"

make_running_node
# the values below are sealed bytes, not objects kube-apiserver wrote, and one is under a key no
# configuration holds on purpose: the restore test a backup runs would (rightly) fail on them
config 'kubeconfig: ""
verify: {restore_test_hours: 0}'
enc=$ROOT/etc/kubernetes/enc
mkdir -p "$enc" && chmod 700 "$enc"
declare -A secret_of=([key0]=$(head -c 32 /dev/urandom | base64) [key1]=$(head -c 32 /dev/urandom | base64) [key2]=$(head -c 32 /dev/urandom | base64))
# providers KEY...: the EncryptionConfiguration with an aescbc provider holding these keys, the first one writes
providers() {
  {
    printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n'
    local k
    for k in "$@"; do printf '      - name: %s\n        secret: %s\n' "$k" "${secret_of[$k]}"; done
    printf '  - identity: {}\n'
  } > "$enc/config.yaml"
  chmod 600 "$enc/config.yaml"
}
mount_encryption_config
# put_secret KEY NAME: the Secret NAME of team-1 (team-2 for key0), encrypted with KEY as the aescbc provider does
put_secret() {
  local key=$1 name=$2 ns=team-1 iv file=$T/value.bin
  [ "$key" = key0 ] && ns=team-2
  iv=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  {
    printf 'k8s:enc:aescbc:v1:%s:' "$key"
    printf "$(sed 's/../\\x&/g' <<<"$iv")"
    printf 'k8s\0 a Secret %s of %s' "$name" "$ns" |
      openssl enc -aes-256-cbc -K "$(printf '%s' "${secret_of[$key]}" | base64 -d | od -An -tx1 | tr -d ' \n')" -iv "$iv"
  } > "$file"
  sandbox_etcdctl "$ROOT" put "/registry/secrets/$ns/$name" < "$file" >/dev/null
}

step "three Secrets under key1, one left from before under key0: the backup counts them per key"
providers key1
for s in db api tls; do put_secret key1 "$s"; done
put_secret key0 legacy
expect_rc 0 kdr backup
old_gen=$(basename "$(latest_gen)")
assert_eq "$(jq -c '.etcd.snapshot.encrypted_values' "$(latest_gen)/meta.json")" '{"aescbc:key0":1,"aescbc:key1":3}' "the counts"

step "verify: the value under key0 names a key no EncryptionConfiguration here holds"
expect_rc 4 kdr verify
assert_contains "$OUT" "[encryption unknown-key]"
assert_contains "$OUT" "1 value encrypted with aescbc:key0 in the snapshot, and no EncryptionConfiguration here holds that key"

step "the keys are rotated: key2 added, every Secret rewritten with it, key1 removed"
providers key2 key1
for s in db api tls; do put_secret key2 "$s"; done
sandbox_etcdctl "$ROOT" del /registry/secrets/team-2/legacy >/dev/null
providers key2
expect_rc 0 kdr backup
assert_eq "$(jq -c '.etcd.snapshot.encrypted_values' "$(latest_gen)/meta.json")" '{"aescbc:key2":3}' "the counts after the rotation"

step "restore-etcd-snapshot of the old generation: refused before anything stops, naming key1"
before=$(live_keyspace | sha256sum)
expect_rc 1 kdr restore restore-etcd-snapshot -g "$old_gen" --set to=snapshot --set accept_loss=true --yes
assert_contains "$OUT" "generation $old_gen's snapshot holds 1 value encrypted with aescbc:key0, 3 values encrypted with aescbc:key1, and the live EncryptionConfiguration (/etc/kubernetes/enc/config.yaml) does not hold those keys"
assert_contains "$OUT" "Put the old key back into kube-apiserver's EncryptionConfiguration as a secondary key"
assert_contains "$OUT" "nothing on the node was changed"
sandbox_wait_etcd "$ROOT" 30
assert_eq "$(live_keyspace | sha256sum)" "$before" "the live keyspace after the refused restore"

step "restore-etcd-keys of the namespace from the old generation: refused too"
sandbox_etcdctl "$ROOT" del --prefix /registry/secrets/team-1/ >/dev/null
expect_rc 1 kdr restore restore-etcd-keys -g "$old_gen" --set namespace=team-1 --dry-run
assert_contains "$OUT" "3 values encrypted with aescbc:key1, and the live EncryptionConfiguration (/etc/kubernetes/enc/config.yaml) does not hold that key"

step "key1 back as a secondary key: the namespace's restore passes, and verify of the old generation names only key0"
providers key2 key1
expect_rc 0 kdr restore restore-etcd-keys -g "$old_gen" --set namespace=team-1 --yes
assert_eq "$(sandbox_etcdctl "$ROOT" get --prefix /registry/secrets/team-1/ --keys-only | grep -c .)" 3 "Secrets put back"
expect_rc 4 kdr verify "$old_gen"
assert_contains "$OUT" "1 value encrypted with aescbc:key0"
[[ "$OUT" != *"aescbc:key1 in the snapshot"* ]] || fail "verify flags key1, which the live configuration holds again"

step "accept_undecryptable=true writes them anyway, and says so"
providers key2
sandbox_etcdctl "$ROOT" del --prefix /registry/secrets/team-1/ >/dev/null
expect_rc 0 kdr restore restore-etcd-keys -g "$old_gen" --set namespace=team-1 --set accept_undecryptable=true --yes
assert_contains "$OUT" "accepted (accept_undecryptable=true): what this restore writes from generation $old_gen's snapshot holds 3 values encrypted with aescbc:key1"
