#!/usr/bin/env bash
# SIGKILL at random moments of `kdr prune` (each generation holds its own 30 MB copy, so that
# removing one takes time): every generation retention keeps is still there and verifies,
# `latest` names a whole generation, at most the one generation being removed is left
# half-removed (.del-*), and the next `kdr prune` finishes it and leaves exactly what
# retention keeps.
source "$(dirname "$0")/../lib/reliability.sh"

n=$(trials 6 100)
make_running_node
config 'kubeconfig: ""
retention: {keep_last: 2, hourly: 0, daily: 0, weekly: 0, after_backup: false}'
head -c 30000000 /dev/urandom > "$ROOT/etc/kubernetes/big-blob.bin"

new_generations() {  # COUNT: that many backups, each with its own copy of the blob
  local k
  for k in $(seq 1 "$1"); do
    printf '%08d' "$RANDOM$k" | dd of="$ROOT/etc/kubernetes/big-blob.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
    expect_rc 0 kdr -q backup
  done
}
generations() { ls "$BACKUP/generations" | grep -v '^\.' | sort; }

new_generations 4
prune_cs=$(elapsed_cs kdr -q prune)
assert_eq "$(generations | wc -l)" 2 "generations after the timed prune"
echo "a prune of 2 generations takes $prune_cs cs; kills land between 0 and $((prune_cs * 2 + 5)) cs"

mid=0 early=0 finished=0
for i in $(seq 1 "$n"); do
  step "trial $i"
  new_generations 2
  keep=$(generations | tail -n 2)
  run_killed_at $(( RANDOM % (prune_cs * 2 + 6) )) "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" -q prune
  half=$(ls -A "$BACKUP/generations" | grep -c '^\.del-' || true)
  case $KILLED_RC in
    137) if [ "$half" -gt 0 ]; then mid=$((mid + 1)); else early=$((early + 1)); fi ;;
    0) finished=$((finished + 1)) ;;
    *) cat "$T/killed.out" >&2; fail "trial $i: prune exited $KILLED_RC" ;;
  esac
  [ "$half" -le 1 ] || fail "trial $i: $half half-removed generations"
  for g in $keep; do
    [ -f "$BACKUP/generations/$g/meta.json" ] || fail "trial $i: generation $g, which retention keeps, was lost"
  done
  assert_latest_complete
  assert_all_generations_verify
  expect_rc 0 kdr -q prune
  [ -z "$(ls -A "$BACKUP/generations" | grep '^\.')" ] || fail "trial $i: the next prune left $(ls -A "$BACKUP/generations" | grep '^\.')"
  assert_eq "$(generations)" "$keep" "trial $i: generations after the next prune"
done
kdr_verify_all
echo "$n kills: $mid while a generation was being removed, $early before, $finished after the prune ended"
record "kdr prune killed (SIGKILL) at random moments" "$n" \
  "$mid killed while removing a generation, $early before, $finished after: the generations retention keeps were never touched and verify, latest always named a published generation with all its files, AUTH included, whose sums checked, the next prune finished the half-removed one" \
  nothing
