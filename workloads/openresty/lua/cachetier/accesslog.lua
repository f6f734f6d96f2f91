-- Access log to Kafka: each app-layer request's record goes to the async producer's in-memory
-- ring buffer at the end of the content handler (a non-yielding append; app.lua) and is flushed
-- by the producer's own timers. A full buffer, an unreachable Kafka or any error only increments a
-- counter: the request never waits for, or fails because of, Kafka.
--
-- Every record is counted once in records_total and, when its fate is known, once in exactly one
-- of: delivered_total (acknowledged by Kafka), dropped_total (never handed to the producer:
-- breaker open, buffer full, no producer) or failed_total (handed over, then given up by the
-- producer's flush). Once the buffer is empty, delivered + dropped + failed = records.
--
-- Size: a record carries at most URI_MAX bytes of the URI and UA_MAX of the User-Agent (cut at a
-- UTF-8 character boundary), and each stays within that many bytes once JSON-escaped (+2 quotes),
-- so a record is at most ~900 bytes and a full buffer (max_buffering records per worker) is
-- bounded, whatever clients send.
local compat = require "cachetier.compat"
local metrics = require "cachetier.metrics"
local cjson = require "cjson.safe"

local ngx = ngx
local var = ngx.var
local now = ngx.now
local start_time = ngx.req.start_time
local find, sub, byte, floor, pcall = string.find, string.sub, string.byte, math.floor, pcall
local _M = {}

local RECORDS = metrics.slot("cachetier_accesslog_records_total")
local DROPPED = metrics.slot("cachetier_accesslog_dropped_total")

local URI_MAX = 512
local UA_MAX = 256
_M.URI_MAX, _M.UA_MAX = URI_MAX, UA_MAX

local cfg = {
  enabled = false,
  brokers = {},
  topic = "access-log",
  flush_ms = 200,
  max_buffering = 50000, -- records per worker (~7 MB): a slow flush at ~70k records/s no longer drops
  socket_timeout = 1000,
}
local producer
-- ProduceRequest v0: message format v0 (the broker stamps no CreateTime; the record carries "ts")
local API_VERSION = 0
-- Circuit breaker: when a flush fails (Kafka unreachable), stop feeding the producer for a while.
-- Without it, lua-resty-kafka retries metadata for every buffered record (a connect each), which
-- burns the worker's CPU exactly when Kafka is down. While open, records are dropped and counted.
local paused_until = 0
local backoff = 0.5
local MAX_BACKOFF = 5
local last_error = 0
-- Half-open: when a pause ends, only PROBE records go to the producer until they have had time to
-- be flushed (and fail, reopening the breaker) — not a pause's worth of traffic, each record of
-- which would cost a metadata connect attempt in lua-resty-kafka while Kafka is still down.
local PROBE = 50
local probe_left -- nil: closed (healthy)
local probe_ok_at = 0

local function admit(t)
  if t < paused_until then
    return false
  end
  if probe_left == nil then
    return true
  end
  if probe_left > 0 then
    probe_left = probe_left - 1
    if probe_left == 0 then
      -- a failed flush reports within flush_ms + (max_retry + 1) socket timeouts
      probe_ok_at = t + cfg.flush_ms / 1000 + 3 * cfg.socket_timeout / 1000 + 0.5
    end
    return true
  end
  if t >= probe_ok_at then
    probe_left = nil
    return true
  end
  return false
end

function _M.configure(c)
  for k, v in pairs(c) do
    cfg[k] = v
  end
end

local function on_error(topic, partition_id, queue, index, err, retryable)
  -- the queue holds key, message pairs; they were counted as records when handed over
  local n = math.floor((index or 0) / 2)
  metrics.inc("cachetier_accesslog_failed_total", nil, n)
  local now = ngx.now()
  if now - last_error > 30 then
    backoff = 0.5 -- first failure after a healthy period
  else
    backoff = math.min(backoff * 2, MAX_BACKOFF)
  end
  last_error = now
  paused_until = now + backoff
  probe_left = PROBE
  ngx.log(ngx.INFO, "cachetier: failed to deliver ", n, " access-log records for ", topic, ": ", tostring(err))
end

-- Counts delivered records: lua-resty-kafka 0.07 reports failures (error_handle) but not
-- successes; after a produce request's partition is acknowledged it sets that buffer's offset
-- (sendbuffer:offset(topic, partition, offset), the only call with 3 arguments) while the buffer
-- still holds the acknowledged records, then clears it. Hooked on this producer's sendbuffer only,
-- and only on the version read here.
local DELIVERY_HOOK_VERIFIED = { ["0.07"] = true }
local function count_deliveries(p, version)
  local sb = p.sendbuffer
  if not DELIVERY_HOOK_VERIFIED[version] or type(sb) ~= "table" or type(sb.offset) ~= "function" then
    ngx.log(ngx.WARN, "cachetier: lua-resty-kafka ", tostring(version), ": delivered access-log records are not counted")
    return
  end
  local offset = sb.offset
  sb.offset = function(self, topic, partition_id, off)
    if off ~= nil then
      local buffer = self.topics[topic][partition_id]
      metrics.inc("cachetier_accesslog_delivered_total", nil, floor(buffer.index / 2))
    end
    return offset(self, topic, partition_id, off)
  end
end

function _M.init_worker()
  if not cfg.enabled or #cfg.brokers == 0 then
    return
  end
  local ok, mod, request = pcall(compat.kafka_request)
  if not ok then
    ngx.log(ngx.ERR, "cachetier: kafka producer module unavailable: ", mod)
    return
  end
  require("cachetier.kafka_encode").install(request, mod._VERSION, API_VERSION)
  local list = {}
  for _, b in ipairs(cfg.brokers) do
    local host, port = b:match("^(.*):(%d+)$")
    list[#list + 1] = { host = host, port = tonumber(port) }
  end
  local pok, p = pcall(mod.new, mod, list, {
    producer_type = "async",
    flush_time = cfg.flush_ms,
    max_buffering = cfg.max_buffering,
    -- Per topic-partition and produce request: up to 4,000 records or 768 KB, whichever first.
    -- The broker's cost is ~160 us per request plus a per-record part (measured: 1,000-record
    -- requests cost it ~1 us/record, 4,000 ~0.55). The byte cap stays under the broker's
    -- message.max.bytes (1 MB default): it converts each partition's v0 message set into ONE v2
    -- batch and rejects the whole set (MessageSizeTooLarge, counted as drops) above that.
    batch_size = 786432,
    batch_num = 4000,
    socket_timeout = cfg.socket_timeout,
    request_timeout = cfg.socket_timeout,
    max_retry = 2,
    retry_backoff = 100,
    refresh_interval = 10000,
    required_acks = 1,
    api_version = API_VERSION,
    error_handle = on_error,
  })
  if not pok then
    ngx.log(ngx.ERR, "cachetier: kafka producer: ", p)
    return
  end
  count_deliveries(p, mod._VERSION)
  producer = p
end

-- A JSON string literal; the common case (nothing to escape) without a cjson call.
local function jstr(v)
  if not find(v, '[%c"\\]') then
    return '"' .. v .. '"'
  end
  return cjson.encode(v)
end
_M.jstr = jstr

-- The first n bytes of s or fewer: never half a UTF-8 character (continuation bytes 0x80-0xBF
-- are not cut from their lead byte).
local function cut(s, n)
  if #s <= n then
    return s
  end
  local i = n
  while i > 0 and i > n - 4 do
    local b = byte(s, i + 1)
    if b < 0x80 or b >= 0xC0 then
      break
    end
    i = i - 1
  end
  return sub(s, 1, i)
end

-- A JSON string literal of s holding at most max bytes between its quotes: s cut to max bytes,
-- and when escaping makes that longer (quotes, backslashes, control characters: at most 6 bytes
-- each), cut to max / 6 bytes instead.
local function jstr_max(s, max)
  local j = jstr(cut(s, max))
  if #j > max + 2 then
    j = jstr(cut(s, floor(max / 6)))
  end
  return j
end
_M.jstr_max = jstr_max

-- The request path's record (contract: {"productId","shopId","uri","ts","ua","layer"}) as one
-- string. The part fixed by the URL is built once per distinct URL (app.lua keeps it with the
-- parsed query): pid/sid are validated decimal strings (at most 15 digits, so exact as JSON
-- numbers), sid nil -> null.
function _M.record_head(pid, sid, uri)
  return '{"productId":' .. pid .. ',"shopId":' .. (sid or "null") .. ',"uri":' .. jstr_max(uri or "", URI_MAX) .. ',"ts":'
end

-- User-Agent -> JSON string, memoized per worker (a handful of distinct values in practice; a
-- User-Agent longer than UA_MAX is not kept, so the memo holds at most 1024 short ones).
local ua_json, ua_n = {}, 0
local function ua_str(ua)
  local j = ua_json[ua]
  if not j then
    j = jstr_max(ua, UA_MAX)
    if #ua <= UA_MAX then
      if ua_n >= 1024 then
        ua_json, ua_n = {}, 0
      end
      ua_json[ua] = j
      ua_n = ua_n + 1
    end
  end
  return j
end

-- Never raises, never yields.
function _M.send_request(pid, head)
  if not cfg.enabled then
    return
  end
  metrics.add(RECORDS)
  if not producer or not admit(now()) then
    metrics.add(DROPPED)
    return
  end
  local msg = head .. floor(start_time() * 1000) .. ',"ua":' .. ua_str(var.http_user_agent or "") .. ',"layer":"app"}'
  local ok, sent, err = pcall(producer.send, producer, cfg.topic, pid, msg)
  if not (ok and sent) then
    metrics.add(DROPPED)
    if not ok then
      ngx.log(ngx.WARN, "cachetier: access-log send raised: ", sent)
    elseif err then
      ngx.log(ngx.DEBUG, "cachetier: access-log send: ", err)
    end
  end
end

return _M
