// The one place defaults live in code. crds/cachetier.yaml declares the same defaults so the API
// server fills them in; test/unit/crd-defaults.test.ts proves the two agree.
import type { CacheTier, CacheTierSpec, DeepPartial, ResolvedCacheTier } from './types.js';

export const IMAGE_REGISTRY = 'ghcr.io/cachetier';
export const PROJECT_VERSION = '0.1.0';

export const DEFAULT_IMAGES = {
  zookeeper: 'zookeeper:3.8.4',
  kafka: 'apache/kafka:3.9.1',
  redis: 'redis:7.0.15',
  producer: `${IMAGE_REGISTRY}/cache-producer:${PROJECT_VERSION}`,
  openresty: `${IMAGE_REGISTRY}/openresty:${PROJECT_VERSION}`,
  operator: `${IMAGE_REGISTRY}/operator:${PROJECT_VERSION}`,
  sourceService: `${IMAGE_REGISTRY}/source-service:${PROJECT_VERSION}`,
  /** The upstream build of the redis_exporter version Debian bookworm packages. */
  redisExporter: 'oliver006/redis_exporter:v1.45.0',
} as const;

export const DEFAULT_SPEC: CacheTierSpec = {
  paused: false,
  podAntiAffinity: 'soft',
  networkPolicy: { enabled: true, clients: [], sources: [], redisClients: [], monitoring: [] },
  metrics: { enabled: true, redisExporterImage: DEFAULT_IMAGES.redisExporter, podMonitor: { labels: {} } },
  zookeeper: {
    replicas: 3,
    image: DEFAULT_IMAGES.zookeeper,
    storage: { size: '1Gi', persistent: true, whenDeleted: 'Retain' },
    resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } },
    config: {},
  },
  kafka: {
    replicas: 3,
    image: DEFAULT_IMAGES.kafka,
    version: '3.9.1',
    storage: { size: '5Gi', persistent: true, whenDeleted: 'Retain' },
    resources: { requests: { cpu: '250m', memory: '1Gi' }, limits: { memory: '2Gi' } },
    minInsyncReplicas: 2,
    config: {},
    topics: {
      cacheMessage: { name: 'cache-message', partitions: 6, replicationFactor: 3, config: {} },
      accessLog: { name: 'access-log', partitions: 6, replicationFactor: 3, config: { 'retention.ms': '3600000' } },
      deadLetter: { name: 'cache-message-dlq', partitions: 1, replicationFactor: 3, config: {} },
    },
  },
  redis: {
    masters: 3,
    replicasPerMaster: 1,
    image: DEFAULT_IMAGES.redis,
    storage: { size: '1Gi', persistent: true, whenDeleted: 'Retain' },
    resources: { requests: { cpu: '100m', memory: '320Mi' }, limits: { memory: '512Mi' } },
    maxmemory: '256mb',
    maxmemoryPolicy: 'allkeys-lru',
    config: {},
  },
  producer: {
    replicas: 2,
    image: DEFAULT_IMAGES.producer,
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    sources: {
      productInfoService: 'http://source-service:8080',
      shopInfoService: 'http://source-service:8080',
    },
    lock: { enabled: true, timeoutMs: 5000, sessionTimeoutMs: 10000 },
    localCache: { maxEntries: 10000, ttlSeconds: 600 },
    hotProducts: { windowSeconds: 60, topN: 100, hotTtlSeconds: 120 },
    dataPath: { maxFutureSkewSeconds: 300, recordTtlSeconds: 86400, readThroughTombstoneTtlSeconds: 30, sourceRequestsPerSecond: 500, sourceAttempts: 8 },
  },
  openresty: {
    image: DEFAULT_IMAGES.openresty,
    resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    // Per client address: thousands of requests per second from one client at the distribution
    // layer; the app layer's clients are mostly the distribution pods, each carrying many users.
    distribution: { replicas: 2, limits: { requestsPerSecond: 5000, burst: 10000, connections: 1000 } },
    app: { replicas: 3, limits: { requestsPerSecond: 100000, burst: 100000, connections: 10000 } },
    l1: {
      lruSize: 1000,
      sharedDictSize: '64m',
      ttlSeconds: 60,
      jitterPercent: 20,
      negativeTtlSeconds: 10,
      staleTtlSeconds: 300,
    },
    upstreamTimeoutMs: 1000,
  },
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: `over` wins; arrays and scalars replace; maps merge key by key. */
export function deepMerge<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = k in base ? deepMerge((base as Record<string, unknown>)[k], v) : v;
  }
  return out as T;
}

export function resolveSpec(spec: DeepPartial<CacheTierSpec> | undefined): CacheTierSpec {
  return deepMerge(DEFAULT_SPEC, spec ?? {});
}

export function resolve(tier: CacheTier): ResolvedCacheTier {
  return { ...tier, spec: resolveSpec(tier.spec) };
}
