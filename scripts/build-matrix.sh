#!/usr/bin/env bash
# Builds kdr in every CMake build type (Debug, Release, RelWithDebInfo, MinSizeRel) with g++
# and with clang, warnings as errors, each in its own folder under DIR (default
# build-matrix/), and reports which compiled clean. Packagers build with their own flags;
# this is the project's promise that none of these warns.
#
#   scripts/build-matrix.sh [DIR] [--types "Release Debug"] [--compilers "g++ clang++-14"]
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$src/build-matrix
types="Debug Release RelWithDebInfo MinSizeRel"
compilers="g++ clang++-14"
while [ $# -gt 0 ]; do
  case $1 in
    --types) types=$2; shift 2 ;;
    --compilers) compilers=$2; shift 2 ;;
    -*) echo "usage: $0 [DIR] [--types LIST] [--compilers LIST]" >&2; exit 2 ;;
    *) dir=$1; shift ;;
  esac
done
mkdir -p "$dir"
failed=0
for cxx in $compilers; do
  for type in $types; do
    out=$dir/$cxx-$type
    log=$out.log
    if cmake -S "$src" -B "$out" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$type" -DKDR_WERROR=ON >"$log" 2>&1 &&
       cmake --build "$out" -j "$(nproc)" >>"$log" 2>&1; then
      echo "build-matrix: $cxx $type: clean"
    else
      echo "build-matrix: $cxx $type: FAILED (see $log)"
      grep -m 5 -E 'error|warning' "$log" | sed 's/^/    /'
      failed=1
    fi
  done
done
exit $failed
