// The cache-producer's configuration contract: the operator renders these environment variables
// (ConfigMap + Secret refs); workloads/cache-producer/src/config.ts parses exactly these names.
// A unit test feeds one into the other.
import type { ResolvedCacheTier } from '../../api/types.js';

export interface ProducerEndpoints {
  kafkaBrokers: string[];
  zookeeperConnect: string;
  redisSeeds: string[];
}

export const PRODUCER_HTTP_PORT = 8080;
/** Redis pub/sub channel on which every written key is announced (OpenResty L1 drops it). */
export const INVALIDATION_CHANNEL = 'cachetier:invalidate';
/** Redis key (a sorted set, score = expiry ms) holding the hot product ids. */
export const HOT_SET_KEY = 'cachetier:hot';
/** ZooKeeper root of the per-product locks. */
export const LOCK_ROOT = '/cachetier/locks';
export const PRODUCER_GROUP_ID = 'cache-producer';

export function producerEnv(tier: ResolvedCacheTier, ep: ProducerEndpoints): Record<string, string> {
  const p = tier.spec.producer;
  const t = tier.spec.kafka.topics;
  return {
    KAFKA_BROKERS: ep.kafkaBrokers.join(','),
    KAFKA_GROUP_ID: PRODUCER_GROUP_ID,
    KAFKA_TOPIC_CACHE_MESSAGE: t.cacheMessage.name,
    KAFKA_TOPIC_ACCESS_LOG: t.accessLog.name,
    KAFKA_TOPIC_DEAD_LETTER: t.deadLetter.name,
    ZOOKEEPER_CONNECT: ep.zookeeperConnect,
    REDIS_SEEDS: ep.redisSeeds.join(','),
    SOURCE_PRODUCT_INFO_URL: p.sources.productInfoService,
    SOURCE_SHOP_INFO_URL: p.sources.shopInfoService,
    LOCK_ENABLED: String(p.lock.enabled),
    LOCK_TIMEOUT_MS: String(p.lock.timeoutMs),
    LOCK_SESSION_TIMEOUT_MS: String(p.lock.sessionTimeoutMs),
    LOCK_ROOT,
    LOCAL_CACHE_MAX_ENTRIES: String(p.localCache.maxEntries),
    LOCAL_CACHE_TTL_SECONDS: String(p.localCache.ttlSeconds),
    HOT_WINDOW_SECONDS: String(p.hotProducts.windowSeconds),
    HOT_TOP_N: String(p.hotProducts.topN),
    HOT_TTL_SECONDS: String(p.hotProducts.hotTtlSeconds),
    HOT_SET_KEY,
    INVALIDATION_CHANNEL,
    HTTP_PORT: String(PRODUCER_HTTP_PORT),
  };
}
/** REDIS_PASSWORD comes from the Secret in spec.redis.auth, never from the ConfigMap. */
export const PRODUCER_PASSWORD_ENV = 'REDIS_PASSWORD';
