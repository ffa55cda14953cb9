-- wrk script (bench/draw/http.sh). Each thread reads "<REPLAY_PREFIX>.<thread index>", written
-- by bench/draw/sign_draws: request lengths and raw requests (see sign_draws.cc).
--   REPLAY_REPEAT unset: each pre-signed request is sent once, in order (a nonce must never be
--     sent twice); a thread that runs out stops and says so.
--   REPLAY_REPEAT=1: the thread's first request is sent again and again (the nginx run: the
--     same bytes to parse, nothing checks the signature).
-- done() prints one machine-readable line: "wrk-result requests=... ".
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

-- REPLAY_DELAY_MS set: each connection waits that long after an answer before its next request
-- (a paced load, below saturation). Defined only then: wrk takes a slower path for every
-- request when the script has a delay function at all.
local delay_ms = tonumber(os.getenv("REPLAY_DELAY_MS") or "")
if delay_ms ~= nil then
  function delay()
    return delay_ms
  end
end

local requests = {}
local next_index = 1
local repeat_first = false
exhausted = false

function init(args)
  repeat_first = os.getenv("REPLAY_REPEAT") == "1"
  local f = assert(io.open(os.getenv("REPLAY_PREFIX") .. "." .. id, "rb"))
  local data = f:read(repeat_first and 65536 or "*a")
  f:close()
  local pos = 1
  local len = #data
  while pos <= len do
    local nl = data:find("\n", pos, true)
    if nl == nil then break end
    local n = tonumber(data:sub(pos, nl - 1))
    if nl + n > len then break end
    requests[#requests + 1] = data:sub(nl + 1, nl + n)
    pos = nl + n + 1
    if repeat_first then break end
  end
end

function request()
  if repeat_first then return requests[1] end
  local r = requests[next_index]
  if r == nil then
    -- Out of signed requests: stop rather than replay a nonce. The health check that may still
    -- go out does not draw; the run is reported as exhausted.
    exhausted = true
    wrk.thread:stop()
    return "GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
  end
  next_index = next_index + 1
  return r
end

function done(summary, latency, requests)
  local exhausted_threads = 0
  for _, t in ipairs(threads) do
    if t:get("exhausted") then exhausted_threads = exhausted_threads + 1 end
  end
  local e = summary.errors
  io.write(string.format(
    "wrk-result requests=%d duration_us=%d non2xx=%d socket_errors=%d timeouts=%d " ..
    "p50_us=%d p99_us=%d max_us=%d exhausted_threads=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, exhausted_threads))
end
