#!/usr/bin/env bash
# Sets up everything and runs kdr's whole test suite: unit tests, black-box scenarios (a
# real etcd on loopback, sandbox nodes under temporary roots), the fuzz corpus replayed,
# first in a Release build at -O2 (as Debian's packages are built) with warnings as errors
# against Debian 12's etcd 3.4 (scenarios only), then built with clang (in the background, at
# the lowest CPU priority, while the 3.4 tests run; line tables for the sanitizers' stack
# traces), AddressSanitizer and
# UndefinedBehaviorSanitizer against etcd 3.5 (Debian 13's, unpacked into build/etcd-3.5)
# together with the fault classes (tests/reliability/, quick mode): every scenario runs once
# on each etcd (those marked "# kdr-test: once", which do not depend on etcd's version, in the
# second build only; the two long ones marked "# kdr-test: release build" in the first only).
# That build carries libFuzzer's coverage too, and the fuzzers built in it run for 15 s each,
# two at a time. Every benchmark runs in its quick mode (bench/quick.sh), three at a time, on
# the Release build while the sanitizer build finishes: they wait on etcd elections, servers and
# restarts as much as they compute.
#
# The .deb is built, installed, tried (kdr --help, kdr demo) and removed again, after the etcd
# 3.4 tests.
#
#   scripts/test.sh [--no-sanitizers] [--no-bench] [--no-package]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
sanitizers=yes
bench=yes
package=yes
for a in "$@"; do
  case $a in
    --no-sanitizers) sanitizers=no ;;
    --no-bench) bench=no ;;
    --no-package) package=no ;;
    *) echo "usage: $0 [--no-sanitizers] [--no-bench] [--no-package]" >&2; exit 2 ;;
  esac
done

bash "$src/scripts/install-deps.sh"

# Each stage says how long the run has taken so far (CI must stay well under its limit).
stage() { printf '== %s  [%d:%02d]\n' "$1" $((SECONDS / 60)) $((SECONDS % 60)); }

# The scenarios wait on etcd, the kubelet stand-in and the processes they start more than they
# compute (the load stays under 2 on 2 cores with two at a time): three run at a time.
jobs=3

# With the sanitizer build to come, the Release build leaves the unit tests to it (they run
# there under ASan and UBSan).
release_units=ON
[ "$sanitizers" = no ] || release_units=OFF
stage "Release build at -O2, as Debian's packages are built (warnings are errors)"
bash "$src/scripts/build.sh" "$src/build" -DKDR_TEST_ETCD=3.4 -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
  -DKDR_UNIT_TESTS=$release_units
# The sanitizer build compiles in the background while the etcd 3.4 tests run, at the lowest
# CPU priority: those tests wait on etcd, the kubelet stand-in and the processes they start
# more than they compute (about one core of two), and the compiler takes what they leave.
sanitize_build_pid=
sanitize_log=$(mktemp)
# (its own process group: stopped with every compiler it started, whatever happens)
trap 'rm -f "$sanitize_log"; [ -z "$sanitize_build_pid" ] || kill -- "-$sanitize_build_pid" 2>/dev/null || true' EXIT
if [ "$sanitizers" = yes ]; then
  stage "build with clang, -fsanitize=address,undefined and libFuzzer's coverage, in the background (nice 19)"
  setsid nice -n 19 bash "$src/scripts/build.sh" "$src/build-sanitize" -DCMAKE_CXX_COMPILER=clang++-14 -DKDR_SANITIZE=ON \
    -DKDR_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only -O1" -DKDR_TEST_ETCD=3.5 \
    -DKDR_UNIT_TESTS=ON >"$sanitize_log" 2>&1 &
  sanitize_build_pid=$!
fi

stage "tests on etcd 3.4 (the unit tests, the fault classes and the scripts marked once run in the sanitizer build below)"
if [ "$sanitizers" = yes ]; then
  ctest --test-dir "$src/build" --output-on-failure -j "$jobs" -LE 'reliability|once'
else
  ctest --test-dir "$src/build" --output-on-failure -j "$jobs"
fi

if [ "$package" = yes ]; then
  stage "the .deb: build, install, run, remove"
  bash "$src/scripts/package-test.sh" "$src/build"
fi

# The benchmarks use the Release build: they run while the sanitizer build still compiles (at
# nice 19, it takes what they leave while they wait on etcd and the processes they start).
if [ "$bench" = yes ]; then
  stage "benchmarks, quick mode, three at a time"
  KDR_KUBELET="$src/build/demo/kubelet-standin" bash "$src/bench/quick.sh" --kdr "$src/build/cli/kdr" --jobs 3
fi

if [ "$sanitizers" = yes ]; then
  stage "the sanitizer build, finished"
  rc=0
  wait "$sanitize_build_pid" || rc=$?
  sanitize_build_pid=
  cat "$sanitize_log"
  [ "$rc" -eq 0 ] || { echo "test: the sanitizer build failed (exit $rc)" >&2; exit "$rc"; }
  stage "tests and fault classes under the sanitizers, on etcd 3.5"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$src/build-sanitize" --output-on-failure -j "$jobs" -LE 'release-build'
  stage "fuzzers, quick"
  bash "$src/scripts/fuzz.sh" --quick --jobs 2 --build "$src/build-sanitize"
fi

stage "all tests passed"
