#!/usr/bin/env bash
# Off-site copies through real servers on loopback: sftp through a private sshd (Debian's
# openssh-server, its own configuration, a high port, key authentication) and restic's REST
# protocol through `rclone serve restic`. On each: init, push, list, and a pull into a fresh
# folder that is an ordinary generation (sha256sum -c, kdr verify --no-live). Then two nodes
# share one repository: each pushes, lists and pulls only its own generations (kept apart by
# restic's host and kdr's node tag), `--all` lists both, and one node's forget leaves the
# other's alone.
# kdr-test: once (the off-site stores are what is tested, not etcd)
source "$(dirname "$0")/../lib/scenario.sh"
source "$KDR_SOURCE_DIR/tests/lib/offsite.sh"

step "a running node, backed up"
make_running_node
kdr backup -q
gen=$(basename "$(latest_gen)")
me=$(jq -r .hostname "$(latest_gen)/meta.json")

# push_and_pull STORE: push the generation, list it, pull it into a fresh folder and check it.
push_and_pull() {
  expect_rc 0 kdr offsite init
  assert_contains "$OUT" "restic repository created"
  expect_rc 0 kdr offsite push
  assert_contains "$OUT" "pushed $gen"
  expect_rc 0 kdr offsite push
  assert_contains "$OUT" "off site already"
  LIST=$(kdr --json offsite list | jq .generations)
  assert_eq "$(jq -r '[.[] | .generation] | join(" ")' <<<"$LIST")" "$gen" "$1: generations off site"
  assert_eq "$(jq -r '.[0].node' <<<"$LIST")" "$me" "$1: the node of the generation"
  expect_rc 0 kdr offsite pull latest --to "$T/pulled-$1"
  (cd "$T/pulled-$1/latest" && sha256sum -c --quiet --strict SHA256SUMS) || fail "$1: the pulled generation fails sha256sum -c"
  expect_rc 0 "$KDR_BIN" --root "$ROOT" --backup-dir "$T/pulled-$1" verify --no-live -q
  diff -r --no-dereference "$(latest_gen)" "$T/pulled-$1/generations/$gen" || fail "$1: the pulled generation differs from the local one"
}

step "sftp through a private sshd: init, push, list, pull"
argv=$(sftp_start "$T/sftp")
offsite_config "sftp:root@127.0.0.1:$T/sftp/repo" "$argv"
push_and_pull sftp
[ -f "$T/sftp/repo/config" ] || fail "no restic repository in the sftp server's folder"

step "REST through rclone serve restic: init, push, list, pull"
url=$(rest_start "$T/rest")
offsite_config "$url"
push_and_pull rest
[ -f "$T/rest/store/kdr/config" ] || fail "no restic repository in rclone's folder"

step "another node shares the REST repository: each sees, pushes and pulls its own"
ROOT1=$ROOT BACKUP1=$BACKUP
ROOT=$T/node2 BACKUP=$T/disk2-node2
SANDBOX_NODE_NAME=cp-2 SANDBOX_NODE_IP=127.0.0.12 sandbox_make_node "$ROOT"
sandbox_start_etcd "$ROOT"
sandbox_etcdctl "$ROOT" put /registry/namespaces/cp-2-only x >/dev/null
sandbox_stop_etcd "$ROOT"
cp "$ROOT1/etc/kdr/restic-password" "$ROOT/etc/kdr/restic-password"
OFFSITE_SETTINGS='  keep: {last: 1, hourly: 0, daily: 0, weekly: 0, monthly: 0}
' offsite_config "$url"
printf 'etcd: {snapshot: false}\n' >> "$ROOT/etc/kdr/kdr.yaml"
for i in 1 2; do
  echo "cp-2 change $i" > "$ROOT/etc/kubernetes/cp2-$i.conf"
  expect_rc 0 as_host cp-2 "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" backup -q
  expect_rc 0 as_host cp-2 "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" offsite push
done
LIST2=$(as_host cp-2 "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" --json offsite list | jq .generations)
assert_eq "$(jq -r '[.[] | .node] | unique | join(" ")' <<<"$LIST2")" cp-2 "cp-2's list"
assert_eq "$(jq length <<<"$LIST2")" 2 "cp-2's generations off site"
ALL=$(as_host cp-2 "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" --json offsite list --all | jq .generations)
assert_eq "$(jq -r '[.[] | .node] | unique | join(" ")' <<<"$ALL")" "$(printf '%s\n' cp-2 "$me" | sort | paste -sd' ')" "every node's list"
restic_own snapshots --host cp-2 --json | jq -e 'length == 2' >/dev/null || fail "restic's own --host cp-2 finds cp-2's generations"

step "one node's forget leaves the other node's generations alone"
expect_rc 0 as_host cp-2 "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" offsite forget
LIST2=$(as_host cp-2 "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" --json offsite list | jq .generations)
assert_eq "$(jq -r '[.[] | .generation] | join(" ")' <<<"$LIST2")" "$(basename "$(readlink -f "$BACKUP/latest")")" "cp-2 after forget (keep last 1)"
ROOT=$ROOT1 BACKUP=$BACKUP1
assert_eq "$(kdr --json offsite list | jq -r "[.generations[] | .generation] | join(\" \")")" "$gen" "this node's generations after cp-2's forget"

step "this node pulls its own latest, not cp-2's newer one"
expect_rc 0 kdr offsite pull latest --to "$T/pulled-own"
assert_eq "$(jq -r .hostname "$T/pulled-own/latest/meta.json")" "$me" "the node of the pulled generation"
