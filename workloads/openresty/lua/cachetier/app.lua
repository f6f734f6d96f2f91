-- App-layer request handlers: GET /product?productId=&shopId= (JSON, or HTML with
-- Accept: text/html) and GET /product.html, each handing its access-log record to the Kafka producer.
local cache = require "cachetier.cache"
local metrics = require "cachetier.metrics"
local accesslog = require "cachetier.accesslog"
local ids = require "cachetier.ids"

local ngx = ngx
local var = ngx.var
local gsub, find = string.gsub, string.find
local tostring, type = tostring, type

local _M = {}

local REQ_2XX = metrics.slot("cachetier_requests_total", 'route="product",code="2xx"')
local REQ_4XX = metrics.slot("cachetier_requests_total", 'route="product",code="4xx"')
local HIT_PRODUCT, HIT_SHOP, LATENCY = {}, {}, {}
for _, level in ipairs({ "L1", "L2", "L3", "stale", "negative", "error" }) do
  HIT_PRODUCT[level] = metrics.slot("cachetier_cache_hits_total", 'kind="product",level="' .. level .. '"')
  HIT_SHOP[level] = metrics.slot("cachetier_cache_hits_total", 'kind="shop",level="' .. level .. '"')
  LATENCY[level] = metrics.histogram("cachetier_request_duration_seconds", 'layer="app",level="' .. level .. '"')
end
local now, start_time = ngx.now, ngx.req.start_time

-- Latency of this request so far (nginx's cached clock: millisecond resolution), by product level.
local function observe(level)
  local h = LATENCY[level]
  if h then
    metrics.observe(h, now() - start_time())
  end
end
-- The id rule (cachetier.ids): the id string itself, or nil.
local function parse_id(v)
  if ids.valid(v) then
    return v
  end
  return nil
end
_M.parse_id = parse_id

local function arg(args, name)
  local v = args[name]
  if type(v) == "table" then
    return false -- repeated parameter: ambiguous
  end
  return v
end

-- The query's verdict: pid, sid (sid may be nil: taken from the product) or nil, error message.
-- Every 400 rule lives here (missing, repeated, not an id by cachetier.ids, >20 args). An empty
-- shopId is not an id either: 400, as at the distribution layer.
local function parse_query(args)
  local pid_raw, sid_raw = arg(args, "productId"), arg(args, "shopId")
  if pid_raw == nil or pid_raw == true then
    return nil, "productId is required"
  end
  local pid = parse_id(pid_raw)
  if not pid then
    return nil, "productId must be an integer from 1 to 999999999999999"
  end
  local sid
  if sid_raw ~= nil then
    sid = parse_id(sid_raw)
    if not sid then
      return nil, "shopId must be an integer from 1 to 999999999999999"
    end
  end
  return pid, sid
end

-- Per-worker memo of the request URI -> parse_query's verdict (and the access-log record's
-- fixed part), so the same URL (a hot product) is parsed once instead of on every request
-- (ngx.req.get_uri_args builds a table per call and keeps the request out of the JIT). Exact
-- same rules: a miss runs the full parse (the URI determines the query string). Bounded: the memo
-- is dropped when it reaches MEMO_MAX entries, and a URI longer than MEMO_URI_MAX bytes (a product
-- URL with both ids needs ~60) is parsed every time instead of kept, so long URIs cannot make the
-- memo hold more than MEMO_MAX short ones.
local MEMO_MAX = 4096
local MEMO_URI_MAX = 256
local memo, memo_n = {}, 0

local function query()
  local raw = var.request_uri
  local q = memo[raw]
  if q == nil then
    local pid, sid = parse_query(ngx.req.get_uri_args(20))
    if pid then
      q = { pid, sid or false, accesslog.record_head(pid, sid, raw) }
    else
      q = { false, sid }
    end
    if #raw <= MEMO_URI_MAX then
      if memo_n >= MEMO_MAX then
        memo, memo_n = {}, 0
      end
      memo[raw] = q
      memo_n = memo_n + 1
    end
  end
  return q
end
_M.query = query

local function bad_request(msg)
  ngx.status = 400
  ngx.header["Content-Type"] = "application/json"
  ngx.print('{"error":"', msg, '"}')
  metrics.add(REQ_4XX)
  return ngx.exit(400)
end

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
-- The failure reasons cache.get returns that may reach a client (none names an address).
local SAFE_REASON = {
  ["internal"] = "internal",
  ["fill failed"] = "fill failed",
  ["timeout waiting for fill"] = "timeout waiting for fill",
  ["older than served"] = "older than served",
}

local function esc(v)
  if v == nil or v == ngx.null then
    return ""
  end
  return (gsub(tostring(v), "[&<>\"']", ESC))
end

local FIELDS = { "id", "name", "price", "pictureList", "specification", "service", "color", "size", "shopId", "modifiedTime" }
local SHOP_FIELDS = { "id", "name", "level", "goodCommentRate", "modifiedTime" }

local function html_table(title, obj, fields)
  local out = { "<h2>", esc(title), "</h2><table>" }
  if type(obj) ~= "table" then
    out[#out + 1] = "<tr><td>not available</td></tr></table>"
    return table.concat(out)
  end
  local shown = {}
  for _, f in ipairs(fields) do
    if obj[f] ~= nil then
      shown[f] = true
      out[#out + 1] = "<tr><th>" .. esc(f) .. "</th><td>" .. esc(obj[f]) .. "</td></tr>"
    end
  end
  local rest = {}
  for k in pairs(obj) do
    if not shown[k] and type(k) == "string" and k:sub(1, 1) ~= "_" and type(obj[k]) ~= "table" then
      rest[#rest + 1] = k
    end
  end
  table.sort(rest)
  for _, k in ipairs(rest) do
    out[#out + 1] = "<tr><th>" .. esc(k) .. "</th><td>" .. esc(obj[k]) .. "</td></tr>"
  end
  out[#out + 1] = "</table>"
  return table.concat(out)
end

local function render_html(product, shop)
  local name = type(product) == "table" and product.name or "product"
  return table.concat({
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>", esc(name), "</title></head><body>",
    html_table("Product", product, FIELDS),
    html_table("Shop", shop, SHOP_FIELDS),
    "</body></html>\n",
  })
end

-- The JSON answer {"product":...,"shop":...}, with Content-Length (not chunked: one framing less
-- for nginx and every client). The joined string is kept on the product entry (entries are
-- immutable; a refreshed one is a new table), but only from its second answer with the same shop
-- entry on: the first (a fill, or another worker's entry promoted from the shared dict) prints the
-- parts, so a product read once costs LuaJIT no joined string to intern (long JSON strings of one
-- shape collide in its string hash: docs/benchmarks.md). Printing the parts on every answer
-- would cost an L1 hit ~0.7 us more than printing one string.
local PARTS = { '{"product":', "", ',"shop":', "", "}" }
local JOIN_LEN = #PARTS[1] + #PARTS[3] + #PARTS[5]

local function answer_json(h, pentry, sentry)
  local with = sentry or false
  local sbody = sentry and sentry.body or "null"
  if pentry.answered_with ~= with then
    pentry.answered_with, pentry.joined = with, nil -- (a joined string is for one shop entry)
    h["Content-Length"] = #pentry.body + #sbody + JOIN_LEN
    PARTS[2], PARTS[4] = pentry.body, sbody -- (ngx.print copies the parts at once: the table is reusable)
    return ngx.print(PARTS)
  end
  local body = pentry.joined
  if not body then
    body = '{"product":' .. pentry.body .. ',"shop":' .. sbody .. "}"
    pentry.joined = body
  end
  h["Content-Length"] = #body
  return ngx.print(body)
end

-- The rendered config sets `default_type application/json`, so the JSON answer needs no
-- Content-Type write; the other responses set theirs.
--
-- The access-log record is handed to the Kafka producer's buffer as the handler's last step (after
-- ngx.print, before the response's final write): a non-yielding append that never fails the
-- request (accesslog.lua). A log_by_lua phase for it cost ~0.5 us of nginx CPU per L1 hit (6.9-7.1
-- vs 7.45-7.6 us: a second Lua entry per request and a hand-over table keyed by the request).
function _M.product(force_html)
  local q = query()
  local pid, sid = q[1], q[2]
  if not pid then
    return bad_request(sid)
  end
  local log_head = q[3] -- the record's URL-fixed part; rebuilt below when the shop comes from the product
  if not sid then
    sid = nil
  end
  cache.sync_if_due() -- invalidations from other workers

  local pentry, plevel, perr = cache.get("product", pid)
  metrics.add(HIT_PRODUCT[plevel])
  local h = ngx.header
  h["X-Cache-Level"] = plevel -- X-App-Member: add_header in the rendered config
  if plevel == "negative" then
    ngx.status = 404
    h["Content-Type"] = "application/json"
    ngx.print('{"error":"not found"}')
    metrics.add(REQ_4XX)
    accesslog.send_request(pid, log_head)
    observe(plevel)
    return ngx.exit(404)
  elseif not pentry then
    metrics.inc("cachetier_cache_misses_total")
    -- The producer refusing a read-through for its source-call budget (a flood of uncached ids)
    -- is the client's 429, not our 503; no copy was left to serve stale.
    local code = perr == "producer status 429" and 429 or 503
    ngx.status = code
    h["Content-Type"] = "application/json"
    h["Retry-After"] = "1"
    if code == 429 then
      ngx.print('{"error":"too many uncached reads; retry later"}')
      metrics.add(REQ_4XX)
    else
      -- The reason is one of a fixed set (never an address or an error text from Redis or the
      -- producer); anything else is logged and answered as "internal".
      local reason = SAFE_REASON[perr] or (type(perr) == "string" and find(perr, "^producer status %d+$") and perr)
      if not reason then
        ngx.log(ngx.WARN, "cachetier: product ", pid, " unavailable: ", tostring(perr))
        reason = "internal"
      end
      ngx.print('{"error":"unavailable","reason":"', reason, '"}')
      metrics.inc("cachetier_requests_total", 'route="product",code="5xx"')
    end
    accesslog.send_request(pid, log_head)
    observe(plevel)
    return ngx.exit(code)
  end

  if not sid then
    local p = cache.decoded(pentry)
    local s = p and p.shopId
    if s ~= nil then
      sid = parse_id(tostring(s))
    end
    -- for the access log: the query had no shopId
    log_head = accesslog.record_head(pid, sid, var.request_uri)
  end
  local sentry, slevel
  if sid then
    sentry, slevel = cache.get("shop", sid)
    metrics.add(HIT_SHOP[slevel])
    h["X-Cache-Level-Shop"] = slevel
  end
  if plevel == "stale" or slevel == "stale" then
    h["X-Cache-Stale"] = "1"
  end

  -- Accept: text/html on /product is rewritten to /product.html by the rendered config
  if force_html then
    h["Content-Type"] = "text/html; charset=utf-8"
    ngx.print(render_html(cache.decoded(pentry), sentry and cache.decoded(sentry)))
  else
    answer_json(h, pentry, sentry)
  end
  metrics.add(REQ_2XX)
  accesslog.send_request(pid, log_head)
  observe(plevel)
end

function _M.product_html()
  return _M.product(true)
end

return _M
