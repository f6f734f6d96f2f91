// Distribution layer against real nginx: consistent hashing over app instances (same id -> same
// member; removing 1 of N moves ~1/N and nothing else), hot ids spread evenly (chi-square) over
// the members, hot flags pulled from the Redis sorted set and expiring by themselves; bad ids,
// methods other than GET/HEAD and floods refused before anything is proxied.
import { jest } from '@jest/globals';
import dgram from 'node:dgram';
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
  RAW_NON_ASCII_IDS,
  rawStatus,
  REFUSED_METHODS,
  request,
  startCluster,
  startFakeProducer,
  startOpenResty,
  waitFor,
  type FakeProducer,
} from './support.js';

jest.setTimeout(180_000);

const IP = '127.0.3';
const HOT = 'cachetier:hot';
let root: string;
let cluster: LocalRedisCluster;
let redis: Cluster;
let producer: FakeProducer;
const apps: OpenRestyHandle[] = [];
let dist: OpenRestyHandle;
let members: string[];

interface Route {
  member: string;
  kind: string;
}

async function routes(ids: (number | string)[]): Promise<Route[]> {
  const out: Route[] = [];
  for (let i = 0; i < ids.length; i += 2000) {
    const r = await post(`${dist.url}/_cachetier/route`, ids.slice(i, i + 2000).map(String));
    expect(r.status).toBe(200);
    out.push(...(JSON.parse(r.body) as Route[]));
  }
  return out;
}

beforeAll(async () => {
  root = await makeRootDir('openresty-dist');
  cluster = await startCluster(IP, root, 3, 7300);
  redis = clusterClient(cluster.seeds);
  producer = await startFakeProducer(`${IP}.100`);
  producer.generate = true;
  for (let i = 0; i < 4; i++) {
    apps.push(
      await startOpenResty({
        layer: 'app',
        host: `${IP}.${101 + i}`,
        port: 8080,
        rootDir: root,
        input: { redisSeeds: cluster.seeds, producerUrl: producer.url, workerProcesses: 1 },
      }),
    );
  }
  members = apps.map((x) => `${x.host}:${x.port}`);
  dist = await startOpenResty({
    layer: 'distribution',
    host: `${IP}.110`,
    port: 8080,
    rootDir: root,
    input: { redisSeeds: cluster.seeds, appUpstream: { kind: 'static', servers: members }, hotPullIntervalMs: 200 },
  });
});

afterAll(async () => {
  await dist?.stop();
  await Promise.all(apps.map((x) => x.stop()));
  await producer?.close();
  redis?.disconnect();
  await cluster?.stop();
  destroyAgent();
  if (root) rmSync(root, { recursive: true, force: true });
});

test('the same id always reaches the same app member (real proxying)', async () => {
  const seen = new Map<number, Set<string>>();
  for (let round = 0; round < 3; round++) {
    for (let id = 1; id <= 150; id++) {
      const r = await get(`${dist.url}/product?productId=${id}&shopId=1`);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).product.id).toBe(id);
      expect(r.headers['x-route']).toBe('hash');
      expect(r.headers['x-app-member']).toBe(r.headers['x-routed-to']);
      const s = seen.get(id) ?? new Set<string>();
      s.add(String(r.headers['x-app-member']));
      seen.set(id, s);
    }
  }
  for (const s of seen.values()) expect(s.size).toBe(1);
  const used = new Set([...seen.values()].map((s) => [...s][0]));
  expect(used.size).toBe(4);
  // the route endpoint agrees with what the proxy did
  const rs = await routes([...seen.keys()]);
  rs.forEach((r, i) => expect(r.member).toBe([...seen.get(i + 1)!][0]));
});

test('removing 1 of N members remaps about 1/N of the ids and nothing else', async () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => 100_000 + i * 7);
  const before = await routes(ids);
  const share = new Map<string, number>();
  for (const r of before) share.set(r.member, (share.get(r.member) ?? 0) + 1);
  for (const m of members) expect(share.get(m)! / ids.length).toBeGreaterThan(0.15); // ~0.25 each
  const removed = members[2];
  await dist.reload({ appUpstream: { kind: 'static', servers: members.filter((m) => m !== removed) } });
  let after: Route[] = [];
  await waitFor('new membership in every worker', async () => {
    after = await routes(ids);
    const again = await routes(ids);
    return after.every((r) => r.member !== removed) && again.every((r) => r.member !== removed);
  }, 15_000);
  let moved = 0;
  let movedWrongly = 0;
  before.forEach((r, i) => {
    if (r.member !== after[i].member) {
      moved++;
      if (r.member !== removed) movedWrongly++;
    }
  });
  expect(movedWrongly).toBe(0);
  const frac = moved / ids.length;
  expect(frac).toBeGreaterThan(0.15);
  expect(frac).toBeLessThan(0.35);
  // a request for an id whose member was removed is served by its new member
  const idx = before.findIndex((r) => r.member === removed);
  const r = await get(`${dist.url}/product?productId=${ids[idx]}`);
  expect(r.status).toBe(200);
  expect(r.headers['x-app-member']).toBe(after[idx].member);
  await dist.reload({ appUpstream: { kind: 'static', servers: members } });
  await waitFor('full membership back', async () => (await routes(ids.slice(0, 2000))).some((x) => x.member === removed), 15_000);
});

test('hot ids spread evenly over the members (chi-square), and hot flags expire', async () => {
  const id = '4242';
  const expiry = Date.now() + 6000;
  await redis.zadd(HOT, expiry, id);
  await redis.zadd(HOT, Date.now() + 120_000, '4343');
  await waitFor('hot flag pulled', async () => (await routes([id]))[0].kind === 'hot', 10_000);
  const n = 4000;
  const rs = await routes(Array.from({ length: n }, () => id));
  const counts = new Map<string, number>();
  for (const r of rs) {
    expect(r.kind).toBe('hot');
    counts.set(r.member, (counts.get(r.member) ?? 0) + 1);
  }
  expect(counts.size).toBe(4);
  const e = n / 4;
  const chi2 = [...counts.values()].reduce((acc, o) => acc + ((o - e) * (o - e)) / e, 0);
  expect(chi2).toBeLessThan(16.27); // df = 3, p = 0.001

  // real proxied requests for the hot id land on several members
  const via = new Set<string>();
  for (let i = 0; i < 80; i++) {
    const r = await get(`${dist.url}/product?productId=${id}`);
    expect(r.status).toBe(200);
    expect(r.headers['x-route']).toBe('hot');
    via.add(String(r.headers['x-app-member']));
  }
  expect(via.size).toBeGreaterThanOrEqual(3);

  // a non-hot id still hashes
  expect((await routes(['4244']))[0].kind).toBe('hash');
  // the producer removes a cooled id -> the flag drops at the next pull
  await redis.zrem(HOT, '4343');
  await waitFor('removed id no longer hot', async () => (await routes(['4343']))[0].kind === 'hash', 5000);
  // expiry: score in the past -> flag gone without anyone removing it
  await new Promise((r) => setTimeout(r, Math.max(0, expiry - Date.now() + 300)));
  const afterExpiry = await routes(Array.from({ length: 50 }, () => id));
  expect(new Set(afterExpiry.map((r) => r.kind))).toEqual(new Set(['hash']));
  expect(new Set(afterExpiry.map((r) => r.member)).size).toBe(1);
  const m = await metrics(dist);
  expect(m['cachetier_route_total{kind="hot"}']).toBeGreaterThanOrEqual(80);
  // The distribution layer too: /metrics on its metrics port only, a 404 on the public one.
  expect((await get(`${dist.url}/metrics`)).status).toBe(404);
  expect((await get(dist.metricsUrl)).status).toBe(200);
});

/** A tiny authoritative DNS server: A records for one name, from a mutable list. */
async function startDns(host: string, port: number, name: string, ips: { list: string[] }): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (q, rinfo) => {
    // question name starts at 12; find its end
    let i = 12;
    const labels: string[] = [];
    while (q[i] !== 0) {
      labels.push(q.subarray(i + 1, i + 1 + q[i]).toString());
      i += 1 + q[i];
    }
    const qEnd = i + 5; // zero byte + qtype + qclass
    const match = labels.join('.').toLowerCase() === name;
    const answers = match ? ips.list : [];
    const header = Buffer.alloc(12);
    q.copy(header, 0, 0, 2);
    header.writeUInt16BE(match ? 0x8180 : 0x8183, 2); // NXDOMAIN when not ours
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const rrs = answers.map((ip) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(5, 6);
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((o, k) => rr.writeUInt8(Number(o), 12 + k));
      return rr;
    });
    sock.send(Buffer.concat([header, q.subarray(12, qEnd), ...rrs]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(port, host, () => r()));
  return sock;
}

test('DNS membership (the in-cluster mode): members from A records, re-resolved on a timer', async () => {
  const ips = { list: apps.slice(0, 3).map((x) => x.host) };
  const dns = await startDns(`${IP}.111`, 5353, 'app-headless.test.local', ips);
  const d2 = await startOpenResty({
    layer: 'distribution',
    host: `${IP}.112`,
    port: 8080,
    rootDir: root,
    input: {
      redisSeeds: cluster.seeds,
      resolver: `${IP}.111:5353`,
      appUpstream: { kind: 'dns', name: 'app-headless.test.local', port: 8080 },
      membershipRefreshMs: 500,
    },
  });
  try {
    const ids = Array.from({ length: 2000 }, (_, i) => String(700_000 + i));
    const routeVia = async (): Promise<Route[]> => JSON.parse((await post(`${d2.url}/_cachetier/route`, ids)).body) as Route[];
    await waitFor('members resolved', async () => new Set((await routeVia()).map((r) => r.member)).size === 3, 10_000);
    const before = await routeVia();
    expect(new Set(before.map((r) => r.member))).toEqual(new Set(ips.list.map((h) => `${h}:8080`)));
    const r = await get(`${d2.url}/product?productId=700001`);
    expect(r.status).toBe(200);
    const removed = `${ips.list[0]}:8080`;
    ips.list = ips.list.slice(1);
    let after: Route[] = [];
    await waitFor('removed member dropped from the ring', async () => {
      after = await routeVia();
      const again = await routeVia();
      return after.every((x) => x.member !== removed) && again.every((x) => x.member !== removed);
    }, 10_000);
    before.forEach((b, i) => {
      if (b.member !== removed) expect(after[i].member).toBe(b.member);
    });
  } finally {
    await d2.stop();
    dns.close();
  }
});

test('an app member down: its ids are served by the next member on the ring', async () => {
  const ids = Array.from({ length: 400 }, (_, i) => 50_000 + i);
  const rs = await routes(ids);
  const victim = apps[3];
  const victimAddr = `${victim.host}:${victim.port}`;
  const affected = ids.filter((_, i) => rs[i].member === victimAddr).slice(0, 20);
  expect(affected.length).toBeGreaterThan(0);
  await victim.stop();
  for (const id of affected) {
    const r = await get(`${dist.url}/product?productId=${id}`);
    expect(r.status).toBe(200);
    expect(r.headers['x-app-member']).not.toBe(victimAddr);
  }
});

test('bad input at the distribution layer -> 400, never 5xx', async () => {
  for (const q of ['', '?productId=', '?productId=x', '?productId=-3', '?productId=0', `?productId=${'1'.repeat(40)}`, '?productId=1&shopId=y']) {
    const r = await get(`${dist.url}/product${q}`);
    expect({ q, status: r.status }).toEqual({ q, status: 400 });
  }
});

test('id boundaries (1 .. 10^15-1) at the distribution layer: valid ids proxied (200/404), every other id 400 and never proxied', async () => {
  for (const [label, v, valid] of ID_CASES) {
    for (const q of [`?productId=${v}`, `?productId=1&shopId=${v}`]) {
      for (const p of ['/product', '/product.html']) {
        const r = await get(`${dist.url}${p}${q}`);
        const short = q.slice(0, 40);
        if (valid) {
          expect({ label, q: short, p, ok: r.status === 200 || r.status === 404, member: typeof r.headers['x-app-member'] }).toEqual({ label, q: short, p, ok: true, member: 'string' });
        } else {
          expect({ label, q: short, p, status: r.status, routed: r.headers['x-routed-to'] ?? null, member: r.headers['x-app-member'] ?? null }).toEqual({
            label,
            q: short,
            p,
            status: 400,
            routed: null,
            member: null,
          });
        }
      }
    }
  }
  for (const raw of RAW_NON_ASCII_IDS) {
    const head = Buffer.concat([Buffer.from('GET /product?productId='), raw, Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]);
    expect({ raw: raw.toString('hex'), status: await rawStatus(dist.host, dist.port, head) }).toEqual({ raw: raw.toString('hex'), status: 400 });
  }
});

test('only GET and HEAD at the distribution layer: any other method is a 405 with Allow: GET, HEAD, never proxied', async () => {
  for (const p of ['/product', '/product.html']) {
    for (const method of REFUSED_METHODS) {
      const r = await request(`${dist.url}${p}?productId=42&shopId=1`, { method });
      expect({ method, p, status: r.status, allow: r.headers.allow, routed: r.headers['x-routed-to'] ?? null }).toEqual({ method, p, status: 405, allow: 'GET, HEAD', routed: null });
    }
    const hd = await request(`${dist.url}${p}?productId=42&shopId=1`, { method: 'HEAD' });
    expect(hd.status).toBe(200);
    expect(hd.body).toBe('');
    expect(typeof hd.headers['x-app-member']).toBe('string');
  }
});

test('flood limit at the distribution layer: over the per-client rate a request is a 429 with Retry-After, not proxied', async () => {
  const lim = await startOpenResty({
    layer: 'distribution',
    host: `${IP}.113`,
    port: 8080,
    rootDir: root,
    spec: { openresty: { distribution: { limits: { requestsPerSecond: 5, burst: 5, connections: 1000 } } } },
    input: { redisSeeds: cluster.seeds, appUpstream: { kind: 'static', servers: members.slice(0, 3) } },
  });
  try {
    const res = await Promise.all(Array.from({ length: 40 }, () => get(`${lim.url}/product?productId=42&shopId=1`)));
    const ok = res.filter((r) => r.status === 200);
    const limited = res.filter((r) => r.status === 429);
    expect(ok.length + limited.length).toBe(40);
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(limited.length).toBeGreaterThanOrEqual(20);
    expect(limited[0].headers['retry-after']).toBe('1');
    expect(limited[0].headers['x-routed-to']).toBeUndefined();
    for (let i = 0; i < 20; i++) expect((await get(`${lim.url}/healthz`)).status).toBe(200);
  } finally {
    await lim.stop();
  }
});
