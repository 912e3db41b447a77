#!/usr/bin/env bash
# Fuzzes every parser of operator- or disk-supplied text with libFuzzer (clang 14 from
# Debian), under AddressSanitizer and UBSan: the config, playbooks, static pod manifests,
# a generation's manifest.jsonl and meta.json, a restore's journal, the change journal's
# segment records and etcd's bbolt database (the snapshot's revision and key count). A target fails on
# a crash, a leak, an input taking over 5 s (a hang), more than 2 GiB of memory, or a
# rejection that is not kdr's own error naming the input (tests/fuzz/fuzz_check.hpp).
#
#   scripts/fuzz.sh [--quick | --full | --seconds N] [--only TARGET] [--merge]
#
# --quick: 15 s per target (CI); --full: 5 min per target; --merge adds the inputs that
# found new coverage to the committed corpus (tests/fuzz/corpus/<target>/), minimized.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=60 only='' merge=no
while [ $# -gt 0 ]; do
  case $1 in
    --quick) seconds=15 ;;
    --full) seconds=300 ;;
    --seconds) seconds=$2; shift ;;
    --only) only=$2; shift ;;
    --merge) merge=yes ;;
    *) echo "usage: $0 [--quick | --full | --seconds N] [--only TARGET] [--merge]" >&2; exit 2 ;;
  esac
  shift
done
command -v clang++-14 >/dev/null || { echo "fuzz: clang++-14 is missing (scripts/install-deps.sh installs it)" >&2; exit 2; }

build=$src/build-fuzz
targets=(config playbook static_pod manifest meta journal segment bbolt)
[ -z "$only" ] || targets=("$only")
echo "== build the fuzz targets with clang (libFuzzer, ASan, UBSan)"
cmake -S "$src" -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DKDR_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/kdr-fuzz-XXXXXX")
failed=()
for t in "${targets[@]}"; do
  corpus=$src/tests/fuzz/corpus/$t
  mkdir -p "$work/$t"
  rc=0
  ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/$t-" "$work/$t" "$corpus" >"$work/$t.log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
  cov=$(grep -oE 'cov: [0-9]+' "$work/$t.log" | tail -n 1 | cut -d' ' -f2 || true)
  seeds=$(ls "$corpus" | wc -l)
  if [ "$rc" -ne 0 ]; then
    echo "fuzz_$t: FAILED (exit $rc); the input is kept in $work:"
    grep -E 'ERROR|escaped|rejection|Test unit written' "$work/$t.log" | head -n 5 | sed 's/^/  /'
    failed+=("$t")
    continue
  fi
  echo "fuzz_$t: ${execs:-?} inputs in $seconds s, coverage ${cov:-?} edges, $seeds corpus seeds: no crash, hang, leak or unclear rejection"
  [ -z "${KDR_FUZZ_ROWS:-}" ] || printf 'fuzz\t%s parser, fuzzed for %s s from %s committed seeds (libFuzzer, ASan, UBSan)\t%s\t%s\tnothing\n' \
    "$t" "$seconds" "$seeds" "${execs:-?}" "no crash, no leak, no input over 5 s or 2 GiB; every rejection was kdr's error naming the input; ${cov:-?} code edges reached" >> "$KDR_FUZZ_ROWS"
  if [ "$merge" = yes ]; then
    "$build/tests/fuzz/fuzz_$t" -merge=1 "$corpus" "$work/$t" >/dev/null 2>&1
    echo "  corpus now $(ls "$corpus" | wc -l) inputs"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]} (inputs and logs in $work)" >&2
  exit 1
fi
rm -rf "$work"
