-- wrk script for bench/run.py: confirm pending signatures, each token once.
--
--   wrk -tT ... BASE_URL -- confirm RUN TOKENS_FILE T
--
-- TOKENS_FILE holds one confirmation token a line; thread i (of T) takes lines i, i+T, ...
-- and POSTs /v/<token> for each, once (confirming an already-confirmed token answers 200
-- too, so a token sent twice would count twice). A thread whose tokens run out sends GET
-- /ping instead, counts the answers as "exhausted" and stops: a run with any "exhausted"
-- answers measured for less time than it says, and its rate is only a lower bound.
-- done() prints one line, "RESULT {json}", in the format of sign.lua.

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local file, total = args[3], tonumber(args[4])
  tokens = {}
  local i = 0
  for line in io.lines(file) do
    if i % total == thread_id - 1 and line ~= "" then
      table.insert(tokens, line)
    end
    i = i + 1
  end
  next_token = 1
  statuses = {}
end

function request()
  local token = tokens[next_token]
  if token == nil then
    return wrk.format("GET", "/ping")
  end
  next_token = next_token + 1
  return wrk.format(
    "POST", "/v/" .. token, { ["Content-Type"] = "application/x-www-form-urlencoded" }, ""
  )
end

function response(status, headers, body)
  local key = tostring(status)
  if body == "ok" then -- the answer of /ping: this thread has no tokens left
    key = "exhausted"
    wrk.thread:stop()
  end
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
