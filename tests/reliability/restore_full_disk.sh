#!/usr/bin/env bash
# The node's /etc (a small tmpfs) fills up during restore-files, which copies /etc/kubernetes
# back beside the moved-aside one. Trials take turns: a filler file leaves too little free
# space before the run (the preflight refuses, nothing changed); another process takes all
# free space at a random moment during the restore; or it leaves a random amount too small
# for the copy while the restore is held just before its copy-back step (KDR_PAUSEPOINT).
# kdr stops with the disk named,
# the moved-aside /etc/kubernetes intact and journaled; once space is freed `--resume`
# finishes it, and `--rollback` then puts the node back exactly as it was before the restore.
source "$(dirname "$0")/../lib/reliability.sh"

# The node's files but etcd's data dir, which the running etcd keeps writing.
files_state() { node_state | grep -v -e 'var/lib/etcd' -e '\.filler'; }

n=$(trials 6 60)
sandbox_make_node "$ROOT"
head -c 20000000 /dev/urandom > "$ROOT/etc/kubernetes/big-blob.bin"
# /etc on a file system of its own, with room for about two copies of /etc/kubernetes
cp -a "$ROOT/etc" "$T/etc-copy"
mount_tmpfs "$ROOT/etc" 56m
cp -a "$T/etc-copy/." "$ROOT/etc/"
rm -rf "$T/etc-copy"
config 'kubeconfig: ""'
sandbox_start_kubelet "$ROOT"
sandbox_wait_etcd "$ROOT" 30
sandbox_etcdctl "$ROOT" put /registry/namespaces/team-1 '{"kind":"Namespace"}' >/dev/null
expect_rc 0 kdr -q backup
echo "damaged" > "$ROOT/etc/kubernetes/admin.conf"
before=$(files_state)
restore_cs=$(elapsed_cs kdr restore restore-files --yes)
expect_rc 0 kdr restore --rollback "$(restore_id)" --yes
assert_eq "$(files_state)" "$before" "the node after the timed restore's rollback"
echo "a restore-files takes $restore_cs cs"
copy_step=$(kdr restore restore-files --dry-run | sed -n 's/^ *\([0-9]*\) \* copy-back \/etc\/kubernetes$/\1/p')
[ -n "$copy_step" ] || fail "no copy-back /etc/kubernetes step in the plan"

refused=0 midway=0 fit=0
for i in $(seq 1 "$n"); do
  step "trial $i"
  sandbox_wait_etcd "$ROOT" 30
  free_mb=$(( $(stat -f -c '%a * %S' "$ROOT/etc") / 1048576 ))
  last=$(restore_id)
  filler='' pause=''
  case $((i % 3)) in
    1)
      leave=$(( RANDOM % 15 ))
      fallocate -l "$(( (free_mb - leave) * 1048576 ))" "$ROOT/etc/.filler" ;;
    2)
      (random_delay "$restore_cs"; fallocate -l "$(( $(stat -f -c '%a * %S' "$ROOT/etc") - 4096 ))" "$ROOT/etc/.filler" 2>/dev/null || true) &
      filler=$! ;;
    0) pause=restore-before-step-$copy_step ;;
  esac
  rc=0
  if [ -n "$pause" ]; then
    KDR_PAUSEPOINT=$pause "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" restore restore-files --yes >"$T/restore.out" 2>&1 &
    pid=$!
    SCENARIO_BG_PIDS+=("$pid")
    wait_paused "$pid" "trial $i: the restore ($pause)" "$T/restore.out"
    # leave less than the copy needs
    fallocate -l "$(( $(stat -f -c '%a * %S' "$ROOT/etc") - (RANDOM % 15) * 1048576 - 4096 ))" "$ROOT/etc/.filler"
    kill -CONT "$pid"
    wait "$pid" || rc=$?
    OUT=$(cat "$T/restore.out")
  else
    OUT=$(kdr restore restore-files --yes 2>&1) || rc=$?
  fi
  [ -z "$filler" ] || wait "$filler" || true
  id=$(restore_id)
  case $rc in
    0) fit=$((fit + 1)) ;;
    1)
      refused=$((refused + 1))
      grep -qE 'MiB free|No space left' <<<"$OUT" || { echo "$OUT" >&2; fail "trial $i: no clear message for a full disk"; }
      rm -f "$ROOT/etc/.filler"
      assert_eq "$(files_state)" "$before" "trial $i: a refused restore changed the node"
      continue
      ;;
    5)
      midway=$((midway + 1))
      grep -q 'No space left on device' <<<"$OUT" || { echo "$OUT" >&2; fail "trial $i: the failure does not say the disk is full"; }
      grep -q 'a disk is full' <<<"$OUT" || { echo "$OUT" >&2; fail "trial $i: no advice for a full disk"; }
      grep -q "restore --resume $id" <<<"$OUT" || { echo "$OUT" >&2; fail "trial $i: no resume command"; }
      # the node's own /etc/kubernetes is kept aside, byte for byte
      [ -d "$ROOT/etc/kubernetes.kdr-$id" ] || fail "trial $i: the moved-aside /etc/kubernetes is gone"
      assert_eq "$(cat "$ROOT/etc/kubernetes.kdr-$id/admin.conf")" "damaged" "trial $i: the moved-aside admin.conf"
      rm -f "$ROOT/etc/.filler"
      expect_rc 0 kdr restore --resume "$id" --yes
      ;;
    *) echo "$OUT" >&2; fail "trial $i: a full disk gave exit $rc" ;;
  esac
  rm -f "$ROOT/etc/.filler"
  [ "$id" != "$last" ] || fail "trial $i: no restore was recorded"
  assert_eq "$(cat "$ROOT/etc/kubernetes/admin.conf")" "$(cat "$(latest_gen)/files/etc/kubernetes/admin.conf")" \
    "trial $i: admin.conf after the restore"
  expect_rc 0 kdr restore --rollback "$id" --yes
  assert_eq "$(files_state)" "$before" "trial $i: the node after the rollback"
done
echo "$n fills: $midway ran out mid-restore, $refused refused before changing anything, $fit still fitted"
[ $((midway + refused)) -gt 0 ] || fail "the disk never filled up: the trials prove nothing"
record "node disk full during restore-files (/etc on a small tmpfs)" "$n" \
  "$midway ran out of space mid-restore (exit 5 naming the disk, the node's own copy kept aside; --resume finished once space was freed), $refused were refused by the preflight with nothing changed, $fit fitted; every trial rolled back to the node byte for byte" \
  nothing
