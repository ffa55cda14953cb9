#!/usr/bin/env bash
# The draw engine without HTTP against the Redis Lua stock decrement of the usual Redis + MySQL
# lottery design, in one run on this machine. See bench/README.md, "bench/draw".
#
#   bench/draw/run.sh [--seconds S] [--threads N] [--in-flight M] [--window-us W]
#                     [--redis-requests R] [--no-redis]
#
# Mercator: bench/draw/draw_bench (durable: each draw's record is fsynced before it counts),
# then a restart of the engine on the journal it wrote (the time to read it back, and whether
# the reopened engine counts what was acknowledged).
# Redis 7: redis-benchmark running EVALSHA of the decrement script against one stock key,
# first in memory only (the design's usual setting: MySQL gets the award later), then with
# appendfsync always (durable per command, the like-for-like setting).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=10
threads=2
in_flight=16384
window_us=1000
redis_requests=2000000
redis=1
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --in-flight) in_flight=$2; shift 2 ;;
    --window-us) window_us=$2; shift 2 ;;
    --redis-requests) redis_requests=$2; shift 2 ;;
    --no-redis) redis=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

"$root/scripts/install-deps.sh" --bench
build="${MERCATOR_BENCH_BUILD:-$root/build-bench}"  # env: another Release build dir
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMERCATOR_BUILD_TESTS=OFF \
  -DMERCATOR_BUILD_BENCH=ON >/dev/null
ninja -C "$build" draw_bench >/dev/null

out="$root/bench/out/draw"
rm -rf "$out"
mkdir -p "$out"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo);" \
  "journal on $(df -h "$out" | awk 'NR==2 {print $1}'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/draw_bench" --seconds "$seconds" --threads "$threads" --in-flight "$in_flight" \
  --window-us "$window_us" --dir "$out/journal"
rm -rf "$out/journal"

if ((redis == 0)); then exit 0; fi
# The stock decrement each draw runs in the Redis + MySQL design (bench/draw/redis_lua.sh).
source "$root/bench/draw/redis_lua.sh"
print_redis() {
  while IFS='|' read -r kind label pipeline rps p50 p99; do
    if [[ $kind == redis ]]; then
      echo "redis 7 Lua stock decrement ($label, 64 clients, pipeline $pipeline):" \
        "$rps requests per second, p50=$p50 msec, p99=$p99 msec"
    else
      echo "  stock left: $pipeline of 1000000000"
    fi
  done
}
redis_lua "in memory, no persistence" "$redis_requests" "1 16" --appendonly no | print_redis
redis_lua "AOF appendfsync always" "$redis_requests" "1 16" --appendonly yes --appendfsync always |
  print_redis
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
