#!/usr/bin/env bash
# The backup disk is read-only (ext4 remounts read-only after errors, or it is mounted
# read-only on purpose for the recovery): every reader still works. verify, show, list and a
# restore (its dry run and the real one) read it without the lock file they cannot make, say
# so, and write nothing there; the restore keeps its journal on the node. A backup is refused
# naming the read-only file system.
# kdr-test: once
source "$(dirname "$0")/../lib/scenario.sh"

step "a node backed up onto its own disk, which is then remounted read-only"
make_running_node
mount_tmpfs "$T/disk2" 200m
config 'kubeconfig: ""'
expect_rc 0 kdr backup
gen=$(basename "$(latest_gen)")
rm -f "$BACKUP/.lock"  # made by the backup; a disk that failed may hold none
mount -o remount,ro "$T/disk2"
disk_before=$(cd "$BACKUP" && find . -printf '%P %s %T@\n' | sort | sha256sum)

step "verify, show and list read it, and say that it is read-only"
expect_rc 0 kdr verify --no-live
assert_contains "$OUT" "is on a read-only file system: read as it is"
assert_contains "$OUT" "authenticated with this node's key"
expect_rc 0 kdr show
assert_contains "$OUT" "Generation $gen"
expect_rc 0 kdr list

step "a restore from it: the dry run, then the real one, with its journal on the node"
echo "damaged" > "$ROOT/etc/kubernetes/admin.conf"
expect_rc 0 kdr restore restore-files --dry-run
expect_rc 0 kdr restore restore-files --yes
cmp -s "$ROOT/etc/kubernetes/admin.conf" "$BACKUP/generations/$gen/files/etc/kubernetes/admin.conf" ||
  fail "admin.conf is not the backup's after the restore"
[ -f "$ROOT/var/lib/kdr/restores/$(restore_id)/journal.jsonl" ] || fail "no restore journal on the node"

step "a backup is refused, naming the read-only file system; the disk is as it was"
expect_rc 1 kdr backup
assert_contains "$OUT" "Read-only file system"
assert_eq "$(cd "$BACKUP" && find . -printf '%P %s %T@\n' | sort | sha256sum)" "$disk_before" "the backup disk"
