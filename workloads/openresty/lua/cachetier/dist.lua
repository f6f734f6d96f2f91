-- Distribution layer: picks the app-layer member for GET /product by a consistent hash of the
-- productId over the members (virtual nodes), except ids flagged hot, which go to a random
-- member (math.random seeded once per worker in init_worker, never per request). Membership is
-- a static list or the A records of a DNS name re-resolved on a timer. The hot set is pulled
-- from Redis (sorted set, score = expiry ms) by one worker into the `hot` shared dict, each flag
-- with its remaining lifetime as TTL, so expired flags drop by themselves.
local ring_mod = require "cachetier.ring"
local rcluster = require "cachetier.rcluster"
local metrics = require "cachetier.metrics"
local compat = require "cachetier.compat"
local ids = require "cachetier.ids"
local resolver = compat.dns_resolver()

local ngx = ngx
local random = math.random

local _M = {}

local cfg = {
  members = {},
  dns = nil, -- { name =, port =, resolver =, interval_ms = }
  vnodes = 160,
  hot_key = "cachetier:hot",
  hot_interval_ms = 1000,
  hot_enabled = true,
  -- X-Routed-To: the app member's host:port. An internal address, so only with testEndpoints.
  routed_to_header = false,
}

local ring = ring_mod.new({})
local members_sig = ""

function _M.configure(c)
  for k, v in pairs(c) do
    cfg[k] = v
  end
end

local function set_members(list)
  table.sort(list)
  local sig = table.concat(list, ",")
  if sig ~= members_sig then
    ring = ring_mod.new(list, cfg.vnodes)
    members_sig = sig
    metrics.set("cachetier_members", 'worker="' .. ngx.worker.id() .. '"', #list)
  end
end

-- A records of `name` from one DNS server ("ip" or "ip:port"): a sorted list of IPv4 addresses,
-- or nil, err (timeouts, NXDOMAIN and other rcodes alike). Fully qualified names only: nginx has
-- no search domains.
local function resolve_a(server, name, timeout_ms)
  local host, port = server:match("^([^:]+):?(%d*)$")
  local r, err = resolver:new({ nameservers = { { host, tonumber(port) or 53 } }, retrans = 1, timeout = timeout_ms })
  if not r then
    return nil, err
  end
  local answers, qerr = r:query(name, { qtype = r.TYPE_A })
  if not answers then
    return nil, qerr
  end
  if answers.errcode then
    return nil, "rcode " .. answers.errcode .. " (" .. tostring(answers.errstr) .. ")"
  end
  local ips = {}
  for _, a in ipairs(answers) do
    if a.type == r.TYPE_A and a.address then
      ips[#ips + 1] = a.address
    end
  end
  table.sort(ips)
  return ips
end

local function resolve_members(premature)
  if premature then
    return
  end
  local d = cfg.dns
  local ips, err = resolve_a(d.resolver, d.name, 2000)
  if ips and #ips > 0 then
    local list = {}
    for _, ip in ipairs(ips) do
      list[#list + 1] = ip .. ":" .. d.port
    end
    set_members(list)
  elseif not ips then
    ngx.log(ngx.WARN, "cachetier: resolving ", d.name, " failed: ", err, "; keeping ", members_sig)
  end
end

local function pull_hot(premature)
  if premature then
    return
  end
  local now_ms = math.floor(ngx.now() * 1000)
  local res, err = rcluster.call(cfg.hot_key, "zrangebyscore", cfg.hot_key, now_ms, "+inf", "WITHSCORES")
  if not res then
    metrics.inc("cachetier_upstream_errors_total", 'upstream="redis"')
    ngx.log(ngx.WARN, "cachetier: hot set pull failed: ", err)
    return
  end
  local hot = ngx.shared.hot
  local current = {}
  local n = 0
  for i = 1, #res, 2 do
    local id, score = res[i], tonumber(res[i + 1])
    if type(id) == "string" and score then
      local ttl = (score - now_ms) / 1000
      if ttl > 0 then
        hot:set(id, true, ttl)
        current[id] = true
        n = n + 1
      end
    end
  end
  for _, k in ipairs(hot:get_keys(0)) do
    if not current[k] then
      hot:delete(k) -- the producer removed it: cooled down
    end
  end
  metrics.set("cachetier_hot_ids", nil, n)
end

function _M.init_worker()
  metrics.init_worker()
  local pid = ngx.worker.pid()
  math.randomseed(ngx.now() * 1000 + pid * 7919) -- once per worker
  if cfg.dns then
    ngx.timer.at(0, resolve_members)
    ngx.timer.every(math.max(cfg.dns.interval_ms, 500) / 1000, resolve_members)
  else
    set_members(cfg.members)
  end
  if cfg.hot_enabled and ngx.worker.id() == 0 then
    ngx.timer.at(0, pull_hot)
    ngx.timer.every(math.max(cfg.hot_interval_ms, 50) / 1000, pull_hot)
  end
end

-- Returns the member list for productId: primary first, then one fallback; and the route kind.
function _M.pick(pid)
  if ring.n == 0 then
    return nil, "no members"
  end
  if ngx.shared.hot:get(pid) then
    local ms = ring.members
    local primary = ms[random(#ms)]
    local fallback = ring:find_n(pid, 2)
    local out = { primary }
    for _, m in ipairs(fallback) do
      if m ~= primary then
        out[#out + 1] = m
        break
      end
    end
    return out, "hot"
  end
  return ring:find_n(pid, 2), "hash"
end

local valid_id = ids.valid

-- access_by_lua for /product and /product.html
function _M.route()
  local args = ngx.req.get_uri_args(20)
  local pid = args.productId
  local sid = args.shopId
  -- the same rule as the app layer (cachetier.ids): an invalid id never reaches an app member
  if not valid_id(pid) or (sid ~= nil and not valid_id(sid)) then
    ngx.status = 400
    ngx.header["Content-Type"] = "application/json"
    ngx.print('{"error":"productId (and shopId, if given) must be integers from 1 to 999999999999999"}')
    metrics.inc("cachetier_requests_total", 'route="product",code="4xx"')
    return ngx.exit(400)
  end
  local list, kind = _M.pick(pid)
  if not list then
    ngx.status = 503
    ngx.print('{"error":"no app-layer members"}')
    metrics.inc("cachetier_requests_total", 'route="product",code="5xx"')
    return ngx.exit(503)
  end
  metrics.inc_fast("cachetier_route_total", 'kind="' .. kind .. '"')
  local ctx = ngx.ctx
  ctx.members, ctx.kind, ctx.try = list, kind, 0
end

local LATENCY = {}
local function latency(level)
  local h = LATENCY[level]
  if not h then
    h = metrics.histogram("cachetier_request_duration_seconds", 'layer="distribution",level="' .. level .. '"')
    LATENCY[level] = h
  end
  return h
end
local KNOWN_LEVEL = { L1 = true, L2 = true, L3 = true, stale = true, negative = true, error = true }

function _M.header_filter()
  local ctx = ngx.ctx
  if ctx.members then
    local h = ngx.header
    if cfg.routed_to_header then
      h["X-Routed-To"] = ctx.peer
    end
    h["X-Route"] = ctx.kind
    -- the app member's X-Cache-Level; "none" when it gave none (an error, a refusal)
    local level = h["X-Cache-Level"]
    metrics.observe(latency(KNOWN_LEVEL[level] and level or "none"), ngx.now() - ngx.req.start_time())
  end
end

-- balancer_by_lua: the primary, then (one retry on connect error/timeout) the next member.
function _M.balance()
  local balancer = require "ngx.balancer"
  local ctx = ngx.ctx
  local list = ctx.members
  ctx.try = (ctx.try or 0) + 1
  local m = list[ctx.try] or list[#list]
  if ctx.try == 1 and #list > 1 then
    balancer.set_more_tries(1)
  end
  local host, port = m:match("^(.*):(%d+)$")
  ctx.peer = m
  local ok, err = balancer.set_current_peer(host, tonumber(port))
  if not ok then
    ngx.log(ngx.ERR, "cachetier: set_current_peer ", m, ": ", err)
    return ngx.exit(502)
  end
end

function _M.members()
  return ring.members
end

return _M
