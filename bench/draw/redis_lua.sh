# Sourced by bench/draw/run.sh and bench/draw/http.sh: Redis 7 running the stock decrement each
# draw runs in the usual Redis + MySQL lottery design (check, decrement, answer), as EVALSHA
# from redis-benchmark (64 clients over a unix socket, --threads 2) against one stock key.
#
#   redis_lua LABEL REQUESTS "PIPELINES" [redis-server options...]
#
# starts a throwaway redis-server with the options, and for each pipeline depth prints one line
#   redis|LABEL|PIPELINE|requests per second|p50 ms|p99 ms
# then "redis-stock|LABEL|left" and stops the server.
redis_lua_script='local s = tonumber(redis.call("GET", KEYS[1]) or "0")
if s <= 0 then return -1 end
redis.call("DECR", KEYS[1])
return s - 1'

redis_lua() {
  local label=$1 requests=$2 pipelines=$3
  shift 3
  local dir
  dir=$(mktemp -d)
  redis-server --port 0 --unixsocket "$dir/redis.sock" --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" "$@"
  for _ in $(seq 50); do [[ -S "$dir/redis.sock" ]] && break; sleep 0.1; done
  local sha
  sha=$(redis-cli -s "$dir/redis.sock" SCRIPT LOAD "$redis_lua_script")
  redis-cli -s "$dir/redis.sock" SET stock:gold 1000000000 >/dev/null
  for pipeline in $pipelines; do
    # --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
    # "p99_latency_ms","max_latency_ms"
    redis-benchmark -s "$dir/redis.sock" -n "$requests" -c 64 -P "$pipeline" --threads 2 --csv \
      EVALSHA "$sha" 1 stock:gold 2>/dev/null | tr -d '"' | awk -F, -v l="$label" -v p="$pipeline" \
      '$1 != "test" && NF >= 7 {printf "redis|%s|%s|%.0f|%.3f|%.3f\n", l, p, $2, $5, $7}'
  done
  echo "redis-stock|$label|$(redis-cli -s "$dir/redis.sock" GET stock:gold)"
  kill "$(cat "$dir/redis.pid")"
  for _ in $(seq 50); do [[ -e "$dir/redis.pid" ]] || break; sleep 0.1; done
  rm -rf "$dir"
}
