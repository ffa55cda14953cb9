#!/usr/bin/env bash
# Event ingestion over HTTP, signed, in batches of 100, durable before acknowledged, against
# PostgreSQL 15 receiving the same events in 100-row INSERT transactions (the write path of
# PostgreSQL-backed CDPs), in one run on this machine. See bench/README.md, "bench/events".
#
#   bench/events/http.sh [--seconds S] [--connections C] [--customers N] [--batch B]
#                        [--pg-connections K] [--no-postgres] [--keep] [--perf FILE]
#
# 1. A real `mercator serve` on a fresh data dir with a demo bank of N customers and an API
#    client with the events scope (its per-client rate limit lifted: it is the whole app).
# 2. bench/events/sign_events signs the batches just before the run (wrk cannot compute
#    HMACs): unique event ids, a fresh nonce each; the same events go to a TSV for the peer.
# 3. wrk (2 threads, C keep-alive connections, S seconds) sends each batch once
#    (bench/draw/replay.lua). A batch is answered only once its events are fsynced.
#    Meanwhile bench/events/freshness.py sends one `feedback` event a second and measures how
#    long after its acknowledgement it shows in the audience index (the issue: within 1 s).
# 4. Durable: the event count of /v1/events/stats after the run against 100 x the 2xx that wrk
#    saw; every acknowledged event must be there.
# 5. A throwaway PostgreSQL 15 cluster (fsync on, synchronous_commit on: durable like mercator)
#    takes the events wrk sent, through bench/events/pg_events with K connections.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=10
connections=64
customers=100000
batch=100
pg_connections=16
use_pg=1
keep=0
perf_out=""  # --perf FILE: a perf profile (call graphs) of the server during the run
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --customers) customers=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --pg-connections) pg_connections=$2; shift 2 ;;
    --no-postgres) use_pg=0; shift ;;
    --keep) keep=1; shift ;;
    --perf) perf_out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
wrk_threads=2

source "$root/bench/lib.sh"
bench_build mercator sign_events pg_events
bench_workdir events-http
machine_line

# ---- 1. server and client ----
"$bin" --data "$data" demo --customers "$customers" >/dev/null 2>&1
client_out=$("$bin" --data "$data" client add --name "bench core banking" --scope events 2>/dev/null)
key_id=$(field key_id <<<"$client_out")
secret=$(field secret <<<"$client_out")
analyst_password=$("$bin" --data "$data" user add --username analyst1 --role analyst \
  2>/dev/null | field password)
[[ -n "$key_id" && -n "$secret" && -n "$analyst_password" ]] ||
  { echo "setup failed (demo bank, client or analyst)" >&2; exit 1; }
bench_serve --client-rate 10000000

# ---- 2. signed batches: enough for 400k events/s, so that wrk never runs out ----
requests=$((seconds * 400000 / batch))
sign_start=$(date +%s.%N)
"$build/bench/sign_events" --key-id "$key_id" --secret "$secret" --requests "$requests" \
  --batch "$batch" --files "$wrk_threads" --customers "$customers" --port "$port" \
  --out "$work/events" --run "b$RANDOM"
echo "setup: $customers customers; signed $requests batches of $batch in" \
  "$(echo "$(date +%s.%N) - $sign_start" | bc) s ($(du -sh "$work" | cut -f1) in $work)"

# ---- 3. ingestion over HTTP ----
load_run=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_before=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
wall_before=$(date +%s.%N)
bench_perf_start "$perf_out" "$seconds"
python3 "$root/bench/events/freshness.py" --base "$base" --key-id "$key_id" --secret "$secret" \
  --user analyst1 --password "$analyst_password" --probes $((seconds > 3 ? seconds - 2 : 1)) \
  --first-customer $((customers - 100)) >"$work/freshness.out" 2>&1 &
fresh_pid=$!
res=$(REPLAY_PREFIX="$work/events" wrk -t "$wrk_threads" -c "$connections" -d "${seconds}s" \
  --timeout 10s -s "$root/bench/draw/replay.lua" "$base/v1/events" | grep '^wrk-result')
cpu=$(( $(awk '{print $14 + $15}' "/proc/$server_pid/stat") - cpu_before ))
bench_perf_wait
wait "$fresh_pid" || true
freshness=$(grep '^freshness-result' "$work/freshness.out" || echo "freshness: failed: $(tail -1 "$work/freshness.out")")
# CPU per server thread over the run (utime + stime ticks), busiest first.
threads=$(for t in /proc/$server_pid/task/*; do
  echo "$(awk '{print $14 + $15}' "$t/stat") $(cat "$t/comm")"; done | sort -rn | head -8 |
  awk '{printf "%s%s=%s", (NR > 1 ? ", " : ""), $2, $1}')
wall=$(echo "$(date +%s.%N) - $wall_before" | bc)
sleep 0.5
total=$(kv requests <<<"$res")
non2xx=$(kv non2xx <<<"$res")
ok=$((total - non2xx))
events_ok=$((ok * batch))
rate=$(awk -v n="$events_ok" -v d="$(kv duration_us <<<"$res")" 'BEGIN {printf "%.0f", n / (d / 1e6)}')
bench_stop_server
errors_logged=$(grep -c '"severity_text":"ERROR"' "$work/server.log" || true)
# The journal after a clean stop: every acknowledged event is in it.
logged=$("$bin" --data "$data" events stats 2>/dev/null | field events)

# ---- 5. PostgreSQL peer: the events wrk sent ----
pg_line=""
if ((use_pg)); then
  bench_pg_start
  # The batches wrk answered: the first ok/2 of each thread's file, as in the run.
  per_file=$((ok / wrk_threads + 1))
  for f in $(seq 0 $((wrk_threads - 1))); do
    head -n $((per_file * batch)) "$work/events.tsv.$f" >"$work/sent.tsv.$f"
  done
  load_pg=$(cut -d' ' -f1-3 /proc/loadavg)
  pg_line=$("$build/bench/pg_events" --pg "$pg_conninfo" \
    --connections "$pg_connections" --batch "$batch" "$work"/sent.tsv.*)
fi

echo
printf '%-66s %12s %9s %9s\n' "what (batches of $batch events)" "events/s" "p50 ms" "p99 ms"
printf '%-66s %12s %9s %9s\n' "mercator POST /v1/events, signed, durable (wrk $wrk_threads thr, $connections conn, ${seconds}s)" \
  "$rate" "$(awk -v u="$(kv p50_us <<<"$res")" 'BEGIN {printf "%.3f", u / 1000}')" \
  "$(awk -v u="$(kv p99_us <<<"$res")" 'BEGIN {printf "%.3f", u / 1000}')"
pg_rate=0
if [[ -n "$pg_line" ]]; then
  pg_rate=$(kv per_second <<<"$pg_line")
  printf '%-66s %12s %9s %9s\n' "postgresql 15, 100-row INSERT transactions, $pg_connections connections" \
    "$pg_rate" "$(kv p50_ms <<<"$pg_line")" "$(kv p99_ms <<<"$pg_line")"
fi
echo
verdict() { if awk "BEGIN {exit !($1)}"; then echo MET; else echo MISSED; fi; }
echo "target >= 200,000 durable events/s: $rate: $(verdict "$rate >= 200000")"
echo "tags reflect an accepted event within 1 s, under this load: $freshness"
[[ -n "$pg_line" ]] && echo "mercator / postgresql: $(awk -v a="$rate" -v b="$pg_rate" 'BEGIN {printf "%.1fx", a / b}')"
echo "batches: $total answered, non-2xx $non2xx; socket errors $(kv socket_errors <<<"$res"), timeouts $(kv timeouts <<<"$res"); ran out of signed batches: $(kv exhausted_threads <<<"$res") threads; server errors logged: $errors_logged"
durable=$( ((logged >= events_ok)) && echo "yes, every acknowledged event is in the log" || echo "NO: acknowledged events are missing")
echo "durable: wrk saw $events_ok events acknowledged; the log holds $logged; $durable"
echo "server threads' cpu ticks since start (busiest first): $threads"
echo "server cpu during the run: $(awk -v t="$cpu" -v h="$(getconf CLK_TCK)" -v s="$wall" -v n="$events_ok" 'BEGIN {printf "%.2f cores (%.1f us an event)", t / h / s, 1e6 * t / h / n}'); load average at the run: $load_run${load_pg:+, at postgresql: $load_pg}"
