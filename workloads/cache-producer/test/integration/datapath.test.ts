// The data path end to end with every server real: source service -> Kafka
// `cache-message` -> cache-producer x3 (ZooKeeper locks, Redis Lua CAS) -> Redis Cluster.
// One stack for the whole file (starting ZooKeeper + Kafka + Redis takes a while).
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { getJson, groupLag, metricSum, pool, startStack, waitFor, waitRedisMatchesSource, type SourceRecord, type Stack } from './env.js';
import { HOT_SET_KEY, INVALIDATION_CHANNEL } from '../../../../packages/contract/src/index.js';
import { adminAuth } from '../../../../hack/local/redis.js';

jest.setTimeout(600_000);

let s: Stack;
const HOT_WINDOW_S = 4;

beforeAll(async () => {
  s = await startStack({
    producers: 3,
    seedProducts: 300,
    spec: { producer: { hotProducts: { windowSeconds: HOT_WINDOW_S, topN: 20, hotTtlSeconds: 30 }, lock: { enabled: true, timeoutMs: 15_000, sessionTimeoutMs: 10_000 } } },
  });
}, 420_000);

afterAll(async () => {
  await s?.stop();
}, 180_000);

const P = () => s.producers.filter((p): p is NonNullable<typeof p> => p !== undefined);
// A PUT waits for Kafka acks=all: allow for a leader failover. A connection cut before any response
// is retried (another update of the same product; the final comparison still holds).
const put = async (id: number, body: Record<string, unknown>, mode = '') => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await getJson<SourceRecord>(`${s.source.url}/product/${id}${mode ? `?mode=${mode}` : ''}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        timeoutMs: 90_000,
      });
    } catch (e) {
      if (attempt >= 2 || (e as Error).name === 'TimeoutError') throw e;
    }
  }
};
const redisRec = async (id: number) => {
  const v = await s.client.get(`product_info_${id}`);
  return v ? (JSON.parse(v) as Record<string, unknown>) : undefined;
};
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

async function lockIntervals(): Promise<{ name: string; acquiredAt: number; releasedAt: number; from: number }[]> {
  const all = await Promise.all(
    P().map(async (p, i) => (await getJson<{ intervals: { name: string; acquiredAt: number; releasedAt: number }[] }>(`${p.url}/debug/locks`)).body.intervals.map((x) => ({ ...x, from: i }))),
  );
  return all.flat();
}
function overlaps(intervals: { name: string; acquiredAt: number; releasedAt: number; from: number }[]): string[] {
  const by = new Map<string, typeof intervals>();
  for (const i of intervals) by.set(i.name, [...(by.get(i.name) ?? []), i]);
  const bad: string[] = [];
  for (const [name, list] of by) {
    list.sort((a, b) => a.acquiredAt - b.acquiredAt || a.releasedAt - b.releasedAt);
    for (let k = 1; k < list.length; k++) {
      if (list[k].acquiredAt < list[k - 1].releasedAt) bad.push(`${name}: [${list[k - 1].acquiredAt},${list[k - 1].releasedAt}]@${list[k - 1].from} vs [${list[k].acquiredAt},${list[k].releasedAt}]@${list[k].from}`);
    }
  }
  return bad;
}

describe('change messages -> Redis', () => {
  it('a pull message (source PUT) lands in Redis with _v, is announced, and is served over HTTP', async () => {
    const sub = new Redis({ host: s.redis.seeds[0].split(':')[0], port: Number(s.redis.seeds[0].split(':')[1]), ...adminAuth() });
    const seen: string[] = [];
    await sub.subscribe(INVALIDATION_CHANNEL);
    sub.on('message', (_c, k: string) => seen.push(k));
    try {
      const { status, body } = await put(1, { name: 'iphone7', price: 5599 });
      expect(status).toBe(200);
      await waitFor('product_info_1 updated', async () => (await redisRec(1))?._v === body.version, 60_000);
      const rec = await redisRec(1);
      expect(rec).toMatchObject({ id: 1, name: 'iphone7', price: 5599, modifiedTime: body.modifiedTime, _v: body.version });
      // the message names the version written, so a late one cannot evict a newer L1 copy
      await waitFor('invalidation published', () => seen.includes(`product_info_1 ${body.version}`), 10_000);
      const http = await getJson<Record<string, unknown>>(`${P()[1].url}/product/1`);
      expect(http.status).toBe(200);
      expect(http.body).toMatchObject({ name: 'iphone7', _v: body.version });
    } finally {
      sub.disconnect();
    }
  });

  it('push mode and shop messages work too; DELETE leaves a tombstone (404) that older writes cannot undo', async () => {
    const { body } = await put(2, { name: 'pushed' }, 'push');
    await waitFor('push applied', async () => (await redisRec(2))?._v === body.version, 60_000);
    const shop = await getJson<SourceRecord>(`${s.source.url}/shop/3`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"name":"s3"}' });
    await waitFor('shop applied', async () => JSON.parse((await s.client.get('shop_info_3')) ?? '{}')._v === shop.body.version, 60_000);

    const del = await getJson<{ version: number }>(`${s.source.url}/product/2`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    await waitFor('tombstone', async () => (await redisRec(2))?._deleted === true, 60_000);
    expect((await redisRec(2))?._v).toBe(del.body.version);
    // Replay the pre-delete record: the tombstone is newer, so nothing changes.
    await s.kproducer.send({ topic: 'cache-message', acks: -1, messages: [{ key: '2', value: JSON.stringify({ serviceId: 'productInfoService', ...body }) }] });
    const marker = await put(4, { name: 'marker' }, 'push'); // same path, later: once it is in, the replay was processed
    await waitFor('marker', async () => (await redisRec(4))?._v === marker.body.version, 60_000);
    await waitFor('replay consumed', async () => (await Promise.all(P().map((p) => metricSum(p.metricsUrl, 'cachetier_producer_stale_skipped_total')))).reduce((a, b) => a + b) >= 1, 30_000);
    expect(await redisRec(2)).toEqual({ _v: del.body.version, _deleted: true });
    expect((await getJson(`${P()[0].url}/product/2`)).status).toBe(404);
  });

  it('duplicates and shuffled replays never roll a record back', async () => {
    const ids = range(20, 29);
    // Versions an hour in the past: a version ahead of the producer's clock would be refused.
    const base = Date.now() - 3_600_000;
    const msgs: { key: string; value: string; id: number; v: number }[] = [];
    for (const id of ids) {
      for (let v = 1; v <= 40; v++) {
        const rec = { serviceId: 'productInfoService', id, name: `p${id}-v${v}`, version: base + v };
        msgs.push({ key: String(id), value: JSON.stringify(rec), id, v });
        if (v % 3 === 0) msgs.push({ key: String(id), value: JSON.stringify(rec), id, v }); // duplicate
      }
    }
    // Shuffle (deterministically): per-product order in Kafka is now random.
    let seed = 42;
    for (let i = msgs.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const j = seed % (i + 1);
      [msgs[i], msgs[j]] = [msgs[j], msgs[i]];
    }
    // Watch every product's version while the replay runs: it must never go down.
    let maxSeen = new Map<number, number>();
    const regressions: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const id of ids) {
          const v = Number((await redisRec(id))?._v ?? 0);
          const prev = maxSeen.get(id) ?? 0;
          if (v < prev) regressions.push(`${id}: ${prev} -> ${v}`);
          maxSeen.set(id, Math.max(prev, v));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    for (let i = 0; i < msgs.length; i += 50) {
      await s.kproducer.send({ topic: 'cache-message', acks: -1, messages: msgs.slice(i, i + 50).map((m) => ({ key: m.key, value: m.value })) });
    }
    try {
      await waitFor('all at version 40', async () => (await Promise.all(ids.map(redisRec))).every((r) => r?._v === base + 40), 90_000);
    } finally {
      watching = false;
      await watcher;
    }
    for (const id of ids) expect(await redisRec(id)).toMatchObject({ _v: base + 40, name: `p${id}-v40` });
    expect(regressions).toEqual([]);
    maxSeen = new Map();
    // A second replay of everything changes nothing.
    for (let i = 0; i < msgs.length; i += 100) {
      await s.kproducer.send({ topic: 'cache-message', acks: -1, messages: msgs.slice(i, i + 100).map((m) => ({ key: m.key, value: m.value })) });
    }
    const m = await put(5, { name: 'after-replay' }, 'push');
    await waitFor('after replay', async () => (await redisRec(5))?._v === m.body.version, 90_000);
    for (const id of ids) expect((await redisRec(id))?._v).toBe(base + 40);
  });
});

describe('3 producers, 50 products, thousands of concurrent updates', () => {
  it('Redis ends equal to the source for every product and lock-held intervals never overlap', async () => {
    const ids = range(101, 150);
    const updates = Array.from({ length: 2000 }, (_, i) => ids[(i * 7919) % ids.length]);
    const t0 = Date.now();
    const res = await pool(updates, 100, (id, i) => put(id, { name: `u${i}`, price: i }));
    expect(res.filter((r) => r.status !== 200)).toHaveLength(0);
    await waitRedisMatchesSource(s, ids, 180_000);
    process.stdout.write(`2000 updates over 50 products converged in ${Date.now() - t0} ms\n`);
    const intervals = (await lockIntervals()).filter((i) => /^product_(10[1-9]|1[1-4]\d|150)$/.test(i.name));
    expect(intervals.length).toBeGreaterThanOrEqual(50);
    expect(new Set(intervals.map((i) => i.from)).size).toBe(3); // all three replicas did work
    expect(overlaps(intervals)).toEqual([]);
  });
});

describe('bad input', () => {
  it('1,000 malformed messages are all dead-lettered and counted; consumers live; good messages still flow', async () => {
    const before = (await Promise.all(P().map((p) => metricSum(p.metricsUrl, 'cachetier_producer_dead_lettered_total')))).reduce((a, b) => a + b, 0);
    const kinds = [
      () => '{not json',
      () => JSON.stringify({ serviceId: 'productInfoService', productId: 'abc' }),
      () => JSON.stringify({ serviceId: 'nopeService', productId: 1 }),
      () => JSON.stringify({ serviceId: 'productInfoService', id: 9, name: 'x'.repeat(100_000) }),
      () => JSON.stringify([1, 2, 3]),
    ];
    const bad = Array.from({ length: 1000 }, (_, i) => ({ key: String((i % 50) + 1), value: kinds[i % kinds.length]() }));
    for (let i = 0; i < bad.length; i += 100) await s.kproducer.send({ topic: 'cache-message', acks: -1, messages: bad.slice(i, i + 100) });
    const good = await put(7, { name: 'still-flowing' });
    await waitFor('good message after the bad ones', async () => (await redisRec(7))?._v === good.body.version, 120_000);
    await waitFor(
      '1000 dead-lettered',
      async () => (await Promise.all(P().map((p) => metricSum(p.metricsUrl, 'cachetier_producer_dead_lettered_total')))).reduce((a, b) => a + b, 0) - before >= 1000,
      60_000,
    );
    const after = (await Promise.all(P().map((p) => metricSum(p.metricsUrl, 'cachetier_producer_dead_lettered_total')))).reduce((a, b) => a + b, 0);
    expect(after - before).toBe(1000);
    // The dead-letter topic holds them, each with its reason.
    const consumer = s.kafkaClient.consumer({ groupId: `dlq-reader-${Date.now()}` });
    const reasons = new Map<string, number>();
    await consumer.connect();
    await consumer.subscribe({ topic: s.tier.spec.kafka.topics.deadLetter.name, fromBeginning: true });
    let n = 0;
    await consumer.run({
      eachMessage: async ({ message }) => {
        n++;
        const r = String(message.headers?.['x-dead-letter-reason'] ?? 'none');
        reasons.set(r, (reasons.get(r) ?? 0) + 1);
      },
    });
    try {
      await waitFor('DLQ read', () => n >= 1000, 60_000);
    } finally {
      await consumer.disconnect();
    }
    expect(n).toBe(1000);
    expect(Object.fromEntries(reasons)).toEqual({ bad_json: 200, bad_type: 200, unknown_service_id: 200, too_large: 200, not_object: 200 });
    for (const p of P()) expect((await getJson(`${p.url}/readyz`)).status).toBe(200);
  });
});

describe('HTTP API (OpenResty L3)', () => {
  it('1,000 concurrent requests for one cold product over 3 replicas -> 1 source call', async () => {
    const id = 250; // seeded in the source, never written to Redis
    expect(await s.client.get(`product_info_${id}`)).toBeNull();
    await getJson(`${s.source.url}/stats/reset`, { method: 'POST' });
    const reps = P();
    const res = await pool(range(1, 1000), 1000, (i) => getJson<Record<string, unknown>>(`${reps[i % reps.length].url}/product/${id}`));
    expect(res.filter((r) => r.status !== 200)).toHaveLength(0);
    expect(new Set(res.map((r) => r.body._v)).size).toBe(1);
    const stats = await getJson<{ calls: Record<string, number> }>(`${s.source.url}/stats`);
    expect(stats.body.calls[`GET /product/${id}`]).toBe(1);
    expect((await redisRec(id))?._v).toBe(res[0].body._v);
  });
  it('400 for bad ids, 404 for unknown products', async () => {
    const u = P()[0].url;
    expect((await getJson(`${u}/product/abc`)).status).toBe(400);
    expect((await getJson(`${u}/product/-1`)).status).toBe(400);
    expect((await getJson(`${u}/shop/1000000000000000`)).status).toBe(400);
    expect((await getJson(`${u}/product/99999`)).status).toBe(404);
    expect((await getJson(`${u}/healthz`)).status).toBe(200);
    // /metrics is on the metrics port only: the data port answers it like any unknown path.
    const onData = await fetch(`${u}/metrics`);
    expect(onData.status).toBe(404);
    expect(await onData.text()).not.toContain('cachetier_producer_');
    const mr = await fetch(P()[0].metricsUrl);
    expect(mr.status).toBe(200);
    const m = await mr.text();
    for (const name of ['messages_consumed_total', 'redis_written_total', 'stale_skipped_total', 'dead_lettered_total', 'lock_wait_seconds', 'end_to_end_lag_seconds', 'http_hits_total']) {
      expect(m).toContain(`cachetier_producer_${name}`);
    }
  });
});

describe('hot products from access-log', () => {
  // Zipf(0.5) background over 200 ids at ~500/s; a spike is `factor` x the bottom-95% average rate.
  const N = 200;
  const weights = Array.from({ length: N }, (_, k) => 1 / Math.sqrt(k + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  weights.reduce((acc, w) => (cdf.push((acc + w) / total), acc + w), 0);
  const bottomAvgShare = [...weights].sort((a, b) => a - b).slice(0, Math.floor(N * 0.95)).reduce((a, b) => a + b, 0) / Math.floor(N * 0.95) / total;
  const RATE = 500; // events/s
  const pick = () => {
    const r = Math.random();
    let lo = 0;
    while (cdf[lo] < r) lo++;
    return lo + 1;
  };
  async function stream(ms: number, spike?: { id: number; factor: number }, onTick?: () => Promise<void>) {
    const end = Date.now() + ms;
    let carry = 0;
    while (Date.now() < end) {
      const msgs: { key: string; value: string }[] = [];
      for (let i = 0; i < RATE / 10; i++) {
        const id = pick();
        if (spike && id === spike.id) continue;
        msgs.push({ key: String(id), value: JSON.stringify({ productId: id, shopId: 1, uri: `/product?productId=${id}&shopId=1`, ts: Date.now(), ua: 'it', layer: 'app' }) });
      }
      if (spike) {
        carry += (RATE / 10) * bottomAvgShare * spike.factor;
        for (; carry >= 1; carry--) msgs.push({ key: String(spike.id), value: JSON.stringify({ productId: spike.id, shopId: 1, uri: '/p', ts: Date.now(), ua: 'it', layer: 'app' }) });
      }
      await s.kproducer.send({ topic: 'access-log', acks: 1, messages: msgs });
      await onTick?.();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const hotIds = async () => (await s.client.zrangebyscore(HOT_SET_KEY, Date.now(), '+inf')).map(Number);

  it('a 20x spike is flagged within one window; 5x is not; the flag clears after cooling', async () => {
    await stream(HOT_WINDOW_S * 1000); // fill a window with background
    const spike20 = 180;
    const spike5 = 170;
    // 20x: flagged within one window (+ one bucket tick and consumer delay).
    let flaggedAt: number | undefined;
    const start = Date.now();
    await stream(HOT_WINDOW_S * 1500, { id: spike20, factor: 20 }, async () => {
      if (flaggedAt === undefined && (await hotIds()).includes(spike20)) flaggedAt = Date.now() - start;
    });
    expect(flaggedAt).toBeDefined();
    expect(flaggedAt!).toBeLessThanOrEqual(HOT_WINDOW_S * 1000 + 1500);
    // 5x for 2 windows: never flagged.
    let flagged5 = false;
    await stream(HOT_WINDOW_S * 2000, { id: spike5, factor: 5 }, async () => {
      if ((await hotIds()).includes(spike5)) flagged5 = true;
    });
    expect(flagged5).toBe(false);
    // The 20x product cooled down during the 5x phase: it left the hot set.
    await waitFor('20x cooled', async () => !(await hotIds()).includes(spike20), HOT_WINDOW_S * 3000);
    // Hot/top products were pre-warmed into Redis.
    expect(await s.client.get(`product_info_${spike20}`)).not.toBeNull();
  });
});

describe('failures mid-stream', () => {
  it('SIGKILL a producer mid-stream and restart it: no update lost; SIGTERM is graceful', async () => {
    const ids = range(151, 200);
    const updates = Array.from({ length: 1500 }, (_, i) => ids[i % ids.length]);
    let killed = false;
    const res = await pool(updates, 50, async (id, i) => {
      if (i === 500 && !killed) {
        killed = true;
        await s.producers[0]!.kill();
      }
      return put(id, { name: `k${i}` });
    });
    expect(res.filter((r) => r.status !== 200)).toHaveLength(0);
    await s.startProducerN(0);
    await waitRedisMatchesSource(s, ids, 180_000);
    // Offsets are committed off the batch path (every second): once the work is done, the group's
    // committed offsets reach the end of the topic without another message to carry them.
    await waitFor('committed offsets at the end of cache-message', async () => (await groupLag(s)) === 0, 15_000, 250);
    // Graceful stop: exits 0, and leaves nothing uncommitted behind.
    await s.producers[2]!.stop();
    expect(await s.producers[2]!.proc.exited).toBe(0);
    expect(await groupLag(s)).toBe(0);
    await s.startProducerN(2);
  });

  it('kill one Kafka broker mid-stream (RF 3, min ISR 2, acks all): no loss', async () => {
    const ids = range(201, 240);
    const updates = Array.from({ length: 1200 }, (_, i) => ids[i % ids.length]);
    let killed = false;
    const res = await pool(updates, 50, async (id, i) => {
      if (i === 300 && !killed) {
        killed = true;
        await s.kafka.kill(1);
      }
      return put(id, { name: `b${i}` });
    });
    expect(res.filter((r) => r.status !== 200)).toHaveLength(0);
    await waitRedisMatchesSource(s, ids, 240_000);
    // (broker 1 stays down: with min ISR 2 the remaining two keep the tier writable)
  });

  it('kill one ZooKeeper node: locks keep working', async () => {
    await s.zk.kill(0);
    try {
      const ids = range(41, 60);
      const before = await lockIntervals();
      const res = await pool(Array.from({ length: 600 }, (_, i) => ids[i % ids.length]), 50, (id, i) => put(id, { name: `z${i}` }));
      expect(res.filter((r) => r.status !== 200)).toHaveLength(0);
      await waitRedisMatchesSource(s, ids, 180_000);
      const after = await lockIntervals();
      expect(after.length).toBeGreaterThan(before.length);
      expect(overlaps(after)).toEqual([]);
    } finally {
      await s.zk.start(0);
    }
  });
});
