-- Test-only endpoints (rendered only when the config asks for them): expose the Lua internals
-- the integration tests compare against real Redis/nginx. It lives outside workloads/openresty/lua,
-- so the image never ships it; the harness puts this folder on lua_package_path (testLuaDir).
local cjson = require "cjson.safe"
local ngx = ngx
local _M = {}

local function body_json()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if not data then
    local f = ngx.req.get_body_file()
    if f then
      local fh = io.open(f, "rb")
      data = fh:read("*a")
      fh:close()
    end
  end
  return data and cjson.decode(data)
end

local function reply(obj)
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode(obj))
end

-- POST [item, ...] -> [fn(item), ...]; 400 unless the body is a JSON array (or object).
local function map_body(fn)
  local items = body_json()
  if type(items) ~= "table" then
    return ngx.exit(400)
  end
  local out = {}
  for i, item in ipairs(items) do
    out[i] = fn(item)
  end
  reply(out)
end

-- POST ["key", ...] -> [slot, ...]
function _M.keyslot()
  local slot = require "cachetier.slot"
  map_body(slot.keyslot)
end

-- POST ["id", ...] -> [{ "member": "...", "kind": "hash"|"hot" }, ...]
function _M.route()
  local dist = require "cachetier.dist"
  map_body(function(id)
    local list, kind = dist.pick(tostring(id))
    return { member = list and list[1] or cjson.null, kind = kind }
  end)
end

-- POST [[key or null, value], ...] -> whether cachetier.kafka_encode is installed over the Kafka
-- library's encoder, and whether it encodes these records to exactly the library's own bytes.
function _M.kafka_encode()
  local compat = require "cachetier.compat"
  local enc = require "cachetier.kafka_encode"
  local recs = body_json()
  if type(recs) ~= "table" then
    return ngx.exit(400)
  end
  local mod, request = compat.kafka_request()
  local library = enc.library_encoder(request)
  local messages, n = {}, 0
  for _, r in ipairs(recs) do
    messages[n + 1] = r[1] ~= cjson.null and r[1] or nil
    messages[n + 2] = r[2]
    n = n + 2
  end
  local function encode(fn)
    local req = request:new(request.ProduceRequest, 1, "cmp", 0)
    req:string("topic")
    fn(req, messages, n)
    req:int32(7) -- a field after the set: offsets must line up too
    return table.concat(req._req, "", 2), req.len -- (req.offset is a slot index: parts differ)
  end
  local a, alen = encode(library)
  local b, blen = encode(enc.message_set_v0)
  local diff = cjson.null
  if a ~= b then
    for i = 1, math.max(#a, #b) do
      if a:byte(i) ~= b:byte(i) then
        diff = i
        break
      end
    end
  end
  reply({
    version = mod._VERSION,
    installed = enc.installed(request),
    equal = a == b and alen == blen, -- the bytes, and the size the request header will carry
    bytes = #a,
    first_diff = diff,
  })
end

-- POST [{ "fresh_until": s, "now": s } | { "flags": n, "now": s }, ...] -> [{ flags, fresh_for }]:
-- the cache dict's fresh-until encoding (cache.fresh_flags / fresh_for) on chosen clocks.
function _M.fresh()
  local cache = require "cachetier.cache"
  map_body(function(c)
    local flags = c.flags
    if c.fresh_until then
      flags = cache.fresh_flags(c.fresh_until)
    end
    return { flags = flags, fresh_for = cache.fresh_for(flags, c.now) }
  end)
end

-- GET: a few internals (slot-map refreshes, subscriber state)
function _M.state()
  local rcluster = require "cachetier.rcluster"
  reply({
    redis = rcluster.stats(),
    subscriber = ngx.shared.invalidations and ngx.shared.invalidations:get("subscriber") or cjson.null,
    invalidation_version = ngx.shared.invalidations and ngx.shared.invalidations:get("v") or 0,
    worker = ngx.worker.id(),
  })
end

return _M
