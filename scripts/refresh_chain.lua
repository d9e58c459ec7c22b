-- wrk helper for #13's refresh benchmark: every thread owns one connection and one session's
-- refresh-token chain (run with -t N -c N). Each request presents the thread's current
-- refresh token; each 200 carries the next one, which the thread keeps. Tokens come from
-- WRK_TOKENS (comma-separated, one per thread). Prints status counts and a RESULT line.
local threads = {}
local tokens = {}
for t in string.gmatch(os.getenv("WRK_TOKENS") or "", "[^,]+") do table.insert(tokens, t) end
local next_index = 1
function setup(thread)
  thread:set("token", tokens[next_index])
  next_index = next_index + 1
  table.insert(threads, thread)
end
function init(args)
  counts = {}
  wrk.method = "POST"
  wrk.path = "/auth/session"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
function request()
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status == 200 then
    local t = string.match(body, '"refresh_token":"([^"]+)"')
    if t then token = t end
  end
end
function done(summary, latency, requests)
  local agg = {}
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("counts")) do agg[s] = (agg[s] or 0) + n end
  end
  local parts = {}
  for s, n in pairs(agg) do table.insert(parts, s .. "=" .. n) end
  table.sort(parts)
  io.write(string.format("STATUS %s\n", table.concat(parts, " ")))
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
