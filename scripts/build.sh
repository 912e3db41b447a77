#!/usr/bin/env bash
# Configures and builds kdr with warnings as errors (the project's own builds and CI).
#
#   scripts/build.sh [BUILD_DIR] [extra cmake options...]
#   KDR_TARGETS="kdr kubelet-standin" scripts/build.sh ...   builds only those targets
#
# A new build folder is made with Ninja where it is installed, and as a unity build
# (CMAKE_UNITY_BUILD: each library's sources compiled 16 to a unit, which parses the heavy
# headers, nlohmann-json, Boost, fmt, once per unit instead of once per file: a clean build in
# a third of the time). Pass -DCMAKE_UNITY_BUILD=OFF for a build that recompiles one file
# per change. A folder configured before keeps its generator.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$src/build}
shift || true
generator=()
if [ ! -f "$dir/CMakeCache.txt" ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake "${generator[@]}" -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr -DKDR_WERROR=ON \
  -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 "$@" >/dev/null
targets=()
for t in ${KDR_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
