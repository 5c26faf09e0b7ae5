-- wrk script for the gateway benchmarks (run by run_gateway_bench.sh). Settings come from the environment
-- because wrk's setup() runs in the main Lua state, which never sees the `-- args`.
--   BENCH_MODE=get       the URL as given; BENCH_RATE>0 paces every thread to its share of that total rate
--   BENCH_MODE=checkout  per thread (ONE connection each: -t N -c N) alternately POST /v1/cart/items (one unit of
--                        a product from BENCH_PRODUCTS) and POST /v1/checkout with a fresh Idempotency-Key, as the
--                        shopper of the thread's token (BENCH_TOKENS file); the two are timed separately
--   BENCH_MODE=checkout-items  per thread (one connection each) only POST /v1/checkout with the line in the body
--                        (`items`: one unit of a random product) and a fresh key: the path that needs no Redis
-- done() prints one line "BENCH_JSON {...}" that the shell script keeps.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: wrk's Lua has no sub-second clock of its own
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local mode = os.getenv("BENCH_MODE") or "get"
local tenant = os.getenv("BENCH_TENANT") or "bench"
local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

-- ---------------------------------------------------------------- get (optionally paced)
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local interval_ms = 0
if rate > 0 then interval_ms = nthreads * 1000.0 / rate end
local next_slot = nil

if mode == "get" then
  wrk.headers["X-Tenant"] = tenant
  if rate > 0 then
    -- Absolute slots per thread: the thread's request rate stays rate/threads whatever the latency; after a stall
    -- longer than a few slots the schedule restarts instead of bursting to catch up.
    function delay()
      local t = now_ms()
      if next_slot == nil or t - next_slot > 5 * interval_ms then next_slot = t end
      next_slot = next_slot + interval_ms
      local d = next_slot - t
      if d < 0 then return 0 end
      return d
    end
  end
end

-- ---------------------------------------------------------------- checkout
local token, products, nonce
local phase = "add"
local sent_at = 0
local seq = 0
ck_lat = {}      -- globals: read by done() through thread:get
add_lat = {}
ck_status = {}
add_status = {}

local function split(s)
  local out = {}
  for item in string.gmatch(s or "", "[^,]+") do table.insert(out, item) end
  return out
end

local checkout_mode = mode == "checkout" or mode == "checkout-items"

function init(args)
  if not checkout_mode then return end
  local tokens = {}
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if #line > 0 then table.insert(tokens, line) end
  end
  token = tokens[((tid - 1) % #tokens) + 1]
  products = split(os.getenv("BENCH_PRODUCTS"))
  nonce = os.getenv("BENCH_NONCE") or tostring(os.time())
  math.randomseed(os.time() + tid * 7919)
end

local address = '{"shipping_address":{"name":"Bench Shopper","line1":"1 Load Street","city":"Seattle",' ..
  '"postal_code":"98101","country":"US"}}'

if mode == "checkout-items" then
  function request()
    local headers = { ["X-Tenant"] = tenant, ["Authorization"] = "Bearer " .. token,
                      ["Content-Type"] = "application/json" }
    seq = seq + 1
    headers["Idempotency-Key"] = "wrk-" .. nonce .. "-i-" .. tid .. "-" .. seq
    sent_at = now_ms()
    local pid = products[math.random(#products)]
    local body = string.sub(address, 1, -2) .. ',"items":[{"product_id":"' .. pid .. '","quantity":1}]}'
    return wrk.format("POST", "/v1/checkout", headers, body)
  end

  function response(status, headers, body)
    local key = tostring(status)
    table.insert(ck_lat, now_ms() - sent_at)
    ck_status[key] = (ck_status[key] or 0) + 1
  end
end

if mode == "checkout" then
  function request()
    local headers = { ["X-Tenant"] = tenant, ["Authorization"] = "Bearer " .. token,
                      ["Content-Type"] = "application/json" }
    sent_at = now_ms()
    if phase == "add" then
      local pid = products[math.random(#products)]
      return wrk.format("POST", "/v1/cart/items", headers, '{"product_id":"' .. pid .. '","quantity":1}')
    end
    seq = seq + 1
    -- Unique per run, thread and attempt: every checkout is a new intended order, never a replay.
    headers["Idempotency-Key"] = "wrk-" .. nonce .. "-" .. tid .. "-" .. seq
    return wrk.format("POST", "/v1/checkout", headers, address)
  end

  function response(status, headers, body)
    local elapsed = now_ms() - sent_at
    local key = tostring(status)
    if phase == "add" then
      table.insert(add_lat, elapsed)
      add_status[key] = (add_status[key] or 0) + 1
      phase = "checkout"
    else
      table.insert(ck_lat, elapsed)
      ck_status[key] = (ck_status[key] or 0) + 1
      phase = "add"
    end
  end
end

-- ---------------------------------------------------------------- report
local function pct(sorted, q)
  -- nearest rank, like scripts/bench/grpc_load.py
  if #sorted == 0 then return nil end
  local rank = math.ceil(q / 100 * #sorted)
  if rank < 1 then rank = 1 end
  return sorted[rank]
end

local function json_value(v)
  if v == nil then return "null" end
  if type(v) == "number" then return string.format("%.3f", v) end
  if type(v) == "string" then return '"' .. v .. '"' end
  local parts = {}
  for k, x in pairs(v) do table.insert(parts, '"' .. tostring(k) .. '":' .. json_value(x)) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function merged(name)
  local all = {}
  for _, t in ipairs(threads) do
    local part = t:get(name)
    if part then for _, x in pairs(part) do table.insert(all, x) end end
  end
  table.sort(all)
  return all
end

local function merged_counts(name)
  local all = {}
  for _, t in ipairs(threads) do
    local part = t:get(name)
    if part then for k, x in pairs(part) do all[k] = (all[k] or 0) + x end end
  end
  return all
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local s = summary.errors
  local out = {
    mode = mode,
    duration_s = secs,
    requests = summary.requests,
    rps = summary.requests / secs,
    non_2xx = s.status,
    socket_errors = s.connect + s.read + s.write + s.timeout,
    p50_ms = latency:percentile(50) / 1000,
    p99_ms = latency:percentile(99) / 1000,
    max_ms = latency.max / 1000,
    target_rate = rate,
    threads = thread_count,
  }
  if checkout_mode then
    local ck, add = merged("ck_lat"), merged("add_lat")
    local cks = merged_counts("ck_status")
    out.checkout = { count = #ck, per_s = #ck / secs, created_per_s = (cks["201"] or 0) / secs,
                     p50_ms = pct(ck, 50), p99_ms = pct(ck, 99), status = cks }
    out.add_to_cart = { count = #add, p50_ms = pct(add, 50), p99_ms = pct(add, 99),
                        status = merged_counts("add_status") }
  end
  io.write("BENCH_JSON " .. json_value(out) .. "\n")
end
