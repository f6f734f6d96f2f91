-- Invalidation subscriber: one worker holds a SUBSCRIBE on the producer's channel (any cluster
-- node: PUBLISH is broadcast over the cluster bus) and applies each message through
-- cache.invalidate; the other workers pick the change up from the `invalidations` dict on their
-- next request or on their 100 ms timer. After a reconnect, messages may have been missed, so
-- every worker drops its L1 and the shared dict is flushed (correctness over stale copies).
-- Each message carries the version written, so a late one never evicts a newer copy.
local rcluster = require "cachetier.rcluster"
local cache = require "cachetier.cache"

local ngx = ngx
local _M = {}

local cfg = { channel = "cachetier:invalidate", seeds = {} }

function _M.configure(c)
  for k, v in pairs(c) do
    cfg[k] = v
  end
end

local subscribed_once = false

-- A message is "<key> <version>" (the producer's CAS publishes the version it wrote) or just
-- "<key>" (anything else that wants a key dropped whatever its version).
function _M.parse(msg)
  local key, v = string.match(msg, "^(%S+) (%d+)$")
  if key then
    return key, tonumber(v)
  end
  return msg, nil
end

local function shared_status(s)
  ngx.shared.invalidations:set("subscriber", s)
end

local function candidates()
  local list = {}
  for _, s in ipairs(cfg.seeds) do
    list[#list + 1] = s
  end
  return list
end

local function session(addr)
  local red, err = rcluster.connect(addr)
  if not red then
    return nil, err
  end
  local sock = rawget(red, "_sock")
  sock:settimeouts(1000, 1000, 1000)
  local res, serr = red:subscribe(cfg.channel)
  if not res then
    red:close()
    return nil, "subscribe: " .. tostring(serr)
  end
  if subscribed_once then
    -- messages published while we were away are lost: drop every worker's L1
    cache.flush_all_workers()
  end
  subscribed_once = true
  shared_status("subscribed " .. addr)
  while not ngx.worker.exiting() do
    local msg, rerr = red:read_reply()
    if msg then
      if msg[1] == "message" and type(msg[3]) == "string" then
        cache.invalidate(_M.parse(msg[3]))
      end
    elseif rerr ~= "timeout" then
      red:close()
      return nil, "read: " .. tostring(rerr)
    end
  end
  red:close()
  return true
end

local function loop(premature)
  if premature then
    return
  end
  local i = 0
  while not ngx.worker.exiting() do
    local list = candidates()
    i = i % #list + 1
    local ok, res, err = pcall(session, list[i])
    if not ngx.worker.exiting() then
      local why = ok and tostring(err) or tostring(res)
      shared_status("disconnected: " .. why)
      ngx.log(ngx.WARN, "cachetier: invalidation subscriber on ", list[i], ": ", why, "; reconnecting")
      ngx.sleep(0.5)
    end
  end
end

function _M.start()
  if #cfg.seeds == 0 then
    return
  end
  local ok, err = ngx.timer.at(0, loop)
  if not ok then
    ngx.log(ngx.ERR, "cachetier: cannot start invalidation subscriber: ", err)
  end
end

return _M
