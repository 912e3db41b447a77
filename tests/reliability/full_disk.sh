#!/usr/bin/env bash
# The backup disk (a small tmpfs) is full: in odd trials a filler file leaves a random amount
# of free space before the run (kdr's up-front estimate refuses, or the run runs out), in
# even trials another process takes all free space at a random moment during the run. kdr
# stops with a clear error naming the disk, removes its partial generation, keeps every
# older generation intact and `latest` where it was; once space is freed the next run works.
source "$(dirname "$0")/../lib/reliability.sh"

n=$(trials 6 100)
make_running_node
sandbox_fill_etcd "$ROOT" 20 400000
# the backup's own restore test is left out: these trials are about the backup run (a restore
# test with too little room is tried in tests/scenarios/restore_test_room.sh)
config 'kubeconfig: ""
retention: {keep_last: 2, hourly: 0, daily: 0, weekly: 0}
verify: {restore_test_hours: 0}'
head -c 20000000 /dev/urandom > "$ROOT/etc/kubernetes/big-blob.bin"
mount_tmpfs "$T/disk2" 400m
expect_rc 0 kdr -q backup
expect_rc 0 kdr -q backup
per_gen=$(du -sm --apparent-size "$(latest_gen)" | cut -f1)
printf '%08d' 0 | dd of="$ROOT/etc/kubernetes/big-blob.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
run_cs=$(elapsed_cs kdr -q backup)
echo "a generation holds about $per_gen MB (unchanged files are hard links); a run takes $run_cs cs"

refused=0 midway=0 fit=0 full_verifies=0
for i in $(seq 1 "$n"); do
  printf '%08d' "$i" | dd of="$ROOT/etc/kubernetes/big-blob.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
  sandbox_etcdctl "$ROOT" put "/registry/trial/$i" "$i" >/dev/null
  before=$(latest_gen)
  gens_before=$(ls "$BACKUP/generations" | grep -v '^\.' | sort)
  free_mb=$(( $(stat -f -c '%a * %S' "$T/disk2") / 1048576 ))
  filler=''
  if [ $((i % 2)) -eq 1 ]; then
    leave=$(( RANDOM % (per_gen / 2 + 1) ))
    [ "$free_mb" -le "$leave" ] || fallocate -l "$(( (free_mb - leave) * 1048576 ))" "$T/disk2/filler"
  else
    (random_delay "$run_cs"; fallocate -l "$(( $(stat -f -c '%a * %S' "$T/disk2") - 4096 ))" "$T/disk2/filler" 2>/dev/null || true) &
    filler=$!
  fi
  rc=0
  OUT=$(kdr -q backup 2>&1) || rc=$?
  [ -z "$filler" ] || wait "$filler" || true
  case $rc in
    0) fit=$((fit + 1)) ;;
    1)
      grep -qiE 'no space left|MiB free' <<<"$OUT" || { echo "$OUT" >&2; fail "trial $i: no clear message for a full disk"; }
      grep -qF "$T/disk2" <<<"$OUT" || { echo "$OUT" >&2; fail "trial $i: the message does not name the disk"; }
      if grep -q 'needs about' <<<"$OUT"; then refused=$((refused + 1)); else midway=$((midway + 1)); echo "$OUT"; fi
      [ -z "$(ls -A "$BACKUP/generations" | grep '^\.')" ] || fail "trial $i: the partial generation was left: $(ls -A "$BACKUP/generations")"
      assert_eq "$(latest_gen)" "$before" "trial $i: latest moved"
      assert_eq "$(ls "$BACKUP/generations" | grep -v '^\.' | sort)" "$gens_before" "trial $i: generations changed"
      ;;
    *) echo "$OUT" >&2; fail "trial $i: a full disk gave exit $rc" ;;
  esac
  assert_all_generations_verify
  # kdr verify still judges every generation with the disk full to the last block (trial 1,
  # then every 10th): its own record of the result cannot be written, the verdict stands
  if [ $((i % 10)) -eq 1 ]; then
    fallocate -l "$(( $(stat -f -c '%a * %S' "$T/disk2") - 4096 ))" "$T/disk2/filler-verify" 2>/dev/null || true
    [ "$(stat -f -c %a "$T/disk2")" -le 1 ] || fail "trial $i: the disk is not full for the verify"
    kdr_verify_all
    full_verifies=$((full_verifies + 1))
    rm -f "$T/disk2/filler-verify"
  fi
  rm -f "$T/disk2/filler"
  expect_rc 0 kdr -q backup
  [ "$(latest_gen)" != "$before" ] || fail "trial $i: the run after freeing space published nothing"
done
kdr_verify_all
echo "$n fills: $midway ran out mid-run, $refused refused before writing, $fit still fitted"
[ $((midway + refused)) -gt 0 ] || fail "the disk never filled up: the trials prove nothing"
record "backup disk full (tmpfs): too little space before the run, or all of it taken during the run" "$n" \
  "$midway ran out of space mid-run, $refused were refused up front, $fit fitted: exit 1 naming the disk, the partial generation removed, older generations and latest untouched; in $full_verifies of the $n trials (the first, then every 10th) kdr verify judged every generation with the disk full to its last block (no finding); the next run after freeing space published a good generation" \
  nothing
