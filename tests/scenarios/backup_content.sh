#!/usr/bin/env bash
# A backup of a sandbox node (real certificates, kubeconfigs, manifests, CA symlinks, an etcd
# data dir written by a real etcd) holds byte-identical content with every owner, mode,
# nanosecond mtime, symlink target and empty folder preserved; sha256sum -c accepts it;
# nothing in it is readable by others; what cannot be backed up is reported.
# kdr-test: once (files only: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

step "sandbox node with real etcd data"
make_node_with_etcd_data 30 20000
# owners and modes that must survive
chown 1234:5678 "$ROOT/etc/kubernetes/pki/front-proxy-client.key"
chmod 0640 "$ROOT/etc/kubernetes/pki/front-proxy-client.key"
chmod 2750 "$ROOT/etc/kubernetes/manifests"
mkdir -p "$ROOT/etc/kubernetes/empty-dir"
touch -d '2001-02-03 04:05:06.123456789' "$ROOT/etc/kubernetes/admin.conf"
ln -s ../nonexistent "$ROOT/etc/kubernetes/dangling-link"
mkfifo "$ROOT/etc/kubernetes/a-fifo"
rmdir "$ROOT/etc/pki"  # a hostPath that does not exist: reported, not fatal
# sparse files: a hole in the middle, a preallocated tail (as etcd's WAL segments have)
printf 'head' > "$ROOT/etc/kubernetes/sparse.bin"
truncate -s 20M "$ROOT/etc/kubernetes/sparse.bin"
printf 'tail' >> "$ROOT/etc/kubernetes/sparse.bin"
printf 'start' > "$ROOT/etc/kubernetes/prealloc.bin"
fallocate -o 4096 -l 30M "$ROOT/etc/kubernetes/prealloc.bin"
umask 000  # kdr must not depend on the caller's umask for secrecy

step "backup"
expect_rc 0 kdr backup
assert_contains "$OUT" "complete"
assert_contains "$OUT" "/etc/kubernetes/a-fifo is a fifo; skipped"
assert_contains "$OUT" "/etc/pki does not exist on the node"
G=$(latest_gen)

step "content and metadata identical to the node"
for src in /var/lib/etcd /etc/kubernetes /etc/ssl/certs /usr/share/ca-certificates /etc/ca-certificates \
           /usr/local/share/ca-certificates; do
  diff -r --no-dereference "$ROOT$src" "$G/files$src" >/dev/null 2>&1 || {
    diff -r --no-dereference "$ROOT$src" "$G/files$src" | grep -v 'a-fifo' | grep . && fail "content differs under $src"
  }
  live=$(tree_listing "$ROOT$src" | grep -v '^a-fifo|')
  backed=$(tree_listing "$G/files$src")
  [ "$live" = "$backed" ] || { diff <(echo "$live") <(echo "$backed") >&2; fail "metadata differs under $src"; }
done
[ -d "$G/files/etc/kubernetes/empty-dir" ] || fail "empty folder not preserved"
assert_eq "$(readlink "$G/files/etc/ssl/certs/a1b2c3d4.0")" "Sandbox_Root_1.pem" "relative symlink target"
assert_eq "$(readlink "$G/files/etc/ssl/certs/Sandbox_Root_2.pem")" "/usr/share/ca-certificates/mozilla/Sandbox_Root_2.crt" "absolute symlink target"
assert_eq "$(stat -c '%u:%g %a' "$G/files/etc/kubernetes/pki/front-proxy-client.key")" "1234:5678 640" "owner and mode"
assert_eq "$(stat -c '%y' "$G/files/etc/kubernetes/admin.conf")" "$(stat -c '%y' "$ROOT/etc/kubernetes/admin.conf")" "nanosecond mtime"
[ ! -e "$G/files/etc/kubernetes/a-fifo" ] || fail "fifo copied"
for f in sparse.bin prealloc.bin; do
  cmp "$ROOT/etc/kubernetes/$f" "$G/files/etc/kubernetes/$f" || fail "$f content"
  [ "$(stat -c %b "$G/files/etc/kubernetes/$f")" -lt 1024 ] || fail "$f: holes were written out as data"
done

step "manifest, SHA256SUMS and metadata"
(cd "$G" && sha256sum -c --quiet --strict SHA256SUMS) || fail "sha256sum -c"
assert_entry "$G" /etc/kubernetes/pki/sa.key \
  ".type==\"file\" and .mode==\"0600\" and .sha256==\"$(sha256sum "$ROOT/etc/kubernetes/pki/sa.key" | cut -c1-64)\""
assert_entry "$G" /etc/ssl/certs/a1b2c3d4.0 '.type=="symlink" and .target=="Sandbox_Root_1.pem"'
assert_entry "$G" /etc/kubernetes/pki/front-proxy-client.key '.uid==1234 and .gid==5678 and .mode=="0640"'
assert_entry "$G" /etc/kubernetes/manifests '.type=="dir" and .mode=="2750"' 
want_files=$(find "$ROOT/var/lib/etcd" "$ROOT/etc/kubernetes" "$ROOT/etc/ssl/certs" "$ROOT/usr/share/ca-certificates" \
  "$ROOT/etc/ca-certificates" "$ROOT/usr/local/share/ca-certificates" -type f | wc -l)
assert_eq "$(jq '.counts.files' "$G/meta.json")" "$want_files" "file count in meta.json"
assert_eq "$(jq -r '.status' "$G/meta.json")" "complete"
assert_eq "$(jq '.counts.skipped' "$G/meta.json")" "1" "skipped count"
jq -e '.sources[] | select(.path=="/var/lib/etcd") | .bytes > 100000 and .files >= 2' "$G/meta.json" >/dev/null ||
  fail "etcd source stats"
jq -e '.hostname != "" and .kdr_version != "" and .bytes.total > 0 and .duration_s >= 0' "$G/meta.json" >/dev/null ||
  fail "meta fields"

step "nothing in the backup is readable by others"
assert_eq "$(stat -c '%a' "$BACKUP")" "700" "backup folder mode"
assert_eq "$(stat -c '%a' "$G")" "700" "generation mode"
for f in manifest.jsonl SHA256SUMS meta.json; do assert_eq "$(stat -c '%a' "$G/$f")" "600" "$f mode"; done

step "the etcd data restores: a copy of the generation's data dir serves the keys"
cp -a "$G/files/var/lib/etcd" "$T/restored-etcd"
rm -rf "$ROOT/var/lib/etcd"
mv "$T/restored-etcd" "$ROOT/var/lib/etcd"
sandbox_start_etcd "$ROOT"
assert_eq "$(sandbox_etcdctl "$ROOT" get --prefix /registry/configmaps/default/bulk- --keys-only | grep -c bulk-)" "30" "keys after restore"
sandbox_stop_etcd "$ROOT"

step "list and --json"
expect_rc 0 kdr list
assert_contains "$OUT" "$(basename "$G")"
assert_contains "$OUT" "<- latest"
expect_rc 0 kdr --json list
assert_eq "$(jq -r '.[-1].id' <<<"$OUT")" "$(basename "$G")" "list --json"
