# Shared by the HTTP benchmarks (bench/draw/http.sh, bench/events/http.sh): source it after
# setting `root` (the repository) and `keep` (1: leave the work dir). It provides:
#   bench_build TARGET...        install the bench packages; build TARGETs in Release in $build
#                                (MERCATOR_BENCH_BUILD: another dir; MERCATOR_BENCH_NO_BUILD=1:
#                                use it as it is); sets build and bin
#   bench_workdir NAME           a fresh dir under bench/out (the repository's disk); sets work
#                                and data, and cleans up on exit (servers, PostgreSQL, the dir)
#   bench_serve ARGS...          `mercator serve` on a free port with ARGS; waits for /readyz;
#                                sets server_pid, port and base
#   bench_stop_server            stops it (waits)
#   bench_pg_start               a throwaway PostgreSQL 15 cluster (unix socket only, durable
#                                defaults); sets pg_conninfo
#   bench_perf_start FILE SECS   if FILE is set: `perf record` of the server for SECS seconds
#                                into FILE, in the background (cpu-clock samples with call
#                                graphs; BENCH_PERF_CALLGRAPH=dwarf walks libraries built
#                                without frame pointers, e.g. SQLite; BENCH_PERF_EVENT=page-faults
#                                with BENCH_PERF_PERIOD=1 records where every fresh page is
#                                touched); bench_perf_wait waits
#   free_port, field KEY, json_field KEY, kv KEY, machine_line

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
field() { sed -n "s/^ *$1: //p"; }  # "  password: xyz" -> xyz
# The first "name": value in a JSON text (top-level fields come first in these answers).
json_field() { grep -o "\"$1\":\"\{0,1\}[^,\"}]*" | head -1 | sed 's/.*:"\{0,1\}//'; }
kv() { tr ' ' '\n' | sed -n "s/^$1=//p"; }  # "a=1 b=2" | kv b -> 2
machine_line() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo);" \
    "data on $(df -h "$work" | awk 'NR==2 {print $1}'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
}

bench_build() {
  "$root/scripts/install-deps.sh" --bench >/dev/null
  build="${MERCATOR_BENCH_BUILD:-$root/build-bench}"
  if [[ -z "${MERCATOR_BENCH_NO_BUILD:-}" ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMERCATOR_BUILD_TESTS=OFF \
      -DMERCATOR_BUILD_BENCH=ON >/dev/null
    ninja -C "$build" "$@" >/dev/null
  fi
  bin="$build/src/cli/mercator"
}

server_pid=""
pgdir=""
pgbin=/usr/lib/postgresql/15/bin
as_pg=()
bench_cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; fi
  if [[ -n "$pgdir" ]]; then
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
  fi
  # A script's own clean-up (nginx, ...) goes in bench_extra_cleanup.
  if declare -F bench_extra_cleanup >/dev/null; then bench_extra_cleanup || true; fi
  if ((keep == 0)); then rm -rf "$work"; else echo "kept $work"; fi
}

bench_workdir() {
  mkdir -p "$root/bench/out"
  work=$(mktemp -d "$root/bench/out/$1.XXXXXX")
  data="$work/data"
  trap bench_cleanup EXIT
}

bench_serve() {
  port=$(free_port)
  "$bin" --data "$data" serve --port "$port" --insecure-cookies "$@" \
    >/dev/null 2>"$work/server.log" &
  server_pid=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 600); do
    curl -fs "$base/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "$base/readyz" >/dev/null ||
    { echo "server did not start" >&2; tail "$work/server.log"; exit 1; }
}

perf_pid=""
bench_perf_start() {
  [[ -n "$1" ]] || return 0
  perf record -q -e "${BENCH_PERF_EVENT:-cpu-clock}" \
    $([[ -n "${BENCH_PERF_PERIOD:-}" ]] && echo "-c $BENCH_PERF_PERIOD" || echo "-F ${BENCH_PERF_FREQ:-499}") \
    --call-graph "${BENCH_PERF_CALLGRAPH:-fp}" -o "$1" -p "$server_pid" -- sleep "$2" \
    >/dev/null 2>&1 &
  perf_pid=$!
}
bench_perf_wait() {
  if [[ -n "$perf_pid" ]]; then wait "$perf_pid" || true; fi
  perf_pid=""
}

bench_stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

bench_pg_start() {
  pgdir=$(mktemp -d /tmp/mercator-bench-pg.XXXXXX)
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$pgdir"
    as_pg=(runuser -u postgres --)
  fi
  "${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C >/dev/null
  # Durable like mercator (fsync and synchronous_commit on, the defaults); a buffer pool that
  # holds the table; WAL sized so that checkpoints do not dominate a short run.
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -o \
    "-c listen_addresses='' -c unix_socket_directories=$pgdir -c port=5432 \
     -c shared_buffers=2GB -c max_wal_size=8GB" start >/dev/null
  pg_conninfo="host=$pgdir port=5432 user=postgres dbname=postgres"
}
