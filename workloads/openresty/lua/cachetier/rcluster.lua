-- Minimal Redis Cluster client for the request path (read-mostly, single-key commands). It exists
-- because neither Debian nor OpenResty ship a Redis Cluster client for OpenResty: lua-resty-redis
-- (Debian's lua-nginx-redis, used here per connection) speaks to one server and knows nothing of
-- slots or redirects.
--   * slot map from CLUSTER SLOTS, per worker;
--   * MOVED: follow the redirect now, remember the new owner for that slot, and refresh the
--     whole map in the background (one refresh at a time per worker, rate-limited);
--   * ASK: send ASKING + the command to the target once, without touching the map;
--   * bounded redirects, keepalive pools, AUTH <user> <password> on every new connection.
local compat = require "cachetier.compat"
local slot = require "cachetier.slot"
local metrics = require "cachetier.metrics"
local redis = compat.redis()

local ngx = ngx
local tonumber, type, ipairs = tonumber, type, ipairs
local find, sub = string.find, string.sub
local now = ngx.now

local _M = {}

local cfg = {
  seeds = {},
  username = nil,
  password = nil,
  connect_timeout = 300,
  rw_timeout = 500,
  pool_size = 64,
  idle_ms = 60000,
  max_redirects = 5,
  min_refresh_interval = 0.2,
}

local slots = {}          -- [0..16383] -> "host:port" of the master
local known = {}          -- "host:port" -> true (every node seen in CLUSTER SLOTS)
local refreshing = false
local last_refresh = 0
local refreshes = 0

local function split_addr(addr)
  local i = find(addr, ":[^:]*$")
  return sub(addr, 1, i - 1), tonumber(sub(addr, i + 1))
end

function _M.configure(opts)
  for k, v in pairs(opts) do
    cfg[k] = v
  end
end

local addr_parts = {} -- "host:port" -> { host, port, connect options }

local function connect(addr)
  local red = redis:new()
  local sock = rawget(red, "_sock")
  sock:settimeouts(cfg.connect_timeout, cfg.rw_timeout, cfg.rw_timeout)
  local a = addr_parts[addr]
  if not a then
    local host, port = split_addr(addr)
    a = { host, port, { pool_size = cfg.pool_size } }
    addr_parts[addr] = a
  end
  local ok, err = red:connect(a[1], a[2], a[3])
  if not ok then
    return nil, err
  end
  if cfg.password and cfg.password ~= "" and red:get_reused_times() == 0 then
    local res, aerr
    if cfg.username then
      res, aerr = red:auth(cfg.username, cfg.password)
    else
      res, aerr = red:auth(cfg.password)
    end
    if not res then
      red:close()
      return nil, "auth: " .. tostring(aerr)
    end
  end
  return red
end
_M.connect = connect

local function release(red)
  red:set_keepalive(cfg.idle_ms, cfg.pool_size)
end
_M.release = release

local function parse_slots(res)
  local map, nodes = {}, {}
  local covered = 0
  for _, range in ipairs(res) do
    local first, last, master = tonumber(range[1]), tonumber(range[2]), range[3]
    if first and last and type(master) == "table" then
      local host = master[1]
      if host == "" or host == ngx.null then
        host = nil
      end
      if host then
        local addr = host .. ":" .. tostring(master[2])
        nodes[addr] = true
        for s = first, last do
          map[s] = addr
        end
        covered = covered + (last - first + 1)
      end
      for r = 4, #range do
        local rep = range[r]
        if type(rep) == "table" and type(rep[1]) == "string" and rep[1] ~= "" then
          nodes[rep[1] .. ":" .. tostring(rep[2])] = true
        end
      end
    end
  end
  return map, nodes, covered
end

-- Loads the slot map from the first node that answers. Returns true or nil, err.
function _M.refresh()
  if refreshing then
    return nil, "refresh in progress"
  end
  refreshing = true
  local ok, err = pcall(function()
    local candidates, seen = {}, {}
    for addr in pairs(known) do
      candidates[#candidates + 1] = addr
      seen[addr] = true
    end
    for _, addr in ipairs(cfg.seeds) do
      if not seen[addr] then
        candidates[#candidates + 1] = addr
      end
    end
    local lasterr = "no seeds"
    for _, addr in ipairs(candidates) do
      local red, cerr = connect(addr)
      if red then
        local res, rerr = red:cluster("slots")
        if type(res) == "table" then
          release(red)
          local map, nodes, covered = parse_slots(res)
          if covered > 0 then
            slots, known = map, nodes
            refreshes = refreshes + 1
            return true
          end
          lasterr = "empty slot map from " .. addr
        else
          red:close()
          lasterr = addr .. ": " .. tostring(rerr)
        end
      else
        lasterr = addr .. ": " .. tostring(cerr)
      end
    end
    error(lasterr, 0)
  end)
  last_refresh = now()
  refreshing = false
  if not ok then
    return nil, err
  end
  return true
end

local function bg_refresh(premature)
  if premature then
    return
  end
  local ok, err = _M.refresh()
  if not ok and err ~= "refresh in progress" then
    ngx.log(ngx.WARN, "cachetier: slot map refresh failed: ", err)
  end
end

-- Rate-limited, at most one in flight per worker.
function _M.schedule_refresh()
  if refreshing or now() - last_refresh < cfg.min_refresh_interval then
    return
  end
  refreshing = true -- reserve; the timer clears it through refresh()
  local ok = ngx.timer.at(0, function(premature)
    refreshing = false
    bg_refresh(premature)
  end)
  if not ok then
    refreshing = false
  end
end

function _M.stats()
  local n = 0
  for _ in pairs(known) do
    n = n + 1
  end
  return { refreshes = refreshes, nodes = n }
end

local function redirect(err)
  -- "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381"
  if type(err) ~= "string" then
    return nil
  end
  local kind = sub(err, 1, 4)
  if kind == "MOVE" or kind == "ASK " then
    local a, b, s, addr = find(err, "^%u+ (%d+) (%S+)")
    if a then
      return (kind == "MOVE") and "moved" or "ask", tonumber(s), addr
    end
  end
  return nil
end

local function pick_any()
  for addr in pairs(known) do
    return addr
  end
  return cfg.seeds[math.random(#cfg.seeds)]
end

-- Runs cmds (a list of {name, arg...}) as one pipeline on the master owning `key`'s slot.
-- Returns the list of replies (error replies as {false, msg}) or nil, err.
function _M.run(key, cmds)
  local s = slot.keyslot(key)
  if not slots[s] and not refreshing then
    _M.refresh()
  end
  local addr = slots[s] or pick_any()
  if not addr then
    return nil, "no redis nodes"
  end
  local asking = false
  local lasterr
  for _ = 0, cfg.max_redirects do
    local red, err = connect(addr)
    if not red then
      lasterr = addr .. ": " .. tostring(err)
      _M.schedule_refresh()
      local alt = slots[s]
      if not alt or alt == addr then
        return nil, lasterr
      end
      addr = alt
      asking = false
    else
      red:init_pipeline()
      for _, c in ipairs(cmds) do
        if asking then
          red:asking()
        end
        red[c[1]](red, unpack(c, 2))
      end
      local res, perr = red:commit_pipeline()
      if not res then
        red:close()
        return nil, addr .. ": " .. tostring(perr)
      end
      release(red)
      local out = res
      if asking then
        out = {}
        for i = 2, #res, 2 do
          out[#out + 1] = res[i]
        end
      end
      local kind, rslot, target
      for _, r in ipairs(out) do
        if type(r) == "table" and r[1] == false then
          kind, rslot, target = redirect(r[2])
          if kind then
            break
          end
          local e = r[2]
          if type(e) == "string" and (sub(e, 1, 8) == "TRYAGAIN" or sub(e, 1, 11) == "CLUSTERDOWN") then
            kind = "retry"
            lasterr = e
            break
          end
        end
      end
      if not kind then
        return out
      elseif kind == "moved" then
        metrics.inc("cachetier_redis_redirects_total", 'kind="moved"')
        slots[rslot] = target
        _M.schedule_refresh()
        addr, asking = target, false
        lasterr = "MOVED"
      elseif kind == "ask" then
        metrics.inc("cachetier_redis_redirects_total", 'kind="ask"')
        addr, asking = target, true
        lasterr = "ASK"
      else
        asking = false
        ngx.sleep(0.02)
      end
    end
  end
  return nil, "too many redirects (" .. tostring(lasterr) .. ")"
end

-- Cross-request pipelining for the read path (like ioredis' auto-pipelining): per worker and
-- node, at most one GET+PTTL batch is on the wire. A request that finds the node idle sends its
-- own commands at once; requests arriving while a batch is in flight queue up and go together,
-- in one write on one pooled connection, as soon as it returns (one of them is woken to send
-- them). So under load a round trip and its syscalls are shared by every request that arrived
-- meanwhile, and Redis sees pipelined commands. A redirect (MOVED/ASK), TRYAGAIN/CLUSTERDOWN or
-- a failed batch is retried by that request alone through run(), which follows redirects and
-- refreshes the slot map as before.
local semaphore = require "ngx.semaphore"
local byte = string.byte
local null = ngx.null

local nodes = {} -- addr -> { busy = bool, q = batch being collected or nil }
local BATCHES = metrics.slot("cachetier_l2_batches_total")

local function read_one(sock)
  local line, err = sock:receive()
  if not line then
    return nil, err
  end
  local p = byte(line)
  if p == 36 then -- $bulk
    local size = tonumber(sub(line, 2))
    if size < 0 then
      return null
    end
    -- the value, then its CRLF: no second copy of the value as a sub() of value .. CRLF
    local data, derr = sock:receive(size)
    if not data then
      return nil, derr
    end
    local crlf, cerr = sock:receive(2)
    if not crlf then
      return nil, cerr
    end
    return data
  elseif p == 58 then -- :integer
    return tonumber(sub(line, 2))
  elseif p == 45 then -- -error
    return { false, sub(line, 2) }
  elseif p == 43 then -- +status
    return sub(line, 2)
  end
  return nil, "unexpected reply: " .. tostring(line)
end

local function exec_batch(addr, b)
  metrics.add(BATCHES)
  local red, err = connect(addr)
  if not red then
    return nil, addr .. ": " .. tostring(err)
  end
  local sock = rawget(red, "_sock")
  local ok, serr = sock:send(b.reqs)
  if not ok then
    red:close()
    return nil, addr .. ": " .. tostring(serr)
  end
  local res = b.res
  for i = 1, 2 * b.n do
    local v, rerr = read_one(sock)
    if v == nil then
      red:close()
      return nil, addr .. ": " .. tostring(rerr)
    end
    res[i] = v
  end
  release(red)
  return res
end

local function new_batch()
  return { n = 0, reqs = {}, res = {}, done = false, err = nil, sema = nil, lead = false, waiting = 0 }
end

local function enqueue(b, key)
  local n = b.n + 1
  b.n = n
  local len = #key
  local reqs = b.reqs
  local k = #reqs
  reqs[k + 1] = "*2\r\n$3\r\nGET\r\n$"
  reqs[k + 2] = len
  reqs[k + 3] = "\r\n"
  reqs[k + 4] = key
  reqs[k + 5] = "\r\n*2\r\n$4\r\nPTTL\r\n$"
  reqs[k + 6] = len
  reqs[k + 7] = "\r\n"
  reqs[k + 8] = key
  reqs[k + 9] = "\r\n"
  return n
end

-- Sends batch b (the caller is its leader), wakes its waiters, hands the batch that queued up
-- meanwhile to one of its waiters (or marks the node idle).
local function lead(st, b, addr)
  local ok, res, err = pcall(exec_batch, addr, b)
  if not ok then
    res, err = nil, tostring(res)
  end
  b.done = true
  if not res then
    b.err = err or "batch failed"
  end
  local nb = st.q
  st.q = nil
  if nb and nb.waiting > 0 then
    nb.lead = true
    nb.sema:post(1)
  else
    st.busy = false
  end
  if b.waiting > 0 then
    b.sema:post(b.waiting)
  end
end

local function result(b, i)
  if b.err then
    return nil, b.err
  end
  local body, pttl = b.res[2 * i - 1], b.res[2 * i]
  return body, pttl
end

-- GET key + PTTL key, batched. Returns body (string|ngx.null), pttl (number) or nil, err;
-- an error reply comes back as { false, msg } in body's place.
function _M.get_pttl(key)
  local s = slot.keyslot(key)
  if not slots[s] and not refreshing then
    _M.refresh()
  end
  local addr = slots[s] or pick_any()
  if not addr then
    return nil, "no redis nodes"
  end
  local st = nodes[addr]
  if not st then
    st = { busy = false, q = nil }
    nodes[addr] = st
  end
  if not st.busy then
    st.busy = true
    local b = new_batch()
    local i = enqueue(b, key)
    lead(st, b, addr)
    return result(b, i)
  end
  local b = st.q
  if not b then
    b = new_batch()
    b.sema = semaphore.new(0)
    st.q = b
  end
  local i = enqueue(b, key)
  b.waiting = b.waiting + 1
  local deadline = now() + (cfg.rw_timeout * 2 + cfg.connect_timeout) / 1000
  while true do
    local ok = b.sema:wait(math.max(0.001, deadline - now()))
    if b.done then
      -- (a woken waiter leaves; b.waiting only matters before the batch is sent)
      return result(b, i)
    end
    if ok and b.lead then
      b.lead = false
      b.waiting = b.waiting - 1
      lead(st, b, addr)
      return result(b, i)
    end
    if not ok then
      b.waiting = b.waiting - 1
      if b.lead then
        -- handed over but the woken waiter is gone: this one sends it
        b.lead = false
        lead(st, b, addr)
        return result(b, i)
      end
      return nil, "timeout waiting for a pipelined read"
    end
  end
end

-- Convenience: one command, returns its reply or nil, err (error replies become err).
function _M.call(key, name, ...)
  local res, err = _M.run(key, { { name, ... } })
  if not res then
    return nil, err
  end
  local r = res[1]
  if type(r) == "table" and r[1] == false then
    return nil, r[2]
  end
  return r
end

return _M
