-- Minimal DNS A-record lookup over UDP cosockets, for app-layer membership from a headless
-- Service name (Debian has no lua-resty-dns). Fully-qualified names only; no search domains.
local ngx = ngx
local byte, char, sub = string.byte, string.char, string.sub
local concat = table.concat
local random = math.random

local _M = {}

local function encode_name(name)
  local out = {}
  for label in name:gmatch("[^%.]+") do
    if #label > 63 then
      return nil, "label too long"
    end
    out[#out + 1] = char(#label) .. label
  end
  out[#out + 1] = "\0"
  return concat(out)
end

local function u16(s, i)
  local a, b = byte(s, i, i + 1)
  return a * 256 + b
end

-- Returns the offset just past the (possibly compressed) name starting at i.
local function skip_name(s, i)
  while true do
    local len = byte(s, i)
    if not len then
      return nil
    end
    if len == 0 then
      return i + 1
    elseif len >= 192 then
      return i + 2
    end
    i = i + 1 + len
  end
end

function _M.parse_a(resp, id)
  if #resp < 12 or u16(resp, 1) ~= id then
    return nil, "bad response id"
  end
  local flags = u16(resp, 3)
  local rcode = flags % 16
  if rcode ~= 0 then
    return nil, "rcode " .. rcode
  end
  local qd, an = u16(resp, 5), u16(resp, 7)
  local i = 13
  for _ = 1, qd do
    i = skip_name(resp, i)
    if not i then
      return nil, "truncated"
    end
    i = i + 4
  end
  local ips, ttl = {}, nil
  for _ = 1, an do
    i = skip_name(resp, i)
    if not i or i + 10 > #resp + 1 then
      return nil, "truncated"
    end
    local typ = u16(resp, i)
    local t = u16(resp, i + 4) * 65536 + u16(resp, i + 6)
    local rdlen = u16(resp, i + 8)
    i = i + 10
    if typ == 1 and rdlen == 4 then
      local a, b, c, d = byte(resp, i, i + 3)
      ips[#ips + 1] = a .. "." .. b .. "." .. c .. "." .. d
      ttl = ttl and math.min(ttl, t) or t
    end
    i = i + rdlen
  end
  return ips, ttl
end

-- server: "ip" or "ip:port"; returns a sorted list of IPv4 addresses or nil, err.
function _M.resolve_a(server, name, timeout_ms)
  local host, port = server:match("^([^:]+):?(%d*)$")
  port = tonumber(port) or 53
  local qname, err = encode_name(name)
  if not qname then
    return nil, err
  end
  local id = random(0, 65535)
  local query = char(math.floor(id / 256), id % 256) .. "\1\0\0\1\0\0\0\0\0\0" .. qname .. "\0\1\0\1"
  local sock = ngx.socket.udp()
  sock:settimeout(timeout_ms or 1000)
  local ok
  ok, err = sock:setpeername(host, port)
  if not ok then
    return nil, err
  end
  ok, err = sock:send(query)
  if not ok then
    sock:close()
    return nil, err
  end
  local resp
  resp, err = sock:receive()
  sock:close()
  if not resp then
    return nil, err
  end
  local ips, perr = _M.parse_a(resp, id)
  if not ips then
    return nil, perr
  end
  table.sort(ips)
  return ips
end

return _M
