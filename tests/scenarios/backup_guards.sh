#!/usr/bin/env bash
# The seed's worst failure: an unmounted, wiped or shrunken source mirrored over the last
# good copy. kdr refuses to publish such a generation and keeps the older ones.
# kdr-test: once (files only: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

make_node_with_etcd_data 20 20000
expect_rc 0 kdr backup
GOOD=$(latest_gen)
count() { find "$BACKUP/generations" -mindepth 1 -maxdepth 1 | wc -l; }

step "required source missing (an unmounted /var/lib/etcd)"
mv "$ROOT/var/lib/etcd" "$T/etcd-away"
expect_rc 1 kdr backup
assert_contains "$OUT" "required source /var/lib/etcd does not exist"
assert_eq "$(count)" "1" "generations after a refused run"
assert_eq "$(latest_gen)" "$GOOD" "latest"

step "required source empty (a fresh mount point)"
mkdir "$ROOT/var/lib/etcd"
expect_rc 1 kdr backup
assert_contains "$OUT" "/var/lib/etcd is empty"
assert_contains "$OUT" "no generation written"
assert_eq "$(count)" "1" "generations after a refused run"
rmdir "$ROOT/var/lib/etcd"
mv "$T/etcd-away" "$ROOT/var/lib/etcd"

step "a source that shrank drastically (most of /etc/kubernetes gone)"
mv "$ROOT/etc/kubernetes/pki" "$T/pki-away"
expect_rc 1 kdr backup
assert_contains "$OUT" "source /etc/kubernetes shrank"
assert_contains "$OUT" "--allow-shrink"
assert_eq "$(count)" "1" "generations after a refused run"
(cd "$GOOD" && sha256sum -c --quiet SHA256SUMS) || fail "the good generation was damaged"
[ -f "$GOOD/files/etc/kubernetes/pki/ca.key" ] || fail "the good generation lost its keys"

step "the operator accepts the shrink explicitly"
expect_rc 0 kdr backup --allow-shrink
assert_eq "$(count)" "2" "generations after --allow-shrink"
mv "$T/pki-away" "$ROOT/etc/kubernetes/pki"

step "the backup folder inside a source is refused"
expect_rc 2 "$KDR_BIN" --root "$ROOT" --backup-dir "$ROOT/etc/kubernetes/backup" backup
assert_contains "$OUT" "is inside the source /etc/kubernetes"
[ ! -e "$ROOT/etc/kubernetes/backup" ] || fail "a backup folder was created inside a source"

step "a backup disk that is not mounted is not replaced by a folder on the main disk"
expect_rc 1 "$KDR_BIN" --root "$ROOT" --backup-dir "$T/not-mounted/kdr" backup
assert_contains "$OUT" "is the backup disk mounted"

step "a backup folder whose parent is a symlink to the mounted disk is used"
ln -s "$T/disk2" "$T/disk2-link"
expect_rc 0 "$KDR_BIN" --root "$ROOT" --backup-dir "$T/disk2-link/kdr" -q backup
[ -f "$T/disk2/kdr/kdr-backup.json" ] || fail "the backup did not land on the disk behind the symlink"

step "a folder with someone else's files is not taken over"
mkdir -p "$T/other" && echo precious > "$T/other/file"
expect_rc 1 "$KDR_BIN" --root "$ROOT" --backup-dir "$T/other" backup
assert_contains "$OUT" "not a kdr backup folder"
assert_eq "$(cat "$T/other/file")" "precious" "foreign folder content"

step "bad configuration: file, line and key, and the usage exit code"
mkdir -p "$ROOT/etc/kdr"
printf 'retention:\n  keep_last: 3\n  hourly: lots\n' > "$ROOT/etc/kdr/kdr.yaml"
expect_rc 2 kdr backup
assert_contains "$OUT" "$ROOT/etc/kdr/kdr.yaml:3:11: key 'retention.hourly'"
files_only_config
expect_rc 2 "$KDR_BIN" --config "$T/missing.yaml" --root "$ROOT" --backup-dir "$BACKUP" backup
assert_contains "$OUT" "config file $T/missing.yaml does not exist"
