// App layer against real nginx + Lua, a real Redis Cluster and an HTTP L3 (stand-in producer
// speaking the producer's HTTP contract): single-flight, negative caching, serve-stale, fail-fast,
// invalidation within 1 s, monotonic reads under a burst of updates, L1 bounded by the L2 PTTL,
// HTML, metrics, bad input, id boundaries, methods, flood limits.
import { jest } from '@jest/globals';
import http from 'node:http';
import { rmSync } from 'node:fs';
import type { Cluster } from 'ioredis';
import type { LocalRedisCluster } from '../../../../hack/local/redis.js';
import type { OpenRestyHandle } from '../../../../hack/local/nginx.js';
import {
  clusterClient,
  destroyAgent,
  get,
  ID_CASES,
  makeRootDir,
  metrics,
  post,
  product,
  RAW_NON_ASCII_IDS,
  rawStatus,
  REFUSED_METHODS,
  request,
  shop,
  sleep,
  startCluster,
  startFakeProducer,
  startOpenResty,
  type FakeProducer,
  type Resp,
} from './support.js';

jest.setTimeout(180_000);

const IP = '127.0.3';
const CHANNEL = 'cachetier:invalidate';
let root: string;
let cluster: LocalRedisCluster;
let redis: Cluster;
let producer: FakeProducer;
let a: OpenRestyHandle;
let b: OpenRestyHandle;

async function many(n: number, concurrency: number, fn: (i: number) => Promise<Resp>): Promise<Resp[]> {
  const out: Resp[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

beforeAll(async () => {
  root = await makeRootDir('openresty-app');
  cluster = await startCluster(IP, root, 3, 7200);
  redis = clusterClient(cluster.seeds);
  producer = await startFakeProducer(`${IP}.92`);
  // Long TTLs: on a loaded 2-core CI machine the 10,000-request flood can take tens of seconds, and
  // the assertions are about single-flight/negative behaviour, not expiry (tested on instance c).
  const spec = { openresty: { upstreamTimeoutMs: 3000, l1: { ttlSeconds: 600, jitterPercent: 20, negativeTtlSeconds: 120, staleTtlSeconds: 60, lruSize: 1000 } } };
  const input = { redisSeeds: cluster.seeds, producerUrl: producer.url };
  [a, b] = await Promise.all([
    startOpenResty({ layer: 'app', host: `${IP}.93`, port: 8080, rootDir: root, spec, input }),
    startOpenResty({ layer: 'app', host: `${IP}.94`, port: 8080, rootDir: root, spec, input }),
  ]);
  await redis.set('shop_info_1', JSON.stringify(shop(1)));
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await producer?.close().catch(() => undefined);
  redis?.disconnect();
  await cluster?.stop();
  destroyAgent();
  if (root) rmSync(root, { recursive: true, force: true });
});

test('1,000 concurrent requests for one cold product -> one L3 call per app instance', async () => {
  producer.products.set('500', product(500, { shopId: 1 }));
  producer.delayMs = 300; // a slow producer widens the stampede window
  try {
    const res = await many(1000, 1000, (i) => get(`${(i % 2 ? a : b).url}/product?productId=500&shopId=1`));
    const bad = res.filter((r) => r.status !== 200);
    expect(bad.map((r) => `${r.status} ${r.body}`).slice(0, 3)).toEqual([]);
    for (const r of res) expect(JSON.parse(r.body).product.id).toBe(500);
    expect(producer.count('/product/500')).toBe(2); // one per nginx instance (2 workers each)
    const l3 = res.filter((r) => r.headers['x-cache-level'] === 'L3');
    expect(l3.length).toBe(2);
    const ma = await metrics(a);
    expect(ma['cachetier_singleflight_waits_total']).toBeGreaterThan(0);
  } finally {
    producer.delayMs = 0;
  }
});

test('10,000 requests for a missing product -> one upstream call within the negative TTL; no positive entry evicted', async () => {
  // warm 50 positive entries (L2 -> L1)
  const warm = Array.from({ length: 50 }, (_, i) => 2000 + i);
  for (const id of warm) await redis.set(`product_info_${id}`, JSON.stringify(product(id)));
  for (const id of warm) expect((await get(`${a.url}/product?productId=${id}&shopId=1`)).status).toBe(200);

  const tFirst = Date.now();
  const res = await many(10_000, 200, () => get(`${a.url}/product?productId=999999&shopId=1`));
  expect(Date.now() - tFirst).toBeLessThan(120_000); // all within one negative TTL
  expect(res.filter((r) => r.status !== 404).length).toBe(0);
  expect(res.filter((r) => r.headers['x-cache-level'] !== 'negative').length).toBe(0);
  expect(producer.count('/product/999999')).toBe(1);
  // distinct missing ids too: they go to the negative dict, not the positive one
  await many(2000, 50, (i) => get(`${a.url}/product?productId=${900_000 + i}`));
  for (const id of warm) {
    const r = await get(`${a.url}/product?productId=${id}&shopId=1`);
    expect(r.status).toBe(200);
    expect(r.headers['x-cache-level']).toBe('L1');
  }
  expect(producer.count('/product/999999')).toBe(1);
});

test('an L1 entry never outlives its L2 copy (PTTL bounds the L1 TTL)', async () => {
  await redis.set('product_info_3000', JSON.stringify(product(3000)), 'PX', 1500);
  const r1 = await get(`${a.url}/product?productId=3000`);
  expect(r1.status).toBe(200);
  expect(r1.headers['x-cache-level']).toBe('L2');
  const r2 = await get(`${a.url}/product?productId=3000`);
  expect(r2.headers['x-cache-level']).toBe('L1');
  // Framed with Content-Length on every level, not chunked, and the same bytes whether the answer
  // was printed in parts (an entry's first answer in a worker) or as the joined string kept on the
  // entry from its second answer on (2 workers: 6 answers reach both more than once).
  const more = [];
  for (let i = 0; i < 4; i++) more.push(await get(`${a.url}/product?productId=3000`));
  for (const r of [r1, r2, ...more]) {
    expect(r.headers['transfer-encoding']).toBeUndefined();
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
    expect(r.body).toBe(r1.body);
  }
  const answer = JSON.parse(r1.body) as { product: unknown; shop: { id: number } };
  expect(answer.product).toEqual(product(3000));
  expect(answer.shop.id).toBe(1); // the product's shopId (the URL has none)
  await sleep(1800);
  // gone from Redis, unknown to the producer: not served from L1 any more
  const r3 = await get(`${a.url}/product?productId=3000`);
  expect(r3.status).toBe(404);
  expect(r3.headers['x-cache-level']).toBe('negative');
});

test("the cache dict's fresh-until (31-bit serial milliseconds in the entry's flags) is right across the wrap, conservative outside its range, and ignores values it did not write", async () => {
  const W = 2 ** 31;
  const now = 1767261600.25; // 2026-01-01 10:00:00.250 UTC
  const wrapMs = (Math.floor((now * 1000) / W) + 1) * W; // the next multiple of 2^31 ms
  const nearWrap = (wrapMs - 1000) / 1000 + 0.0004; // 1 s before it
  const cases = [
    { fresh_until: now + 60, now }, // 60 s ahead
    { fresh_until: now + 0.5, now }, // sub-second
    { fresh_until: now, now }, // now: not fresh
    { fresh_until: now - 1, now }, // past
    { fresh_until: nearWrap + 5, now: nearWrap }, // flags wrapped, the clock not yet
    { fresh_until: nearWrap + 0.5, now: nearWrap + 3 }, // expired across the wrap
    { fresh_until: wrapMs / 1000, now: nearWrap }, // lands on 0 mod 2^31: 1 ms earlier
    { fresh_until: now + 2.5 * 86400, now }, // the CRD's longest life (ttl + jitter + stale)
    { fresh_until: now + 13 * 86400, now }, // beyond +-12.4 days: never served as fresh
    { flags: 1, now }, // invalidated (kept as a stale copy)
    { flags: 0, now }, // not written by this code (an older format): never fresh
    { fresh_until: (wrapMs + 1) / 1000, now: nearWrap }, // lands on 1 mod 2^31: 2 ms earlier
  ];
  const res = await post(`${a.url}/_cachetier/fresh`, cases);
  expect(res.status).toBe(200);
  const out = JSON.parse(res.body) as { flags: number; fresh_for: number }[];
  const near = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(0.002);
  near(out[0].fresh_for, 60);
  near(out[1].fresh_for, 0.5);
  expect(out[2].fresh_for).toBe(0);
  expect(out[3].fresh_for).toBe(0);
  expect(out[4].flags).toBeLessThan(5000); // wrapped past 0
  near(out[4].fresh_for, 5);
  expect(out[5].fresh_for).toBe(0);
  expect(out[6].flags).toBe(W - 1);
  near(out[6].fresh_for, 0.999);
  near(out[7].fresh_for, 2.5 * 86400);
  expect(out[8].fresh_for).toBe(0);
  expect(out[9].fresh_for).toBe(0);
  expect(out[10].fresh_for).toBe(0);
  expect(out[11].flags).toBe(W - 1);
  near(out[11].fresh_for, 0.999);
  for (const o of out) expect(o.flags >= 0 && o.flags < W).toBe(true);
});

test('a product updated (Redis write + PUBLISH, as the producer does) is served new by every worker within 1 s', async () => {
  await redis.set('product_info_4000', JSON.stringify(product(4000, { name: 'old name' })));
  // warm both instances, both workers
  for (let i = 0; i < 40; i++) {
    for (const h of [a, b]) expect(JSON.parse((await get(`${h.url}/product?productId=4000`)).body).product.name).toBe('old name');
  }
  await redis.set('product_info_4000', JSON.stringify(product(4000, { name: 'new name', _v: 1767261600001 })));
  const t0 = Date.now();
  await redis.publish(CHANNEL, 'product_info_4000');
  // from here, poll until 20 consecutive answers from each instance are new
  const deadline = t0 + 3000;
  let settledAt = 0;
  for (const h of [a, b]) {
    let streak = 0;
    while (streak < 20 && Date.now() < deadline) {
      const name = JSON.parse((await get(`${h.url}/product?productId=4000`)).body).product.name;
      if (name === 'new name') streak++;
      else streak = 0;
    }
    expect(streak).toBe(20);
    settledAt = Math.max(settledAt, Date.now());
  }
  const elapsed = settledAt - t0;
  expect(elapsed).toBeLessThan(1000 + 200); // 20 confirming requests per instance included
  // and it stays new
  const res = await many(200, 20, (i) => get(`${(i % 2 ? a : b).url}/product?productId=4000`));
  expect(res.every((r) => JSON.parse(r.body).product.name === 'new name')).toBe(true);
  const m = await metrics(a);
  expect(m['cachetier_invalidations_total']).toBeGreaterThanOrEqual(1);
});

test('an invalidation for an older version (late or replayed) never evicts a newer copy; a newer one does', async () => {
  const V = 1767261600000;
  const body = (v: number) => {
    const { _v: _old, ...rest } = product(4100, { name: `v${v - V}` });
    return JSON.stringify({ _v: v, ...rest });
  };
  await redis.set('product_info_4100', body(V + 10));
  const levels = async (n: number) => {
    const out: { level: string; name: string }[] = [];
    for (let i = 0; i < n; i++) {
      const r = await request(`${a.url}/product?productId=4100`, { agent: false }); // new connections: both workers
      expect(r.status).toBe(200);
      out.push({ level: String(r.headers['x-cache-level']), name: (JSON.parse(r.body) as { product: { name: string } }).product.name });
    }
    return out;
  };
  // warm until every worker answers from L1
  for (let i = 0; i < 20 && (await levels(20)).some((x) => x.level !== 'L1'); i++) await sleep(50);
  const before = (await metrics(a))['cachetier_invalidations_total'] ?? 0;

  await redis.publish(CHANNEL, `product_info_4100 ${V + 5}`); // late: an older write's message
  await redis.publish(CHANNEL, `product_info_4100 ${V + 10}`); // replayed: the version held
  await sleep(300); // > the subscriber's delivery and every worker's sync
  expect((await metrics(a))['cachetier_invalidations_total']).toBeGreaterThanOrEqual(before + 2);
  const kept = await levels(40);
  expect(kept.filter((x) => x.level !== 'L1' || x.name !== 'v10')).toEqual([]);

  await redis.set('product_info_4100', body(V + 11));
  await redis.publish(CHANNEL, `product_info_4100 ${V + 11}`);
  await sleep(300);
  const after = await levels(40);
  expect(after.filter((x) => x.name !== 'v11')).toEqual([]);
  expect(after.some((x) => x.level === 'L2')).toBe(true); // refilled, not served from the old entry
});

test('HTML page via Accept: text/html and /product.html, escaped', async () => {
  await redis.set('product_info_5000', JSON.stringify(product(5000, { name: '<b>iphone7</b> & co' })));
  const r1 = await get(`${a.url}/product?productId=5000&shopId=1`, { accept: 'text/html' });
  expect(r1.status).toBe(200);
  expect(r1.headers['content-type']).toMatch(/text\/html/);
  expect(r1.body).toContain('&lt;b&gt;iphone7&lt;/b&gt; &amp; co');
  expect(r1.body).toContain('shop 1');
  const r2 = await get(`${b.url}/product.html?productId=5000`);
  expect(r2.status).toBe(200);
  expect(r2.body).toContain('<!DOCTYPE html>');
  const r3 = await get(`${b.url}/product?productId=5000`);
  expect(JSON.parse(r3.body)).toMatchObject({ product: { id: 5000 }, shop: { id: 1 } });
});

test('bad input -> 4xx, never 5xx', async () => {
  const qs = [
    '',
    '?shopId=1',
    '?productId=',
    '?productId=abc',
    '?productId=-1',
    '?productId=0',
    '?productId=01',
    '?productId=1.5',
    '?productId=1e3',
    '?productId=0x10',
    '?productId=%201',
    '?productId=1%00',
    '?productId=99999999999999999999',
    '?productId=9007199254740993000',
    `?productId=${'9'.repeat(5000)}`,
    '?productId=1&productId=2',
    '?productId=1&shopId=abc',
    '?productId=1&shopId=-5',
    '?productId[]=1',
    '?productId=%E2%9C%93',
  ];
  for (const h of [a, b]) {
    for (const q of qs) {
      for (const p of ['/product', '/product.html']) {
        const r = await get(`${h.url}${p}${q}`);
        expect({ q, p, status: r.status }).toEqual({ q, p, status: 400 });
      }
    }
  }
  const r = await get(`${a.url}/nope`);
  expect(r.status).toBe(404);
});

test('producer refusing read-throughs (429, its source budget spent): a cold product is a 429 with Retry-After, never a 5xx', async () => {
  producer.mode = 'throttle';
  try {
    for (const h of [a, b]) {
      const r = await get(`${h.url}/product?productId=88001`);
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toBe('1');
    }
  } finally {
    producer.mode = 'ok';
  }
});

test('an id the producer answers "bad id" (400) for is cached as not found: a 404, one L3 call per negative TTL, never a 5xx', async () => {
  producer.mode = 'reject';
  try {
    const path = '/product/88002';
    const before = producer.count(path);
    for (let i = 0; i < 5; i++) expect((await get(`${a.url}/product?productId=88002`)).status).toBe(404);
    expect(producer.count(path) - before).toBe(1);
  } finally {
    producer.mode = 'ok';
  }
});

test('producer down: warm products served stale with the header; cold products fail within the timeout', async () => {
  // own instance with a short TTL so "warm" entries go stale quickly
  const c = await startOpenResty({
    layer: 'app',
    host: `${IP}.95`,
    port: 8080,
    rootDir: root,
    spec: { openresty: { upstreamTimeoutMs: 800, l1: { ttlSeconds: 1, jitterPercent: 0, negativeTtlSeconds: 4, staleTtlSeconds: 30 } } },
    input: { redisSeeds: cluster.seeds, producerUrl: producer.url },
  });
  try {
    producer.products.set('700', product(700));
    const warm = await get(`${c.url}/product?productId=700&shopId=1`);
    expect(warm.headers['x-cache-level']).toBe('L3');
    await sleep(1300); // past the fresh TTL
    await producer.close(); // connection refused from now on

    const t0 = Date.now();
    const s = await get(`${c.url}/product?productId=700&shopId=1`);
    expect(s.status).toBe(200);
    expect(s.headers['x-cache-level']).toBe('stale');
    expect(s.headers['x-cache-stale']).toBe('1');
    expect(JSON.parse(s.body).product.id).toBe(700);
    expect(Date.now() - t0).toBeLessThan(800 + 700);

    const cold = await get(`${c.url}/product?productId=701`);
    expect(cold.status).toBe(503);
    expect(cold.ms).toBeLessThan(800 + 700);
    // The error body says what failed, never where: no producer URL, no Redis node address.
    const internal = [new URL(producer.url).host, 'http://', ...cluster.seeds];
    for (const part of internal) {
      expect(cold.body).not.toContain(part);
      expect(JSON.stringify(cold.headers)).not.toContain(part);
    }
    expect(JSON.parse(cold.body)).toEqual({ error: 'unavailable', reason: expect.stringMatching(/^(producer status \d+|internal|fill failed|timeout waiting for fill|older than served)$/) });

    // a producer that accepts but never answers: still bounded by the timeout
    await producer.reopen();
    producer.mode = 'hang';
    const hung = await many(20, 20, () => get(`${c.url}/product?productId=702`));
    for (const r of hung) {
      expect(r.status).toBe(503);
      expect(r.ms).toBeLessThan(800 + 700);
    }
    const stale2 = await get(`${c.url}/product?productId=700`);
    expect(stale2.headers['x-cache-level']).toBe('stale');
    const m = await metrics(c);
    expect(m['cachetier_upstream_errors_total{upstream="producer"}']).toBeGreaterThanOrEqual(3);

    // negative entries expire after the negative TTL (4 s here): asked again exactly once
    producer.mode = 'ok';
    for (let i = 0; i < 30; i++) expect((await get(`${c.url}/product?productId=777001`)).status).toBe(404);
    expect(producer.count('/product/777001')).toBe(1);
    await sleep(4300);
    for (let i = 0; i < 30; i++) expect((await get(`${c.url}/product?productId=777001`)).status).toBe(404);
    expect(producer.count('/product/777001')).toBe(2);

    // producer back: fresh again
    producer.mode = 'ok';
    const back = await get(`${c.url}/product?productId=700`);
    expect(back.status).toBe(200);
    expect(back.headers['x-cache-level']).toBe('L3');
  } finally {
    producer.mode = 'ok';
    await c.stop();
  }
});

test('/healthz on the public port; /metrics only on the metrics port (404 on the public one)', async () => {
  const h = await get(`${a.url}/healthz`);
  expect(h.status).toBe(200);
  const pub = await get(`${a.url}/metrics`);
  expect(pub.status).toBe(404);
  expect(pub.body).not.toContain('cachetier_');
  // The metrics port serves /metrics and nothing else (no data path, no health).
  for (const p of ['/healthz', '/product?productId=1&shopId=1']) expect((await get(`http://${a.host}:${a.metricsPort}${p}`)).status).toBe(404);
  const r = await get(a.metricsUrl);
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toMatch(/text\/plain/);
  expect(r.body).toContain('# TYPE cachetier_cache_hits_total counter');
  const m = await metrics(a);
  for (const lv of ['L1', 'L2', 'L3', 'negative']) expect(m[`cachetier_cache_hits_total{kind="product",level="${lv}"}`]).toBeGreaterThan(0);
  expect(m['cachetier_requests_total{route="product",code="4xx"}']).toBeGreaterThan(0);
});

test('only GET and HEAD: any other method is a 405 with Allow: GET, HEAD, before any lookup', async () => {
  const cold = 7100; // never asked for: a lookup would go to Redis, then L3
  for (const h of [a, b]) {
    for (const p of ['/product', '/product.html']) {
      for (const method of REFUSED_METHODS) {
        const r = await request(`${h.url}${p}?productId=${cold}&shopId=1`, { method });
        expect({ method, p, status: r.status, allow: r.headers.allow }).toEqual({ method, p, status: 405, allow: 'GET, HEAD' });
        expect(r.headers['x-app-member']).toBe(`${h.host}:${h.port}`);
      }
    }
  }
  expect(producer.count(`/product/${cold}`)).toBe(0);
  // GET and HEAD are answered; HEAD with GET's headers and no body
  await redis.set('product_info_7101', JSON.stringify(product(7101)));
  for (const p of ['/product', '/product.html']) {
    const g = await request(`${a.url}${p}?productId=7101`);
    const hd = await request(`${a.url}${p}?productId=7101`, { method: 'HEAD' });
    expect([g.status, hd.status]).toEqual([200, 200]);
    expect(hd.body).toBe('');
    expect(hd.headers['content-length']).toBe(g.headers['content-length']);
    expect(hd.headers['content-type']).toBe(g.headers['content-type']);
  }
});

test('id boundaries (1 .. 10^15-1): valid ids 200/404, every other id 400 without a Redis or L3 call, never 5xx', async () => {
  const l2 = async (h: OpenRestyHandle) => {
    await sleep(400); // every worker's counters reach the shared dict within 250 ms
    return (await metrics(h))['cachetier_l2_requests_total'] ?? 0;
  };
  const l3Calls = () => [...producer.calls.values()].reduce((x, y) => x + y, 0);
  for (const h of [a, b]) {
    const l2Before = await l2(h);
    const l3Before = l3Calls();
    for (const [label, v, valid] of ID_CASES) {
      if (valid) continue;
      for (const q of [`?productId=${v}`, `?productId=1&shopId=${v}`]) {
        for (const p of ['/product', '/product.html']) {
          const r = await get(`${h.url}${p}${q}`);
          expect({ label, q: q.slice(0, 40), p, status: r.status }).toEqual({ label, q: q.slice(0, 40), p, status: 400 });
        }
      }
    }
    for (const raw of RAW_NON_ASCII_IDS) {
      for (const prefix of ['/product?productId=', '/product?productId=1&shopId=']) {
        const head = Buffer.concat([Buffer.from(`GET ${prefix}`), raw, Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]);
        expect({ raw: raw.toString('hex'), prefix, status: await rawStatus(h.host, h.port, head) }).toEqual({ raw: raw.toString('hex'), prefix, status: 400 });
      }
    }
    expect(await l2(h)).toBe(l2Before);
    expect(l3Calls()).toBe(l3Before);
    for (const [label, v, valid] of ID_CASES) {
      if (!valid) continue;
      for (const q of [`?productId=${v}`, `?productId=5000&shopId=${v}`]) {
        for (const p of ['/product', '/product.html']) {
          const r = await get(`${h.url}${p}${q}`);
          expect({ label, q, p, ok: r.status === 200 || r.status === 404 }).toEqual({ label, q, p, ok: true });
        }
      }
    }
  }
});

test('monotonic reads: a product updated 20 times in a burst never goes back, over new and kept-alive connections, and settles within 1 s', async () => {
  // 4 workers, so that invalidations reach most workers' LRUs through the shared dicts, not the
  // subscriber; kept-alive connections stay on one worker, new ones land on any
  const m = await startOpenResty({
    layer: 'app',
    host: `${IP}.96`,
    port: 8080,
    rootDir: root,
    spec: { openresty: { upstreamTimeoutMs: 3000, l1: { ttlSeconds: 600, jitterPercent: 20, negativeTtlSeconds: 120, staleTtlSeconds: 60, lruSize: 1000 } } },
    input: { redisSeeds: cluster.seeds, producerUrl: producer.url, workerProcesses: 4 },
  });
  try {
    const workers = new Set<number>();
    for (let i = 0; i < 40 && workers.size < 2; i++) {
      workers.add((JSON.parse((await request(`${m.url}/_cachetier/state`, { agent: false })).body) as { worker: number }).worker);
    }
    expect(workers.size).toBeGreaterThanOrEqual(2); // several workers answer

    const KEY = 'product_info_6000';
    const V0 = 1767261600000;
    // as the producer writes: _v first, a compare-and-set on it, PUBLISH of "key version" on a change
    const CAS = `
local cur = redis.call('GET', KEYS[1])
local curv = cur and tonumber(string.match(cur, '^{"_v":(%d+)'))
if curv and tonumber(ARGV[1]) <= curv then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], KEYS[1] .. ' ' .. ARGV[1])
return 1`;
    const write = async (i: number) => {
      const v = V0 + i;
      const { _v: _old, ...rest } = product(6000, { name: `v${i}` });
      const rec = JSON.stringify({ _v: v, ...rest });
      expect(await redis.eval(CAS, 1, KEY, String(v), rec, CHANNEL)).toBe(1);
    };
    await write(0);
    for (let i = 0; i < 40; i++) expect((await request(`${m.url}/product?productId=6000`, { agent: false })).status).toBe(200);

    interface Seen { client: number; sent: number; recv: number; v: number }
    const seen: Seen[] = [];
    let stop = false;
    const poll = async (client: number, agent: http.Agent | false) => {
      while (!stop) {
        const sent = performance.now();
        const r = await request(`${m.url}/product?productId=6000`, { agent });
        const recv = performance.now();
        expect(r.status).toBe(200);
        seen.push({ client, sent, recv, v: (JSON.parse(r.body) as { product: { _v: number } }).product._v - V0 });
      }
    };
    const kept = Array.from({ length: 4 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const clients = [...kept.map((ag, i) => poll(i, ag)), ...Array.from({ length: 4 }, (_, i) => poll(4 + i, false))];
    const UPDATES = 20;
    let lastWrite = 0;
    try {
      await sleep(100);
      for (let i = 1; i <= UPDATES; i++) {
        await write(i);
        lastWrite = performance.now();
        await sleep(Math.floor(Math.random() * 25));
      }
      await sleep(1500);
    } finally {
      stop = true;
      await Promise.all(clients);
      for (const ag of kept) ag.destroy();
    }

    // each client: versions never go back
    for (let c = 0; c < 8; c++) {
      const mine = seen.filter((x) => x.client === c);
      expect(mine.length).toBeGreaterThan(20);
      const back = mine.findIndex((x, i) => i > 0 && x.v < mine[i - 1].v);
      expect({ client: c, back: back < 0 ? null : mine.slice(Math.max(0, back - 2), back + 1).map((x) => x.v) }).toEqual({ client: c, back: null });
    }
    // across clients: an answer received before another request was sent is never newer than it
    const byRecv = [...seen].sort((x, y) => x.recv - y.recv);
    const prefixMax: number[] = [];
    for (const [i, x] of byRecv.entries()) prefixMax[i] = Math.max(x.v, i > 0 ? prefixMax[i - 1] : -1);
    const violations: string[] = [];
    for (const x of seen) {
      let lo = 0;
      let hi = byRecv.length; // first answer received at or after x.sent
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (byRecv[mid].recv < x.sent) lo = mid + 1;
        else hi = mid;
      }
      if (lo > 0 && prefixMax[lo - 1] > x.v) violations.push(`client ${x.client} got v${x.v} after v${prefixMax[lo - 1]} had been served`);
    }
    expect(violations.slice(0, 5)).toEqual([]);
    // every version from the burst was observable, and the last one is served within 1 s
    const late = seen.filter((x) => x.sent >= lastWrite + 1000);
    expect(late.length).toBeGreaterThan(8);
    expect(late.filter((x) => x.v !== UPDATES).map((x) => x.v)).toEqual([]);
    const distinct = new Set(seen.map((x) => x.v));
    expect(distinct.size).toBeGreaterThan(5); // the clients did see the burst, not just its end
  } finally {
    await m.stop();
  }
});

test('flood limits: over the per-client rate or concurrency a request is a 429 with Retry-After; /healthz is never limited', async () => {
  const lim = await startOpenResty({
    layer: 'app',
    host: `${IP}.97`,
    port: 8080,
    rootDir: root,
    spec: { openresty: { app: { limits: { requestsPerSecond: 5, burst: 5, connections: 0 } } } },
    input: { redisSeeds: cluster.seeds, producerUrl: producer.url },
  });
  try {
    await redis.set('product_info_7200', JSON.stringify(product(7200)));
    const res = await many(60, 30, () => get(`${lim.url}/product?productId=7200`));
    const ok = res.filter((r) => r.status === 200).length;
    const limited = res.filter((r) => r.status === 429);
    expect(ok + limited.length).toBe(60);
    expect(ok).toBeGreaterThanOrEqual(5); // the burst
    expect(ok).toBeLessThan(20);
    expect(limited[0].headers['retry-after']).toBe('1');
    expect(JSON.parse(limited[0].body)).toEqual({ error: 'too many requests' });
    for (let i = 0; i < 30; i++) expect((await get(`${lim.url}/healthz`)).status).toBe(200);

    // concurrency: 2 requests in progress per client address at most (slow L3, distinct ids)
    await lim.reload(undefined, { openresty: { app: { limits: { requestsPerSecond: 0, burst: 0, connections: 2 } } } });
    producer.delayMs = 600;
    try {
      const slow = await many(8, 8, (i) => get(`${lim.url}/product?productId=${7300 + i}`));
      expect(slow.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(5);
      expect(slow.filter((r) => r.status === 404).length).toBeGreaterThanOrEqual(1);
    } finally {
      producer.delayMs = 0;
    }
  } finally {
    await lim.stop();
  }
});
