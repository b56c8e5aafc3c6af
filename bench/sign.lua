-- wrk script for bench/sign.py.
--
--   wrk ... URL -- get RUN     GET the URL; count responses by status
--   wrk ... URL -- sign RUN [DISPLAY]
--                              POST a signature with a new email to the URL (…/signatures),
--                              shown as DISPLAY (public, hidden or count; public if not told)
--
-- RUN tags the emails so that no two runs (warm-up included) share an address; each thread
-- numbers its own requests. done() prints one line, "RESULT {json}", that sign.py parses.

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "get"
  run = args[2] or "0"
  display = args[3] or "public"
  sent = 0
  statuses = {}
  if mode ~= "sign" then
    request = nil -- wrk then sends its one pre-built GET
  end
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"name": "Bench Signer %d", "email": "bench-%s-%d-%d@example.org", "display": "%s"}',
    sent, run, thread_id, sent, display
  )
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%s": %d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"duration_us": %d, "requests": %d, "statuses": {%s}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.duration, summary.requests, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
