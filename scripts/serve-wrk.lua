-- wrk script for `mxpipe serve`: every request posts a distinct copy of an MXLIMS message.
-- The template (MXPIPE_TEMPLATE, default /tmp/mxpipe-wrk-template.json) has `@@N@@` where
-- each uuid's last 12 hex digits go; scripts/bench-serve writes it. Each wrk thread numbers its
-- copies from its own range, so no two requests post the same message. wrk counts answers that
-- are not 2xx ("Non-2xx or 3xx responses").
--   wrk -t2 -c16 -d60s --latency -s scripts/serve-wrk.lua -H "Authorization: Bearer $T" URL/v1/messages
local template
local counter = 0
local threads = 0

function setup(thread)
  thread:set("base", threads * 100000000)
  threads = threads + 1
end

function init(args)
  local path = os.getenv("MXPIPE_TEMPLATE") or "/tmp/mxpipe-wrk-template.json"
  local f = assert(io.open(path, "r"))
  template = f:read("*a")
  f:close()
  base = tonumber(base) or 0 -- a global set by setup() in this thread's state
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = template:gsub("@@N@@", string.format("%012x", base + counter))
  return wrk.format(nil, nil, nil, body)
end
