-- Product and shop ids: decimal integers from 1 to 10^15-1, i.e. ^[1-9][0-9]{0,14}$ (no sign, no
-- leading zero, ASCII digits only, at most 15 of them). The rule is stated once for every layer in
-- packages/contract/src/ids.ts (the source of truth; the Lua cannot import it, so it is repeated
-- here); the distribution and app layers both call valid() before anything else looks at an id.
local find, type = string.find, type

local _M = {}

_M.MAX_DIGITS = 15

-- Whether v (a query argument: string, true for a bare name, a table when repeated) is an id.
-- The length is checked first, so a 10 KB argument costs no pattern scan.
function _M.valid(v)
  return type(v) == "string" and #v >= 1 and #v <= 15 and find(v, "^[1-9][0-9]*$") ~= nil
end

return _M
