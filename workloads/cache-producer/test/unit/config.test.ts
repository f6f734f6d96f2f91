import { resolve } from '../../../../operator/src/api/defaults.js';
import type { CacheTier } from '../../../../operator/src/api/types.js';
import { LOCK_ROOT, producerEnv } from '../../../../operator/src/render/config/producer.js';
import { ConfigError, parseConfig } from '../../src/config.js';
import { HOT_SET_KEY, INVALIDATION_CHANNEL } from '../../../../packages/contract/src/index.js';

const tier: CacheTier = {
  apiVersion: 'cachetier.io/v1alpha1',
  kind: 'CacheTier',
  metadata: { name: 'shop', namespace: 'prod', uid: 'u1' },
  spec: { producer: { lock: { enabled: false, timeoutMs: 1234, sessionTimeoutMs: 9000 }, hotProducts: { windowSeconds: 30, topN: 7, hotTtlSeconds: 99 } } } as unknown as CacheTier['spec'],
};
const endpoints = {
  kafkaBrokers: ['kafka-0.kafka:9092', 'kafka-1.kafka:9092'],
  zookeeperConnect: 'zk-0.zk:2181,zk-1.zk:2181',
  redisSeeds: ['redis-0.redis:6379', '10.0.0.7:6379'],
};

describe('parseConfig(producerEnv(...))', () => {
  it('reads back exactly what the operator renders', () => {
    const t = resolve(tier);
    const env = producerEnv(t, endpoints);
    const cfg = parseConfig(env);
    const p = t.spec.producer;
    expect(cfg.kafka).toEqual({
      brokers: endpoints.kafkaBrokers,
      groupId: env.KAFKA_GROUP_ID,
      topicCacheMessage: t.spec.kafka.topics.cacheMessage.name,
      topicAccessLog: t.spec.kafka.topics.accessLog.name,
      topicDeadLetter: t.spec.kafka.topics.deadLetter.name,
    });
    expect(cfg.zookeeperConnect).toBe(endpoints.zookeeperConnect);
    expect(cfg.redis.seeds).toEqual([
      { host: 'redis-0.redis', port: 6379 },
      { host: '10.0.0.7', port: 6379 },
    ]);
    expect(cfg.redis.password).toBeUndefined();
    expect(cfg.sources).toEqual({ productInfoService: p.sources.productInfoService, shopInfoService: p.sources.shopInfoService });
    expect(cfg.lock).toEqual({ enabled: false, timeoutMs: 1234, sessionTimeoutMs: 9000, root: LOCK_ROOT });
    expect(cfg.localCache).toEqual({ maxEntries: p.localCache.maxEntries, ttlSeconds: p.localCache.ttlSeconds });
    expect(cfg.hot).toEqual({ windowSeconds: 30, topN: 7, ttlSeconds: 99, setKey: HOT_SET_KEY });
    expect(cfg.invalidationChannel).toBe(INVALIDATION_CHANNEL);
    expect(cfg.http).toEqual({ host: '0.0.0.0', port: Number(env.HTTP_PORT), metricsPort: Number(env.METRICS_PORT) });
    expect(cfg.http.metricsPort).not.toBe(cfg.http.port);
    expect(() => parseConfig({ ...env, METRICS_PORT: env.HTTP_PORT })).toThrow(/METRICS_PORT must differ from HTTP_PORT/);
  });

  it('every rendered variable is consumed: dropping any one is an error naming it', () => {
    const env = producerEnv(resolve(tier), endpoints);
    for (const name of Object.keys(env)) {
      if (name === 'HTTP_PORT') continue; // (required too, checked below)
      const e2 = { ...env };
      delete e2[name];
      expect(() => parseConfig(e2)).toThrow(new RegExp(name));
    }
    const e3: Record<string, string> = { ...env };
    delete e3.HTTP_PORT;
    expect(() => parseConfig(e3)).toThrow(/HTTP_PORT/);
  });

  it('takes REDIS_PASSWORD and HTTP_HOST', () => {
    const env = { ...producerEnv(resolve(tier), endpoints), REDIS_PASSWORD: 's3cret', HTTP_HOST: '127.0.2.61' };
    const cfg = parseConfig(env);
    expect(cfg.redis.password).toBe('s3cret');
    expect(cfg.http.host).toBe('127.0.2.61');
  });

  it('keeps no lock history unless DEBUG_LOCK_HISTORY=true (the operator never renders it)', () => {
    const env = producerEnv(resolve(tier), endpoints);
    expect('DEBUG_LOCK_HISTORY' in env).toBe(false);
    expect(parseConfig(env).debugLockHistory).toBe(false);
    expect(parseConfig({ ...env, DEBUG_LOCK_HISTORY: 'true' }).debugLockHistory).toBe(true);
    expect(() => parseConfig({ ...env, DEBUG_LOCK_HISTORY: 'on' })).toThrow(/DEBUG_LOCK_HISTORY must be "true" or "false"/);
  });

  it('reports every bad value at once with clear messages', () => {
    const env = {
      ...producerEnv(resolve(tier), endpoints),
      KAFKA_BROKERS: 'nohost',
      LOCK_ENABLED: 'yes',
      LOCK_TIMEOUT_MS: '-5',
      HTTP_PORT: '70000',
      SOURCE_PRODUCT_INFO_URL: 'ftp://x',
      REDIS_SEEDS: 'a:1,b:',
    };
    try {
      parseConfig(env);
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const msg = (e as ConfigError).message;
      for (const n of ['KAFKA_BROKERS', 'LOCK_ENABLED', 'LOCK_TIMEOUT_MS', 'HTTP_PORT', 'SOURCE_PRODUCT_INFO_URL', 'REDIS_SEEDS']) {
        expect(msg).toContain(n);
      }
      expect((e as ConfigError).problems.length).toBeGreaterThanOrEqual(6);
    }
  });
});
