-- Consistent hash ring with virtual nodes. Points and keys are hashed with MD5 (first 4 bytes,
-- big-endian), so adding or removing one of N members moves about 1/N of the keys.
local ffi = require "ffi"

local md5_bin = ngx.md5_bin
local byte = string.byte
local floor = math.floor

local _M = {}
local mt = { __index = _M }

local function h32(s)
  local d = md5_bin(s)
  local a, b, c, e = byte(d, 1, 4)
  return ((a * 256 + b) * 256 + c) * 256 + e -- 0 .. 2^32-1 as a Lua number (exact)
end
_M.hash = h32

-- members: list of "host:port" strings; vnodes per member.
function _M.new(members, vnodes)
  vnodes = vnodes or 160
  local pts = {}
  for _, m in ipairs(members) do
    for i = 1, vnodes do
      pts[#pts + 1] = { h32(m .. "#" .. i), m }
    end
  end
  table.sort(pts, function(x, y)
    if x[1] == y[1] then
      return x[2] < y[2]
    end
    return x[1] < y[1]
  end)
  local n = #pts
  local hashes = ffi.new("double[?]", n > 0 and n or 1)
  local owners = {}
  for i = 1, n do
    hashes[i - 1] = pts[i][1]
    owners[i] = pts[i][2]
  end
  local uniq = {}
  for _, m in ipairs(members) do
    uniq[#uniq + 1] = m
  end
  return setmetatable({ n = n, hashes = hashes, owners = owners, members = uniq }, mt)
end

-- Index (1-based) of the first point clockwise from h.
local function search(self, h)
  local lo, hi = 0, self.n - 1
  local hashes = self.hashes
  if h > hashes[hi] then
    return 1
  end
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if hashes[mid] < h then
      lo = mid + 1
    else
      hi = mid
    end
  end
  return lo + 1
end

function _M.find(self, key)
  if self.n == 0 then
    return nil
  end
  return self.owners[search(self, h32(key))]
end

-- The owner followed by up to `count - 1` distinct fallback members, clockwise.
function _M.find_n(self, key, count)
  if self.n == 0 then
    return {}
  end
  local out, seen = {}, {}
  local i = search(self, h32(key))
  local steps = 0
  while #out < count and steps < self.n do
    local m = self.owners[i]
    if not seen[m] then
      seen[m] = true
      out[#out + 1] = m
    end
    i = i % self.n + 1
    steps = steps + 1
  end
  return out
end

return _M
