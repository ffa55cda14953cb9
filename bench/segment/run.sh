#!/usr/bin/env bash
# Audience counts: Mercator (SegmentIndex::Count in process) against PostgreSQL 15 and SQLite
# on the same generated customers and the same ten rules. See bench/README.md.
#
#   bench/segment/run.sh [--customers N] [--runs R] [--peer-runs P] [--peer-budget-s S]
#                        [--no-postgres] [--no-sqlite] [--from-csv] [--load-only] [--explain]
#
# Mercator's index is the snapshot that bench/import/run.sh kept as bench/out/import-N.snapshot
# (the real `mercator import` of the same CSV) when there is one, else it is built from the CSV
# in the bench process (--from-csv forces that). --load-only builds the peers and stops.
# Builds in Release (build-bench/), writes the demo bank CSV once to bench/out/ (reused),
# starts a throwaway PostgreSQL cluster in a temp dir (unix socket only, no TCP) and deletes
# it on exit; the SQLite database is cached next to the CSV. Exit status 1 if the engines
# disagree on a count.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
customers=10000000
args=()
use_pg=1
use_sqlite=1
from_csv=0
while (($#)); do
  case "$1" in
    --customers) customers=$2; shift 2 ;;
    --runs|--peer-runs|--peer-budget-s) args+=("$1" "$2"); shift 2 ;;
    --no-postgres) use_pg=0; shift ;;
    --no-sqlite) use_sqlite=0; shift ;;
    --from-csv) from_csv=1; shift ;;
    --load-only|--explain) args+=("$1"); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

"$root/scripts/install-deps.sh" --bench
build="$root/build-bench"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMERCATOR_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" bench_demo_csv segment_peer_bench

out="$root/bench/out"
mkdir -p "$out"
csv="$out/demo-$customers.csv"
mapping="$out/demo-$customers.mapping.json"
if [[ ! -f "$csv" ]]; then
  "$build/bench/bench_demo_csv" --customers "$customers" --csv "$csv" --mapping "$mapping" --threads 2
fi
((use_sqlite)) && args+=(--sqlite "$out/demo-$customers.sqlite")
snapshot="$out/import-$customers.snapshot"
if ((!from_csv)) && [[ -f "$snapshot" && "$snapshot" -nt "$csv" ]]; then
  args+=(--mercator-snapshot "$snapshot")
fi

if ((use_pg)); then
  pgbin=/usr/lib/postgresql/15/bin
  pgdir=$(mktemp -d /tmp/mercator-bench-pg.XXXXXX)
  as_pg=()
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$pgdir"
    as_pg=(runuser -u postgres --)
  fi
  cleanup() {
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
  }
  trap cleanup EXIT
  "${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C >/dev/null
  # Loading settings (fsync off: the cluster is thrown away); a 2 GB buffer pool holds the
  # table and its indexes warm for the queries. Parallel query stays at its defaults.
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -o \
    "-c listen_addresses='' -c unix_socket_directories=$pgdir -c port=5432 \
     -c shared_buffers=2GB -c maintenance_work_mem=1GB -c work_mem=64MB -c max_wal_size=8GB \
     -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
  echo "postgres: $("$pgbin/postgres" --version), socket in $pgdir"
  args+=(--pg "host=$pgdir port=5432 user=postgres dbname=postgres")
fi
echo "sqlite: $(sqlite3 --version | cut -d' ' -f1); machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/segment_peer_bench" --csv "$csv" "${args[@]}"
