// Redis keys and channels written by the cache-producer and read by the OpenResty Lua. The Lua
// cannot import this file: workloads/openresty/lua/cachetier/cache.lua repeats the key prefixes
// (KINDS), and gets the channel and hot-set key through the rendered LuaConfig.

/**
 * Pub/sub channel on which every written key is announced (OpenResty L1 drops it). A message is
 * `<key> <version>`: the version the write stored, so a late message never evicts a newer copy
 * (cache.lua). A bare `<key>` (no version) drops every copy of that key.
 */
export const INVALIDATION_CHANNEL = 'cachetier:invalidate';

/** An invalidation message's key and version (undefined when it names the key only). */
export function parseInvalidation(message: string): { key: string; version?: number } {
  const m = /^(\S+) (\d+)$/.exec(message);
  return m ? { key: m[1], version: Number(m[2]) } : { key: message };
}
/** Sorted set of hot product ids, score = expiry in epoch ms. */
export const HOT_SET_KEY = 'cachetier:hot';
/** Cache entry keys: `${prefix}${id}`. */
export const KEY_PREFIX = { product: 'product_info_', shop: 'shop_info_' } as const;
/** Harness-only: a Redis password in the environment (pods read theirs from a file). */
export const REDIS_PASSWORD_ENV = 'REDIS_PASSWORD';
/** Prefix of the producer's cross-replica fill lock keys (workloads/cache-producer/src/store.ts). */
export const FILL_LOCK_PREFIX = 'cachetier:fill:';

/**
 * The Redis ACL users, one per role; the `default` user is off. The operator renders their rules
 * (operator/src/render/config/redis-acl.ts) and generates their passwords.
 */
export const REDIS_USERS = {
  /** The operator: forms, reshards and heals the cluster (every command). */
  operator: 'operator',
  /** What a replica authenticates as to its master (masteruser). */
  replication: 'replication',
  /** cache-producer: writes cache entries, the hot set and its fill locks; publishes invalidations. */
  producer: 'cache-producer',
  /** OpenResty app layer: reads cache entries, subscribes to invalidations. */
  app: 'openresty-app',
  /** OpenResty distribution layer: reads the hot set. */
  distribution: 'openresty-distribution',
  /** The redis_exporter sidecar (spec.metrics): INFO and other server statistics, no keys. */
  monitoring: 'monitoring',
  /** A member's own hooks: its readiness probe (cluster state) and its preStop hand-over (CLUSTER FAILOVER). */
  member: 'member',
} as const;
export type RedisRole = keyof typeof REDIS_USERS;
/** Where a Redis client pod (producer, OpenResty) mounts its role's password file. */
export const REDIS_PASSWORD_FILE = '/etc/cachetier/redis-auth/password';
