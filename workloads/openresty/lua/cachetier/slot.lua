-- Redis Cluster key -> hash slot: CRC16 (XMODEM: poly 0x1021, init 0) of the key, or of its hash
-- tag, mod 16384. Hash tag rule from the cluster spec: the substring between the first '{' and
-- the first '}' after it, only if that substring is non-empty.
local bit = require "bit"
local band, bxor, lshift, rshift = bit.band, bit.bxor, bit.lshift, bit.rshift
local byte, find, sub = string.byte, string.find, string.sub

local _M = {}

local TABLE = {}
for i = 0, 255 do
  local crc = lshift(i, 8)
  for _ = 1, 8 do
    if band(crc, 0x8000) ~= 0 then
      crc = bxor(lshift(crc, 1), 0x1021)
    else
      crc = lshift(crc, 1)
    end
  end
  TABLE[i] = band(crc, 0xFFFF)
end

function _M.crc16(s)
  local crc = 0
  for i = 1, #s do
    crc = band(bxor(lshift(crc, 8), TABLE[bxor(rshift(crc, 8), byte(s, i))]), 0xFFFF)
  end
  return crc
end

function _M.hashtag(key)
  local s = find(key, "{", 1, true)
  if s then
    local e = find(key, "}", s + 1, true)
    if e and e > s + 1 then
      return sub(key, s + 1, e - 1)
    end
  end
  return key
end

function _M.keyslot(key)
  return band(_M.crc16(_M.hashtag(key)), 16383)
end

return _M
