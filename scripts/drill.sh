#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine (packages, build), then runs `kdr demo`:
# a backup / verify / disaster / restore drill on a sandbox node (demo/drill.sh).
#
#   scripts/drill.sh [--keep]      --keep: leave the sandbox folder for inspection
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bash "$src/scripts/install-deps.sh" >/dev/null
echo "Building kdr and the kubelet stand-in the drill runs..."
KDR_TARGETS="kdr kubelet-standin" bash "$src/scripts/build.sh" "$src/build" -DKDR_UNIT_TESTS=OFF >/dev/null
exec "$src/build/cli/kdr" demo "$@"
