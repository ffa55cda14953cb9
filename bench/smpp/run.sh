#!/usr/bin/env bash
# The SMPP channel's sustained submit rate against the npm `smpp` server (tests/smpp_peer) with
# a window of 16 per bind over 1 bind (or --connections N), reported with the server's own count
# of accepted submit_sm (in all and per bind). See bench/README.md, "bench/smpp".
#
#   bench/smpp/run.sh [--messages N] [--window W] [--connections N] [--peer-delay-ms D] [--long]
#
# --peer-delay-ms D: the server answers each submit_sm D ms late (a round trip to a distant
# SMSC, or one that paces each bind): one bind then carries at most W / D submits a second.
#
# Release build in build-bench (MERCATOR_BENCH_BUILD: another dir; MERCATOR_BENCH_NO_BUILD=1:
# use it as it is). The peer runs with --quiet (it records only binds and its counts).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
messages=20000
window=16
connections=1
peer_delay=0
long=()
while (($#)); do
  case "$1" in
    --messages) messages=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --peer-delay-ms) peer_delay=$2; shift 2 ;;
    --long) long=(--long); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

build="${MERCATOR_BENCH_BUILD:-$root/build-bench}"
if [[ -z "${MERCATOR_BENCH_NO_BUILD:-}" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMERCATOR_BUILD_TESTS=OFF \
    -DMERCATOR_BUILD_BENCH=ON >/dev/null
  ninja -C "$build" smpp_bench >/dev/null
fi
peer_dir="$root/tests/smpp_peer"
[[ -d "$peer_dir/node_modules/smpp" ]] || (cd "$peer_dir" && npm ci --no-audit --no-fund >&2)

mkdir -p "$root/bench/out"
work=$(mktemp -d "$root/bench/out/smpp.XXXXXX")
peer_pid=""
cleanup() {
  if [[ -n "$peer_pid" ]]; then kill "$peer_pid" 2>/dev/null || true; wait "$peer_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The peer reads commands from a FIFO held open by this script; its records go to a file.
mkfifo "$work/peer.in"
node "$peer_dir/server.js" --system-id bench --password bench --quiet --delay-ms "$peer_delay" \
  --record "$work/peer.jsonl" <"$work/peer.in" &
peer_pid=$!
exec 3>"$work/peer.in"
for _ in $(seq 100); do
  grep -q '"listening"' "$work/peer.jsonl" 2>/dev/null && break
  sleep 0.1
done
port=$(grep -o '"port":[0-9]*' "$work/peer.jsonl" | head -1 | cut -d: -f2)

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo);" \
  "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "smpp_bench cpu: user %U s, sys %S s, wall %e s" "$build/bench/smpp_bench" --port "$port" --dir "$work/data" --messages "$messages" \
  --window "$window" --connections "$connections" "${long[@]}" 2> >(grep -v '^{' >&2)
echo '{"cmd":"stats"}' >&3
for _ in $(seq 50); do
  grep -q '"event":"stats"' "$work/peer.jsonl" && break
  sleep 0.1
done
stats=$(grep '"event":"stats"' "$work/peer.jsonl" | tail -1)
echo "peer (npm smpp server): accepted=$(grep -o '"accepted":[0-9]*' <<<"$stats" | cut -d: -f2)" \
  "refused=$(grep -o '"refused":[0-9]*' <<<"$stats" | cut -d: -f2)" \
  "binds=$(grep -o '"binds":[0-9]*' <<<"$stats" | cut -d: -f2)" \
  "accepted_by_bind=$(grep -o '"by_session":{[^}]*}' <<<"$stats" | cut -d: -f2- | tr -d '{}"')"
echo "peer cpu: $(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$peer_pid/stat") s (user + sys)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exec 3>&-
