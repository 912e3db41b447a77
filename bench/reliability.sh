#!/usr/bin/env bash
# Puts kdr through every fault and hostile-input class in tests/reliability/ (and the
# fuzzers, scripts/fuzz.sh) and writes the table of what was tried, how often, what kdr
# did and what was lost to docs/reliability.md.
#
#   bench/reliability.sh [--quick] [--out FILE] [--kdr PATH] [--only CLASS] [--no-fuzz]
#
# --only CLASS (or fuzz) runs one class and replaces only its rows in an existing page.
#
# Full mode (the default) runs hundreds of trials per fault class and each fuzzer for
# 10 minutes (one per core at a time): about two hours on 2 cores. --quick is what CI runs
# (a few minutes, and the fuzzers 15 s each). The binary is build/'s; --kdr picks another
# (build-sanitize's runs every trial under AddressSanitizer and UBSan, as CI's quick mode
# does).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
mode=full out=$src/docs/reliability.md only='' fuzz=yes kdr_bin=''
while [ $# -gt 0 ]; do
  case $1 in
    --quick) mode=quick ;;
    --out) out=$2; shift ;;
    --kdr) kdr_bin=$2; shift ;;
    --only) only=$2; shift ;;
    --no-fuzz) fuzz=no ;;
    *) echo "usage: $0 [--quick] [--out FILE] [--kdr PATH] [--only CLASS] [--no-fuzz]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$kdr_bin" ] || kdr_bin=$src/build/cli/kdr
[ -x "$kdr_bin" ] || { echo "reliability: no kdr binary at $kdr_bin (run scripts/build.sh first)" >&2; exit 2; }
kubelet=${KDR_KUBELET:-$(dirname "$(dirname "$kdr_bin")")/demo/kubelet-standin}
[ -x "$kubelet" ] || { echo "reliability: no kubelet stand-in at $kubelet" >&2; exit 2; }

rows=$(mktemp)
log=$(mktemp -d "${TMPDIR:-/tmp}/kdr-reliability-XXXXXX")
trap 'rm -f "$rows"' EXIT
export KDR_BIN=$kdr_bin KDR_KUBELET=$kubelet KDR_SOURCE_DIR=$src KDR_RELIABILITY_MODE=$mode KDR_RELIABILITY_OUT=$rows
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
start=$(date +%s)
# --only: the other classes' rows of the existing page stay as they are
if [ -n "$only" ] && [ -f "$out" ]; then
  sed -n 's/^| \([a-z_]*\) | \(.*\) |$/\1 | \2/p' "$out" | grep -v "^$only |" | grep -v '^class |' |
    awk -F' \\| ' -v OFS='\t' '{ print $1, $2, $3, $4, $5 }' >> "$rows" || true
  previous=$(sed -n 's/^Last run: //p' "$out")
  reruns=$(grep '^Rows of' "$out" | grep -v "^Rows of \`$only\`" || true)
fi
for script in "$src"/tests/reliability/*.sh; do
  name=$(basename "$script" .sh)
  [ -z "$only" ] || [ "$only" = "$name" ] || continue
  printf '== %-22s ' "$name"
  t0=$(date +%s)
  if bash "$script" >"$log/$name.log" 2>&1; then
    echo "passed in $(( $(date +%s) - t0 )) s"
  else
    echo "FAILED in $(( $(date +%s) - t0 )) s (log: $log/$name.log)"
    tail -n 20 "$log/$name.log" | sed 's/^/   /'
    failed+=("$name")
    printf '%s\t%s\t-\t%s\tsee the log\n' "$name" "the whole class" "$(grep -m1 '^FAILED' "$log/$name.log" | cut -c1-200)" >> "$rows"
  fi
done
if [ "$fuzz" = yes ] && [ -z "$only" ] || [ "$only" = fuzz ]; then
  printf '== %-22s ' fuzz
  t0=$(date +%s)
  if KDR_FUZZ_ROWS=$rows bash "$src/scripts/fuzz.sh" $( [ "$mode" = quick ] && echo --quick || echo --seconds 600 --jobs "$(nproc)" ) >"$log/fuzz.log" 2>&1; then
    echo "passed in $(( $(date +%s) - t0 )) s"
  else
    echo "FAILED (log: $log/fuzz.log)"; tail -n 20 "$log/fuzz.log" | sed 's/^/   /'; failed+=(fuzz)
    printf 'fuzz\tthe fuzzers\t-\tFAILED\tsee the log\n' >> "$rows"
  fi
fi
minutes=$(( ($(date +%s) - start + 59) / 60 ))

build="normal build"
case $(basename "$(dirname "$(dirname "$kdr_bin")")") in build-sanitize*) build="AddressSanitizer + UBSan build" ;; esac
{
  cat <<HEAD
# Reliability: what kdr was put through

Every fault and hostile-input class kdr is tested against, how many trials each had, what
kdr did, and what was lost. The goal is "nothing" in the last column. This page is written
by \`bash bench/reliability.sh\` (about an hour and a half on 2 cores); do not edit it by hand. CI runs
the same classes in their quick mode on every change (\`ctest -L reliability\`).

$( [ -n "$only" ] && [ -n "${previous:-}" ] && echo "Last run: $previous" && { [ -z "${reruns:-}" ] || echo "$reruns"; } && echo "Rows of \`$only\` re-run $(date -u +%Y-%m-%d) ($mode mode, $minutes min)." || echo "Last run: $(date -u +%Y-%m-%d), $mode mode, $minutes min, kdr $("$kdr_bin" --version 2>/dev/null | head -n1 | awk '{print $NF}') ($build), etcd $(etcd --version 2>/dev/null | awk '/etcd Version/ {print $3}'), $(uname -sr), $(nproc) cores." )
$( bad=$(awk -F'\t' '$4 ~ /^FAILED/ { print $1 }' "$rows" | sort -u | tr '\n' ' ')
   [ -z "$bad" ] && echo "All classes passed." || echo "**FAILED: ${bad% }** (the rows say where)." )

| class | fault or input | trials | what kdr did | lost |
|---|---|---:|---|---|
HEAD
  sort -s -t$'\t' -k1,1 "$rows" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' 
  cat <<'TAIL'

## How to read it

- **class** is the script under `tests/reliability/` (or `scripts/fuzz.sh`); read it for
  the exact fault and every check made after each trial.
- **trials** counts the faults injected; each trial is followed by the checks named in
  "what kdr did". A class stops at the first check that fails, so a row only exists for a
  fault that passed all its trials.
- **lost** is what a trial lost of what was good on disk: a published generation, the last
  good copy, live data or the node's pre-restore state.

## What these classes found, fixed since

- A backup whose etcd snapshot ran out of space published a generation without a
  snapshot (exit 3), which retention could prefer over good ones (`full_disk`).
- A required source replaced by a symlink was reported as "empty"; a backup folder
  reached through a symlink into a source was not refused (`sources`, `secrets`).
- verify followed a symlinked folder or a `../` artifact path of a forged generation and
  read outside it; hard links to files outside the backup folder went unnoticed
  (`hostile_content`).
- A rollback run again after an interrupted rollback did not wait for the restored pods
  to stop, so the restored etcd kept serving while its data dir was swapped (`restore_kill`).
- A lock released between the refusal and the look at `/proc/locks` gave a refusal naming
  nobody (`concurrency`).
- The fuzzers: a YAML key that is a list, out-of-range numbers in manifest.jsonl and
  meta.json (an undefined conversion), and journal records of the wrong type escaped as
  library exceptions instead of errors naming the file; a bbolt page claiming to be both a
  branch and a leaf made the snapshot reader read past the page (fuzz target `bbolt`).
- A manifest moved across file systems (the node's /etc on its own disk, kdr's state folder
  on another) came back from a rollback with a new modification time (`restore_full_disk`).
- A prune killed while removing a generation left it half-removed (`.del-*`) until the next
  backup; the next prune now finishes it (`prune_kill`).
- kdr verify on a backup disk full to its last block failed (exit 1) because it could not
  write the record it keeps for kdr list and show; the verdict now stands (`full_disk`).
- replace-etcd-member resumed right after its member was removed, or run again right after a
  rollback had removed the member it added, met etcd's "unhealthy cluster" and "member not
  found" on the member add; it now reads the member list and retries while the cluster
  settles (`ha_member_kill`). Its member remove met the same "unhealthy cluster" while a
  member it had just added was still catching up, and now retries it too.
- Besides these classes, the unit tests' crash matrix stops every shipped playbook after each
  record of its journal, then resumes or rolls back (tests/unit/test_restore_crash.cpp).

Run one class: `KDR_BIN=build/cli/kdr KDR_KUBELET=build/demo/kubelet-standin
KDR_TRIALS=50 bash tests/reliability/backup_kill.sh`. Locking between backup, verify,
prune and restore is described in docs/architecture.md.
TAIL
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
[ ${#failed[@]} -eq 0 ] || { echo "reliability: failed: ${failed[*]}" >&2; exit 1; }
rm -rf "$log"
