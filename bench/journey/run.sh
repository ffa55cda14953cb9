#!/usr/bin/env bash
# The journey scheduler: one live journey (login -> wait 1 day) entered by N customers through
# the engine's event ingestion, then every wait ends and the scheduler executes the due steps.
# See bench/README.md, "bench/journey".
#
#   bench/journey/run.sh [--customers N] [--batch B]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
customers=1000000
batch=10000
while (($#)); do
  case "$1" in
    --customers) customers=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

build="${MERCATOR_BENCH_BUILD:-$root/build-bench}"  # env: another Release build dir
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMERCATOR_BUILD_TESTS=OFF \
  -DMERCATOR_BUILD_BENCH=ON >/dev/null
ninja -C "$build" journey_bench >/dev/null

out="$root/bench/out/journey"
rm -rf "$out"
mkdir -p "$out"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo);" \
  "store on $(df -h "$out" | awk 'NR==2 {print $1}'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/journey_bench" --customers "$customers" --batch "$batch" --dir "$out/store" \
  2> >(grep -v '^{' >&2)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$out/store"
