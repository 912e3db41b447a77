#!/usr/bin/env bash
# Unchanged files are hard-linked to the previous generation (same inode, hash reused);
# changed, new and metadata-changed files are copied; every generation stays whole.
# kdr-test: once (files only: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

make_node_with_etcd_data 20 20000

step "first generation copies everything"
expect_rc 0 kdr backup
G1=$(latest_gen)
assert_eq "$(jq '.bytes.linked' "$G1/meta.json")" "0" "nothing linked in the first generation"

step "second generation: nothing changed, everything hard-linked"
expect_rc 0 kdr backup
G2=$(latest_gen)
[ "$G1" != "$G2" ] || fail "no new generation"
assert_eq "$(jq '.bytes.copied' "$G2/meta.json")" "0" "bytes copied when nothing changed"
assert_eq "$(jq '.files_linked' "$G2/meta.json")" "$(jq '.counts.files' "$G2/meta.json")" "all files linked"
for f in etc/kubernetes/pki/ca.key var/lib/etcd/member/snap/db etc/kubernetes/admin.conf; do
  assert_eq "$(stat -c %i "$G1/files/$f")" "$(stat -c %i "$G2/files/$f")" "inode of $f"
done
cmp "$G1/manifest.jsonl" "$G2/manifest.jsonl" || fail "manifests of identical generations differ"

step "etcd writes, a changed certificate, a new file, a chmod"
sandbox_start_etcd "$ROOT"
sandbox_fill_etcd "$ROOT" 10 20000 /registry/secrets/default/s-
sandbox_stop_etcd "$ROOT"
openssl rand -out "$ROOT/etc/kubernetes/pki/front-proxy-client.crt" 700
echo "new" > "$ROOT/etc/kubernetes/new-file"
chmod 0640 "$ROOT/etc/kubernetes/scheduler.conf"
expect_rc 0 kdr backup
G3=$(latest_gen)
for f in var/lib/etcd/member/snap/db etc/kubernetes/pki/front-proxy-client.crt etc/kubernetes/scheduler.conf; do
  [ "$(stat -c %i "$G2/files/$f")" != "$(stat -c %i "$G3/files/$f")" ] || fail "$f changed but was hard-linked"
done
assert_eq "$(stat -c %i "$G2/files/etc/kubernetes/pki/ca.key")" "$(stat -c %i "$G3/files/etc/kubernetes/pki/ca.key")" "unchanged ca.key"
assert_eq "$(stat -c %a "$G2/files/etc/kubernetes/scheduler.conf")" "600" "the older generation keeps the older mode"
assert_eq "$(stat -c %a "$G3/files/etc/kubernetes/scheduler.conf")" "640" "new mode"
cmp "$ROOT/etc/kubernetes/pki/front-proxy-client.crt" "$G3/files/etc/kubernetes/pki/front-proxy-client.crt" || fail "changed file content"
[ -f "$G3/files/etc/kubernetes/new-file" ] || fail "new file missing"
[ "$(manifest_entry "$G2" /var/lib/etcd/member/snap/db | jq -r .sha256)" != "$(manifest_entry "$G3" /var/lib/etcd/member/snap/db | jq -r .sha256)" ] ||
  fail "db hash did not change"
copied=$(jq '.bytes.copied' "$G3/meta.json")
total=$(jq '.bytes.total' "$G3/meta.json")
[ "$copied" -gt 0 ] && [ "$copied" -lt "$total" ] || fail "copied $copied of $total bytes"
assert_all_generations_verify

step "a previous copy damaged on the backup disk is not linked again"
chmod u+w "$G3/files/etc/kubernetes/pki/ca.crt"
printf 'X' | dd of="$G3/files/etc/kubernetes/pki/ca.crt" bs=1 seek=10 conv=notrunc 2>/dev/null
touch -d "@$(date +%s)" "$G3/files/etc/kubernetes/pki/ca.crt"
expect_rc 0 kdr backup
G4=$(latest_gen)
[ "$(stat -c %i "$G3/files/etc/kubernetes/pki/ca.crt")" != "$(stat -c %i "$G4/files/etc/kubernetes/pki/ca.crt")" ] ||
  fail "a damaged copy was hard-linked into the new generation"
cmp "$ROOT/etc/kubernetes/pki/ca.crt" "$G4/files/etc/kubernetes/pki/ca.crt" || fail "new copy differs from the node"
