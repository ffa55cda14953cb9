#!/usr/bin/env bash
# CSV import, end to end: the real `mercator import` of N demo-bank customers (CSV written by
# bench_demo_csv, with its mapping) into a fresh data directory, including validation, the
# SQLite writes, index maintenance and the snapshot. See bench/README.md.
#
#   bench/import/run.sh [--customers N]      default 1000000
#
# MERCATOR_BENCH_BUILD: the Release build directory to use (default build-bench at the root).
# The data directory is left in bench/out/data-N for bench/startup, and a copy of the import's
# index snapshot in bench/out/import-N.snapshot for bench/segment: a `mercator serve` on the
# data dir (bench/startup) rewrites the snapshot at exit with the lifecycle stages recomputed
# for today's date, which no longer match the CSV's lifecycle column.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
customers=1000000
while (($#)); do
  case "$1" in
    --customers) customers=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

"$root/scripts/install-deps.sh"
build="${MERCATOR_BENCH_BUILD:-$root/build-bench}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMERCATOR_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" bench_demo_csv mercator

out="$root/bench/out"
mkdir -p "$out"
csv="$out/demo-$customers.csv"
mapping="$out/demo-$customers.mapping.json"
if [[ ! -f "$csv" ]]; then
  "$build/bench/bench_demo_csv" --customers "$customers" --csv "$csv" --mapping "$mapping" --threads 2
fi
data="$out/data-$customers"
rm -rf "$data"
echo "importing $customers customers ($(du -h "$csv" | cut -f1) CSV) into $data; load: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
times=$(mktemp)
trap 'rm -f "$times"' EXIT
/usr/bin/time -o "$times" -f "%e %U %S %M" \
  "$build/src/cli/mercator" --data "$data" import --mapping "$mapping" "$csv"
end=$(date +%s.%N)
cp "$data/segment.snapshot" "$out/import-$customers.snapshot"
python3 - "$customers" "$start" "$end" "$data" "$(cat "$times")" <<'PY'
import os, sys
n, start, end, data = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
elapsed, user, system, rss_kb = (float(x) for x in sys.argv[5].split())
s = end - start
cpu = user + system
# On a shared machine the wall time depends on the other load; the CPU time does not. With
# both cores to itself, an import cannot beat cpu / 2 seconds.
print(f"cpu {cpu:.1f} s ({user:.1f} user, {system:.1f} system) = {n / cpu:,.0f} rows per cpu-second; "
      f"max RSS {rss_kb / 1024:,.0f} MiB; load now {open('/proc/loadavg').read().split()[0]}")
size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data))
verdict = "met" if n / s >= 100000 else "MISSED"
print(f"import end to end: {n:,} rows in {s:.1f} s = {n / s:,.0f} rows/s "
      f"(target >= 100,000: {verdict}); data dir {size / 1e6:,.0f} MB")
PY
