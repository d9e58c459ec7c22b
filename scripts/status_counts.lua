-- wrk helper: counts responses per HTTP status across threads and prints them at the end.
-- Optional env: WRK_METHOD, WRK_BODY, WRK_CT, WRK_AUTH, WRK_ROTATE_USER=1 (random usernames).
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  counts = {}
  wrk.method = os.getenv("WRK_METHOD") or "GET"
  local ct = os.getenv("WRK_CT")
  if ct then wrk.headers["Content-Type"] = ct end
  local auth = os.getenv("WRK_AUTH")
  if auth then wrk.headers["Authorization"] = auth end
  body = os.getenv("WRK_BODY")
  rotate = os.getenv("WRK_ROTATE_USER") == "1"
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function request()
  local b = body
  if rotate then b = "username=u" .. math.random(1, 1e9) .. "&password=wrong" end
  return wrk.format(nil, nil, nil, b)
end
function response(status, headers, b) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local agg = {}
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("counts")) do agg[s] = (agg[s] or 0) + n end
  end
  local parts = {}
  for s, n in pairs(agg) do table.insert(parts, s .. "=" .. n) end
  table.sort(parts)
  io.write(string.format("STATUS %s\n", table.concat(parts, " ")))
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
