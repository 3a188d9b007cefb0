-- wrk script for loadtest/bench-http: POSTs one fixture body to /rate, cycling through
-- TENANTS tenant keys (tenant-0 .. tenant-{N-1}). Requests are built once in init(), so
-- wrk spends no time formatting 36 KB requests while measuring.
--   wrk -s loadtest/wrk-post.lua URL -- FIXTURE [TENANTS] [FIRST_TENANT] [STEP]
local reqs = {}
local n = 0
local i = 0

function init(args)
  local path = args[1]
  local tenants = tonumber(args[2] or "16")
  local first = tonumber(args[3] or "0")
  local step = tonumber(args[4] or "1")
  local f = assert(io.open(path, "rb"))
  local body = f:read("*a")
  f:close()
  for t = 0, tenants - 1 do
    local headers = {
      ["content-type"] = "application/json",
      ["x-smp-key"] = "tenant-" .. (first + t * step),
    }
    n = n + 1
    reqs[n] = wrk.format("POST", "/rate", headers, body)
  end
end

function request()
  i = i % n + 1
  return reqs[i]
end
