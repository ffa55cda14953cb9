#!/usr/bin/env bash
# The one test command: installs what is missing (Debian and npm packages), builds everything
# with -Werror (RelWithDebInfo) and the web apps, runs every C++ test with CTest, then the web
# tests: Vitest and the end-to-end flows in Debian's Chromium against the built server.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build.sh ci
bash scripts/web.sh build  # also installs tests/smpp_peer, the SMSC of the SMPP tests
(cd build/ci && ctest --output-on-failure -j "$(nproc)" --timeout 600)
MERCATOR_BIN="$PWD/build/ci/src/cli/mercator" bash scripts/web.sh test
