-- Test-only endpoints (rendered only when the config asks for them; never in the shipped image
-- config): expose the Lua internals the integration tests compare against real Redis/nginx.
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

-- POST ["key", ...] -> [slot, ...]
function _M.keyslot()
  local slot = require "cachetier.slot"
  local keys = body_json()
  if type(keys) ~= "table" then
    return ngx.exit(400)
  end
  local out = {}
  for i, k in ipairs(keys) do
    out[i] = slot.keyslot(k)
  end
  reply(out)
end

-- POST ["id", ...] -> [{ "member": "...", "kind": "hash"|"hot" }, ...]
function _M.route()
  local dist = require "cachetier.dist"
  local ids = body_json()
  if type(ids) ~= "table" then
    return ngx.exit(400)
  end
  local out = {}
  for i, id in ipairs(ids) do
    local list, kind = dist.pick(tostring(id))
    out[i] = { member = list and list[1] or cjson.null, kind = kind }
  end
  reply(out)
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
