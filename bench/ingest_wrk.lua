-- wrk script for bench/ingest.py: POST pre-built bodies in turn, a new Device-id per request.
--
--   wrk -s bench/ingest_wrk.lua URL -- <bodies dir> <n bodies> <path> <content type> <tag>
--
-- Each wrk thread reads the bodies (files 0..n-1 in the directory) once, then cycles through
-- them; the Device-id is "<tag>-<thread>-<counter>", so every request is a new durable row.
-- done() prints one JSON line (prefixed "WRK_RESULT ") that bench/ingest.py parses.

local bodies, n, path, ctype, tag
local counter = 0
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

function init(args)
  local dir = args[1]
  n = tonumber(args[2])
  path, ctype, tag = args[3], args[4], args[5]
  bodies = {}
  for i = 0, n - 1 do
    local f = assert(io.open(dir .. "/" .. i, "rb"))
    bodies[i] = f:read("*a")
    f:close()
  end
  counter = thread_id * 7919
end

function request()
  local body = bodies[counter % n]
  local headers = {
    ["Content-Type"] = ctype,
    ["Device-id"] = tag .. "-" .. thread_id .. "-" .. counter,
    ["Run-id"] = "7f3c2a10-51d4-4e8b-9a6f-2b1c0d9e8f70",
    ["Camera-id"] = "0",
    ["Crayfis-version"] = "b v1.0.4",
    ["Crayfis-version-code"] = "256",
  }
  counter = counter + 1
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "non_2xx": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
