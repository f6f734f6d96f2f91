// The cache-producer's process contract: the environment variables the operator renders into its
// ConfigMap (operator/src/render/config/producer.ts) and the producer parses
// (workloads/cache-producer/src/config.ts). A name added here is a name both sides must handle.

export const PRODUCER_ENV = {
  kafkaBrokers: 'KAFKA_BROKERS',
  kafkaGroupId: 'KAFKA_GROUP_ID',
  topicCacheMessage: 'KAFKA_TOPIC_CACHE_MESSAGE',
  topicAccessLog: 'KAFKA_TOPIC_ACCESS_LOG',
  topicDeadLetter: 'KAFKA_TOPIC_DEAD_LETTER',
  zookeeperConnect: 'ZOOKEEPER_CONNECT',
  redisSeeds: 'REDIS_SEEDS',
  sourceProductInfoUrl: 'SOURCE_PRODUCT_INFO_URL',
  sourceShopInfoUrl: 'SOURCE_SHOP_INFO_URL',
  lockEnabled: 'LOCK_ENABLED',
  lockTimeoutMs: 'LOCK_TIMEOUT_MS',
  lockSessionTimeoutMs: 'LOCK_SESSION_TIMEOUT_MS',
  lockRoot: 'LOCK_ROOT',
  localCacheMaxEntries: 'LOCAL_CACHE_MAX_ENTRIES',
  localCacheTtlSeconds: 'LOCAL_CACHE_TTL_SECONDS',
  hotWindowSeconds: 'HOT_WINDOW_SECONDS',
  hotTopN: 'HOT_TOP_N',
  hotTtlSeconds: 'HOT_TTL_SECONDS',
  hotSetKey: 'HOT_SET_KEY',
  invalidationChannel: 'INVALIDATION_CHANNEL',
  httpPort: 'HTTP_PORT',
  /** /metrics only, on HTTP_HOST (the data port answers /metrics with 404). */
  metricsPort: 'METRICS_PORT',
  maxFutureSkewSeconds: 'MAX_FUTURE_SKEW_SECONDS',
  recordTtlSeconds: 'RECORD_TTL_SECONDS',
  readThroughTombstoneTtlSeconds: 'READ_THROUGH_TOMBSTONE_TTL_SECONDS',
  sourceRequestsPerSecond: 'SOURCE_REQUESTS_PER_SECOND',
  sourceAttempts: 'SOURCE_ATTEMPTS',
  /** Replicas a batch's writes must reach (WAIT) before its offsets are committed: 1, or 0 without replicas. */
  redisWaitReplicas: 'REDIS_WAIT_REPLICAS',
  /** The Redis ACL user the producer authenticates as. */
  redisUsername: 'REDIS_USERNAME',
  /** File holding that user's password (a Secret volume); read at start, never in the env. */
  redisPasswordFile: 'REDIS_PASSWORD_FILE',
  /** Not rendered: harness-only password in the environment (REDIS_PASSWORD_FILE wins). */
  redisPassword: 'REDIS_PASSWORD',
  /** Not rendered: defaults to 0.0.0.0; the local harness binds one loopback address. */
  httpHost: 'HTTP_HOST',
  /** Not rendered: test harnesses turn on /debug/locks. */
  debugLockHistory: 'DEBUG_LOCK_HISTORY',
} as const;

export type ProducerEnvName = (typeof PRODUCER_ENV)[keyof typeof PRODUCER_ENV];
