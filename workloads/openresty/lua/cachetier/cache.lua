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
--
-- Monotonic reads: once any worker of this instance has served version v of a record (its `_v`),
-- none serves an older one. The `versions` dict holds, per key, the highest version stored by a
-- fill (written before the copy is served); every copy carries its version, and each way of
-- serving one (an LRU hit, a promotion from the `cache` dict, a stale copy, a fill's result) first
-- checks it against that. An LRU entry older than it (another worker refilled after an
-- invalidation this worker has not synced yet) is dropped, never served; a fill that reads an
-- older version than it (Redis lost writes in a failover, an old L3 answer) stores nothing and
-- serves the newer copy if one is left, else fails. Fills of a key are serialized per instance by
-- its fill lock, so the read-compare-write of `versions` in store() needs no lock of its own.
local lrucache = require "resty.lrucache"
local cjson = require "cjson.safe"
local rcluster = require "cachetier.rcluster"
local metrics = require "cachetier.metrics"

local ngx = ngx
local shared = ngx.shared
local now = ngx.now
local sleep = ngx.sleep
local find, sub, match = string.find, string.sub, string.match
local tostring, tonumber, pcall, type = tostring, tonumber, pcall, type
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
local STALE_L1 = metrics.slot("cachetier_l1_outdated_total")

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

-- A stored record's version: the producer writes `_v` first ({"_v":N,...}), so a prefix match
-- finds it without decoding; anything else is decoded. No version at all orders first (0).
local function version_of(body)
  local v = match(body, '^{"_v":(%d+)')
  if v then
    return tonumber(v)
  end
  local obj = cjson.decode(body)
  v = type(obj) == "table" and tonumber(obj._v)
  return v or 0
end
_M.version_of = version_of

-- How long a key's highest version is remembered: longer than any copy of it lives (fresh with
-- jitter, then stale), so no copy outlives the record it is checked against; refreshed by fills.
local function versions_ttl()
  return cfg.ttl * (1 + cfg.jitter / 100) + cfg.stale_ttl + 60
end

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

-- Drops this worker's L1 entry of key unless it already holds version v or newer (v nil: any
-- copy goes, e.g. an invalidation that did not say which version was written).
local function lru_drop(key, v)
  local l, id = lru_of(key)
  if not l then
    return
  end
  if v then
    local e = l:get(id)
    if e and e.v and e.v >= v then
      return
    end
  end
  l:delete(id)
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
      lru_drop(k, inv:get("n:" .. i))
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

-- Called once per invalidation message (by the subscriber worker) with the key and the version
-- the producer wrote (nil when the message names the key only). Logged before the dict copy is
-- marked: a fill storing concurrently either sees the log entry or stores before the mark
-- (store()). A copy that already holds that version or a newer one stays fresh: a late or
-- replayed message for an older write never evicts a newer entry.
function _M.invalidate(key, version)
  local inv = shared.invalidations
  local n = inv:incr("v", 1, 0)
  if version then
    inv:set("n:" .. n, version, 120)
  end
  inv:set("k:" .. n, key, 120)
  local dict = shared.cache
  local body, flags = dict:get(key)
  if body and not (version and flags and flags > NOT_FRESH and version_of(body) >= version) then
    if flags and cfg.stale_ttl > 0 then
      dict:set(key, body, cfg.stale_ttl, NOT_FRESH) -- kept for stale serving, no longer fresh
    else
      dict:delete(key)
    end
  end
  local top = version and shared.versions:get(key)
  if not (top and top >= version) then
    shared.cache_neg:delete(key) -- (a negative entry from a tombstone at this version or newer stays)
  end
  metrics.inc("cachetier_invalidations_total")
  lru_drop(key, version)
end

-- Missed messages (subscriber reconnect): every worker drops its whole L1 (a version jump
-- larger than the key log makes sync() flush). The highest versions served are kept.
function _M.flush_all_workers()
  shared.cache:flush_all()
  shared.invalidations:incr("v", 100000, 0)
end

-- Whether key was invalidated since the log stood at v0 by a write newer than version v (the
-- fill's own; a message without a version counts as newer).
local function invalidated_since(v0, key, v)
  local inv = shared.invalidations
  local now_v = inv:get("v") or 0
  if now_v == v0 then
    return false
  end
  if now_v - v0 > 200 then
    return true
  end
  for i = v0 + 1, now_v do
    local k = inv:get("k:" .. i)
    if k == nil then
      return true
    end
    if k == key then
      local n = inv:get("n:" .. i)
      if not n or not v or n > v then
        return true
      end
    end
  end
  return false
end

local function jittered(ttl)
  local j = cfg.jitter / 100
  return ttl * (1 + (random() * 2 - 1) * j)
end

local function promote(key, body, fresh_until, t, v)
  local entry = { body = body, fresh_until = fresh_until, v = v, key = key }
  local l, id = lru_of(key)
  l:set(id, entry, fresh_until - t)
  return entry
end

-- The `cache` dict's copy of key if it is not older than any version served (nil otherwise):
-- body, flags, version. A key with no remembered version gets this copy's (add: a concurrent
-- fill's set wins).
local function dict_copy(key)
  local body, flags = shared.cache:get(key)
  if not body or not flags then
    return nil
  end
  local v = version_of(body)
  local versions = shared.versions
  local top = versions:get(key)
  if top == nil then
    versions:add(key, v, versions_ttl())
  elseif v < top then
    return nil
  end
  return body, flags, v
end

-- A fill read version v of key, older than the highest version already served here (top): it is
-- not stored and not served. The newer copy is served instead while the dict still holds it
-- (as "stale": it is not what the upstreams say now); otherwise nothing can be served.
local function older_than_served(key, v, top)
  metrics.inc("cachetier_version_regressions_total")
  ngx.log(ngx.WARN, "cachetier: ", key, " read at version ", v, ", older than version ", top, " already served")
  local t = now()
  local body, flags, cv = dict_copy(key)
  if body then
    return { body = body, fresh_until = t, v = cv, key = key }, "stale"
  end
  return nil, "error", "older than served"
end

-- A fill's body checked against the highest version served here: its version when it may be
-- stored, else nil followed by what to answer instead (older_than_served's entry, level, reason).
local function not_older(key, body)
  local v = version_of(body)
  local top = shared.versions:get(key)
  if top and v < top then
    return nil, older_than_served(key, v, top)
  end
  return v
end

-- Stores a fill's body (version v) in the dict and this worker's LRU. Returns the entry, or nil
-- when the body is older than what was served: then also the level and reason to answer with.
local function store(key, body, pttl_ms, v0)
  local t = now()
  local v, e, level, why = not_older(key, body)
  if not v then
    return e, level, why
  end
  local versions = shared.versions
  local ttl = jittered(cfg.ttl)
  if pttl_ms and pttl_ms > 0 then
    ttl = min(ttl, pttl_ms / 1000)
  end
  if v0 and invalidated_since(v0, key, v) then
    ttl = 0 -- an invalidation raced with this fill: keep it only as a stale copy
  end
  -- The version first: from here on no worker serves an older copy of key (a worker that finds
  -- the dict still holding the older one waits for this fill instead).
  versions:set(key, v, versions_ttl())
  local life = max(ttl + cfg.stale_ttl, 0.001) -- (exptime 0 would mean "never expires")
  local ok, err = shared.cache:set(key, body, life, fresh_flags(t + ttl))
  if not ok then
    ngx.log(ngx.WARN, "cachetier: cache dict set failed: ", err)
  end
  if ttl > 0 and v0 and invalidated_since(v0, key, v) then
    -- the invalidation landed between the check above and the set: invalidate() marked the
    -- older copy, so mark this one (invalidate logs before it marks: one of the two sees the other)
    ttl = 0
    if cfg.stale_ttl > 0 then
      shared.cache:set(key, body, cfg.stale_ttl, NOT_FRESH)
    else
      shared.cache:delete(key)
    end
  end
  -- (no cache_neg delete: store runs only in fill, under the key's fill lock, after fill found
  -- no negative entry; only a fill sets one)
  local entry = { body = body, fresh_until = t + ttl, v = v, key = key }
  if ttl > 0 then
    local l, id = lru_of(key)
    l:set(id, entry, ttl)
  end
  return entry
end

-- A "not found": a tombstone (body) carries the delete's version, which then orders like any
-- other (older than served: not stored); the producer's 404 carries none.
local function store_negative(key, body)
  if body then
    local v, e, level, why = not_older(key, body)
    if not v then
      return e, level, why
    end
    shared.versions:set(key, v, versions_ttl())
  end
  shared.cache_neg:set(key, true, cfg.neg_ttl)
  lru_drop(key)
  return nil, "negative"
end

local function is_tombstone(body)
  if not find(body, "_deleted", 1, true) then
    return false
  end
  local obj = cjson.decode(body)
  return type(obj) == "table" and obj._deleted == true
end

local function stale(key, t)
  -- (the dict drops an entry stale_ttl after it stops being fresh: whatever is ours, and not
  -- older than what was served, is servable)
  local body, flags, v = dict_copy(key)
  if body then
    return { body = body, fresh_until = t + fresh_for(flags, t), v = v, key = key }
  end
  return nil
end

local function from_dict(key, t)
  local body, flags, v = dict_copy(key)
  if body then
    local left = fresh_for(flags, t)
    if left > 0 then
      return promote(key, body, t + left, t, v)
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
      return store_negative(key, body)
    end
    if type(pttl) ~= "number" then
      pttl = nil
    end
    local e, level, why = store(key, body, pttl, v0)
    if e then
      return e, level or "L2"
    end
    return nil, level, why
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
      return store_negative(key, r.body)
    end
    local e, level, why = store(key, r.body, nil, v0)
    if e then
      return e, level or "L3"
    end
    return nil, level, why
  elseif r.status == 404 or r.status == 400 then
    -- 400: the producer refuses this id (its rule and ours disagree): cached as "not found"
    -- like a 404, so the id costs one L3 call per negative TTL, never a 5xx.
    return store_negative(key)
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
  local lru = lrus[kind]
  local e = lru:get(id)
  if e then
    local top = shared.versions:get(e.key)
    if top and e.v >= top then
      return e, "L1"
    end
    -- another worker has stored a newer version (or the record's version was forgotten): this
    -- copy may be older than what was served, so it goes and the dict decides
    lru:delete(id)
    metrics.add(STALE_L1)
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
