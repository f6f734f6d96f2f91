-- Minimal Redis Cluster client for the request path (read-mostly, single-key commands):
--   * slot map from CLUSTER SLOTS, per worker;
--   * MOVED: follow the redirect now, remember the new owner for that slot, and refresh the
--     whole map in the background (one refresh at a time per worker, rate-limited);
--   * ASK: send ASKING + the command to the target once, without touching the map;
--   * bounded redirects, keepalive pools, password from the environment.
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

local function connect(addr)
  local red = redis:new()
  local sock = rawget(red, "_sock")
  sock:settimeouts(cfg.connect_timeout, cfg.rw_timeout, cfg.rw_timeout)
  local host, port = split_addr(addr)
  local ok, err = red:connect(host, port, { pool_size = cfg.pool_size })
  if not ok then
    return nil, err
  end
  if cfg.password and cfg.password ~= "" and red:get_reused_times() == 0 then
    local res, aerr = red:auth(cfg.password)
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
