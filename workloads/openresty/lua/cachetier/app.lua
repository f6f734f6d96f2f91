-- App-layer request handlers: GET /product?productId=&shopId= (JSON, or HTML with
-- Accept: text/html), GET /product.html, and the access-log hook for the log phase.
local cache = require "cachetier.cache"
local metrics = require "cachetier.metrics"
local accesslog = require "cachetier.accesslog"
local config = require "cachetier.config"

local ngx = ngx
local find, gsub = string.find, string.gsub
local tostring, tonumber, type = tostring, tonumber, type

local _M = {}

-- Positive decimal integer without sign or leading zeros, at most 15 digits (< 2^53).
local function parse_id(v)
  if type(v) ~= "string" or #v == 0 or #v > 15 then
    return nil
  end
  if not find(v, "^[1-9][0-9]*$") then
    return nil
  end
  return v
end
_M.parse_id = parse_id

local function arg(args, name)
  local v = args[name]
  if type(v) == "table" then
    return false -- repeated parameter: ambiguous
  end
  return v
end

local function bad_request(msg)
  ngx.status = 400
  ngx.header["Content-Type"] = "application/json"
  ngx.print('{"error":"', msg, '"}')
  metrics.inc("cachetier_requests_total", 'route="product",code="4xx"')
  return ngx.exit(400)
end

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
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

function _M.product(force_html)
  local args = ngx.req.get_uri_args(20)
  local pid_raw, sid_raw = arg(args, "productId"), arg(args, "shopId")
  if pid_raw == nil or pid_raw == true then
    return bad_request("productId is required")
  end
  local pid = parse_id(pid_raw)
  if not pid then
    return bad_request("productId must be a positive integer")
  end
  local sid
  if sid_raw ~= nil and sid_raw ~= "" then
    sid = parse_id(sid_raw)
    if not sid then
      return bad_request("shopId must be a positive integer")
    end
  end
  ngx.ctx.pid, ngx.ctx.sid = pid, sid
  cache.sync() -- invalidations from other workers, once per request

  local pentry, plevel, perr = cache.get("product", pid)
  metrics.inc_fast("cachetier_cache_hits_total", 'kind="product",level="' .. plevel .. '"')
  local h = ngx.header
  h["X-Cache-Level"] = plevel
  local member = config.get().memberName
  if member then
    h["X-App-Member"] = member
  end
  if plevel == "negative" then
    ngx.status = 404
    h["Content-Type"] = "application/json"
    ngx.print('{"error":"not found"}')
    metrics.inc("cachetier_requests_total", 'route="product",code="4xx"')
    return ngx.exit(404)
  elseif not pentry then
    metrics.inc("cachetier_cache_misses_total")
    ngx.status = 503
    h["Content-Type"] = "application/json"
    h["Retry-After"] = "1"
    ngx.print('{"error":"unavailable","reason":"', esc(perr), '"}')
    metrics.inc("cachetier_requests_total", 'route="product",code="5xx"')
    return ngx.exit(503)
  end

  if not sid then
    local p = cache.decoded(pentry)
    local s = p and p.shopId
    if s ~= nil then
      sid = parse_id(tostring(s))
    end
  end
  local sentry, slevel
  if sid then
    sentry, slevel = cache.get("shop", sid)
    metrics.inc_fast("cachetier_cache_hits_total", 'kind="shop",level="' .. slevel .. '"')
    h["X-Cache-Level-Shop"] = slevel
    ngx.ctx.sid = sid
  end
  if plevel == "stale" or slevel == "stale" then
    h["X-Cache-Stale"] = "1"
  end

  local accept = ngx.var.http_accept
  if force_html or (accept and find(accept, "text/html", 1, true)) then
    h["Content-Type"] = "text/html; charset=utf-8"
    ngx.print(render_html(cache.decoded(pentry), sentry and cache.decoded(sentry)))
  else
    h["Content-Type"] = "application/json"
    ngx.print('{"product":', pentry.body, ',"shop":', sentry and sentry.body or "null", "}")
  end
  metrics.inc_fast("cachetier_requests_total", 'route="product",code="2xx"')
end

function _M.product_html()
  return _M.product(true)
end

-- log_by_lua: runs after the response went out; cannot slow or fail the request.
function _M.log()
  local ctx = ngx.ctx
  local pid = ctx.pid
  if not pid then
    return
  end
  accesslog.send(pid, {
    productId = tonumber(pid),
    shopId = ctx.sid and tonumber(ctx.sid) or ngx.null,
    uri = ngx.var.request_uri,
    ts = math.floor(ngx.req.start_time() * 1000),
    ua = ngx.var.http_user_agent or "",
    layer = "app",
  })
end

return _M
