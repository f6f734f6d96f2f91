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
/** The environment variable holding the Redis password in every pod that talks to Redis. */
export const REDIS_PASSWORD_ENV = 'REDIS_PASSWORD';
