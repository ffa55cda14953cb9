#!/usr/bin/env bash
# Installs the Debian packages, configures with a CMake preset and builds.
#   scripts/build.sh [preset] [ninja targets...]     (preset: release (default), ci, debug, asan-ubsan)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true

bash scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
jobs="$(nproc)"
echo "build: preset $preset, $jobs jobs"
cmake --build --preset "$preset" -j "$jobs" ${1:+--target "$@"}
