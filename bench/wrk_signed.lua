-- wrk script: posts pre-signed Standard Webhooks requests read from a file, one line per request
-- ("id<TAB>timestamp<TAB>signature<TAB>body"); each wrk thread takes every n-th line. At the end
-- prints one JSON line with the counts and latency percentiles (microseconds).
local file_path = os.getenv("BENCH_REQUESTS")
local path = os.getenv("BENCH_PATH") or "/hooks/intake"
local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local requests = {}
local position = 1

function init(args)
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  local line_no = 0
  for line in io.lines(file_path) do
    if line_no % n == index then
      local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = id,
        ["webhook-timestamp"] = ts,
        ["webhook-signature"] = sig,
      }
      table.insert(requests, wrk.format("POST", path, headers, body))
    end
    line_no = line_no + 1
  end
end

function request()
  local r = requests[position]
  position = position + 1
  if position > #requests then position = 1 end
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
