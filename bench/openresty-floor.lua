-- bench-openresty's floor (not shipped, not a test): the least any OpenResty app layer does on
-- each path, written the plain way with the stock libraries, so the bench can show how much of
-- the distance to its reference is this platform on this machine and how much is our code.
--   l1    print a body held in Lua, with Content-Length   (floor of the L1-hit path)
--   get   one GET through stock lua-resty-redis           (floor of any L2 read)
--   fill  GET + PTTL in one pipeline, then the body stored in a lua_shared_dict and a per-worker
--         lua-resty-lrucache, as any two-level L1 fill must (lua-resty-mlcache does the same)
-- The slot map is given once by the bench (CLUSTER SLOTS) instead of fetched; keys are routed
-- with our CRC16 (cachetier.slot, checked against CLUSTER KEYSLOT by the integration tier).
local compat = require "cachetier.compat"
local slot = require "cachetier.slot"
local lrucache = require "resty.lrucache"

local ngx = ngx
local redis = compat.redis()

local _M = {}

local ranges = {} -- { first_slot, last_slot, host, port }
local l1_body = ""
local lru

function _M.configure(slot_ranges, body)
  ranges, l1_body = slot_ranges, body
end

function _M.init_worker()
  lru = assert(lrucache.new(10000))
end

local function connect(key)
  local s = slot.keyslot(key)
  for _, r in ipairs(ranges) do
    if s >= r[1] and s <= r[2] then
      local red = redis:new()
      red:set_timeout(1000)
      local ok, err = red:connect(r[3], r[4])
      if not ok then
        ngx.log(ngx.ERR, "floor: connect: ", err)
        return ngx.exit(502)
      end
      return red
    end
  end
  return ngx.exit(500)
end

local function answer(v)
  if not v or v == ngx.null then
    return ngx.exit(404)
  end
  ngx.header["Content-Length"] = #v
  ngx.print(v)
end

function _M.l1()
  ngx.header["Content-Length"] = #l1_body
  ngx.print(l1_body)
end

function _M.get()
  local key = "product_info_" .. ngx.var.arg_productId
  local red = connect(key)
  local v = red:get(key)
  red:set_keepalive(10000, 100)
  answer(v)
end

function _M.fill()
  local id = ngx.var.arg_productId
  local key = "product_info_" .. id
  local red = connect(key)
  red:init_pipeline(2)
  red:get(key)
  red:pttl(key)
  local res = red:commit_pipeline()
  red:set_keepalive(10000, 100)
  local v = res and res[1]
  if v and v ~= ngx.null then
    ngx.shared.cache:set(key, v, 600)
    lru:set(id, { body = v }, 600)
  end
  answer(v)
end

return _M
