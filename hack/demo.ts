// make demo: the whole tier from examples/cachetier.yaml as local processes on 127.0.4.x, every
// server configured by the operator's renderers and the Redis Cluster formed by the operator's
// orchestration, with every exporter spec.metrics renders and Debian's prometheus scraping them
// (the jobs the operator's PodMonitors produce, the shipped alert rules). Then it shows the flows
// working. Ctrl-C stops everything.
// DEMO_EXIT=1 (or CI=true): run the flows once, print a summary, stop, exit 0 only if all passed.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from 'ioredis';
import YAML from 'yaml';
import { resolve } from '../operator/src/api/defaults.js';
import type { CacheTier, ResolvedCacheTier } from '../operator/src/api/types.js';
import { createTopicManager } from '../operator/src/kafka/index.js';
import { nodeHeapOptions } from '../operator/src/render/builders.js';
import { producerEnv } from '../operator/src/render/config/producer.js';
import { startKafkaCluster } from './local/kafka.js';
import { startOpenResty } from './local/nginx.js';
import { makeRootDir, sleep } from './local/procs.js';
import { startProducer } from './local/producer.js';
import { adminAuth, randomRedisCredentials, startRedisCluster } from './local/redis.js';
import { startSourceService } from './local/source.js';
import { startZooKeeperEnsemble } from './local/zookeeper.js';
import { HOT_SET_KEY, METRICS_PORTS } from '../packages/contract/src/index.js';
import { RULES_FILE, scrapeConfig, startPrometheus, startRedisExporters, targetCount, targetHealth, tierTargets } from './local/prometheus.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const IP = process.env.DEMO_IP_PREFIX ?? '127.0.4';
const ONCE = process.env.DEMO_EXIT === '1' || process.env.CI === 'true';
const HOT_WINDOW_SECONDS = 10;

const cleanups: { what: string; fn: () => Promise<unknown> }[] = [];
let stopping = false;

function say(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

async function step<T>(n: number, total: number, what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  process.stdout.write(`[${n}/${total}] ${what} ... `);
  const ticker = setInterval(() => process.stdout.write('.'), 2000);
  try {
    const v = await fn();
    process.stdout.write(` ok (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    return v;
  } finally {
    clearInterval(ticker);
  }
}

async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('\nstopping everything ...');
  for (const c of cleanups.reverse()) {
    await c.fn().catch((e) => say(`  ${c.what}: ${String(e)}`));
  }
  say('stopped; nothing left running');
}

function loadTier(): ResolvedCacheTier {
  const doc = YAML.parse(readFileSync(path.join(REPO, 'examples', 'cachetier.yaml'), 'utf8')) as CacheTier;
  doc.metadata = { ...doc.metadata, namespace: 'demo', uid: 'demo' };
  const tier = resolve(doc);
  // A short hot-product window so the demo shows detection in seconds, not a minute.
  tier.spec.producer.hotProducts.windowSeconds = HOT_WINDOW_SECONDS;
  return tier;
}

interface Reading {
  status: number;
  level: string;
  servedBy: string;
  ms: number;
  body: { product?: { price?: number; name?: string } };
}

async function read(base: string, productId: number): Promise<Reading> {
  const t0 = performance.now();
  const r = await fetch(`${base}/product?productId=${productId}&shopId=1`, { signal: AbortSignal.timeout(5000) });
  const text = await r.text();
  let body: Reading['body'] = {};
  try {
    body = JSON.parse(text) as Reading['body'];
  } catch {
    /* non-JSON error page */
  }
  return {
    status: r.status,
    level: r.headers.get('x-cache-level') ?? '-',
    servedBy: r.headers.get('x-served-by') ?? r.headers.get('x-app-member') ?? '-',
    ms: performance.now() - t0,
    body,
  };
}

type Flow = { name: string; ok: boolean; detail: string };

async function main(): Promise<number> {
  const onSignal = () => {
    void stopAll().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const tier = loadTier();
  const s = tier.spec;
  const rootDir = await makeRootDir('demo');
  cleanups.push({ what: 'runtime dir', fn: () => rm(rootDir, { recursive: true, force: true }) });
  // Random per-role Redis passwords, as the operator generates into <tier>-redis-passwords.
  const creds = randomRedisCredentials();
  say(`CacheTier "${tier.metadata.name}" from examples/cachetier.yaml; runtime files in ${rootDir}`);
  const TOTAL = 9;

  const zk = await step(1, TOTAL, `ZooKeeper x${s.zookeeper.replicas} (zoo.cfg rendered by the operator)`, () =>
    // .31+: ZooKeeper's metrics port (7000) is the local Redis members' port, and they start at .10.
    startZooKeeperEnsemble({ ipPrefix: IP, rootDir, firstHost: 31, count: s.zookeeper.replicas, spec: s.zookeeper, metricsPort: METRICS_PORTS.zookeeper }),
  );
  cleanups.push({ what: 'zookeeper', fn: () => zk.stop() });

  const kafka = await step(2, TOTAL, `Kafka 3.9 x${s.kafka.replicas} in ZooKeeper mode (server.properties rendered)`, () =>
    startKafkaCluster({
      ipPrefix: IP,
      rootDir,
      zookeeperConnect: zk.connectString,
      count: s.kafka.replicas,
      spec: s.kafka,
      configOverrides: { 'group.initial.rebalance.delay.ms': '0' },
      metricsPort: METRICS_PORTS.kafka,
    }),
  );
  cleanups.push({ what: 'kafka', fn: () => kafka.stop() });

  await step(3, TOTAL, 'Kafka topics by the operator\'s topic manager', async () => {
    const t = s.kafka.topics;
    const r = await createTopicManager().reconcile(kafka.brokers, [t.cacheMessage, t.accessLog, t.deadLetter]);
    if (r.condition.status !== 'True') throw new Error(`topics: ${r.condition.reason}: ${r.condition.message}`);
    return r;
  });

  const redis = await step(
    4,
    TOTAL,
    `Redis Cluster ${s.redis.masters} masters + ${s.redis.replicasPerMaster} replica each, formed by the operator's orchestration`,
    () =>
      startRedisCluster({
        masters: s.redis.masters,
        replicasPerMaster: s.redis.replicasPerMaster,
        ipPrefix: IP,
        acl: creds,
        rootDir,
        spec: s.redis,
      }),
  );
  cleanups.push({ what: 'redis', fn: () => redis.stop() });
  // A redis_exporter per member, as the sidecar spec.metrics renders.
  for (const e of await startRedisExporters(redis.nodes, creds, rootDir)) cleanups.push({ what: e.name, fn: () => e.kill('SIGTERM', 5000) });

  const source = await step(5, TOTAL, 'sample source service (products and shops)', () =>
    startSourceService({ host: `${IP}.61`, port: 8080, kafkaBrokers: kafka.brokers, rootDir, topic: s.kafka.topics.cacheMessage.name }),
  );
  cleanups.push({ what: 'source', fn: () => source.stop() });

  const nodeOptions = nodeHeapOptions(s.producer.resources); // the Deployment sets it too
  const env = {
    ...producerEnv(
      {
        ...tier,
        spec: { ...s, producer: { ...s.producer, sources: { productInfoService: source.url, shopInfoService: source.url } } },
      },
      { kafkaBrokers: kafka.brokers, zookeeperConnect: zk.connectString, redisSeeds: redis.seeds },
    ),
    ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
  };
  const producer = await step(6, TOTAL, 'cache-producer (env rendered by the operator)', () =>
    startProducer({ env, host: `${IP}.62`, port: 8080, rootDir, redisPassword: creds.producer }),
  );
  cleanups.push({ what: 'producer', fn: () => producer.stop() });

  const common = {
    redisSeeds: redis.seeds,
    producerUrl: producer.url,
    kafkaBrokers: kafka.brokers,
  };
  const apps = await step(7, TOTAL, 'OpenResty app layer x2 (nginx.conf rendered by the operator)', async () => {
    const out = [];
    for (const host of [`${IP}.71`, `${IP}.72`]) {
      const h = await startOpenResty({
        layer: 'app',
        host,
        port: 8080,
        rootDir,
        tier,
        redisPassword: creds.app,
        input: { ...common, memberName: `app@${host}`, testEndpoints: false },
      });
      cleanups.push({ what: `app ${host}`, fn: () => h.stop() });
      out.push(h);
    }
    return out;
  });
  const dist = await step(8, TOTAL, 'OpenResty distribution layer (consistent hash over the app layer)', async () => {
    const h = await startOpenResty({
      layer: 'distribution',
      host: `${IP}.70`,
      port: 8080,
      rootDir,
      tier,
      redisPassword: creds.distribution,
      input: { ...common, appUpstream: { kind: 'static', servers: apps.map((a) => `${a.host}:${a.port}`) }, testEndpoints: false },
    });
    cleanups.push({ what: 'distribution', fn: () => h.stop() });
    return h;
  });

  const targets = tierTargets({ zookeeper: zk.servers, kafka: kafka.nodes, redis: redis.nodes, producer: [producer], openresty: [dist, ...apps] });
  const prometheus = await step(9, TOTAL, 'Prometheus scraping every component, with the shipped alert rules', () =>
    startPrometheus({
      host: `${IP}.90`,
      rootDir,
      config: scrapeConfig(targets, { ruleFiles: [path.join(REPO, RULES_FILE)], namespace: 'demo' }),
    }),
  );
  cleanups.push({ what: 'prometheus', fn: () => prometheus.stop() });

  say('\nthe tier is up:');
  say(`  distribution (entry)  ${dist.url}/product?productId=1&shopId=1   (JSON)`);
  say(`  in a browser          ${dist.url}/product.html?productId=1&shopId=1`);
  say(`  app layer             ${apps.map((a) => a.url).join('  ')}`);
  say(`  cache-producer        ${producer.url}/product/1   ${producer.metricsUrl}`);
  say(`  source service        ${source.url}/product/1   (PUT it to publish a change)`);
  say(`  redis seeds           ${redis.seeds.join(' ')}`);
  say(`  kafka                 ${kafka.brokers.join(' ')}   zookeeper ${zk.connectString}`);
  say(`  prometheus            ${prometheus.url}   (targets: ${prometheus.url}/targets, alerts: ${prometheus.url}/alerts)\n`);

  const flows: Flow[] = [];
  const run = async (name: string, fn: () => Promise<string>) => {
    say(`--- ${name}`);
    try {
      const detail = await fn();
      flows.push({ name, ok: true, detail });
      say(`    PASS ${detail}`);
    } catch (e) {
      flows.push({ name, ok: false, detail: String(e) });
      say(`    FAIL ${String(e)}`);
    }
  };

  // First, so the flows below show in Prometheus (and a test can ask it while they run).
  await run('Prometheus scrapes every component', async () => {
    const want = targetCount(targets);
    let health: Awaited<ReturnType<typeof targetHealth>> = [];
    // Each target turns up after its first scrape; on a busy 2-core machine that can take a while.
    for (let i = 0; i < 90; i++) {
      health = await targetHealth(prometheus.url);
      if (health.length === want && health.every((t) => t.health === 'up')) {
        return `${want} targets up in ${new Set(health.map((t) => t.job)).size} jobs at ${prometheus.url}`;
      }
      await sleep(1000);
    }
    const down = health.filter((t) => t.health !== 'up').map((t) => `${t.job} ${t.instance} ${t.health}`);
    throw new Error(`${health.length}/${want} targets known, not up: ${down.join(', ') || '-'}`);
  });

  await run('a product read through every cache level', async () => {
    const [a, b] = apps;
    const first = await read(a.url, 1);
    say(`    app ${a.host}: 1st read  -> ${first.status} X-Cache-Level ${first.level} (${first.ms.toFixed(1)} ms)`);
    const second = await read(a.url, 1);
    say(`    app ${a.host}: 2nd read  -> ${second.status} X-Cache-Level ${second.level} (${second.ms.toFixed(1)} ms)`);
    const other = await read(b.url, 1);
    say(`    app ${b.host}: 1st read  -> ${other.status} X-Cache-Level ${other.level} (${other.ms.toFixed(1)} ms)`);
    const viaDist = await read(dist.url, 1);
    say(`    distribution -> ${viaDist.status} X-Cache-Level ${viaDist.level} via ${viaDist.servedBy}`);
    const levels = [first.level, second.level, other.level];
    if (first.status !== 200 || levels.join(',') !== 'L3,L1,L2') throw new Error(`levels were ${levels.join(',')}, want L3,L1,L2`);
    return `L3 -> L1 -> L2 as expected; product "${first.body.product?.name ?? '?'}"`;
  });

  await run('an update flows source -> Kafka -> producer -> Redis -> nginx', async () => {
    const want = 1000 + Math.floor(Math.random() * 9000);
    await read(dist.url, 2); // warm L1 so we see the invalidation, not a cold read
    const t0 = performance.now();
    const put = await fetch(`${source.url}/product/2`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ price: want }),
    });
    if (put.status !== 200) throw new Error(`source PUT answered ${put.status}`);
    for (let i = 0; i < 400; i++) {
      const r = await read(dist.url, 2);
      if (r.body.product?.price === want) return `price ${want} served after ${(performance.now() - t0).toFixed(0)} ms (X-Cache-Level ${r.level})`;
      await sleep(25);
    }
    throw new Error(`price ${want} not served within 10 s`);
  });

  await run('a hot product is detected and spread over the app layer', async () => {
    const hotId = 42;
    const cluster = new Cluster(redis.seeds.map((x) => ({ host: x.split(':')[0], port: Number(x.split(':')[1]) })), {
      redisOptions: adminAuth(creds),
    });
    try {
      const before = new Set<string>();
      for (let i = 0; i < 20; i++) before.add((await read(dist.url, hotId)).servedBy);
      const deadline = Date.now() + (HOT_WINDOW_SECONDS * 3 + 20) * 1000;
      let hot: string[] = [];
      let n = 0;
      while (Date.now() < deadline) {
        // Background traffic over 100 products, and product 42 at ~30x the others' rate.
        const batch: Promise<unknown>[] = [];
        for (let i = 0; i < 30; i++) batch.push(read(dist.url, hotId));
        batch.push(read(dist.url, 1 + (n++ % 100)));
        await Promise.all(batch);
        hot = await cluster.zrangebyscore(HOT_SET_KEY, Date.now(), '+inf');
        if (hot.includes(String(hotId))) break;
      }
      if (!hot.includes(String(hotId))) throw new Error(`product ${hotId} not flagged hot (hot set: [${hot.join(',')}])`);
      say(`    flagged hot: [${hot.join(',')}] in Redis ${HOT_SET_KEY}`);
      const after = new Map<string, number>();
      for (let i = 0; i < 10 && after.size < apps.length; i++) {
        await sleep(1000); // the distribution layer pulls the hot set on a timer
        for (let j = 0; j < 40; j++) {
          const r = await read(dist.url, hotId);
          after.set(r.servedBy, (after.get(r.servedBy) ?? 0) + 1);
        }
      }
      say(`    before: always ${[...before].join(',')}; after: ${[...after].map(([k, v]) => `${k} x${v}`).join(', ')}`);
      if (before.size !== 1) throw new Error(`a cold id should stick to one app member, saw ${before.size}`);
      if (after.size < apps.length) throw new Error('the hot id was not spread over the app layer');
      return `spread over ${after.size} app members`;
    } finally {
      cluster.disconnect();
    }
  });

  const passed = flows.filter((f) => f.ok).length;
  say('\nsummary:');
  for (const f of flows) say(`  ${f.ok ? 'PASS' : 'FAIL'}  ${f.name}: ${f.detail}`);
  say(`demo: ${passed} passed, ${flows.length - passed} failed`);

  if (ONCE) {
    await stopAll();
    return passed === flows.length ? 0 : 1;
  }
  say(`\nthe tier keeps running: try  curl -i '${dist.url}/product?productId=7&shopId=1'`);
  say('press Ctrl-C to stop everything');
  await new Promise(() => undefined); // until SIGINT
  return 0;
}

main().then(
  (code) => process.exit(code),
  async (e) => {
    say(`\ndemo failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    await stopAll();
    process.exit(1);
  },
);
