// Shared pieces for the OpenResty integration tests: a real Redis Cluster (hack/local/redis.ts,
// formed by the operator's orchestrator), a stand-in cache-producer HTTP server (the producer's
// HTTP contract: GET /product/:id, /shop/:id -> 200 JSON with _v | 404), HTTP helpers.
import http from 'node:http';
import path from 'node:path';
import net, { type AddressInfo } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { adminAuth, startRedisCluster, TEST_REDIS_CREDENTIALS, type LocalRedisCluster } from '../../../../hack/local/redis.js';

export { startOpenResty, localTier } from '../../../../hack/local/nginx.js';
export { makeRootDir, sleep, waitFor } from '../../../../hack/local/procs.js';


/**
 * A real Redis Cluster of `masters` masters with the ACL users the operator renders (test
 * passwords), formed by the operator's orchestrator through hack/local/redis.ts. nginx connects as
 * the layer's user (hack/local/nginx.ts); the tests' own clients are the admin user.
 */
export async function startCluster(ipPrefix: string, rootDir: string, masters = 3, port = 7000): Promise<LocalRedisCluster> {
  return startRedisCluster({ masters, replicasPerMaster: 0, ipPrefix, rootDir: path.join(rootDir, 'redis'), port, nodes: masters, maxPasses: 3, acl: TEST_REDIS_CREDENTIALS });
}

export function clusterClient(seeds: string[]): Cluster {
  return new Cluster(
    seeds.map((s) => ({ host: s.split(':')[0], port: Number(s.split(':')[1]) })),
    { redisOptions: { connectTimeout: 3000, ...adminAuth() }, slotsRefreshTimeout: 3000 },
  );
}

export function nodeClient(addr: string): Redis {
  const [host, port] = addr.split(':');
  return new Redis({ host, port: Number(port), connectTimeout: 3000, maxRetriesPerRequest: 2, ...adminAuth() });
}

// ---------------------------------------------------------------------------------------------
// Stand-in producer: the producer's L3 HTTP contract, with call counting and failure modes.
/** throttle: 429 + Retry-After, as the producer answers when its source-call budget is spent; reject: 400 ("bad id") for every id. */
export type ProducerMode = 'ok' | 'hang' | 'error' | 'throttle' | 'reject';

export interface FakeProducer {
  url: string;
  host: string;
  port: number;
  products: Map<string, Record<string, unknown>>;
  shops: Map<string, Record<string, unknown>>;
  /** Calls per path, e.g. "/product/1". */
  calls: Map<string, number>;
  mode: ProducerMode;
  /** Delay before answering (ms), to widen single-flight windows. */
  delayMs: number;
  /** Answer every /product/:id and /shop/:id with a generated record (unless in the maps). */
  generate: boolean;
  count(path: string): number;
  close(): Promise<void>;
  /** Re-listen on the same address after close(). */
  reopen(): Promise<void>;
}

export function product(id: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: `product ${id}`,
    price: 100 + id,
    pictureList: 'a.jpg,b.jpg',
    specification: `spec ${id}`,
    service: 'service',
    color: 'red',
    size: '5.5',
    shopId: 1,
    modifiedTime: '2026-01-01 10:00:00',
    _v: 1767261600000,
    ...extra,
  };
}

export function shop(id: number): Record<string, unknown> {
  return { id, name: `shop ${id}`, level: 5, goodCommentRate: 0.99, modifiedTime: '2026-01-01 10:00:00', _v: 1767261600000 };
}

export async function startFakeProducer(host: string, port = 0): Promise<FakeProducer> {
  const sockets = new Set<import('node:net').Socket>();
  const fp: FakeProducer = {
    url: '',
    host,
    port,
    products: new Map(),
    shops: new Map(),
    calls: new Map(),
    mode: 'ok',
    delayMs: 0,
    generate: false,
    count: (p) => fp.calls.get(p) ?? 0,
    close: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      });
    },
    reopen: async () => {
      await new Promise<void>((r, j) => {
        server.once('error', j);
        server.listen(fp.port, host, () => r());
      });
    },
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    fp.calls.set(path, (fp.calls.get(path) ?? 0) + 1);
    if (fp.mode === 'hang') return; // never answers; the client's timeout decides
    const answer = () => {
      if (fp.mode === 'error') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"boom"}');
        return;
      }
      if (fp.mode === 'reject') {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad id"}');
        return;
      }
      if (fp.mode === 'throttle') {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"error":"too many source reads"}');
        return;
      }
      const m = /^\/(product|shop)\/(\d+)$/.exec(path);
      if (!m) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad id"}');
        return;
      }
      let rec = (m[1] === 'product' ? fp.products : fp.shops).get(m[2]);
      if (!rec && fp.generate) rec = m[1] === 'product' ? product(Number(m[2])) : shop(Number(m[2]));
      if (!rec) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rec));
    };
    if (fp.delayMs > 0) setTimeout(answer, fp.delayMs);
    else answer();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(port, host, () => r()));
  fp.port = (server.address() as AddressInfo).port;
  fp.url = `http://${host}:${fp.port}`;
  return fp;
}

// ---------------------------------------------------------------------------------------------
export interface Resp {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 2000 });

export function get(url: string, headers: Record<string, string> = {}, timeoutMs = 15_000): Promise<Resp> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - t0 }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)));
    req.on('error', reject);
  });
}

export function post(url: string, body: unknown, timeoutMs = 30_000): Promise<Resp> {
  const t0 = Date.now();
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': data.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - t0 }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** Any method, own agent or none (agent: false = a new connection, closed after the answer). */
export function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<Resp> {
  const t0 = Date.now();
  const timeoutMs = opts.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', agent: opts.agent ?? agent, headers: opts.headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - t0 }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${opts.method ?? 'GET'} ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends `head` (a request line and headers, bytes as given: raw non-ASCII, custom methods) on a
 * new connection and returns the status code of the answer.
 */
export function rawStatus(host: string, port: number, head: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    const chunks: Buffer[] = [];
    sock.setTimeout(15_000, () => sock.destroy(new Error('raw request timed out')));
    sock.on('connect', () => sock.write(head));
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(Buffer.concat(chunks).toString('latin1'));
      if (m) {
        sock.destroy();
        resolve(Number(m[1]));
      }
    });
    sock.on('error', reject);
    sock.on('close', () => reject(new Error(`connection closed without a status line: ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`)));
  });
}

/** Parses an instance's Prometheus text (from its metrics port) into { 'name{labels}': value }. */
export async function metrics(h: { metricsUrl: string }): Promise<Record<string, number>> {
  const r = await get(h.metricsUrl);
  const out: Record<string, number> = {};
  for (const line of r.body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

export function destroyAgent(): void {
  agent.destroy();
}

// ---------------------------------------------------------------------------------------------
/**
 * Product/shop id boundary cases for both layers: [label, the query value as sent (URL-encoded
 * where needed), valid]. The rule is packages/contract/src/ids.ts: decimal integers from 1 to
 * 10^15-1 (^[1-9][0-9]{0,14}$).
 */
export const ID_CASES: [string, string, boolean][] = [
  ['1', '1', true],
  ['2^31-1', '2147483647', true],
  ['2^31', '2147483648', true],
  ['10^15-1', '999999999999999', true],
  ['10^15', '1000000000000000', false],
  ['-1', '-1', false],
  ['0', '0', false],
  ['007', '007', false],
  ['empty', '', false],
  ['Arabic-Indic digit one', '%D9%A1', false],
  ['fullwidth digit one', '%EF%BC%91', false],
  ['1 then e-acute', '1%C3%A9', false],
  ['10 KB of digits', '9'.repeat(10_240), false],
  ['10 KB: 1 then zeros', `1${'0'.repeat(10_239)}`, false],
];

/** The same rule's non-ASCII cases as raw bytes in the request line (not percent-encoded). */
export const RAW_NON_ASCII_IDS: Buffer[] = [Buffer.from('1\u00e9', 'utf8'), Buffer.from('\u0661', 'utf8'), Buffer.from([0x31, 0xff])];

/** Methods the /product endpoints refuse (405 + Allow: GET, HEAD). */
export const REFUSED_METHODS = ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'PROPFIND'];
