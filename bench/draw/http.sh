#!/usr/bin/env bash
# The draw endpoint over HTTP, signed, under keep-alive load, against nginx answering a fixed 200
# (the machine's HTTP ceiling) and Redis 7 running the Lua stock decrement of the usual
# Redis + MySQL lottery, in one run on this machine. See bench/README.md, "bench/draw".
#
#   bench/draw/http.sh [--seconds S] [--connections C] [--customers N] [--wrk-threads T]
#                      [--paced-delay-ms D] [--commit-window-us W] [--preallocate-mb M]
#                      [--redis-requests R] [--no-redis] [--keep] [--perf FILE]
#
# --commit-window-us W, --preallocate-mb M: the server's --draw-commit-window-us (group
# commit) and --journal-preallocate-mb (zeros kept ready at the journals' ends); its defaults
# if not given.
# --perf FILE: a perf profile (call graphs) of the server during the draw run (bench/lib.sh).
#
# 1. A real `mercator serve` on a fresh data dir with a demo bank of N customers, an operator,
#    an approver, and an API client with the draw scope; a live big-wheel activity created by
#    the operator over the API and approved by the approver (maker-checker).
# 2. bench/draw/sign_draws signs the requests just before the run (wrk cannot compute HMACs):
#    a fresh nonce, a unique Idempotency-Key, one customer and device each.
# 3. wrk (T threads, C keep-alive connections, S seconds) replays them (bench/draw/replay.lua),
#    each once. A draw is answered only once its record is fsynced (group commit).
# 4. Durable: the activity's draw count from the stats API after the run against the 2xx that
#    wrk saw (every acknowledged draw must be there; a few more may have been drawn whose
#    answer wrk did not wait for at the end).
# 5. The same wrk, threads, connections and request bytes against nginx `return 200`.
# 6. redis-benchmark EVALSHA of the stock decrement (bench/draw/redis_lua.sh).
# 3 and 5 run twice: at saturation (each connection sends its next request as soon as the
# answer is in), then paced (each connection waits D ms after an answer, default 10: at most
# C * 1000 / D requests/s), for the latency below saturation. Under saturation the latency is
# mostly queueing: by Little's law the mean alone is C / rate (256 / 45k = 5.7 ms).
# Each run's latency is also split from the server's side (its /metrics before and after): the
# request as the server timed it, and within it the draw journal's group commit; what wrk saw
# beyond the request is the kernel, the wait for an I/O thread to read it, and wrk itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=10
connections=256
customers=100000
wrk_threads=2
redis_requests=300000
paced_delay_ms=10
serve_extra=()
redis=1
keep=0
perf_out=""
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --customers) customers=$2; shift 2 ;;
    --wrk-threads) wrk_threads=$2; shift 2 ;;
    --paced-delay-ms) paced_delay_ms=$2; shift 2 ;;
    --commit-window-us) serve_extra+=(--draw-commit-window-us "$2"); shift 2 ;;
    --preallocate-mb) serve_extra+=(--journal-preallocate-mb "$2"); shift 2 ;;
    --redis-requests) redis_requests=$2; shift 2 ;;
    --no-redis) redis=0; shift ;;
    --keep) keep=1; shift ;;
    --perf) perf_out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

source "$root/bench/lib.sh"
bench_build mercator sign_draws
bench_workdir draw-http
nginx_pid=""
bench_extra_cleanup() {
  if [[ -n "$nginx_pid" ]]; then kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null; fi
  return 0
}
machine_line

# ---- 1. server, people, client, activity ----
admin_password=$("$bin" --data "$data" demo --customers "$customers" 2>/dev/null | field password)
operator_password=$("$bin" --data "$data" user add --username operator1 --role operator \
  2>/dev/null | field password)
approver_password=$("$bin" --data "$data" user add --username approver1 --role approver \
  2>/dev/null | field password)
client_out=$("$bin" --data "$data" client add --name "bench app" --scope draw 2>/dev/null)
key_id=$(field key_id <<<"$client_out")
secret=$(field secret <<<"$client_out")
[[ -n "$operator_password" && -n "$approver_password" && -n "$key_id" && -n "$secret" ]] ||
  { echo "setup failed (demo bank, approver or client)" >&2; exit 1; }

# The default 50 signed requests/s per client protects a deployment from one runaway back-end;
# here one client is the whole app, so its limit is lifted. The app back-end forwards each
# customer's address (X-Forwarded-For): the draw guard's per-address limit applies to
# customers, not to the one back-end all draws come from.
bench_serve --client-rate 10000000 --trust-forwarded-for ${serve_extra[@]+"${serve_extra[@]}"}

login() {  # $1 user, $2 password, $3 cookie jar; prints the CSRF token
  curl -fs -c "$3" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" "$base/v1/auth/login" | json_field csrf_token
}
admin_csrf=$(login operator1 "$operator_password" "$work/admin.jar")  # the maker
approver_csrf=$(login approver1 "$approver_password" "$work/approver.jar")
as_admin() { curl -fsS -b "$work/admin.jar" -H "X-CSRF-Token: $admin_csrf" \
  -H 'Content-Type: application/json' "$@"; }

start=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
# A big wheel like draw_bench's: scarce prizes with stock and daily limits, points, coupons,
# thanks as the fallback; every customer may draw up to 1000 times a day.
terms=$(cat <<EOF
{"name": "Bench wheel",
 "eligibility": {"channels": ["app"], "start": "$start", "end": "$end"},
 "chances": {"free_per_day": 1000},
 "pools": [{"group": "default",
   "pool": {"id": "default", "name": "Default pool", "fallback_prize_id": "thanks",
     "prizes": [
       {"id": "phone", "name": "Phone", "kind": "physical", "weight": 1, "total_stock": 100,
        "daily_stock": 10, "per_customer_cap": 1, "cost_fen": 599900},
       {"id": "cash", "name": "8.88 yuan", "kind": "cash", "weight": 50, "total_stock": 100000,
        "per_customer_cap": 3, "cost_fen": 888, "reward_ref": "888"},
       {"id": "points", "name": "100 points", "kind": "points", "weight": 3000,
        "total_stock": 100000000, "reward_ref": "100"},
       {"id": "thanks", "name": "Thank you", "kind": "thanks", "weight": 6949,
        "total_stock": -1}]}}],
 "budget_fen": 0,
 "display": {"template": "wheel", "title": "Bench wheel"}}
EOF
)
activity=$(as_admin -d "$terms" "$base/v1/activities" | json_field id)
approval=$(as_admin -X POST "$base/v1/activities/$activity/submit" | json_field approval_id)
curl -fsS -b "$work/approver.jar" -H "X-CSRF-Token: $approver_csrf" \
  -H 'Content-Type: application/json' -d '{"comment":"bench"}' \
  "$base/v1/approvals/$approval/approve" >/dev/null
state=$(as_admin "$base/v1/activities/$activity" | json_field state)
[[ "$state" == live ]] || { echo "activity $activity is $state, not live" >&2; exit 1; }

# ---- 2. signed requests: enough for 150k draws/s, so that wrk never runs out ----
requests=$((seconds * 150000))
sign_start=$(date +%s.%N)
"$build/bench/sign_draws" --key-id "$key_id" --secret "$secret" --activity "$activity" \
  --requests "$requests" --files "$wrk_threads" --customers "$customers" --port "$port" \
  --out "$work/draws" --run "b$RANDOM"
# The paced run's own requests (a nonce is never sent twice): enough for its ceiling.
paced_requests=$((seconds * connections * 1000 / paced_delay_ms + connections))
"$build/bench/sign_draws" --key-id "$key_id" --secret "$secret" --activity "$activity" \
  --requests "$paced_requests" --files "$wrk_threads" --customers "$customers" --port "$port" \
  --out "$work/paced" --run "p$RANDOM"
requests=$((requests + paced_requests))
echo "setup: activity $activity live, $customers customers; signed $requests requests in" \
  "$(echo "$(date +%s.%N) - $sign_start" | bc) s ($(du -sh "$work" | cut -f1) in $work)"
# The signed files (about 1 GB) are dirty pages until the kernel writes them back, 30 s later:
# during the runs, where every journal fdatasync would wait behind that write-back. Written
# out now, so that the runs measure the server's own I/O.
sync_start=$(date +%s.%N)
sync -f "$work/draws.0"
echo "setup: the signed files written to disk in $(echo "$(date +%s.%N) - $sync_start" | bc) s"

run_wrk() {  # $1 url; env REPLAY_REPEAT, REPLAY_PREFIX, REPLAY_DELAY_MS; prints the wrk-result line
  REPLAY_PREFIX="${REPLAY_PREFIX:-$work/draws}" wrk -t "$wrk_threads" -c "$connections" -d "${seconds}s" \
    --timeout 10s -s "$root/bench/draw/replay.lua" "$1" | grep '^wrk-result'
}

# Time the server's threads spent runnable but waiting for a CPU (the run queue,
# /proc/<pid>/task/*/schedstat): "<I/O threads ns> <draw journal writer ns> <all threads ns>".
run_queue_ns() {
  local io=0 writer=0 all=0 t on wait rest comm
  for t in "/proc/$server_pid/task/"*; do
    read -r on wait rest <"$t/schedstat" 2>/dev/null || continue
    comm=$(cat "$t/comm" 2>/dev/null || true)
    all=$((all + wait))
    [[ $comm == mct-http-io ]] && io=$((io + wait))
    [[ $comm == mct-draw-writer ]] && writer=$((writer + wait))
  done
  echo "$io $writer $all"
}

# ---- 3. the draw over HTTP ----
load_draw=$(cut -d' ' -f1-3 /proc/loadavg)
draw_cpu_before=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
draw_faults_before=$(awk '{print $10}' "/proc/$server_pid/stat")
draw_rss_before=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
# The server's own view of a run, from /metrics taken before and after it: the draw route's
# request durations (last request byte read to last answer byte written) and the draw
# journal's group commits. Quantiles are interpolated within histogram buckets, as
# Prometheus's histogram_quantile does.
metrics_snapshot() { curl -fsS "$base/metrics" >"$1"; }
metric_quantile() {  # $1 before, $2 after, $3 series name and labels up to le (a prefix), $4 q
  awk -v series="$3" -v q="$4" '
    index($0, series) == 1 && /le="/ {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
      v = $NF + 0
      if (FILENAME == ARGV[1]) before[le] = v; else { after[le] = v; order[++n] = le }
    }
    END {
      total = after["+Inf"] - before["+Inf"]
      if (total <= 0) { print "-"; exit }
      prev_le = 0; prev_c = 0
      for (i = 1; i <= n; i++) {
        le = order[i]; c = after[le] - before[le]
        if (c >= q * total) {
          if (le == "+Inf") { printf ">%.3g\n", prev_le * 1000; exit }
          frac = c > prev_c ? (q * total - prev_c) / (c - prev_c) : 1
          printf "%.2f\n", (prev_le + (le - prev_le) * frac) * 1000; exit
        }
        prev_le = le; prev_c = c
      }
    }' "$1" "$2"
}
metric_mean() {  # $1 before, $2 after, $3 histogram name: sum/count over the run
  awk -v name="$3" '
    $1 == name "_sum" { if (FILENAME == ARGV[1]) s0 = $2; else s1 = $2 }
    $1 == name "_count" { if (FILENAME == ARGV[1]) c0 = $2; else c1 = $2 }
    END { if (c1 > c0) printf "%.1f\n", (s1 - s0) / (c1 - c0); else print "-" }' "$1" "$2"
}
server_view() {  # $1 before, $2 after: one line
  local route='http_server_request_duration_seconds_bucket{method="POST",route="/v1/app/activities/{id}/draw",'
  local c='mercator_draw_commit_seconds_bucket{' w='mercator_draw_journal_write_seconds_bucket{'
  echo "request $(metric_quantile "$1" "$2" "$route" 0.5)/$(metric_quantile "$1" "$2" "$route" 0.99) ms," \
    "of which the durable commit (queued, then the batch's write and fdatasync)" \
    "$(metric_quantile "$1" "$2" "$c" 0.5)/$(metric_quantile "$1" "$2" "$c" 0.99) ms;" \
    "a batch's write and fdatasync $(metric_quantile "$1" "$2" "$w" 0.5)/$(metric_quantile "$1" "$2" "$w" 0.99) ms," \
    "$(metric_mean "$1" "$2" mercator_draw_commit_batch_draws) draws a batch"
}
metrics_snapshot "$work/metrics.0"
queue_before=$(run_queue_ns)
bench_perf_start "$perf_out" "$seconds"
draw=$(run_wrk "$base/v1/app/activities/$activity/draw")
bench_perf_wait
draw_cpu=$(( $(awk '{print $14 + $15}' "/proc/$server_pid/stat") - draw_cpu_before ))
draw_faults=$(( $(awk '{print $10}' "/proc/$server_pid/stat") - draw_faults_before ))
draw_rss=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
queue_draw=$(run_queue_ns)
metrics_snapshot "$work/metrics.1"
paced=$(REPLAY_PREFIX="$work/paced" REPLAY_DELAY_MS=$paced_delay_ms \
  run_wrk "$base/v1/app/activities/$activity/draw")
queue_paced=$(run_queue_ns)
metrics_snapshot "$work/metrics.2"
sleep 0.5  # draws whose answers wrk stopped waiting for still become durable
stats=$(as_admin "$base/v1/activities/$activity/stats")
engine_draws=$(json_field draws <<<"$stats")
sample_status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/v1/app/activities/$activity/draw")
# Fulfilment: the points awards the run made against those the worker's passes delivered (its
# log lines), at the end of the run and until all are (at most 60 s more).
points_awards=$(grep -o '"prize_id":"points"[^}]*' <<<"$stats" | json_field awarded)
delivered_points() {
  grep '"body":"fulfilment pass"' "$work/server.log" | grep -o '"delivered":"[0-9]*' |
    awk -F'"' '{s += $4} END {print s + 0}'
}
delivered_at_end=$(delivered_points)
fulfil_wait_start=$(date +%s.%N)
for _ in $(seq 600); do
  (($(delivered_points) >= points_awards)) && break
  sleep 0.1
done
delivered_after=$(delivered_points)
fulfil_wait=$(echo "$(date +%s.%N) - $fulfil_wait_start" | bc)
# What each of the server's threads wrote over the whole run, by thread name, largest first:
# the bytes its write system calls passed (/proc "wchar"; sockets send with sendmsg, which it
# does not count), so the files: journals, SQLite's WAL and checkpoints, the log.
thread_writes=$(for t in /proc/"$server_pid"/task/*; do
  printf '%s %s\n' "$(cat "$t/comm")" "$(awk '/^wchar/ {print $2}' "$t/io" 2>/dev/null)"
done | awk '{w[$1] += $2} END {for (n in w) if (w[n] > 0) printf "%s %.0f MB\n", n, w[n] / 1e6}' |
  sort -k2 -n -r | paste -sd, - | sed 's/,/, /g')
bench_stop_server
errors_logged=$(grep -c '"severity_text":"ERROR"' "$work/server.log" || true)

# ---- 5. nginx, fixed 200, same load ----
nport=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes $(nproc);
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nport;
    location / { return 200 '{"ok":true}'; }
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$nport/" >/dev/null 2>&1 && break; sleep 0.1; done
load_nginx=$(cut -d' ' -f1-3 /proc/loadavg)
ngx=$(REPLAY_REPEAT=1 run_wrk "http://127.0.0.1:$nport/")
ngx_paced=$(REPLAY_REPEAT=1 REPLAY_DELAY_MS=$paced_delay_ms run_wrk "http://127.0.0.1:$nport/")
kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=""

# ---- 6. redis ----
redis_lines=""
if ((redis == 1)); then
  source "$root/bench/draw/redis_lua.sh"
  redis_lines+=$(redis_lua "in memory" "$redis_requests" "1 16" --appendonly no)$'\n'
  redis_lines+=$(redis_lua "AOF always" "$((redis_requests / 2))" "1" --appendonly yes \
    --appendfsync always)$'\n'
fi

# ---- the table ----
rate() { awk -v n="$(kv requests <<<"$1")" -v d="$(kv duration_us <<<"$1")" 'BEGIN {printf "%.0f", n / (d / 1e6)}'; }
ms() { awk -v u="$(kv "$2" <<<"$1")" 'BEGIN {printf "%.3f", u / 1000}'; }
draw_total=$(kv requests <<<"$draw")
draw_non2xx=$(kv non2xx <<<"$draw")
draw_ok=$((draw_total - draw_non2xx))
draw_rate=$(awk -v n="$draw_ok" -v d="$(kv duration_us <<<"$draw")" 'BEGIN {printf "%.0f", n / (d / 1e6)}')
ngx_rate=$(rate "$ngx")
paced_total=$(kv requests <<<"$paced")
paced_ok=$((paced_total - $(kv non2xx <<<"$paced")))
paced_rate=$(awk -v n="$paced_ok" -v d="$(kv duration_us <<<"$paced")" 'BEGIN {printf "%.0f", n / (d / 1e6)}')
ngx_paced_rate=$(rate "$ngx_paced")
echo
printf '%-58s %10s %9s %9s %9s\n' "what (wrk: $wrk_threads threads, $connections connections, ${seconds}s)" "per second" "p50 ms" "p99 ms" "of nginx"
printf '%-58s %10s %9s %9s %8s%%\n' "mercator signed draw, durable (2xx only)" "$draw_rate" \
  "$(ms "$draw" p50_us)" "$(ms "$draw" p99_us)" "$(awk -v a="$draw_rate" -v b="$ngx_rate" 'BEGIN {printf "%.0f", 100 * a / b}')"
printf '%-58s %10s %9s %9s %8s%%\n' "nginx 1.22 return 200, same request bytes" "$ngx_rate" \
  "$(ms "$ngx" p50_us)" "$(ms "$ngx" p99_us)" 100
printf '%-58s %10s %9s %9s %8s%%\n' "paced ($paced_delay_ms ms between answer and next request): mercator" \
  "$paced_rate" "$(ms "$paced" p50_us)" "$(ms "$paced" p99_us)" "$(awk -v a="$paced_rate" -v b="$ngx_paced_rate" 'BEGIN {printf "%.0f", 100 * a / b}')"
printf '%-58s %10s %9s %9s %8s%%\n' "paced ($paced_delay_ms ms between answer and next request): nginx" \
  "$ngx_paced_rate" "$(ms "$ngx_paced" p50_us)" "$(ms "$ngx_paced" p99_us)" 100
redis_p1=0
while IFS='|' read -r kind label pipeline rps p50 p99; do
  [[ $kind == redis ]] || continue
  [[ $label == "in memory" && $pipeline == 1 ]] && redis_p1=$rps
  printf '%-58s %10s %9s %9s %8s%%\n' "redis 7 Lua stock decrement, $label, 64 clients, pipeline $pipeline" \
    "$rps" "$p50" "$p99" "$(awk -v a="$rps" -v b="$ngx_rate" 'BEGIN {printf "%.0f", 100 * a / b}')"
done <<<"$redis_lines"
echo
verdict() { if awk "BEGIN {exit !($1)}"; then echo MET; else echo MISSED; fi; }
draw_p99=$(ms "$draw" p99_us)
echo "target >= 50,000 durable draws/s: $draw_rate: $(verdict "$draw_rate >= 50000")"
echo "target >= 60% of nginx: $(awk -v a="$draw_rate" -v b="$ngx_rate" 'BEGIN {printf "%.1f%%", 100 * a / b}'): $(verdict "$draw_rate >= 0.6 * $ngx_rate")"
echo "target p99 <= 5 ms: $draw_p99 ms: $(verdict "$draw_p99 <= 5") (at saturation); paced, at $paced_rate draws/s: $(ms "$paced" p99_us) ms: $(verdict "$(ms "$paced" p99_us) <= 5")"
if ((redis == 1)); then
  echo "target more than the Redis script alone (in memory, pipeline 1, $redis_p1/s): $(verdict "$draw_rate > $redis_p1")"
fi
echo "draw responses: $draw_total, of which non-2xx $draw_non2xx (paced: $paced_total, non-2xx $(kv non2xx <<<"$paced"), ran out: $(kv exhausted_threads <<<"$paced") threads); socket errors $(kv socket_errors <<<"$draw"), timeouts $(kv timeouts <<<"$draw"); ran out of signed requests: $(kv exhausted_threads <<<"$draw") threads; server errors logged: $errors_logged; unsigned request answered $sample_status"
durable=$( ((engine_draws >= draw_ok + paced_ok)) && echo "yes, every acknowledged draw is recorded" || echo "NO: acknowledged draws are missing")
echo "durable: wrk saw $draw_ok + $paced_ok (paced) draws answered 2xx; the engine counts $engine_draws draws ($((engine_draws - draw_ok - paced_ok)) drawn but not seen answered); $durable"
echo "server side, p50/p99 (/metrics): at saturation $(server_view "$work/metrics.0" "$work/metrics.1")"
echo "server side, p50/p99 (/metrics): paced $(server_view "$work/metrics.1" "$work/metrics.2")"
echo "file writes by thread over the run: $thread_writes"
echo "fulfilment: $points_awards points awards; delivered by the end of the run: $delivered_at_end; $delivered_after delivered $(printf '%.1f' "$fulfil_wait") s later"
queue_line() {  # $1 before, $2 after, $3 draws, $4 seconds
  awk -v b="$1" -v a="$2" -v n="$3" -v s="$4" 'BEGIN {split(b, x, " "); split(a, y, " ");
    printf "I/O threads %.1f us a draw, the draw journal writer %.0f ms a second, all threads %.1f us a draw",
      (y[1] - x[1]) / 1000 / n, (y[2] - x[2]) / 1e6 / s, (y[3] - x[3]) / 1000 / n}'
}
echo "waiting for a CPU (run queue): at saturation $(queue_line "$queue_before" "$queue_draw" "$draw_total" "$seconds"); paced $(queue_line "$queue_draw" "$queue_paced" "$paced_total" "$seconds")"
# Cores over the run's own seconds: the server is idle while wrk starts (loading the signed
# requests), so the wall time around wrk would understate them.
echo "server cpu during the draw run: $(awk -v t="$draw_cpu" -v h="$(getconf CLK_TCK)" -v s="$seconds" -v n="$draw_total" -v f="$draw_faults" 'BEGIN {printf "%.2f cores (%.0f us a draw), %d page faults (%.2f a draw)", t / h / s, 1e6 * t / h / n, f, f / n}'), resident memory $((draw_rss_before / 1024)) MB before, $((draw_rss / 1024)) MB after; load average at the draw run: $load_draw, at nginx: $load_nginx, after: $(cut -d' ' -f1-3 /proc/loadavg)"
