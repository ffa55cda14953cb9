#!/usr/bin/env bash
# The journey scheduler: one live journey (login -> wait 1 day) entered by N customers through
# the engine's event ingestion, then every wait ends and the scheduler executes the due steps.
# See bench/README.md, "bench/journey".
#
#   bench/journey/run.sh [--customers N] [--batch B] [--no-postgres]
#
# Peer in the same run: PostgreSQL 15 (a throwaway cluster, durable commits) holding the same
# N due entries in the same shape (partial index on the active ones by due time) and advancing
# them the way a PostgreSQL-backed scheduler does, set-based on the server: per batch one
# transaction of UPDATE ... FROM (SELECT ... ORDER BY due_ms LIMIT B FOR UPDATE SKIP LOCKED),
# looped inside a procedure (no client round trip at all).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
customers=1000000
batch=10000
use_pg=1
while (($#)); do
  case "$1" in
    --no-postgres) use_pg=0; shift ;;
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

((use_pg)) || exit 0
pgbin=/usr/lib/postgresql/15/bin
pgdir=$(mktemp -d /tmp/mercator-bench-pg.XXXXXX)
as_pg=()
cleanup() {
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$pgdir"
}
trap cleanup EXIT
if [[ $(id -u) -eq 0 ]]; then
  chown postgres:postgres "$pgdir"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust --encoding=UTF8 \
  --locale=C >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -o \
  "-c listen_addresses='' -c unix_socket_directories=$pgdir -c port=5432 \
   -c shared_buffers=1GB -c max_wal_size=8GB" start >/dev/null
psql_run() { "${as_pg[@]}" psql -X -q -v ON_ERROR_STOP=1 -h "$pgdir" -p 5432 -U postgres "$@"; }
psql_run <<SQL
CREATE TABLE journey_entries (
  id bigserial PRIMARY KEY, journey_id bigint NOT NULL, version int NOT NULL,
  uid bigint NOT NULL, customer text NOT NULL, entry_no int NOT NULL, holdout boolean NOT NULL,
  state text NOT NULL, step text NOT NULL, due_ms bigint NOT NULL, entered_ms bigint NOT NULL,
  goal_until_ms bigint NOT NULL, ended_ms bigint NOT NULL, UNIQUE (journey_id, uid, entry_no));
CREATE INDEX journey_entries_due ON journey_entries (journey_id, due_ms) WHERE state = 'active';
INSERT INTO journey_entries (journey_id, version, uid, customer, entry_no, holdout, state, step,
                             due_ms, entered_ms, goal_until_ms, ended_ms)
  SELECT 1, 1, i, 'c' || i, 1, false, 'active', 'wait_1d', 86400000 + i, i, 0, 0
  FROM generate_series(1, $customers) AS i;
VACUUM ANALYZE journey_entries;
CREATE PROCEDURE run_due(now_ms bigint, batch int) LANGUAGE plpgsql AS \$\$
DECLARE n bigint; total bigint := 0; t0 timestamptz := clock_timestamp(); s double precision;
BEGIN
  LOOP
    UPDATE journey_entries e SET state = 'completed', step = '', ended_ms = now_ms
      FROM (SELECT id FROM journey_entries WHERE journey_id = 1 AND state = 'active'
              AND due_ms <= now_ms ORDER BY due_ms LIMIT batch FOR UPDATE SKIP LOCKED) d
      WHERE e.id = d.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    COMMIT;
    EXIT WHEN n = 0;
    total := total + n;
  END LOOP;
  s := extract(epoch FROM clock_timestamp() - t0);
  RAISE NOTICE 'postgresql 15: % due steps in % s = % steps/s (batches of %, one durable transaction each)',
    total, round(s::numeric, 2), round((total / s)::numeric), batch;
END \$\$;
SQL
echo "load before postgresql: $(cut -d' ' -f1-3 /proc/loadavg)"
psql_run -c "CALL run_due(1000000000000, $batch)" 2>&1 | sed 's/^psql:[^ ]* NOTICE:  //; s/^NOTICE:  //'
