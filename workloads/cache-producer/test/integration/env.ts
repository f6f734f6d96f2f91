// Shared setup for the producer's integration tests: real ZooKeeper x3, Kafka 3.9 x3 (RF 3,
// min.insync.replicas 2), Redis Cluster 3+3, the source service and producer processes — all
// started by the project's own harness with the operator's rendered configs, on 127.0.2.x.
import { rmSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { Kafka, logLevel, type Producer as KProducer } from 'kafkajs';
import { resolve } from '../../../../operator/src/api/defaults.js';
import type { CacheTier } from '../../../../operator/src/api/types.js';
import { createTopicManager } from '../../../../operator/src/kafka/index.js';
import { producerEnv } from '../../../../operator/src/render/config/producer.js';
import { startKafkaCluster, type KafkaCluster } from '../../../../hack/local/kafka.js';
import { makeRootDir, waitFor } from '../../../../hack/local/procs.js';
import { ensureBuilt, startProducer, type ProducerHandle } from '../../../../hack/local/producer.js';
import { adminAuth, startRedisCluster, TEST_REDIS_CREDENTIALS, type LocalRedisCluster } from '../../../../hack/local/redis.js';
import { startSourceService, type SourceHandle } from '../../../../hack/local/source.js';
import { startZooKeeperEnsemble, type ZooKeeperEnsemble } from '../../../../hack/local/zookeeper.js';

/** Where the data-path tests run; a file may take another /24 so two stacks never collide. */
export const DEFAULT_IP = '127.0.2';

export interface Stack {
  /** The /24 every server of this stack binds in (127.0.2 by default). */
  ip: string;
  rootDir: string;
  zk: ZooKeeperEnsemble;
  kafka: KafkaCluster;
  redis: LocalRedisCluster;
  source: SourceHandle;
  tier: ReturnType<typeof resolve>;
  env: Record<string, string>;
  client: Cluster;
  kafkaClient: Kafka;
  kproducer: KProducer;
  producers: (ProducerHandle | undefined)[];
  startProducerN(i: number): Promise<ProducerHandle>;
  stop(): Promise<void>;
}

export function tierWith(spec: Record<string, unknown>): ReturnType<typeof resolve> {
  const t: CacheTier = { apiVersion: 'cachetier.io/v1alpha1', kind: 'CacheTier', metadata: { name: 't', namespace: 'default', uid: 'u' }, spec: spec as CacheTier['spec'] };
  return resolve(t);
}

export async function startStack(opts: { producers: number; seedProducts?: number; ip?: string; spec?: { producer?: Record<string, unknown>; [k: string]: unknown } }): Promise<Stack> {
  const IP = opts.ip ?? DEFAULT_IP;
  const rootDir = await makeRootDir('producer-it');
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => console.warn('cleanup failed', e));
    cleanups.length = 0;
  };
  try {
    ensureBuilt();
    const [zk, redis] = await Promise.all([
      startZooKeeperEnsemble({ ipPrefix: IP, rootDir, firstHost: 31 }),
      startRedisCluster({ masters: 3, replicasPerMaster: 1, ipPrefix: IP, rootDir, port: 7051, acl: TEST_REDIS_CREDENTIALS }),
    ]);
    cleanups.push(() => zk.stop(), () => redis.stop());
    const kafka = await startKafkaCluster({ ipPrefix: IP, rootDir, zookeeperConnect: zk.connectString, firstHost: 41 });
    cleanups.splice(1, 0, () => kafka.stop()); // Kafka stops before ZooKeeper
    const srcPort = 18080;
    const tier = tierWith({
      ...opts.spec,
      producer: {
        sources: { productInfoService: `http://${IP}.61:${srcPort}`, shopInfoService: `http://${IP}.61:${srcPort}` },
        ...(opts.spec?.producer ?? {}),
      },
    });
    const topics = Object.values(tier.spec.kafka.topics);
    const tr = await createTopicManager().reconcile(kafka.brokers, topics);
    const notReady = tr.topics.filter((t) => !t.ready);
    if (notReady.length) throw new Error(`topics not ready: ${JSON.stringify(tr)}`);

    const source = await startSourceService({
      host: `${IP}.61`,
      port: srcPort,
      kafkaBrokers: kafka.brokers,
      rootDir,
      topic: tier.spec.kafka.topics.cacheMessage.name,
      seedProducts: opts.seedProducts ?? 200,
    });
    cleanups.push(() => source.stop());
    const env = producerEnv(tier, { kafkaBrokers: kafka.brokers, zookeeperConnect: zk.connectString, redisSeeds: redis.seeds });
    const client = new Cluster(redis.seeds.map((s) => ({ host: s.split(':')[0], port: Number(s.split(':')[1]) })), { scaleReads: 'master', redisOptions: adminAuth() });
    cleanups.push(async () => void client.disconnect());
    const kafkaClient = new Kafka({ clientId: 'producer-it', brokers: kafka.brokers, logLevel: logLevel.NOTHING, retry: { retries: 10 } });
    const kproducer = kafkaClient.producer({ allowAutoTopicCreation: false });
    await kproducer.connect();
    cleanups.push(() => kproducer.disconnect());

    const producers: (ProducerHandle | undefined)[] = [];
    const startProducerN = async (i: number) => {
      // the lock history is what proves mutual exclusion across replicas
      const p = await startProducer({ env: { ...env, DEBUG_LOCK_HISTORY: 'true' }, host: `${IP}.${62 + i}`, port: 18081, rootDir, name: `producer-${i}` });
      producers[i] = p;
      return p;
    };
    cleanups.push(async () => {
      await Promise.all(producers.map((p) => p?.stop().catch(() => undefined)));
    });
    await Promise.all(Array.from({ length: opts.producers }, (_, i) => startProducerN(i)));
    const stack: Stack = {
      ip: IP,
      rootDir,
      zk,
      kafka,
      redis,
      source,
      tier,
      env,
      client,
      kafkaClient,
      kproducer,
      producers,
      startProducerN,
      stop: async () => {
        await stopAll();
        if (!process.env.KEEP_TEST_DIRS) rmSync(rootDir, { recursive: true, force: true });
      },
    };
    return stack;
  } catch (e) {
    console.warn(`stack start failed; logs under ${rootDir}`);
    await stopAll();
    throw e;
  }
}

export async function getJson<T = unknown>(url: string, init?: RequestInit & { timeoutMs?: number }): Promise<{ status: number; body: T }> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(init?.timeoutMs ?? 20_000) });
  const text = await r.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not json */
  }
  return { status: r.status, body: body as T };
}

/** Runs fn over items with `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k], k);
      }
    }),
  );
  return out;
}

/** Sums a counter (all label sets) from a producer's /metrics (its metricsUrl: the metrics port). */
export async function metricSum(metricsUrl: string, name: string): Promise<number> {
  const r = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Messages on cache-message not yet covered by the producer group's committed offsets. */
export async function groupLag(stack: Stack): Promise<number> {
  const admin = stack.kafkaClient.admin();
  await admin.connect();
  try {
    const topic = stack.tier.spec.kafka.topics.cacheMessage.name;
    const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: stack.env.KAFKA_GROUP_ID, topics: [topic] })]);
    const at = new Map(committed.partitions.map((p) => [p.partition, Number(p.offset)]));
    return ends.reduce((lag, e) => lag + Number(e.high) - Math.max(0, at.get(e.partition) ?? 0), 0);
  } finally {
    await admin.disconnect();
  }
}

export interface SourceRecord {
  id: number;
  version: number;
  modifiedTime: string;
  [k: string]: unknown;
}

/** Waits until Redis holds, for every given product, exactly the source's latest version. */
export async function waitRedisMatchesSource(stack: Stack, ids: number[], timeoutMs: number): Promise<void> {
  let diff: string[] = [];
  try {
    await waitFor(
      'Redis == source latest',
      async () => {
        const { body } = await getJson<SourceRecord[]>(`${stack.source.url}/products`);
        const byId = new Map(body.map((r) => [r.id, r]));
        const vals = await Promise.all(ids.map((id) => stack.client.get(`product_info_${id}`)));
        diff = [];
        ids.forEach((id, k) => {
          const want = byId.get(id);
          const got = vals[k] ? (JSON.parse(vals[k]!) as Record<string, unknown>) : undefined;
          if (!want || !got || got._v !== want.version || got.name !== want.name) {
            diff.push(`${id}: redis _v=${String(got?._v)} source=${String(want?.version)}`);
          }
        });
        return diff.length === 0;
      },
      timeoutMs,
      500,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; ${diff.length} differ, e.g. ${diff.slice(0, 5).join('; ')}`);
  }
}

export { waitFor };
