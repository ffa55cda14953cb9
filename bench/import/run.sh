#!/usr/bin/env bash
# CSV import, end to end: the real `mercator import` of N demo-bank customers (CSV written by
# bench_demo_csv, with its mapping) into a fresh data directory, including validation, the
# SQLite writes, index maintenance and the snapshot. See bench/README.md.
#
#   bench/import/run.sh [--customers N]      default 1000000
#
# The data directory is left in bench/out/data-N for bench/startup.
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
build="$root/build-bench"
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
/usr/bin/time -f "%e s elapsed, %U s user, %S s system, max RSS %M KB" \
  "$build/src/cli/mercator" --data "$data" import --mapping "$mapping" "$csv"
end=$(date +%s.%N)
python3 - "$customers" "$start" "$end" "$data" <<'PY'
import os, sys
n, start, end, data = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = end - start
size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data))
verdict = "met" if n / s >= 100000 else "MISSED"
print(f"import end to end: {n:,} rows in {s:.1f} s = {n / s:,.0f} rows/s "
      f"(target >= 100,000: {verdict}); data dir {size / 1e6:,.0f} MB")
PY
