-- wrk load for traced-service: every request carries its own W3C traceparent
-- (a new random trace id and parent span id, sampled), and the endpoints are
-- cycled in a fixed mix per connection-thread:
--   /fast 40%, /checksum 20%, /render 20%, /slow 20%
--   wrk -t2 -c8 -d8s -s examples/traced-service/traced.lua http://127.0.0.1:8080
-- At the end it prints the mix and how many responses were not 200 with a
-- version-00 traceparent of the right shape (should be 0).

local mix = { "/fast", "/checksum", "/fast", "/render", "/slow" }
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local counter = 0
bad = 0       -- globals: done() reads them per thread with thread:get()
checked = 0
local digits = "0123456789abcdef"

local function randhex(n)
  local t = {}
  for i = 1, n do
    local k = math.random(1, 16)
    t[i] = digits:sub(k, k)
  end
  -- never all zero: an all-zero id is invalid
  local k = math.random(2, 16)
  t[n] = digits:sub(k, k)
  return table.concat(t)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
end

function request()
  counter = counter + 1
  local path = mix[(counter - 1) % #mix + 1]
  local tp = "00-" .. randhex(32) .. "-" .. randhex(16) .. "-01"
  return wrk.format("GET", path, { ["traceparent"] = tp })
end

function response(status, headers, body)
  checked = checked + 1
  local tp = headers["traceparent"]
  if status ~= 200 or not tp or not tp:match("^00%-%x+%-%x+%-01$") or #tp ~= 55 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_checked, total_bad = 0, 0
  for _, t in ipairs(threads) do
    total_checked = total_checked + (t:get("checked") or 0)
    total_bad = total_bad + (t:get("bad") or 0)
  end
  io.write(string.format("traced.lua: mix /fast 40%% /checksum 20%% /render 20%% /slow 20%%; " ..
                         "%d responses checked, %d without a valid traceparent\n",
                         total_checked, total_bad))
end
