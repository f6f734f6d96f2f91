-- Counters in a shared dict (all workers), rendered as Prometheus text.
local ngx = ngx
local _M = {}

local HELP = {
  cachetier_requests_total = { "counter", "Requests by route and status class." },
  cachetier_cache_hits_total = { "counter", "Product/shop lookups by the level that answered (L1, L2, L3, stale, negative)." },
  cachetier_cache_misses_total = { "counter", "Lookups that no level could answer." },
  cachetier_upstream_errors_total = { "counter", "Failed calls to Redis (L2) or the cache-producer (L3)." },
  cachetier_l3_requests_total = { "counter", "HTTP calls to the cache-producer." },
  cachetier_redis_redirects_total = { "counter", "Redis Cluster redirects followed (ask, moved)." },
  cachetier_l2_requests_total = { "counter", "Cache reads from Redis Cluster (L2)." },
  cachetier_l2_batches_total = { "counter", "Pipelined round trips carrying those reads (several requests' reads share one)." },
  cachetier_singleflight_waits_total = { "counter", "Requests that waited for another request's fill." },
  cachetier_invalidations_total = { "counter", "Invalidation messages applied." },
  cachetier_l1_outdated_total = { "counter", "Worker LRU copies dropped unserved: another worker had stored a newer version." },
  cachetier_version_regressions_total = { "counter", "Fills that read an older version than one already served (not stored, not served)." },
  cachetier_accesslog_records_total = { "counter", "Access-log records made (each ends delivered, dropped or failed)." },
  cachetier_accesslog_delivered_total = { "counter", "Access-log records acknowledged by Kafka." },
  cachetier_accesslog_dropped_total = { "counter", "Access-log records never handed to the Kafka producer (breaker open, buffer full)." },
  cachetier_accesslog_failed_total = { "counter", "Access-log records handed to the Kafka producer and then given up (Kafka unreachable)." },
  cachetier_route_total = { "counter", "Distribution decisions by kind (hash, hot)." },
  cachetier_hot_ids = { "gauge", "Hot product ids currently flagged." },
  cachetier_members = { "gauge", "App-layer members in the ring." },
  cachetier_request_duration_seconds = { "histogram", "Product request latency at this layer (app: until the response is written; distribution: until the app member's response headers) by the level that answered the product." },
}

local function dict()
  return ngx.shared.metrics
end

-- name: metric name; labels: preformatted 'k="v",k2="v2"' or nil
function _M.inc(name, labels, n)
  local key = labels and (name .. "{" .. labels .. "}") or name
  local d = dict()
  if d then
    d:incr(key, n or 1, 0)
  end
end

-- Hot-path counters: added up per worker and written to the shared dict by a 250 ms timer (and
-- before /metrics renders), so a request pays an array add instead of a locked dict incr.
-- A counter is registered once (slot(): its full key built once, at module load); the request
-- path then only does counts[slot] = counts[slot] + n: no per-request string building.
local slot_key = {} -- slot -> "name{labels}"
local slot_of = {} -- "name{labels}" -> slot
local counts = {} -- slot -> pending count in this worker

function _M.slot(name, labels)
  local key = labels and (name .. "{" .. labels .. "}") or name
  local s = slot_of[key]
  if not s then
    s = #slot_key + 1
    slot_key[s] = key
    slot_of[key] = s
    counts[s] = 0
  end
  return s
end

function _M.add(s, n)
  counts[s] = counts[s] + (n or 1)
end

function _M.inc_fast(name, labels, n)
  local s = _M.slot(name, labels)
  counts[s] = counts[s] + (n or 1)
end

-- Histograms: cumulative bucket counters, _sum and _count, all hot-path slots (see above).
local BUCKETS = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 }
local NBUCKETS = #BUCKETS
local histograms = {}

-- name: histogram name; labels: preformatted 'k="v"'. Returns a handle for observe().
function _M.histogram(name, labels)
  local id = name .. "{" .. labels .. "}"
  local h = histograms[id]
  if not h then
    h = {}
    for i = 1, NBUCKETS do
      h[i] = _M.slot(name .. "_bucket", labels .. ',le="' .. tostring(BUCKETS[i]) .. '"')
    end
    h.inf = _M.slot(name .. "_bucket", labels .. ',le="+Inf"')
    h.sum = _M.slot(name .. "_sum", labels)
    h.count = _M.slot(name .. "_count", labels)
    histograms[id] = h
  end
  return h
end

function _M.observe(h, v)
  for i = NBUCKETS, 1, -1 do
    if v > BUCKETS[i] then
      break
    end
    counts[h[i]] = counts[h[i]] + 1
  end
  counts[h.inf] = counts[h.inf] + 1
  counts[h.count] = counts[h.count] + 1
  counts[h.sum] = counts[h.sum] + v
end

function _M.flush()
  local d = dict()
  if not d then
    return
  end
  for s = 1, #slot_key do
    local v = counts[s]
    if v ~= 0 then
      counts[s] = 0
      d:incr(slot_key[s], v, 0)
    end
  end
end

function _M.init_worker()
  ngx.timer.every(0.25, function(premature)
    _M.flush()
  end)
end

function _M.set(name, labels, v)
  local key = labels and (name .. "{" .. labels .. "}") or name
  local d = dict()
  if d then
    d:set(key, v)
  end
end

function _M.get(name, labels)
  local key = labels and (name .. "{" .. labels .. "}") or name
  local d = dict()
  return d and d:get(key) or 0
end

function _M.render()
  local d = dict()
  local keys = d and d:get_keys(0) or {}
  table.sort(keys)
  local out, described = {}, {}
  for _, k in ipairs(keys) do
    local name = k:match("^([%w_]+)")
    if not HELP[name] then -- a histogram's series are described under the histogram's name
      name = name:match("^(.-)_bucket$") or name:match("^(.-)_sum$") or name:match("^(.-)_count$") or name
    end
    if not described[name] and HELP[name] then
      described[name] = true
      out[#out + 1] = "# HELP " .. name .. " " .. HELP[name][2]
      out[#out + 1] = "# TYPE " .. name .. " " .. HELP[name][1]
    end
    out[#out + 1] = k .. " " .. tostring(d:get(k) or 0)
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

function _M.handler()
  _M.flush()
  ngx.header["Content-Type"] = "text/plain; version=0.0.4"
  ngx.print(_M.render())
end

return _M
