#!/usr/bin/env bash
# Start-up: time from exec of `mercator serve` until /readyz answers 200, on a data directory
# of N customers with an index snapshot (left by bench/import/run.sh --customers N; imported
# first if missing); then times `mercator segment` (OpenEngine and one count, no HTTP) on it.
# See bench/README.md.
#
#   bench/startup/run.sh [--customers N] [--repeat K]      defaults 10000000, 3
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
customers=10000000
repeat=3
while (($#)); do
  case "$1" in
    --customers) customers=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

data="$root/bench/out/data-$customers"
if [[ ! -f "$data/segment.snapshot" ]]; then
  "$root/bench/import/run.sh" --customers "$customers"
fi
build="$root/build-bench"
ninja -C "$build" mercator >/dev/null
log=$(mktemp /tmp/mercator-startup.XXXXXX)
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -f "$log"
}
trap cleanup EXIT

# Polls with bash builtins only (/dev/tcp, read -t on an idle pipe): a curl or sleep process
# every 10 ms would take CPU from the server starting on a 2-core machine.
exec {pause}<> <(:)
ready() {
  local status=""
  { exec {conn}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&"$conn"
  read -r -t 5 -u "$conn" status || true
  exec {conn}>&-
  [[ "$status" == *" 200 "* ]]
}

echo "data dir $data: $(du -sh "$data" | cut -f1), snapshot $(du -h "$data/segment.snapshot" | cut -f1); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 1; i <= repeat; i++)); do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  start=$(date +%s%N)
  "$build/src/cli/mercator" --data "$data" serve --port "$port" >"$log" 2>&1 &
  pid=$!
  until ready "$port"; do
    kill -0 "$pid" 2>/dev/null || { echo "serve exited:"; cat "$log"; exit 1; }
    read -r -t 0.01 -u "$pause" || true
  done
  end=$(date +%s%N)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  # The server writes its log lines in batches (within 50 ms): wait for the line.
  for ((w = 0; w < 100; w++)); do
    grep -q '"body":"index ready"' "$log" && break
    read -r -t 0.01 -u "$pause" || true
  done
  ready=$(grep -m1 -o '"seconds":"[0-9.]*"' "$log" | grep -o '[0-9.]*' || true)
  loaded=$(grep -m1 -o '"snapshot_loaded":"[a-z]*"' "$log" | cut -d'"' -f4 || true)
  ms=$(((end - start) / 1000000))
  verdict=$([[ $ms -le 5000 ]] && echo met || echo MISSED)
  printf 'run %d: /readyz after %d ms (target <= 5000: %s); App::Open %s s; snapshot loaded: %s; RSS %.2f GiB\n' \
    "$i" "$ms" "$verdict" "${ready:-?}" "${loaded:-?}" "$(awk -v r="$rss" 'BEGIN { print r / 1048576 }')"
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
done
# The same start without HTTP: OpenEngine (store + snapshot), then one count, then exit.
for ((i = 1; i <= repeat; i++)); do
  /usr/bin/time -f "OpenEngine + one count (mercator segment): %e s wall, %U s user, %S s system, max RSS %M KB" \
    "$build/src/cli/mercator" --data "$data" segment 'aum >= 50000' 2>&1 | tail -2 | tr '\n' ' '
  echo
done
