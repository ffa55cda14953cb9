#!/usr/bin/env bash
# Installs the Debian packages Mercator builds and tests with. Non-interactive and
# idempotent: packages already present are skipped, so a second run costs a few seconds.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git tzdata
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libroaring-dev libsqlite3-dev sqlite3 libabsl-dev libspdlog-dev libfmt-dev libcli11-dev
  prometheus-cpp-dev libsodium-dev libssl-dev openssl ca-certificates libjemalloc-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  libsmpp34-dev
  curl python3 python3-yaml
  chromium fonts-wqy-microhei
)
# Node.js and npm build the web apps (scripts/web.sh); the machine's own Node 20 is used when
# present, Debian's otherwise. Chromium runs the end-to-end tests (web/e2e, playwright-core);
# a CJK font makes its screenshots readable.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
# PostgreSQL is the peer of bench/segment only; it is installed by that script. Redis is the
# peer of bench/draw (the Lua stock-decrement script of the usual Redis + MySQL lottery);
# wrk drives the HTTP draw and nginx-light, answering a fixed 200, is its HTTP ceiling.
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(postgresql postgresql-client libpq-dev redis-server redis-tools wrk nginx-light)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} Debian packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
