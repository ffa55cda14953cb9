#!/usr/bin/env bash
# The one test command: installs what is missing, builds everything with -Werror
# (RelWithDebInfo) and runs every test with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build.sh ci
cd build/ci
ctest --output-on-failure -j "$(nproc)" --timeout 600
