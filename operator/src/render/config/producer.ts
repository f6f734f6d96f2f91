// The cache-producer's environment as the operator renders it (ConfigMap + Secret refs). The names
// are the contract package's PRODUCER_ENV, which workloads/cache-producer/src/config.ts parses;
// workloads/cache-producer/test/unit/config.test.ts feeds one into the other.
import type { ResolvedCacheTier } from '../../api/types.js';
import { HOT_SET_KEY, HTTP_METRICS_PORTS, INVALIDATION_CHANNEL, PRODUCER_ENV, PRODUCER_HTTP_PORT, REDIS_PASSWORD_FILE, REDIS_USERS } from '../../../../packages/contract/src/index.js';

export interface ProducerEndpoints {
  kafkaBrokers: string[];
  zookeeperConnect: string;
  redisSeeds: string[];
}

/** ZooKeeper root of the per-product locks. */
export const LOCK_ROOT = '/cachetier/locks';
export const PRODUCER_GROUP_ID = 'cache-producer';

export function producerEnv(tier: ResolvedCacheTier, ep: ProducerEndpoints): Record<string, string> {
  const p = tier.spec.producer;
  const t = tier.spec.kafka.topics;
  const E = PRODUCER_ENV;
  return {
    [E.kafkaBrokers]: ep.kafkaBrokers.join(','),
    [E.kafkaGroupId]: PRODUCER_GROUP_ID,
    [E.topicCacheMessage]: t.cacheMessage.name,
    [E.topicAccessLog]: t.accessLog.name,
    [E.topicDeadLetter]: t.deadLetter.name,
    [E.zookeeperConnect]: ep.zookeeperConnect,
    [E.redisSeeds]: ep.redisSeeds.join(','),
    // The user's name only: its password is a file from the passwords Secret's volume.
    [E.redisUsername]: REDIS_USERS.producer,
    [E.redisPasswordFile]: REDIS_PASSWORD_FILE,
    [E.sourceProductInfoUrl]: p.sources.productInfoService,
    [E.sourceShopInfoUrl]: p.sources.shopInfoService,
    [E.lockEnabled]: String(p.lock.enabled),
    [E.lockTimeoutMs]: String(p.lock.timeoutMs),
    [E.lockSessionTimeoutMs]: String(p.lock.sessionTimeoutMs),
    [E.lockRoot]: LOCK_ROOT,
    [E.localCacheMaxEntries]: String(p.localCache.maxEntries),
    [E.localCacheTtlSeconds]: String(p.localCache.ttlSeconds),
    [E.hotWindowSeconds]: String(p.hotProducts.windowSeconds),
    [E.hotTopN]: String(p.hotProducts.topN),
    [E.hotTtlSeconds]: String(p.hotProducts.hotTtlSeconds),
    [E.hotSetKey]: HOT_SET_KEY,
    [E.invalidationChannel]: INVALIDATION_CHANNEL,
    [E.httpPort]: String(PRODUCER_HTTP_PORT),
    [E.metricsPort]: String(HTTP_METRICS_PORTS.producer),
    [E.maxFutureSkewSeconds]: String(p.dataPath.maxFutureSkewSeconds),
    [E.recordTtlSeconds]: String(p.dataPath.recordTtlSeconds),
    [E.readThroughTombstoneTtlSeconds]: String(p.dataPath.readThroughTombstoneTtlSeconds),
    [E.sourceRequestsPerSecond]: String(p.dataPath.sourceRequestsPerSecond),
    [E.sourceAttempts]: String(p.dataPath.sourceAttempts),
    [E.redisWaitReplicas]: String(Math.min(1, tier.spec.redis.replicasPerMaster)),
  };
}
