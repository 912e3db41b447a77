#!/usr/bin/env bash
# Fuzzes every parser of operator- or disk-supplied text with libFuzzer (clang 14 from
# Debian), under AddressSanitizer and UBSan: the config, playbooks, static pod manifests,
# a generation's manifest.jsonl and meta.json, a restore's journal, the change journal's
# segment records and etcd's bbolt database (the snapshot's revision and key count). A target fails on
# a crash, a leak, an input taking over 5 s (a hang), more than 2 GiB of memory, or a
# rejection that is not kdr's own error naming the input (tests/fuzz/fuzz_check.hpp).
#
#   scripts/fuzz.sh [--quick | --full | --seconds N] [--jobs N] [--only TARGET] [--merge] [--build DIR]
#
# --build DIR: use a build configured with clang and -DKDR_FUZZ=ON already (scripts/test.sh's
# sanitizer build is one), instead of build-fuzz/.
# --quick: 15 s per target (CI); --full: 5 min per target; --jobs N fuzzes N targets at a
# time (each still for its whole time; bench/reliability.sh gives it one per core); --merge
# adds the inputs that found new coverage to the committed corpus
# (tests/fuzz/corpus/<target>/), minimized.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=60 only='' merge=no jobs=1 build=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) seconds=15 ;;
    --full) seconds=300 ;;
    --seconds) seconds=$2; shift ;;
    --only) only=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --merge) merge=yes ;;
    --build) build=$2; shift ;;
    *) echo "usage: $0 [--quick | --full | --seconds N] [--jobs N] [--only TARGET] [--merge] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done
command -v clang++-14 >/dev/null || { echo "fuzz: clang++-14 is missing (scripts/install-deps.sh installs it)" >&2; exit 2; }

targets=(config playbook static_pod manifest meta journal segment bbolt k8s_object k8s_encryption k8s_key wal)
[ -z "$only" ] || targets=("$only")
if [ -z "$build" ]; then
  build=$src/build-fuzz
  echo "== build the fuzz targets with clang (libFuzzer, ASan, UBSan)"
  cmake -S "$src" -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DKDR_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
else
  grep -q '^KDR_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null ||
    { echo "fuzz: $build is not a build configured with -DKDR_FUZZ=ON" >&2; exit 2; }
fi
cmake --build "$build" -j "$(nproc)" --target fuzz_parsers >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/kdr-fuzz-XXXXXX")
# One target: its verdict in $work/$t.verdict (first line "ok" or "FAILED"), its row for
# docs/reliability.md in $work/$t.row.
fuzz_one() {
  local t=$1 corpus=$src/tests/fuzz/corpus/$1 rc=0 execs cov seeds
  mkdir -p "$work/$t"
  ASAN_OPTIONS=detect_leaks=1 KDR_FUZZ_TARGET=$t "$build/tests/fuzz/fuzz_parsers" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/$t-" "$work/$t" "$corpus" >"$work/$t.log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
  cov=$(grep -oE 'cov: [0-9]+' "$work/$t.log" | tail -n 1 | cut -d' ' -f2 || true)
  seeds=$(ls "$corpus" | wc -l)
  if [ "$rc" -ne 0 ]; then
    { echo FAILED
      echo "fuzz_$t: FAILED (exit $rc); the input is kept in $work:"
      grep -E 'ERROR|escaped|rejection|Test unit written' "$work/$t.log" | head -n 5 | sed 's/^/  /'; } > "$work/$t.verdict"
    return
  fi
  { echo ok
    echo "fuzz_$t: ${execs:-?} inputs in $seconds s, coverage ${cov:-?} edges, $seeds corpus seeds: no crash, hang, leak or unclear rejection"; } > "$work/$t.verdict"
  printf 'fuzz\t%s parser, fuzzed for %s s from %s committed seeds (libFuzzer, ASan, UBSan)\t%s\t%s\tnothing\n' \
    "$t" "$seconds" "$seeds" "${execs:-?}" "no crash, no leak, no input over 5 s or 2 GiB; every rejection was kdr's error naming the input; ${cov:-?} code edges reached" > "$work/$t.row"
  if [ "$merge" = yes ]; then
    KDR_FUZZ_TARGET=$t "$build/tests/fuzz/fuzz_parsers" -merge=1 "$corpus" "$work/$t" >/dev/null 2>&1
    echo "  corpus now $(ls "$corpus" | wc -l) inputs" >> "$work/$t.verdict"
  fi
}

for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$t" &
done
wait
failed=()
for t in "${targets[@]}"; do
  tail -n +2 "$work/$t.verdict"
  [ "$(head -n 1 "$work/$t.verdict")" = ok ] || { failed+=("$t"); continue; }
  [ -z "${KDR_FUZZ_ROWS:-}" ] || cat "$work/$t.row" >> "$KDR_FUZZ_ROWS"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]} (inputs and logs in $work)" >&2
  exit 1
fi
rm -rf "$work"
