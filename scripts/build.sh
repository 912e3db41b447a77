#!/usr/bin/env bash
# Configures and builds kdr. Usage: scripts/build.sh [BUILD_DIR] [extra cmake options...]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$src/build}
shift || true
cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
