// The JSON the operator renders into nginx.conf (init_by_lua) and workloads/openresty/lua reads
// (cachetier/init.lua, then cache.lua, dist.lua, ...). Field names are the Lua side's: changing
// one here means changing the Lua that reads it.

export type OpenRestyLayer = 'distribution' | 'app';

export interface LuaConfig {
  layer: OpenRestyLayer;
  /** Serve /_cachetier/* (integration tests only; needs the test Lua on lua_package_path). */
  testEndpoints: boolean;
  /** X-App-Member value; absent = $POD_NAME, then $HOSTNAME. */
  memberName?: string;
  redis: {
    seeds: string[];
    /** The Redis ACL user every new connection authenticates as ('' = no AUTH). */
    username: string;
    /** File holding that user's password, read once at init ('' = no AUTH); never the password itself. */
    passwordFile: string;
    connectTimeoutMs: number;
    timeoutMs: number;
    poolSize: number;
  };
  /** App layer: L1 (shared dict + per-worker LRU). Seconds, except lru_size. */
  cache?: { ttl: number; jitter: number; neg_ttl: number; stale_ttl: number; lru_size: number; timeout: number };
  /** App layer: Redis pub/sub channel of written keys. */
  invalidation?: { channel: string };
  /** App layer: access log to Kafka. */
  accessLog?: { enabled: boolean; brokers: string[]; topic: string; flush_ms: number; socket_timeout: number };
  /** Distribution layer: consistent hashing over app members, hot-set pulls. */
  dist?: {
    members: string[];
    vnodes: number;
    hot_key: string;
    hot_interval_ms: number;
    hot_enabled: boolean;
    /** Members from a headless Service's A records, re-resolved every interval_ms. */
    dns?: { name: string; port: number; resolver: string; interval_ms: number };
  };
}
