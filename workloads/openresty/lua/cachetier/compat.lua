-- Require shim: OpenResty/opm ship lua-resty-redis, lua-resty-kafka and lua-resty-dns as
-- resty.redis, resty.kafka.producer and resty.dns.resolver; Debian ships the same code as
-- nginx.redis, nginx.kafka.producer and nginx.dns.resolver.
local _M = {}

local function first(names)
  local errs = {}
  for _, name in ipairs(names) do
    local ok, mod = pcall(require, name)
    if ok then
      return mod, name
    end
    errs[#errs + 1] = tostring(mod)
  end
  error("none of " .. table.concat(names, ", ") .. " could be loaded: " .. table.concat(errs, "; "))
end

function _M.redis()
  return first({ "resty.redis", "nginx.redis" })
end

function _M.dns_resolver()
  return first({ "resty.dns.resolver", "nginx.dns.resolver" })
end

function _M.kafka_producer()
  return first({ "resty.kafka.producer", "nginx.kafka.producer" })
end

-- The request (encoder) module of the same library as kafka_producer(): producer, request.
function _M.kafka_request()
  local producer, name = _M.kafka_producer()
  return producer, require((name:gsub("producer$", "request")))
end

return _M
