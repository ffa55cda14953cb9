#!/usr/bin/env bash
# The one run command: installs what is missing, builds in Release, generates a demo bank on
# first run and starts `mercator serve` on 127.0.0.1:8080 with the SQLite data directory.
#   scripts/run.sh [--customers N] [--data DIR] [--port P]
set -euo pipefail
cd "$(dirname "$0")/.."

customers=100000
data=./data
port=8080
while [[ $# -gt 0 ]]; do
  case "$1" in
    --customers) customers="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    *) echo "usage: scripts/run.sh [--customers N] [--data DIR] [--port P]" >&2; exit 2 ;;
  esac
done

bash scripts/build.sh release mercator
bin=build/release/src/cli/mercator

if [[ ! -f "$data/mercator.db" ]]; then
  echo "run: generating a demo bank of $customers customers in $data"
  "$bin" --data "$data" demo --customers "$customers"
else
  # The token is stored only as a hash; a second run issues a fresh one so it can be shown.
  echo "run: $data exists; issuing a fresh admin token (the previous one stops working)"
  echo "  export MERCATOR_TOKEN=$("$bin" --data "$data" token reset)"
fi
exec "$bin" --data "$data" serve --address 127.0.0.1 --port "$port"
