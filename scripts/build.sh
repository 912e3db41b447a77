#!/usr/bin/env bash
# Configures and builds kdr with warnings as errors (the project's own builds and CI).
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake options...]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$src/build}
shift || true
cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr -DKDR_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
