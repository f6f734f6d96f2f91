// cache-producer entry point. Config ONLY from the operator's env contract (see config.ts).
// SIGTERM/SIGINT: stop fetching, finish in-flight batches (they commit), release locks, close.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Cluster } from 'ioredis';
import pino from 'pino';
import { parseInvalidation } from '../../../packages/contract/src/index.js';
import { ConfigError, parseConfig, redisAuth } from './config.js';
import { ChangeConsumer, createKafka } from './consumer.js';
import { HotService } from './hotservice.js';
import { createApp, createMetricsApp } from './http.js';
import { createMetrics } from './metrics.js';
import { Producer } from './service.js';
import { RedisStore } from './store.js';
import { ZkLocks } from './zklock.js';

const log = pino({ base: { app: 'cache-producer' } });

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = parseConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      log.fatal({ problems: e.problems }, e.message);
      process.exit(2);
    }
    throw e;
  }
  const metrics = createMetrics();
  const redisOptions = { ...redisAuth(cfg.redis), connectTimeout: 3000, maxRetriesPerRequest: 5 };
  const redis = new Cluster(cfg.redis.seeds, {
    redisOptions,
    scaleReads: 'master',
    // Commands issued in the same event-loop tick go out as one write per node (the consumer has
    // up to JOB_CONCURRENCY CAS calls in flight): fewer syscalls and packets, same order per node.
    enableAutoPipelining: true,
    slotsRefreshTimeout: 3000,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
  });
  redis.on('error', (e) => log.warn({ err: String(e) }, 'redis error'));
  const store = new RedisStore(redis, cfg.invalidationChannel);

  let locks: ZkLocks | undefined;
  if (cfg.lock.enabled) {
    locks = new ZkLocks(cfg.zookeeperConnect, cfg.lock.sessionTimeoutMs, cfg.lock.root, log.child({ part: 'zk' }));
    locks.onWait = (s) => metrics.lockWait.observe(s);
    locks.onBatch = (op, n) => metrics.zkBatchOps.observe({ op }, n);
    locks.keepHistory = cfg.debugLockHistory;
    await locks.start();
  }
  const producer = new Producer(cfg, store, locks, metrics, log);

  // Other replicas' writes: drop our local copy so reads go back to Redis.
  const sub = redis.duplicate();
  sub.on('error', (e) => log.warn({ err: String(e) }, 'redis subscriber error'));
  sub.on('message', (_ch: string, message: string) => {
    const { key, version } = parseInvalidation(message);
    producer.forget(key, version);
  });
  await sub.subscribe(cfg.invalidationChannel);

  const kafka = createKafka(cfg, log.child({ part: 'kafka' }), `cache-producer-${randomUUID().slice(0, 8)}`);
  const changes = new ChangeConsumer(kafka, cfg, producer, metrics, log.child({ part: 'changes' }));
  const hot = new HotService(kafka, cfg, producer, metrics, log.child({ part: 'hot' }));

  const app = createApp({
    producer,
    metrics,
    ready: async () => {
      const redisOk = await Promise.race([
        redis.ping().then((r) => r === 'PONG', () => false),
        new Promise<boolean>((r) => setTimeout(() => r(false), 1000)),
      ]);
      // Ready = can serve reads: Redis answers. Kafka, ZooKeeper and the sources are shown but do
      // not decide: without them this replica still serves everything Redis holds, and taking
      // every replica out of the Service for a Kafka outage would fail every cold read too.
      const detail = { redis: redisOk, kafka: changes.health.up(), accessLog: hot.health.up(), zookeeper: locks ? locks.isConnected : true, source: producer.lastSourceOk };
      return { ok: redisOk, detail };
    },
    // Either consumer gone for good: restart the pod (cache-message feeds Redis; access-log the hot set).
    dead: () => (changes.health.dead ? `cache-message ${changes.health.dead}` : hot.health.dead ? `access-log ${hot.health.dead}` : undefined),
    onError: (what, err) => log.warn({ what, err: String(err) }, 'request failed (detail kept out of the response)'),
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(cfg.http.port, cfg.http.host, () => resolve(s));
  });
  // Longer than any client/proxy idle timeout, so a reused keep-alive connection is never cut mid-request.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const metricsServer: Server = await new Promise((resolve) => {
    const s = createMetricsApp(metrics).listen(cfg.http.metricsPort, cfg.http.host, () => resolve(s));
  });
  log.info({ host: cfg.http.host, port: cfg.http.port, metricsPort: cfg.http.metricsPort }, 'http listening');

  const joinedGauge = setInterval(() => {
    metrics.consumerUp.set({ consumer: 'cache-message' }, changes.health.up() ? 1 : 0);
    metrics.consumerUp.set({ consumer: 'access-log' }, hot.health.up() ? 1 : 0);
  }, 1000);
  joinedGauge.unref();
  await changes.start();
  await hot.start();
  log.info('consumers started');

  let shuttingDown = false;
  const shutdown = async (sig: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ sig }, 'shutting down: stop fetching, finish in-flight work, commit, release locks');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 25_000);
    force.unref();
    // Each step is timed in the last log line: a slow shutdown should say where it waited.
    const took: Record<string, number> = {};
    const step = async (name: string, fn: () => Promise<unknown>) => {
      const t = Date.now();
      await fn();
      took[name] = Date.now() - t;
    };
    await step('changes', () => changes.stop());
    await step('accessLog', () => hot.stop());
    await step('http', () => {
      const closed = Promise.all([server, metricsServer].map((srv) => new Promise<void>((r) => srv.close(() => r()))));
      server.closeAllConnections();
      metricsServer.closeAllConnections();
      return closed;
    });
    await step('zookeeper', async () => locks?.close());
    sub.disconnect();
    await step('redis', () => redis.quit().catch(() => redis.disconnect()));
    log.info({ ms: took }, 'bye');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e) => {
  log.fatal({ err: String(e), stack: (e as Error).stack }, 'cache-producer failed to start');
  process.exit(1);
});
