#!/usr/bin/env bash
# Sources that misbehave while kdr backs them up: files vanishing and appearing, a file
# growing, an unreadable file (kdr without CAP_DAC_OVERRIDE, as under a confining security
# policy), a source replaced by a symlink, a source suddenly empty. Each is handled and
# reported: a partial run (exit 3) names what it left out or recorded as torn, a refused
# run (exit 1) names the source and publishes nothing, and no generation claims to be
# complete and good when it is not.
source "$(dirname "$0")/../lib/reliability.sh"

n=$(trials 2 25)
make_node_with_etcd_data 10 10000
config 'etcd: {snapshot: false}
retention: {keep_last: 4, hourly: 0, daily: 0, weekly: 0}'
expect_rc 0 kdr -q backup

status_of_latest() { jq -r .status "$(latest_gen)/meta.json"; }
# background FUNCTION: runs it until stop_background
background() { "$@" & BG=$!; SCENARIO_BG_PIDS+=("$BG"); }
stop_background() { kill "$BG" 2>/dev/null || true; wait "$BG" 2>/dev/null || true; }

step "files vanishing and appearing during the run"
# 200 small files, each in turn removed and written again: the count stays steady (no
# shrink guard), and any one may be gone between kdr listing its folder and opening it
mkdir -p "$ROOT/etc/kubernetes/churn"
for j in $(seq 1 200); do echo "file $j" > "$ROOT/etc/kubernetes/churn/f$j"; done
expect_rc 0 kdr -q backup
churn() {
  local j
  while :; do
    for j in $(seq 1 200); do rm -f "$ROOT/etc/kubernetes/churn/f$j"; sleep 0.003; echo "file $j $RANDOM" > "$ROOT/etc/kubernetes/churn/f$j"; done
  done
}
vanished=0 clean=0 i=0
# at least n*4 runs; more (up to n*16) while none has seen a file vanish, as a loaded machine
# can run them all between two deletions
while [ "$i" -lt $((n * 4)) ] || { [ "$vanished" -eq 0 ] && [ "$i" -lt $((n * 16)) ]; }; do
  i=$((i + 1))
  background churn
  random_delay 5
  rc=0
  OUT=$(kdr -q backup 2>&1) || rc=$?
  stop_background
  [ "$rc" -eq 0 ] || { echo "$OUT" >&2; fail "run $i with vanishing files exited $rc"; }
  if grep -q "vanished during the backup" <<<"$OUT"; then
    # a file deleted during the run is not part of the folder's state: the generation is
    # complete without it, and says which ones went
    for f in $(grep -o '/etc/kubernetes/churn/f[0-9]*' <<<"$OUT"); do
      [ "$(manifest_entry "$(latest_gen)" "$f")" = null ] || fail "vanished $f is in the manifest"
      jq -e --arg f "$f" '.warnings | any(contains($f))' "$(latest_gen)/meta.json" >/dev/null || fail "meta.json does not record that $f vanished"
    done
    vanished=$((vanished + 1))
  else
    clean=$((clean + 1))
  fi
  kdr_verify_all
done
echo "$vanished runs reported vanished files, $clean saw none"
[ "$vanished" -gt 0 ] || fail "no file vanished during a run: the trials prove nothing"
record "files vanishing and appearing during the run" "$i" \
  "$vanished runs saw files vanish: named in a warning and in meta.json, left out of the manifest (the folder's state without them); $clean saw none vanish; every generation verified" nothing
rm -rf "$ROOT/etc/kubernetes/churn"
expect_rc 0 kdr -q backup --allow-shrink

step "a file growing during the whole run"
grow() { while :; do echo "more data $RANDOM" >> "$ROOT/etc/kubernetes/growing.log"; done; }
head -c 60000000 /dev/urandom > "$ROOT/etc/kubernetes/growing.log"
torn=0
for i in $(seq 1 "$n"); do
  background grow
  sleep 0.2
  rc=0
  OUT=$(kdr -q backup 2>&1) || rc=$?
  stop_background
  [ "$rc" -eq 3 ] || { echo "$OUT" >&2; fail "run $i with a growing file exited $rc, not 3"; }
  assert_contains "$OUT" "/etc/kubernetes/growing.log"
  assert_entry "$(latest_gen)" /etc/kubernetes/growing.log '.torn == true'
  [ "$(status_of_latest)" = partial ] || fail "a run with a torn file published a complete generation"
  torn=$((torn + 1))
  kdr_verify_all
done
rm "$ROOT/etc/kubernetes/growing.log"
expect_rc 0 kdr -q backup --allow-shrink
record "a file growing during the whole run" "$n" \
  "re-copied up to copy_retries times, then recorded as torn in the manifest and named; generation marked partial (exit 3)" nothing

step "an unreadable file (no CAP_DAC_OVERRIDE, mode 000)"
for i in $(seq 1 "$n"); do
  victim=$(cd "$ROOT" && find etc/kubernetes/pki -type f -name '*.key' | sort | sed -n "$(( (i - 1) % 5 + 1 ))p")
  chmod 000 "$ROOT/$victim"
  rc=0
  OUT=$(setpriv --bounding-set -dac_override,-dac_read_search "$KDR_BIN" --root "$ROOT" --backup-dir "$BACKUP" -q backup 2>&1) || rc=$?
  chmod 600 "$ROOT/$victim"
  [ "$rc" -eq 3 ] || { echo "$OUT" >&2; fail "a run with unreadable /$victim exited $rc, not 3"; }
  assert_contains "$OUT" "cannot read /$victim"
  [ "$(status_of_latest)" = partial ] || fail "a run missing /$victim published a complete generation"
  [ "$(manifest_entry "$(latest_gen)" "/$victim")" = null ] || fail "/$victim is in the manifest though it could not be read"
  kdr_verify_all
done
record "an unreadable file (kdr without CAP_DAC_OVERRIDE, mode 000)" "$n" \
  "named it ('cannot read ... Permission denied; not in this generation'), left it out of the manifest, generation marked partial (exit 3)" nothing

step "a source replaced by a symlink, and a source suddenly empty"
refused_symlink=0 refused_empty=0
for i in $(seq 1 "$n"); do
  for src in etc/kubernetes var/lib/etcd; do
    before=$(latest_gen)
    mv "$ROOT/$src" "$ROOT/$src.real"
    ln -s "$ROOT/$src.real" "$ROOT/$src"
    expect_rc 1 kdr -q backup
    assert_contains "$OUT" "required source /$src is a symlink now"
    rm "$ROOT/$src"
    assert_eq "$(latest_gen)" "$before" "latest after a refused run"
    refused_symlink=$((refused_symlink + 1))

    mkdir "$ROOT/$src"
    expect_rc 1 kdr -q backup
    assert_contains "$OUT" "required source /$src is empty"
    rmdir "$ROOT/$src"
    mv "$ROOT/$src.real" "$ROOT/$src"
    assert_eq "$(latest_gen)" "$before" "latest after a refused run"
    refused_empty=$((refused_empty + 1))
  done
done
kdr_verify_all
expect_rc 0 kdr -q backup
record "a source replaced by a symlink (/etc/kubernetes, /var/lib/etcd)" "$refused_symlink" \
  "refused (exit 1) naming the source and why; nothing published, latest unchanged" nothing
record "a source suddenly empty (an unmounted disk, a wiped folder)" "$refused_empty" \
  "refused (exit 1) naming the source; nothing published, latest unchanged" nothing
