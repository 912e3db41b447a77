#!/usr/bin/env bash
# The "second disk" must be one. With the backup disk not mounted, its mount point is an empty
# folder on the root disk: kdr backup refuses to write there (backup_disk.mount_point), creates
# nothing, and says which folder is not a mount point; once a file system is mounted there the
# same backup runs. A backup folder on the same file system as the node's data is named with
# both file systems (a warning under --root, where the sandbox shares the machine's disks);
# kdr sources and kdr config show the file systems.
# kdr-test: once (files only: nothing here depends on etcd's version)
source "$(dirname "$0")/../lib/scenario.sh"

make_node_with_etcd_data
mnt=$T/backup-mount
mkdir -p "$mnt"
config "etcd: {snapshot: false}
backup_disk: {mount_point: $mnt}"
on_disk() { "$KDR_BIN" --root "$ROOT" --backup-dir "$mnt/kdr" "$@"; }

step "the backup disk not mounted: refused, nothing written to the empty mount point"
expect_rc 1 on_disk backup
assert_contains "$OUT" "$mnt is not a mount point: the backup disk is not mounted"
assert_eq "$(ls -A "$mnt")" "" "the mount point's content"
expect_rc 0 on_disk sources
assert_contains "$OUT" "mount point     $mnt is NOT a mount point"

step "the disk mounted there: the backup runs, and sources says it is another file system"
mount_tmpfs "$mnt" 256m
expect_rc 0 on_disk backup
[ -L "$mnt/kdr/latest" ] || fail "no generation on the mounted disk"
expect_rc 0 on_disk sources
assert_contains "$OUT" "mount point     $mnt is mounted"
assert_contains "$OUT" "a second disk: another file system than the node's data"
expect_rc 0 on_disk config
assert_contains "$OUT" "backup folder   $mnt/kdr (the file system mounted at $mnt, device"

step "a backup folder on the node's own file system: a warning naming both (a sandbox shares the disks)"
expect_rc 0 kdr backup
assert_contains "$OUT" "is on the same file system as $ROOT/var/lib/etcd (the file system mounted at"
assert_contains "$OUT" "a sandbox node under --root shares the machine's disks"
