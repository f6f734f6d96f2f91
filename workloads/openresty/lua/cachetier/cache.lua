-- The app layer's multi-level lookup, modelled on lua-resty-mlcache:
--   L1  per-worker lua-resty-lrucache in front of the `cache` lua_shared_dict (all workers);
--       an entry is fresh until min(TTL with jitter, the L2 copy's PTTL), then kept in the dict
--       for staleTtl more seconds as a stale copy that is only served when L2 and L3 fail;
--   negative entries live in their own dict (`cache_neg`) so a flood of misses never evicts hits;
--   L2  Redis Cluster (cachetier.rcluster), GET + PTTL in one round trip;
--   L3  the cache-producer over HTTP (internal location /_l3/ with proxy_pass and timeouts).
-- A miss is filled by one request per nginx instance (shared-dict `add` as the lock, re-check
-- after taking it, the lock released on every path); the others wait for the fill, bounded by
-- the upstream timeout. Invalidations (cachetier.invalidate) reach every worker's L1 through the
-- `invalidations` dict: a version counter plus a short log of invalidated keys.
local lrucache = require "resty.lrucache"
local cjson = require "cjson.safe"
local rcluster = require "cachetier.rcluster"
local metrics = require "cachetier.metrics"

local ngx = ngx
local shared = ngx.shared
local now = ngx.now
local sleep = ngx.sleep
local find, sub = string.find, string.sub
local tostring, pcall = tostring, pcall
local random = math.random
local min, max, floor = math.min, math.max, math.floor

local _M = {}

local cfg = {
  ttl = 60,
  jitter = 20,
  neg_ttl = 10,
  stale_ttl = 300,
  lru_size = 1000,
  timeout = 1.0,
}

-- L1 per worker: one lrucache per kind, keyed by the id string (a hit needs no key building).
local lrus = {}
local seen_version = 0
local next_sync = 0
-- A request applies other workers' invalidations at most this often (the 100 ms timer in
-- init.lua runs sync() too); well inside the "served new within 1 s" guarantee.
local SYNC_EVERY = 0.01

local L2_REQUESTS = metrics.slot("cachetier_l2_requests_total")

local KINDS = {
  product = { prefix = "product_info_", l3 = "/_l3/product/" },
  shop = { prefix = "shop_info_", l3 = "/_l3/shop/" },
}
_M.KINDS = KINDS

-- The `cache` dict holds the body itself; the time it is fresh until rides in the entry's user
-- flags, as milliseconds modulo 2^31 compared like serial numbers (RFC 1982): an entry lives at
-- most ttl + jitter + stale_ttl (2.5 days at the CRD's maxima), far inside the +-12 days the
-- 31 bits tell apart, and no epoch is needed. Two values are reserved: 1 means "not fresh"
-- (invalidated, kept as a stale copy) and 0, a value this code never writes, means "not ours"
-- (e.g. the older "fresh_until|body" format after a reload onto this code): ignored, refilled.
-- Why not a "fresh_until|body" string: every such value, and the sub() of it on each read, is one
-- more long string for LuaJIT to intern, and JSON bodies of one shape collide in its string hash
-- (docs/benchmarks.md).
local WRAP, HALF = 2147483648, 1073741824
local NOT_FRESH = 1

local function fresh_flags(fresh_until)
  local f = floor(fresh_until * 1000) % WRAP
  if f <= NOT_FRESH then
    f = WRAP - 1 -- 1-2 ms earlier
  end
  return f
end
_M.fresh_flags = fresh_flags

-- Seconds an entry with these flags stays fresh after t (0: not fresh).
local function fresh_for(flags, t)
  if not flags or flags <= NOT_FRESH then
    return 0
  end
  local d = (flags - floor(t * 1000)) % WRAP
  if d >= HALF then
    return 0
  end
  return d / 1000
end
_M.fresh_for = fresh_for

function _M.configure(c)
  for k, v in pairs(c) do
    cfg[k] = v
  end
end

function _M.init_worker()
  for kind in pairs(KINDS) do
    local l, err = lrucache.new(cfg.lru_size)
    if not l then
      error("lrucache: " .. tostring(err))
    end
    lrus[kind] = l
  end
  local inv = shared.invalidations
  seen_version = inv:get("v") or 0
end

local function flush_local()
  for _, l in pairs(lrus) do
    l:flush_all()
  end
end

-- "product_info_7" -> the product LRU, "7" (no loop: pairs() keeps the fill path out of the JIT)
local P_PREFIX, S_PREFIX = KINDS.product.prefix, KINDS.shop.prefix
local P_LEN, S_LEN = #P_PREFIX, #S_PREFIX
local function lru_of(key)
  if sub(key, 1, P_LEN) == P_PREFIX then
    return lrus.product, sub(key, P_LEN + 1)
  elseif sub(key, 1, S_LEN) == S_PREFIX then
    return lrus.shop, sub(key, S_LEN + 1)
  end
  return nil
end

local function lru_delete(key)
  local l, id = lru_of(key)
  if l then
    l:delete(id)
  end
end

-- Applies invalidations published by any worker to this worker's L1. Cheap when nothing changed.
function _M.sync()
  local inv = shared.invalidations
  local v = inv:get("v") or 0
  if v == seen_version then
    return
  end
  if v < seen_version or v - seen_version > 1000 then
    flush_local()
  else
    for i = seen_version + 1, v do
      local k = inv:get("k:" .. i)
      if not k then
        flush_local()
        break
      end
      lru_delete(k)
    end
  end
  seen_version = v
end

-- Request path: sync() at most every SYNC_EVERY seconds per worker.
function _M.sync_if_due()
  local t = now()
  if t >= next_sync then
    next_sync = t + SYNC_EVERY
    _M.sync()
  end
end

-- Called once per invalidation message (by the subscriber worker).
function _M.invalidate(key)
  local dict = shared.cache
  local body, flags = dict:get(key)
  if body then
    if flags and cfg.stale_ttl > 0 then
      dict:set(key, body, cfg.stale_ttl, NOT_FRESH) -- kept for stale serving, no longer fresh
    else
      dict:delete(key)
    end
  end
  shared.cache_neg:delete(key)
  local inv = shared.invalidations
  local v = inv:incr("v", 1, 0)
  inv:set("k:" .. v, key, 120)
  metrics.inc("cachetier_invalidations_total")
  lru_delete(key)
end

-- Missed messages (subscriber reconnect): every worker drops its whole L1 (a version jump
-- larger than the key log makes sync() flush).
function _M.flush_all_workers()
  shared.cache:flush_all()
  shared.invalidations:incr("v", 100000, 0)
end

local function invalidated_since(v0, key)
  local inv = shared.invalidations
  local v = inv:get("v") or 0
  if v == v0 then
    return false
  end
  if v - v0 > 200 then
    return true
  end
  for i = v0 + 1, v do
    local k = inv:get("k:" .. i)
    if k == nil or k == key then
      return true
    end
  end
  return false
end

local function jittered(ttl)
  local j = cfg.jitter / 100
  return ttl * (1 + (random() * 2 - 1) * j)
end

local function promote(key, body, fresh_until, t)
  local entry = { body = body, fresh_until = fresh_until }
  local l, id = lru_of(key)
  l:set(id, entry, fresh_until - t)
  return entry
end

-- fresh_ttl: seconds the entry may be served as fresh.
local function store(key, body, pttl_ms, v0)
  local t = now()
  local ttl = jittered(cfg.ttl)
  if pttl_ms and pttl_ms > 0 then
    ttl = min(ttl, pttl_ms / 1000)
  end
  if v0 and invalidated_since(v0, key) then
    ttl = 0 -- an invalidation raced with this fill: keep it only as a stale copy
  end
  local fresh_until = t + ttl
  -- (exptime 0 would mean "never expires": ttl and stale_ttl may both be 0)
  local ok, err, forcible = shared.cache:set(key, body, max(ttl + cfg.stale_ttl, 0.001), fresh_flags(fresh_until))
  if not ok then
    ngx.log(ngx.WARN, "cachetier: cache dict set failed: ", err)
  end
  -- (no cache_neg delete: store runs only in fill, under the key's fill lock, after fill found
  -- no negative entry; only a fill sets one)
  local entry = { body = body, fresh_until = fresh_until }
  if ttl > 0 then
    local l, id = lru_of(key)
    l:set(id, entry, ttl)
  end
  return entry, forcible
end

local function store_negative(key)
  shared.cache_neg:set(key, true, cfg.neg_ttl)
  lru_delete(key)
end

local function is_tombstone(body)
  if not find(body, "_deleted", 1, true) then
    return false
  end
  local obj = cjson.decode(body)
  return type(obj) == "table" and obj._deleted == true
end

local function stale(key, t)
  -- (the dict drops an entry stale_ttl after it stops being fresh: whatever is ours is servable)
  local body, flags = shared.cache:get(key)
  if body and flags then
    return { body = body, fresh_until = t + fresh_for(flags, t) }
  end
  return nil
end

local function from_dict(key, t)
  local body, flags = shared.cache:get(key)
  if body then
    local left = fresh_for(flags, t)
    if left > 0 then
      return promote(key, body, t + left, t)
    end
  end
  return nil
end

-- The fill, run by the lock holder. Returns entry|nil, level, err.
local function fill(kind, id, key)
  local t = now()
  if shared.cache_neg:get(key) then
    return nil, "negative"
  end
  local e = from_dict(key, t)
  if e then
    return e, "L1"
  end
  local v0 = shared.invalidations:get("v") or 0

  -- L2: GET + PTTL, pipelined with other requests' reads (rcluster.get_pttl); a redirect or a
  -- failed batch is retried by this request alone through rcluster.run (MOVED/ASK handling)
  metrics.add(L2_REQUESTS)
  local body, pttl, err = rcluster.get_pttl(key)
  if body == nil or type(body) == "table" or type(pttl) == "table" then
    local res, rerr = rcluster.run(key, { { "get", key }, { "pttl", key } })
    if res then
      body, pttl, err = res[1], res[2], nil
    else
      body, err = nil, rerr
    end
  end
  if type(body) == "table" then -- error reply
    err = tostring(body[2])
    body = nil
  elseif type(body) == "string" then
    if is_tombstone(body) then
      store_negative(key)
      return nil, "negative"
    end
    if type(pttl) ~= "number" then
      pttl = nil
    end
    return store(key, body, pttl, v0), "L2"
  end
  if body == nil then
    metrics.inc("cachetier_upstream_errors_total", 'upstream="redis"')
    ngx.log(ngx.WARN, "cachetier: L2 read of ", key, " failed: ", err)
  end

  -- L3
  metrics.inc("cachetier_l3_requests_total")
  local r = ngx.location.capture(KINDS[kind].l3 .. id)
  if r.status == 200 and r.body and r.body ~= "" and cjson.decode(r.body) ~= nil then
    if is_tombstone(r.body) then
      store_negative(key)
      return nil, "negative"
    end
    return store(key, r.body, nil, v0), "L3"
  elseif r.status == 404 then
    store_negative(key)
    return nil, "negative"
  end
  metrics.inc("cachetier_upstream_errors_total", 'upstream="producer"')
  local l3err = "producer status " .. tostring(r.status)

  local s = stale(key, now())
  if s then
    return s, "stale"
  end
  return nil, "error", l3err
end

-- Returns entry ({ body = json string, fresh_until, data? }) or nil, and the level:
-- "L1" | "L2" | "L3" | "stale" | "negative" | "error" (then a third value, the reason).
function _M.get(kind, id)
  local e = lrus[kind]:get(id)
  if e then
    return e, "L1"
  end
  local key = KINDS[kind].prefix .. id
  if shared.cache_neg:get(key) then
    return nil, "negative"
  end
  local t = now()
  e = from_dict(key, t)
  if e then
    return e, "L1"
  end

  local locks = shared.locks
  local lock_key = "fill:" .. key
  local lock_ttl = cfg.timeout * 3 + 1
  local deadline = t + cfg.timeout + 0.05
  local got = locks:add(lock_key, true, lock_ttl)
  if got then
    local ok, entry, level, err = pcall(fill, kind, id, key)
    locks:delete(lock_key) -- always released, whatever fill did
    if not ok then
      ngx.log(ngx.ERR, "cachetier: fill of ", key, " raised: ", entry)
      local s = stale(key, now())
      if s then
        return s, "stale"
      end
      return nil, "error", "internal"
    end
    return entry, level, err
  end

  metrics.inc("cachetier_singleflight_waits_total")
  local step = 0.001
  while true do
    sleep(step)
    if step < 0.02 then
      step = step * 2
    end
    t = now()
    if shared.cache_neg:get(key) then
      return nil, "negative"
    end
    e = from_dict(key, t)
    if e then
      return e, "L1"
    end
    if not locks:get(lock_key) then
      -- the filler finished without a fresh value (upstreams failed): don't stampede them
      local s = stale(key, t)
      if s then
        return s, "stale"
      end
      return nil, "error", "fill failed"
    end
    if t >= deadline then
      local s = stale(key, t)
      if s then
        return s, "stale"
      end
      return nil, "error", "timeout waiting for fill"
    end
  end
end

function _M.decoded(entry)
  local d = entry.data
  if d == nil then
    d = cjson.decode(entry.body) or false
    entry.data = d
  end
  return d or nil
end

return _M
