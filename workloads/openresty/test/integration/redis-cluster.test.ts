// The app layer's Redis Cluster client against a real cluster: slot calculation equals
// CLUSTER KEYSLOT, and reads keep succeeding while a slot migrates (ASK) and after (MOVED).
import { jest } from '@jest/globals';
import { randomBytes, randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { adminAuth, type LocalRedisCluster } from '../../../../hack/local/redis.js';
import type { OpenRestyHandle } from '../../../../hack/local/nginx.js';
import {
  clusterClient,
  destroyAgent,
  get,
  makeRootDir,
  metrics,
  nodeClient,
  post,
  product,
  shop,
  startCluster,
  startFakeProducer,
  startOpenResty,
  type FakeProducer,
} from './support.js';

jest.setTimeout(180_000);

const IP = '127.0.3';
let root: string;
let cluster: LocalRedisCluster;
let app: OpenRestyHandle;
let producer: FakeProducer;

beforeAll(async () => {
  root = await makeRootDir('openresty-redis');
  cluster = await startCluster(IP, root, 3, 7100);
  producer = await startFakeProducer(`${IP}.90`);
  app = await startOpenResty({
    layer: 'app',
    host: `${IP}.91`,
    port: 8080,
    rootDir: root,
    spec: { openresty: { upstreamTimeoutMs: 2000, l1: { ttlSeconds: 1, jitterPercent: 0 } } },
    input: { redisSeeds: cluster.seeds, producerUrl: producer.url },
  });
});

afterAll(async () => {
  await app?.stop();
  await producer?.close();
  await cluster?.stop();
  destroyAgent();
  if (root) rmSync(root, { recursive: true, force: true });
});

function randomKey(): string {
  const alphabet = 'abcxyz019{}_:-/ ';
  const len = randomInt(0, 24);
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[randomInt(alphabet.length)];
  // some keys with arbitrary unicode / high bytes (as UTF-8)
  if (randomInt(10) === 0) s += randomBytes(4).toString('base64') + 'é✓';
  return s;
}

test('slot calculation equals CLUSTER KEYSLOT for 10,000 random keys and the hash-tag edge cases', async () => {
  const edge = ['{}', '{{a}}', 'a{b}c{d}', '{a}', 'a{}b', '{}a', 'a{b', 'a}b{c}', '{{}}', '}{a}', '', 'product_info_1', '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap', 'foo{bar}{zap}'];
  const keys = [...edge];
  while (keys.length < 10_000 + edge.length) keys.push(randomKey());
  const node = nodeClient(cluster.seeds[0]);
  try {
    const expected: number[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const p = node.pipeline();
      for (const k of keys.slice(i, i + 500)) p.cluster('KEYSLOT', k);
      const res = await p.exec();
      for (const [err, v] of res ?? []) {
        if (err) throw err;
        expected.push(Number(v));
      }
    }
    const got: number[] = [];
    for (let i = 0; i < keys.length; i += 2000) {
      const r = await post(`${app.url}/_cachetier/keyslot`, keys.slice(i, i + 2000));
      expect(r.status).toBe(200);
      got.push(...(JSON.parse(r.body) as number[]));
    }
    expect(got.length).toBe(expected.length);
    const mismatches = keys.filter((_, i) => got[i] !== expected[i]).map((k, i) => ({ k, got: got[i], want: expected[i] }));
    expect(mismatches).toEqual([]);
    // the spec's examples, explicitly
    expect(got.slice(0, 3)).toEqual([expected[0], expected[1], expected[2]]);
  } finally {
    node.disconnect();
  }
});

test('reads keep succeeding while a slot migrates (ASK) and after it moved (MOVED)', async () => {
  const c = clusterClient(cluster.seeds);
  const ids = Array.from({ length: 40 }, (_, i) => 1000 + i);
  try {
    // All keys of interest in one slot (the slot of product_info_1000); data only in Redis (L2).
    await c.set('shop_info_1', JSON.stringify(shop(1)));
    const key0 = 'product_info_1000';
    const slot = Number(await c.cluster('KEYSLOT', key0));
    // find more keys of that slot among product ids, so several keys actually move one by one
    const sameSlot: number[] = [1000];
    const probe = nodeClient(cluster.seeds[0]);
    for (let base = 1001; sameSlot.length < 8 && base < 400_000; base += 5000) {
      const p = probe.pipeline();
      for (let id = base; id < base + 5000; id++) p.cluster('KEYSLOT', `product_info_${id}`);
      const res = (await p.exec()) ?? [];
      res.forEach(([, v], i) => {
        if (Number(v) === slot && sameSlot.length < 8) sameSlot.push(base + i);
      });
    }
    probe.disconnect();
    const all = [...new Set([...ids, ...sameSlot])];
    for (const id of all) await c.set(`product_info_${id}`, JSON.stringify(product(id)));

    const slotsInfo = (await c.cluster('SLOTS')) as unknown as [number, number, [string, number, string]][];
    const owner = slotsInfo.find(([a, b]) => slot >= a && slot <= b)![2];
    const target = slotsInfo.map((r) => r[2]).find((n) => n[2] !== owner[2])!;
    const src: Redis = nodeClient(`${owner[0]}:${owner[1]}`);
    const dst: Redis = nodeClient(`${target[0]}:${target[1]}`);

    let errors = 0;
    let ok = 0;
    let stop = false;
    const levels = new Map<string, number>();
    const reader = (async () => {
      while (!stop) {
        const id = all[randomInt(all.length)];
        const r = await get(`${app.url}/product?productId=${id}&shopId=1`);
        if (r.status !== 200 || JSON.parse(r.body).product.id !== id) errors++;
        else ok++;
        const lv = String(r.headers['x-cache-level']);
        levels.set(lv, (levels.get(lv) ?? 0) + 1);
      }
    })();
    const readers = [reader];
    for (let i = 0; i < 3; i++) {
      readers.push(
        (async () => {
          while (!stop) {
            const id = sameSlot[randomInt(sameSlot.length)];
            const r = await get(`${app.url}/product?productId=${id}`);
            if (r.status !== 200 || JSON.parse(r.body).product.id !== id) errors++;
            else ok++;
          }
        })(),
      );
    }

    // migrate key by key, with pauses so reads hit the half-migrated state (ASK)
    await dst.cluster('SETSLOT', slot, 'IMPORTING', owner[2]);
    await src.cluster('SETSLOT', slot, 'MIGRATING', target[2]);
    const keys = (await src.cluster('GETKEYSINSLOT', slot, 100)) as string[];
    expect(keys.length).toBeGreaterThanOrEqual(sameSlot.length);
    for (const k of keys) {
      const { username, password } = adminAuth();
      await src.migrate(target[0], target[1], k, 0, 5000, 'AUTH2', username, password);
      await new Promise((r) => setTimeout(r, 400)); // ~3 s of ASK redirects in total
    }
    const before = await metrics(app);
    for (const n of [dst, src]) await n.cluster('SETSLOT', slot, 'NODE', target[2]);
    for (const s of cluster.seeds) {
      const n = nodeClient(s);
      await n.cluster('SETSLOT', slot, 'NODE', target[2]).catch(() => undefined);
      n.disconnect();
    }
    await new Promise((r) => setTimeout(r, 2500)); // reads after the move: MOVED, then a refreshed map
    stop = true;
    await Promise.all(readers);
    src.disconnect();
    dst.disconnect();

    const after = await metrics(app);
    expect(errors).toBe(0);
    expect(ok).toBeGreaterThan(50);
    // both redirect kinds really happened and were followed
    expect(after['cachetier_redis_redirects_total{kind="ask"}'] ?? 0).toBeGreaterThan(0);
    expect(after['cachetier_redis_redirects_total{kind="moved"}'] ?? 0).toBeGreaterThan(0);
    // the reads really went to Redis (L2) during the migration, not only to L1
    expect(levels.get('L2') ?? 0).toBeGreaterThan(10);
    expect(after['cachetier_upstream_errors_total{upstream="redis"}'] ?? 0).toBe(before['cachetier_upstream_errors_total{upstream="redis"}'] ?? 0);
    // nothing fell through to L3 because of the migration
    expect(producer.calls.size).toBe(0);
    const state = JSON.parse((await get(`${app.url}/_cachetier/state`)).body);
    expect(state.redis.refreshes).toBeGreaterThanOrEqual(1);
  } finally {
    c.disconnect();
  }
});
