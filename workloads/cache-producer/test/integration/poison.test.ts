// Bad input and faults on the producer's data path, every server real (source -> Kafka ->
// producer -> Redis Cluster): a forged version, a source that fails forever for one product,
// a flood of unknown ids, a late-created product behind a "not found", id boundaries and
// methods over HTTP, records' TTLs, batches that outlive the group session, and Kafka down while
// reads go on.
// Its own addresses (127.0.6.x), so it never collides with the other data-path file.
import { jest } from '@jest/globals';
import type { Consumer } from 'kafkajs';
import { getJson, groupLag, metricSum, pool, startStack, waitFor, waitRedisMatchesSource, type SourceRecord, type Stack } from './env.js';
import { isMaster, parseClusterNodes } from '../../../../operator/src/redis/parse.js';
import { changesFlowingCondition } from '../../../../operator/src/controller/conditions.js';
import { createProducerProbe } from '../../../../operator/src/producer/probe.js';

jest.setTimeout(600_000);

let s: Stack;
let dlqConsumer: Consumer;
const dead: Array<{ reason: string; detail: string; value: string }> = [];
const RATE = 20;
const ATTEMPTS = 3;
const TOMBSTONE_TTL_S = 5;
const RECORD_TTL_S = 600;

beforeAll(async () => {
  s = await startStack({
    producers: 1,
    seedProducts: 50,
    ip: '127.0.6',
    spec: {
      producer: {
        dataPath: { maxFutureSkewSeconds: 300, recordTtlSeconds: RECORD_TTL_S, readThroughTombstoneTtlSeconds: TOMBSTONE_TTL_S, sourceRequestsPerSecond: RATE, sourceAttempts: ATTEMPTS },
      },
    },
  });
  dlqConsumer = s.kafkaClient.consumer({ groupId: `poison-dlq-${Date.now()}` });
  await dlqConsumer.connect();
  await dlqConsumer.subscribe({ topic: s.tier.spec.kafka.topics.deadLetter.name, fromBeginning: true });
  await dlqConsumer.run({
    eachMessage: async ({ message }) => {
      dead.push({
        reason: String(message.headers?.['x-dead-letter-reason'] ?? ''),
        detail: String(message.headers?.['x-dead-letter-detail'] ?? ''),
        value: message.value?.toString('utf8') ?? '',
      });
    },
  });
}, 420_000);

afterAll(async () => {
  await dlqConsumer?.disconnect().catch(() => undefined);
  await s?.stop();
}, 180_000);

const producerUrl = () => s.producers[0]!.url;
const producerMetricsUrl = () => s.producers[0]!.metricsUrl;
/** What the operator's ChangesFlowing condition says of this producer (its real probe). */
const changesFlowing = async () => {
  const u = new URL(producerUrl());
  return changesFlowingCondition(await createProducerProbe().health([{ pod: 'producer-0', host: u.hostname, port: Number(u.port) }]));
};
const cacheTopic = () => s.tier.spec.kafka.topics.cacheMessage.name;
const send = (key: string, value: Record<string, unknown>) => s.kproducer.send({ topic: cacheTopic(), acks: -1, messages: [{ key, value: JSON.stringify(value) }] });
const put = (id: number, body: Record<string, unknown>) =>
  getJson<SourceRecord>(`${s.source.url}/product/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), timeoutMs: 60_000 });
const stored = async (id: number) => {
  const raw = await s.client.get(`product_info_${id}`);
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
};

test('a forged huge version is dead-lettered with its reason and does not pin the product', async () => {
  await send('3', { serviceId: 'productInfoService', id: 3, version: 9007199254740991, name: 'forged' });
  await waitFor('forged message dead-lettered', async () => dead.some((d) => d.value.includes('"forged"')), 60_000);
  const d = dead.find((x) => x.value.includes('"forged"'))!;
  expect(d.reason).toBe('version_in_future');
  expect(d.detail).toMatch(/ahead of this producer's clock/);
  // A real change afterwards is applied: the product is not pinned.
  await put(3, { name: 'real-after-forged', price: 333 });
  await waitRedisMatchesSource(s, [3], 30_000);
  expect((await stored(3))!.name).toBe('real-after-forged');
});

test('a source that fails forever for one product: dead-lettered after the set attempts; others flow; nothing stalls', async () => {
  await getJson(`${s.source.url}/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failPaths: ['/product/4'] }) });
  try {
    const t0 = Date.now();
    await put(4, { name: 'never-served' });
    await Promise.all([5, 6, 7].map((id) => put(id, { name: `fine-${id}` })));
    await waitRedisMatchesSource(s, [5, 6, 7], 30_000);
    await waitFor('product 4 dead-lettered', async () => dead.some((d) => d.reason === 'source_failed' && d.value.includes('"productId":4')), 120_000);
    const d = dead.find((x) => x.reason === 'source_failed' && x.value.includes('"productId":4'))!;
    expect(d.detail).toMatch(new RegExp(`^${ATTEMPTS} attempts failed; the last: GET .*/product/4: HTTP 503`));
    // A read-through of it fails too: 503 (or 429 once the source budget is spent), and the body
    // names neither the source's address nor a Redis node (those stay in the producer's log).
    const r = await fetch(`${producerUrl()}/product/4`, { signal: AbortSignal.timeout(30_000) });
    const body = await r.text();
    expect([503, 429]).toContain(r.status);
    for (const internal of [new URL(s.source.url).host, 'http://', ...s.redis.seeds]) expect(body).not.toContain(internal);
    // The partition moved on: every message is committed, and a later change of another product
    // on any partition is served.
    await waitFor('group lag 0', async () => (await groupLag(s)) === 0, 60_000);
    await put(8, { name: 'after-poison' });
    await waitRedisMatchesSource(s, [8], 30_000);
    console.log(`source failing for product 4: dead-lettered and moved on in ${Date.now() - t0} ms`);
  } finally {
    await getJson(`${s.source.url}/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failPaths: [] }) });
  }
});

test('ids: one rule (1..10^15-1); invalid ids are a 400, never a 5xx, and never reach Redis or the source', async () => {
  // Let the source-call budget refill from earlier tests.
  await new Promise((r) => setTimeout(r, 1500));
  const calls0 = await metricSum(producerMetricsUrl(), 'cachetier_producer_source_calls_total');
  const bad = ['0', '-1', '007', '1000000000000000', '99999999999999999999', '1.5', '1e3', '%C3%A9', encodeURIComponent('１２'), 'x'.repeat(10_240), '%20'];
  for (const id of bad) {
    const r = await getJson(`${producerUrl()}/product/${id}`);
    expect([id.slice(0, 20), r.status]).toEqual([id.slice(0, 20), 400]);
  }
  expect(await metricSum(producerMetricsUrl(), 'cachetier_producer_source_calls_total')).toBe(calls0);
  const empty = await getJson(`${producerUrl()}/product/`);
  expect(empty.status).toBeLessThan(500);
  for (const id of ['1', String(2 ** 31 - 1), String(2 ** 31), '999999999999999']) {
    const r = await getJson(`${producerUrl()}/product/${id}`);
    expect([id, id === '1' ? 200 : 404]).toEqual([id, r.status]);
  }
});

test('methods: only GET and HEAD on the product endpoints', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const r = await fetch(`${producerUrl()}/product/1`, { method, signal: AbortSignal.timeout(10_000) });
    expect([method, r.status, r.headers.get('allow')]).toEqual([method, 405, 'GET, HEAD']);
  }
  expect((await fetch(`${producerUrl()}/product/1`, { method: 'HEAD' })).status).toBe(200);
});

test('a product created later with version 1 is not hidden by the "not found" an earlier read cached', async () => {
  const id = 4_000_000_001;
  expect((await getJson(`${producerUrl()}/product/${id}`)).status).toBe(404);
  const tomb = await stored(id);
  expect(tomb).toEqual({ _v: 0, _deleted: true });
  const pttl = await s.client.pttl(`product_info_${id}`);
  expect(pttl).toBeGreaterThan(0);
  expect(pttl).toBeLessThanOrEqual(TOMBSTONE_TTL_S * 1000);
  // The product appears with a counter version 1 (a source that numbers its versions).
  await send(String(id), { serviceId: 'productInfoService', id, version: 1, name: 'created-later' });
  await waitFor('created product visible', async () => (await stored(id))?.name === 'created-later', 30_000);
  const served = await getJson<Record<string, unknown>>(`${producerUrl()}/product/${id}`);
  expect(served.status).toBe(200);
  expect(served.body.name).toBe('created-later');
});

test('a deleted product stays deleted: a late push of its old version does not bring it back', async () => {
  const before = await put(9, { name: 'to-delete' });
  await waitRedisMatchesSource(s, [9], 30_000);
  await getJson(`${s.source.url}/product/9`, { method: 'DELETE' });
  await waitFor('tombstone for 9', async () => (await stored(9))?._deleted === true, 30_000);
  // The old record arrives late (a push of the version that was deleted).
  await send('9', { serviceId: 'productInfoService', ...before.body });
  await new Promise((r) => setTimeout(r, 2000));
  expect((await stored(9))?._deleted).toBe(true);
  expect((await getJson(`${producerUrl()}/product/9`)).status).toBe(404);
});

test('every record has a TTL (jittered around the configured one)', async () => {
  const ids = [11, 12, 13, 14];
  await Promise.all(ids.map((id) => put(id, { name: `ttl-${id}` })));
  await waitRedisMatchesSource(s, ids, 30_000);
  const ttls = await Promise.all(ids.map((id) => s.client.pttl(`product_info_${id}`)));
  for (const t of ttls) {
    expect(t).toBeGreaterThan(RECORD_TTL_S * 1000 * 0.85);
    expect(t).toBeLessThanOrEqual(RECORD_TTL_S * 1000 * 1.1);
  }
});

test('a flood of unknown ids: source calls stay within the budget, answers are 404 or 429, never 5xx, and "not found" entries expire in seconds', async () => {
  await new Promise((r) => setTimeout(r, 1500));
  const calls0 = await metricSum(producerMetricsUrl(), 'cachetier_producer_source_calls_total');
  const t0 = Date.now();
  const ids = Array.from({ length: 300 }, (_, i) => 5_000_000_000 + i * 7919);
  const statuses = await pool(ids, 20, async (id) => (await getJson(`${producerUrl()}/product/${id}`)).status);
  const seconds = (Date.now() - t0) / 1000;
  const calls = (await metricSum(producerMetricsUrl(), 'cachetier_producer_source_calls_total')) - calls0;
  const byStatus: Record<number, number> = {};
  for (const st of statuses) byStatus[st] = (byStatus[st] ?? 0) + 1;
  console.log(`flood: 300 unknown ids in ${seconds.toFixed(1)} s -> ${JSON.stringify(byStatus)}, ${calls} source calls (budget ${RATE}/s)`);
  expect(Object.keys(byStatus).every((k) => k === '404' || k === '429')).toBe(true);
  expect(byStatus[429]).toBeGreaterThan(0);
  expect(calls).toBeLessThanOrEqual(RATE + RATE * seconds + 1);
  const refused = await fetch(`${producerUrl()}/product/${ids[ids.length - 1] + 1}`);
  if (refused.status === 429) expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  // The tombstones go away on their own.
  const someKey = `product_info_${ids[statuses.lastIndexOf(404)]}`;
  expect(await s.client.exists(someKey)).toBe(1);
  await new Promise((r) => setTimeout(r, TOMBSTONE_TTL_S * 1000 + 500));
  expect(await s.client.exists(someKey)).toBe(0);
});

test('offsets wait for a replica: a lagging replica is counted; a master killed right after a write converges to the source', async () => {
  const id = 16;
  const key = `product_info_${id}`;
  const slot = Number(await s.client.cluster('KEYSLOT', key));
  const nodes = parseClusterNodes(String(await s.client.cluster('NODES')));
  const master = nodes.find((n) => isMaster(n) && n.slots.includes(slot))!;
  const replica = nodes.find((n) => n.masterId === master.id)!;
  const handle = (n: { host: string; port: number }) => s.redis.nodes.find((h) => h.host === n.host && h.port === n.port)!;
  const m = handle(master);
  const r = handle(replica);

  // A replica that cannot take writes: the batch waits its bound, then the timeout is counted.
  const timeouts0 = await metricSum(producerMetricsUrl(), 'cachetier_producer_replication_wait_timeouts_total');
  r.proc.child.kill('SIGSTOP');
  try {
    await put(id, { name: 'replica-stopped' });
    await waitFor('replication wait timeout counted', async () => (await metricSum(producerMetricsUrl(), 'cachetier_producer_replication_wait_timeouts_total')) > timeouts0, 30_000);
  } finally {
    r.proc.child.kill('SIGCONT');
  }
  await waitRedisMatchesSource(s, [id], 30_000);

  // A change, then its master killed at once: after the failover the value is the source's.
  await put(id, { name: 'then-master-killed', price: 1616 });
  await m.kill('SIGKILL');
  await waitFor(
    'replica promoted',
    async () => parseClusterNodes(String(await s.client.cluster('NODES'))).some((n) => n.id === replica.id && isMaster(n)),
    60_000,
  );
  await waitRedisMatchesSource(s, [id], 60_000);
  await m.restart(); // back as a replica of its old replica
});

test('a batch longer than the group session (source calls paced by the budget): heartbeats keep the member, no rebalance, nothing redone', async () => {
  // 1,200 pulls of distinct products at RATE source calls/s take ~60 s, twice the consumer's 30 s
  // session: the batches outlive it. A member that stopped heartbeating would be expelled, its
  // partitions' batches redone by the next owner (some products fetched twice) and its consumer
  // shown down.
  const N = 1200;
  const base = 7_000_000;
  const up = () => metricSum(producerMetricsUrl(), 'cachetier_producer_kafka_consumer_up');
  await waitFor('both consumers up', async () => (await up()) === 2, 60_000);
  await getJson(`${s.source.url}/stats/reset`, { method: 'POST' });
  const messages = Array.from({ length: N }, (_, i) => ({ key: String(base + i), value: JSON.stringify({ serviceId: 'productInfoService', productId: base + i }) }));
  const t0 = Date.now();
  await s.kproducer.send({ topic: cacheTopic(), acks: -1, messages });
  let downSamples = 0;
  await waitFor(
    'every pull done',
    async () => {
      if ((await up()) !== 2) downSamples++;
      return (await groupLag(s)) === 0;
    },
    240_000,
  );
  const seconds = (Date.now() - t0) / 1000;
  const stats = (await getJson<{ calls: Record<string, number> }>(`${s.source.url}/stats`)).body.calls;
  const fetched = Array.from({ length: N }, (_, i) => stats[`GET /product/${base + i}`] ?? 0);
  const twice = fetched.filter((n) => n > 1).length;
  console.log(`long batches: ${N} pulls in ${seconds.toFixed(1)} s at ${RATE} source calls/s; fetched twice: ${twice}; consumer down in ${downSamples} samples`);
  expect(seconds).toBeGreaterThan(35); // the batches did outlive the 30 s session
  expect(fetched.filter((n) => n === 0).length).toBe(0);
  expect(twice).toBe(0);
  expect(downSamples).toBe(0);
});

test('Kafka down: the producer stays ready and keeps serving reads; Kafka trouble shows as a metric and as the CacheTier condition ChangesFlowing', async () => {
  const up = () => metricSum(producerMetricsUrl(), 'cachetier_producer_kafka_consumer_up');
  await waitFor('both consumers up', async () => (await up()) === 2, 60_000);
  await Promise.all(s.kafka.nodes.map((_, i) => s.kafka.kill(i, 'SIGKILL')));
  try {
    const t0 = Date.now();
    let readyFails = 0;
    let served = 0;
    while (Date.now() - t0 < 25_000) {
      const r = await getJson<Record<string, unknown>>(`${producerUrl()}/readyz`, { timeoutMs: 5000 });
      if (r.status !== 200) readyFails++;
      const p = await getJson(`${producerUrl()}/product/${20 + (served % 30)}`, { timeoutMs: 5000 });
      expect(p.status).toBe(200);
      served++;
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(readyFails).toBe(0);
    expect((await getJson(`${producerUrl()}/healthz`)).status).toBe(200);
    // The outage is visible: in /readyz's detail (not its verdict) and in the gauge.
    await waitFor('readyz shows kafka down', async () => {
      const r = await getJson<Record<string, unknown>>(`${producerUrl()}/readyz`);
      return r.status === 200 && r.body.ready === true && r.body.redis === true && r.body.kafka === false;
    }, 30_000);
    await waitFor('kafka_consumer_up 0', async () => (await up()) === 0, 30_000);
    // ...and in the CacheTier: the operator's probe of this pod gives ChangesFlowing False.
    const flowing = await changesFlowing();
    expect(flowing).toMatchObject({ status: 'False', reason: 'ChangeConsumerDown' });
    expect(flowing.message).toMatch(/^cache-message not consumed by 1\/1 producer pods \(producer-0\): updates do not reach Redis; access-log not consumed/);
    console.log(`Kafka down: ${served} reads served in 25 s, /readyz never failed; ChangesFlowing: ${flowing.message}`);
  } finally {
    // Kafka back: the consumers rejoin and changes flow again.
    for (let i = 0; i < s.kafka.nodes.length; i++) await s.kafka.start(i);
  }
  await waitFor('both consumers back up', async () => (await up()) === 2, 120_000);
  expect(await changesFlowing()).toMatchObject({ status: 'True', reason: 'Consuming' });
  await put(15, { name: 'after-kafka-outage' });
  await waitRedisMatchesSource(s, [15], 60_000);
});
