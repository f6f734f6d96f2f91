// With a real Kafka (hack/local/zookeeper.ts + kafka.ts, one broker):
//  * the real data path: source service -> cache-message -> the real cache-producer (L3 for
//    nginx; it writes Redis + PUBLISHes) -> nginx serves the change within 1 s of the Redis write;
//  * access log: every app-layer request's record lands on `access-log` keyed by productId; URI and
//    User-Agent are cut to a bound; with Kafka down pages stay 200 and fast, every record is
//    counted once (delivered, dropped or failed); when Kafka is back, sending resumes.
import { jest } from '@jest/globals';
import { rmSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import type { LocalRedisCluster } from '../../../../hack/local/redis.js';
import type { OpenRestyHandle } from '../../../../hack/local/nginx.js';
import { kafkaJarsPresent, startKafkaCluster, type KafkaCluster } from '../../../../hack/local/kafka.js';
import { startZooKeeperEnsemble, type ZooKeeperEnsemble } from '../../../../hack/local/zookeeper.js';
import { startProducer, type ProducerHandle } from '../../../../hack/local/producer.js';
import { startSourceService, type SourceHandle } from '../../../../hack/local/source.js';
import { producerEnv } from '../../../../operator/src/render/config/producer.js';
import {
  clusterClient,
  destroyAgent,
  localTier,
  get,
  makeRootDir,
  metrics,
  startCluster,
  startFakeProducer,
  startOpenResty,
  waitFor,
  type FakeProducer,
} from './support.js';

jest.setTimeout(400_000);

const IP = '127.0.3';
const TOPIC = 'access-log';
let root: string;
let zk: ZooKeeperEnsemble;
let kafka: KafkaCluster;
let cluster: LocalRedisCluster;
let producer: FakeProducer;
let app: OpenRestyHandle;
let realApp: OpenRestyHandle;
let source: SourceHandle;
let realProducer: ProducerHandle;

interface LogRecord {
  key: string;
  value: { productId: number; shopId: number | null; uri: string; ts: number; ua: string; layer: string };
  /** The record's size in bytes, as produced. */
  size: number;
}

/** Reads the whole topic with a fresh consumer group until `until` holds (bounded). */
async function readTopic(until: (recs: LogRecord[]) => boolean, timeoutMs = 60_000): Promise<LogRecord[]> {
  const k = new Kafka({ clientId: 'openresty-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
  const consumer = k.consumer({ groupId: `t-${Date.now()}-${Math.random()}` });
  const recs: LogRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        recs.push({ key: message.key?.toString() ?? '', value: JSON.parse(message.value?.toString() ?? 'null'), size: message.value?.length ?? 0 });
      },
    });
    await waitFor('access-log records', () => until(recs), timeoutMs, 250);
    return recs;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

const present = kafkaJarsPresent();
if (!present) console.warn('[openresty accesslog test] Kafka jars missing: run hack/deps.d/30-kafka.sh (make deps). FAILING, not skipping.');

beforeAll(async () => {
  if (!present) throw new Error('Kafka jars missing (hack/deps.d/30-kafka.sh)');
  root = await makeRootDir('openresty-kafka');
  zk = await startZooKeeperEnsemble({ ipPrefix: IP, rootDir: root, count: 1, firstHost: 120 });
  kafka = await startKafkaCluster({ ipPrefix: IP, rootDir: root, zookeeperConnect: zk.connectString, count: 1, firstHost: 121 });
  const admin = new Kafka({ clientId: 'openresty-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: ['access-log', 'cache-message', 'cache-message-dlq'].map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })),
    waitForLeaders: true,
  });
  await admin.disconnect();
  cluster = await startCluster(IP, root, 3, 7400);
  producer = await startFakeProducer(`${IP}.123`);
  producer.generate = true;
  app = await startOpenResty({
    layer: 'app',
    host: `${IP}.124`,
    port: 8080,
    rootDir: root,
    input: { redisSeeds: cluster.seeds, producerUrl: producer.url, kafkaBrokers: kafka.brokers, accessLogFlushMs: 200 },
  });
  // the real cache-producer (built JS) and source service, configured by the operator's env renderer
  source = await startSourceService({ host: `${IP}.125`, port: 8081, kafkaBrokers: kafka.brokers, rootDir: root, seedProducts: 100 });
  const tier = localTier({ producer: { sources: { productInfoService: source.url, shopInfoService: source.url } } });
  realProducer = await startProducer({
    env: producerEnv(tier, { kafkaBrokers: kafka.brokers, zookeeperConnect: zk.connectString, redisSeeds: cluster.seeds }),
    host: `${IP}.126`,
    port: 8080,
    rootDir: root,
    readyTimeoutMs: 150_000,
  });
  realApp = await startOpenResty({
    layer: 'app',
    host: `${IP}.127`,
    port: 8080,
    rootDir: root,
    // the producer's cold path (source fetch, ZooKeeper lock, CAS write) on a loaded CI box
    spec: { openresty: { upstreamTimeoutMs: 5000 } },
    input: { redisSeeds: cluster.seeds, producerUrl: realProducer.url, kafkaBrokers: kafka.brokers },
  });
});

afterAll(async () => {
  await realApp?.stop();
  await realProducer?.stop().catch(() => undefined);
  await source?.stop().catch(() => undefined);
  await app?.stop();
  await producer?.close();
  await cluster?.stop();
  await kafka?.stop();
  await zk?.stop();
  destroyAgent();
  if (root) rmSync(root, { recursive: true, force: true });
});

test('real producer as L3: cold product from the source via the producer, then L2 for another instance', async () => {
  const r1 = await get(`${realApp.url}/product?productId=5`);
  expect({ status: r1.status, body: r1.status === 200 ? '' : r1.body }).toEqual({ status: 200, body: '' });
  expect(r1.headers['x-cache-level']).toBe('L3');
  const body = JSON.parse(r1.body);
  expect(body.product.id).toBe(5);
  expect(body.shop.id).toBe(body.product.shopId); // shop looked up by the product's shopId
  expect(typeof body.product._v).toBe('number');
  // started with exactly the operator's env: no lock history kept or served
  expect((await get(`${realProducer.url}/debug/locks`)).status).toBe(404);
  // the producer wrote it back to Redis: another nginx instance finds it in L2
  await waitFor('product_info_5 in Redis', async () => (await get(`${app.url}/product?productId=5`)).headers['x-cache-level'] !== 'L3', 10_000);
  const r2 = await get(`${app.url}/product?productId=6`);
  expect(r2.status).toBe(200);
  // unknown product: negative through the real producer's 404
  const r3 = await get(`${realApp.url}/product?productId=987654`);
  expect(r3.status).toBe(404);
  expect(r3.headers['x-cache-level']).toBe('negative');
});

test('a product updated through a change message is served new by nginx within 1 s of the Redis write', async () => {
  const redis = clusterClient(cluster.seeds);
  try {
    // warm L1 in both workers
    for (let i = 0; i < 20; i++) expect((await get(`${realApp.url}/product?productId=7`)).status).toBe(200);
    const put = await fetch(`${source.url}/product/7`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'changed via cache-message' }),
    });
    expect(put.status).toBeLessThan(300);
    let tRedis = 0;
    let tNginx = 0;
    await waitFor(
      'new value in Redis and from nginx',
      async () => {
        const now = Date.now();
        if (!tRedis) {
          const v = await redis.get('product_info_7');
          if (v && JSON.parse(v).name === 'changed via cache-message') tRedis = now;
        }
        if (!tNginx) {
          const r = await get(`${realApp.url}/product?productId=7`);
          if (JSON.parse(r.body).product.name === 'changed via cache-message') tNginx = Date.now();
        }
        return tRedis > 0 && tNginx > 0;
      },
      60_000,
      20,
    );
    expect(tNginx - tRedis).toBeLessThan(1000);
    // and every later answer, from both workers, is the new one
    for (let i = 0; i < 20; i++) expect(JSON.parse((await get(`${realApp.url}/product?productId=7`)).body).product.name).toBe('changed via cache-message');
  } finally {
    redis.disconnect();
  }
});

test('every request is logged to Kafka access-log, keyed by productId, in the contract format', async () => {
  const t0 = Date.now();
  for (let id = 1; id <= 50; id++) {
    const r = await get(`${app.url}/product?productId=${id}&shopId=7`, { 'user-agent': 'cachetier-test/1' });
    expect(r.status).toBe(200);
  }
  const recs = await readTopic((rs) => rs.filter((r) => r.value.ua === 'cachetier-test/1').length >= 50);
  const mine = recs.filter((r) => r.value.ua === 'cachetier-test/1');
  expect(mine.length).toBe(50);
  for (const r of mine) {
    expect(r.key).toBe(String(r.value.productId));
    expect(r.value).toEqual({
      productId: r.value.productId,
      shopId: 7,
      uri: `/product?productId=${r.value.productId}&shopId=7`,
      ts: r.value.ts,
      ua: 'cachetier-test/1',
      layer: 'app',
    });
    expect(r.value.ts).toBeGreaterThanOrEqual(t0 - 1000);
  }
  expect(new Set(mine.map((r) => r.value.productId)).size).toBe(50);
  const m = await metrics(app);
  expect(m['cachetier_accesslog_delivered_total']).toBeGreaterThanOrEqual(50);
  expect(m['cachetier_accesslog_dropped_total'] ?? 0).toBe(0);
  expect(m['cachetier_accesslog_failed_total'] ?? 0).toBe(0);
});

/** The access-log counters of one instance once every worker's share is in the shared dict. */
async function logCounters(h: { metricsUrl: string }): Promise<{ records: number; delivered: number; dropped: number; failed: number }> {
  await new Promise((r) => setTimeout(r, 400)); // per-worker counters are flushed every 250 ms
  const m = await metrics(h);
  return {
    records: m['cachetier_accesslog_records_total'] ?? 0,
    delivered: m['cachetier_accesslog_delivered_total'] ?? 0,
    dropped: m['cachetier_accesslog_dropped_total'] ?? 0,
    failed: m['cachetier_accesslog_failed_total'] ?? 0,
  };
}

test('an oversized URI and User-Agent are cut to their bounds (512 and 256 bytes, escaped included), whole characters only', async () => {
  const longUri = `/product?productId=9&shopId=7&pad=${'p'.repeat(3000)}`;
  const uaAccents = `big-ua ${'é'.repeat(5000)}`; // ~10 KB
  const uaQuotes = `quotes-ua ${'"'.repeat(5000)}`; // every byte escaped
  const before = await logCounters(app);
  for (const ua of [uaAccents, uaQuotes]) {
    // (node writes header strings as latin1: this sends the UTF-8 bytes)
    const r = await get(`${app.url}${longUri}`, { 'user-agent': Buffer.from(ua, 'utf8').toString('latin1') });
    expect(r.status).toBe(200);
  }
  const recs = await readTopic((rs) => rs.filter((r) => r.value.ua.startsWith('big-ua') || r.value.ua.startsWith('quotes-ua')).length >= 2);
  const mine = recs.filter((r) => r.value.ua.startsWith('big-ua') || r.value.ua.startsWith('quotes-ua'));
  expect(mine.length).toBe(2);
  const sentUri = longUri;
  for (const r of mine) {
    expect(r.value).toMatchObject({ productId: 9, shopId: 7, layer: 'app' });
    expect(Buffer.byteLength(JSON.stringify(r.value.uri))).toBeLessThanOrEqual(512 + 2);
    expect(r.value.uri.length).toBeGreaterThan(400); // cut, not dropped
    expect(sentUri.startsWith(r.value.uri)).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(r.value.ua))).toBeLessThanOrEqual(256 + 2);
    expect(r.value.ua).not.toContain('\ufffd'); // no character cut in half
    expect(r.size).toBeLessThan(1000);
  }
  const accents = mine.find((r) => r.value.ua.startsWith('big-ua'))!;
  expect(uaAccents.startsWith(accents.value.ua)).toBe(true);
  expect(Buffer.byteLength(accents.value.ua)).toBeGreaterThan(250);
  const quotes = mine.find((r) => r.value.ua.startsWith('quotes-ua'))!;
  expect(uaQuotes.startsWith(quotes.value.ua)).toBe(true);
  const after = await logCounters(app);
  expect(after.records - before.records).toBe(2);
});

test('the access log\'s fast MessageSet encoder is installed and writes the Kafka library\'s exact bytes', async () => {
  // The end-to-end check is the test above (the real broker accepts and CRC-checks every record);
  // this one compares bytes with the library's own encoder on awkward input.
  const rnd = (n: number) => Math.floor(Math.random() * n);
  const str = (len: number, alphabet: string) => Array.from({ length: len }, () => alphabet[rnd(alphabet.length)]).join('');
  const recs: Array<[string | null, string]> = [
    [null, '{"productId":1}'],
    ['', ''],
    ['7', 'x'],
    ['42', 'é€𝄞 "quoted" \\ back\nslash\u0001\t'],
    ['big', 'v'.repeat(70_000)], // a length past the memoized prefixes (and past 2^16)
  ];
  for (let i = 0; i < 500; i++) recs.push([rnd(5) === 0 ? null : String(1 + rnd(1e9)), str(rnd(400), 'abcxyz{}":,0123456789 ')]);
  const r = await fetch(`${app.url}/_cachetier/kafka-encode`, { method: 'POST', body: JSON.stringify(recs) });
  expect(r.status).toBe(200);
  const out = (await r.json()) as { installed: boolean; equal: boolean; bytes: number; first_diff: number | null; version: string };
  expect(out).toMatchObject({ installed: true, equal: true, first_diff: null, version: '0.07' });
  expect(out.bytes).toBeGreaterThan(70_000 + 500 * 26);
});

test('Kafka down: pages still 200 and fast, drops counted; sending resumes when Kafka is back', async () => {
  // controlled shutdown: a SIGKILLed broker's registration lingers in ZooKeeper for the session
  // timeout (18 s) and a restart within it exits with NodeExists
  await kafka.kill(0, 'SIGTERM');
  const downAt = Date.now();
  const lost = (m: Record<string, number>) => (m['cachetier_accesslog_dropped_total'] ?? 0) + (m['cachetier_accesslog_failed_total'] ?? 0);
  const before = lost(await metrics(app));
  const recordsBefore = (await logCounters(app)).records;
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const r = await get(`${app.url}/product?productId=${(i % 20) + 1}&shopId=7`, { 'user-agent': 'while-down' });
    expect(r.status).toBe(200);
    times.push(r.ms);
  }
  times.sort((x, y) => x - y);
  expect(times[Math.floor(times.length * 0.99)]).toBeLessThan(250); // nothing waits for Kafka
  await waitFor('drops counted', async () => lost(await metrics(app)) > before, 30_000);
  // every record counted exactly once: once the producer has given up on what it held,
  // delivered + dropped + failed = records, and these 200 requests made 200 records
  let c = await logCounters(app);
  await waitFor(
    'every access-log record accounted for',
    async () => {
      c = await logCounters(app);
      return c.delivered + c.dropped + c.failed === c.records;
    },
    30_000,
    250,
  );
  expect(c.records - recordsBefore).toBe(200);
  expect(c.delivered + c.dropped + c.failed).toBe(c.records);
  expect(c.failed + c.dropped).toBeGreaterThan(0);

  await new Promise((r) => setTimeout(r, Math.max(0, downAt + 20_000 - Date.now())));
  await kafka.start(0);
  const admin = new Kafka({ clientId: 'openresty-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await waitFor('access-log partitions have leaders again', async () => {
      const md = await admin.fetchTopicMetadata({ topics: [TOPIC] });
      return md.topics[0].partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0);
    }, 60_000, 500);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  // keep sending until records sent after the restart show up
  let n = 0;
  const sender = setInterval(() => {
    n++;
    void get(`${app.url}/product?productId=${(n % 20) + 1}&shopId=7`, { 'user-agent': 'after-restart' }).catch(() => undefined);
  }, 100);
  try {
    const recs = await readTopic((rs) => rs.some((r) => r.value.ua === 'after-restart'), 120_000);
    expect(recs.filter((r) => r.value.ua === 'after-restart').length).toBeGreaterThan(0);
  } finally {
    clearInterval(sender);
  }
});
