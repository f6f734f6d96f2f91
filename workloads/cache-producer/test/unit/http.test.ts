// The producer's HTTP surface with a fake read path: status codes for bad ids, methods, the
// source budget, readiness and liveness. (The real read path is in the integration tier.)
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp, createMetricsApp } from '../../src/http.js';
import { createMetrics } from '../../src/metrics.js';
import { RateLimited } from '../../src/ratelimit.js';
import type { Producer } from '../../src/service.js';

let server: Server;
let metricsServer: Server;
let base = '';
let metricsBase = '';
const logged: string[] = [];
let dead: string | undefined;
let readyOk = true;
const reads: number[] = [];

beforeAll(async () => {
  const producer = {
    async read(_s: string, e: { id: number }) {
      reads.push(e.id);
      if (e.id === 429) throw new RateLimited(1500);
      if (e.id === 503) throw new Error('connect ECONNREFUSED 10.1.2.3:6379 (redis-0.shop-redis.shop.svc.cluster.local)');
      if (e.id === 504) throw new Error('GET http://product-info.catalog.svc.cluster.local:8080/product/504: HTTP 500');
      if (e.id === 404) return { value: '{"_v":0,"_deleted":true}', level: 'miss' };
      return { value: `{"_v":1,"id":${e.id}}`, level: 'miss' };
    },
  } as unknown as Producer;
  const app = createApp({
    producer,
    metrics: createMetrics(),
    ready: async () => ({ ok: readyOk, detail: { redis: readyOk, kafka: false } }),
    dead: () => dead,
    onError: (what, err) => logged.push(`${what}: ${String(err)}`),
  });
  const metrics = createMetrics();
  metrics.hits.inc({ level: 'local' });
  server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  metricsServer = await new Promise((r) => {
    const s = createMetricsApp(metrics).listen(0, '127.0.0.1', () => r(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  metricsBase = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => metricsServer.close(() => r()));
});

/** Internal addresses an error body must never carry. */
const INTERNAL = /10\.1\.2\.3|6379|svc\.cluster\.local|product-info|ECONNREFUSED|http:\/\//;

describe('producer HTTP', () => {
  it('answers 400 for ids outside the contract rule and never reads them', async () => {
    for (const id of ['0', '-1', '007', '1000000000000000', 'abc', '%C3%A9', 'x'.repeat(10_000)]) {
      expect((await fetch(`${base}/product/${id}`)).status).toBe(400);
    }
    expect(reads).toEqual([]);
    expect((await fetch(`${base}/product/999999999999999`)).status).toBe(200);
  });

  it('answers 405 with Allow for anything but GET and HEAD', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await fetch(`${base}/shop/1`, { method });
      expect([method, r.status, r.headers.get('allow')]).toEqual([method, 405, 'GET, HEAD']);
    }
  });

  it('answers 429 with Retry-After when the source budget is spent, 404 for a tombstone, 503 when the read fails', async () => {
    const r = await fetch(`${base}/product/429`);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('2');
    expect((await fetch(`${base}/product/404`)).status).toBe(404);
    expect((await fetch(`${base}/product/503`)).status).toBe(503);
  });

  it('a failed read answers 503 without the error: no Redis host, no source URL in the body (they go to the log)', async () => {
    logged.length = 0;
    for (const id of ['503', '504']) {
      const r = await fetch(`${base}/product/${id}`);
      expect(r.status).toBe(503);
      const body = await r.text();
      expect(JSON.parse(body)).toEqual({ error: 'unavailable' });
      expect(body).not.toMatch(INTERNAL);
    }
    expect(logged.join('\n')).toMatch(/10\.1\.2\.3:6379/);
    expect(logged.join('\n')).toMatch(/product-info\.catalog/);
  });

  it('/metrics: 404 on the data port, 200 on the metrics port (which serves nothing else)', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    const m = await fetch(`${metricsBase}/metrics`);
    expect(m.status).toBe(200);
    expect(await m.text()).toMatch(/cachetier_/);
    for (const p of ['/product/1', '/healthz', '/readyz', '/debug/locks']) expect((await fetch(`${metricsBase}${p}`)).status).toBe(404);
  });

  it('readiness is the read path; liveness fails once the consumer is dead for good', async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    readyOk = false;
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    readyOk = true;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    dead = 'cache-message consumer crashed and will not restart: KafkaJSConnectionError: connect ECONNREFUSED 10.1.2.3:9092';
    const h = await fetch(`${base}/healthz`);
    expect(h.status).toBe(503);
    // Which consumer, not the error (it names brokers); the error goes to the log.
    expect(await h.json()).toEqual({ status: 'dead', consumer: 'cache-message' });
    expect(logged.at(-1)).toContain('10.1.2.3:9092');
  });
});
