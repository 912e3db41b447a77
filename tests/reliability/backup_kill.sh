#!/usr/bin/env bash
# SIGKILL at random moments of `kdr backup` on a running node (real etcd serving, so the
# run takes a live snapshot too): every published generation still verifies, `latest` is
# always a complete generation, the last good one is never lost, and the next run removes
# what a killed run left.
source "$(dirname "$0")/../lib/reliability.sh"

n=$(trials 15 300)
make_running_node
sandbox_fill_etcd "$ROOT" 40 200000
config 'kubeconfig: ""
retention: {keep_last: 3, hourly: 0, daily: 0, weekly: 0}'
head -c 30000000 /dev/urandom > "$ROOT/etc/kubernetes/big-blob.bin"
expect_rc 0 kdr -q backup
printf 'measure!' | dd of="$ROOT/etc/kubernetes/big-blob.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
run_cs=$(elapsed_cs kdr -q backup)
echo "a backup takes $run_cs cs; kills land between 0 and $((run_cs * 2)) cs"

mid=0 finished=0 early=0 late=0
for i in $(seq 1 "$n"); do
  # every trial changes data so that the run has copying to do
  printf '%08d' "$i" | dd of="$ROOT/etc/kubernetes/big-blob.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
  sandbox_etcdctl "$ROOT" put "/registry/trial/$i" "$i" >/dev/null
  before=$(latest_gen)
  left_before=$(ls -A "$BACKUP/generations" | grep '^\.tmp-' || true)
  run_killed_at $(( RANDOM % (run_cs * 2 + 1) )) "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" -q backup
  left_after=$(ls -A "$BACKUP/generations" | grep '^\.tmp-' || true)
  staging=$(grep -c . <<<"$left_after" || true)
  # a staging folder this run made (not the one a previous killed run left, which it removes)
  made=$(comm -13 <(echo "$left_before") <(echo "$left_after") | grep -c . || true)
  case $KILLED_RC in
    137) if [ "$made" -gt 0 ]; then mid=$((mid + 1))
         elif [ "$(latest_gen)" != "$before" ]; then late=$((late + 1))
         else early=$((early + 1)); fi ;;
    0 | 3) finished=$((finished + 1)) ;;
    *) cat "$T/killed.out" >&2; fail "trial $i: backup exited $KILLED_RC" ;;
  esac
  # a killed run's leftovers are removed by the next one: never more than one at a time
  [ "$staging" -le 1 ] || fail "trial $i: $staging staging folders: leftovers accumulate"
  assert_all_generations_verify
  [ -f "$before/meta.json" ] || [ "$(latest_gen)" != "$before" ] || fail "trial $i: the last good generation was lost"
  [ $((i % 25)) -ne 0 ] || kdr_verify_all
done
echo "$n kills: $mid while a generation was being built, $early before it started, $late after publishing, $finished after the run ended"
[ "$mid" -gt 0 ] || fail "no kill landed while a generation was being built: the trials prove nothing"

expect_rc 0 kdr -q backup
[ -z "$(ls -A "$BACKUP/generations" | grep '^\.')" ] || fail "leftovers remain after a good run: $(ls -A "$BACKUP/generations")"
kdr_verify_all
cmp "$ROOT/etc/kubernetes/big-blob.bin" "$(latest_gen)/files/etc/kubernetes/big-blob.bin" || fail "latest content"
record "backup killed (SIGKILL) at a random moment" "$n" \
  "$mid kills while building a generation (a staging folder of that run left behind), $early before it made one, $late after publishing, $finished after the run ended; every published generation verified (sha256sum -c each time, kdr verify every 25); latest always a published generation with meta.json, manifest.jsonl, SHA256SUMS and AUTH, its sums checked; the next run removed the leftovers" \
  nothing
