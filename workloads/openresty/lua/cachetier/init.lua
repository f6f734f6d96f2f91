-- Entry points called from the rendered nginx.conf: init(cfg) in init_by_lua (master, once),
-- init_worker() in init_worker_by_lua (every worker).
local config = require "cachetier.config"
local rcluster = require "cachetier.rcluster"

local _M = {}

function _M.init(cfg)
  if not cfg.memberName or cfg.memberName == "" then
    cfg.memberName = os.getenv("POD_NAME") or os.getenv("HOSTNAME")
  end
  config.set(cfg)
  local r = cfg.redis or {}
  -- The password comes from a file (a Secret volume), read once here in the master: never from
  -- the rendered config or the environment.
  local password
  if r.passwordFile and r.passwordFile ~= "" then
    local f, ferr = io.open(r.passwordFile, "r")
    if not f then
      error("cachetier: cannot read the Redis password file: " .. tostring(ferr))
    end
    password = f:read("*a"):gsub("\r?\n$", "")
    f:close()
  end
  rcluster.configure({
    seeds = r.seeds or {},
    username = (r.username ~= "" and r.username) or nil,
    password = password,
    connect_timeout = r.connectTimeoutMs or 300,
    rw_timeout = r.timeoutMs or 500,
    pool_size = r.poolSize or 64,
  })
  if cfg.layer == "app" then
    local cache = require "cachetier.cache"
    cache.configure(cfg.cache or {})
    require("cachetier.invalidate").configure({ channel = cfg.invalidation.channel, seeds = r.seeds or {} })
    require("cachetier.accesslog").configure(cfg.accessLog or {})
    require "cachetier.app"
  else
    local d = {}
    for k, v in pairs(cfg.dist or {}) do
      d[k] = v
    end
    -- X-Routed-To names an app pod's address: only the test harness gets it.
    d.routed_to_header = cfg.testEndpoints == true
    require("cachetier.dist").configure(d)
  end
  if cfg.testEndpoints then
    require "cachetier.testapi"
  end
end

function _M.init_worker()
  local cfg = config.get()
  if cfg.layer == "app" then
    math.randomseed(ngx.now() * 1000 + ngx.worker.pid() * 7919) -- TTL jitter; once per worker
    local cache = require "cachetier.cache"
    cache.init_worker()
    require("cachetier.metrics").init_worker()
    ngx.timer.every(0.1, function(premature)
      if not premature then
        cache.sync()
      end
    end)
    if ngx.worker.id() == 0 then
      require("cachetier.invalidate").start()
    end
    require("cachetier.accesslog").init_worker()
  else
    require("cachetier.dist").init_worker()
  end
end

function _M.healthz()
  ngx.header["Content-Type"] = "text/plain"
  ngx.say("ok")
end

return _M
