// Sample source service (products + shops) for the demo, the tests and the benchmarks.
// GET/PUT/DELETE /product/:id and /shop/:id; a PUT or DELETE publishes the change message
// to `cache-message` keyed by productId (pull by default, ?mode=push sends the full record).
// GET /stats counts calls per path; latency/failures can be injected (env, query or POST /config).
import express, { type NextFunction, type Request, type Response } from 'express';
import { Kafka, logLevel, CompressionTypes } from 'kafkajs';
import pino from 'pino';
import { parseEntityId } from '../../../packages/contract/src/index.js';
import { SourceStore } from './store.js';
import { groupByKey } from './batch.js';

const log = pino({ base: { app: 'source-service' } });
const env = process.env;
const HOST = env.SOURCE_HTTP_HOST || '0.0.0.0';
const PORT = Number(env.SOURCE_HTTP_PORT || 8080);
const BROKERS = (env.KAFKA_BROKERS || '').split(',').map((s) => s.trim()).filter(Boolean);
const TOPIC = env.KAFKA_TOPIC_CACHE_MESSAGE || 'cache-message';
const SEED = Number(env.SEED_PRODUCTS || 100);
const fault = {
  latencyMs: Number(env.SOURCE_LATENCY_MS || 0),
  failRate: Number(env.SOURCE_FAIL_RATE || 0),
  /** Paths whose GET always answers 503 (a record the source cannot serve), e.g. "/product/7". */
  failPaths: [] as string[],
};
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) throw new Error(`SOURCE_HTTP_PORT invalid: ${env.SOURCE_HTTP_PORT}`);
if (!Number.isInteger(SEED) || SEED < 0) throw new Error(`SEED_PRODUCTS invalid: ${env.SEED_PRODUCTS}`);

const store = new SourceStore(SEED);
const stats = new Map<string, number>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Kafka: acks=all; concurrent updates are sent in small batches (a few ms linger) so thousands of
// PUTs don't become thousands of produce requests.
const kafka = BROKERS.length ? new Kafka({ clientId: 'source-service', brokers: BROKERS, logLevel: logLevel.WARN, retry: { retries: 10 } }) : undefined;
const kproducer = kafka?.producer({ allowAutoTopicCreation: false });
type Pending = { key: string; value: string; resolve: () => void; reject: (e: Error) => void };
let queue: Pending[] = [];
let flushTimer: NodeJS.Timeout | undefined;
async function flush(): Promise<void> {
  flushTimer = undefined;
  const batch = queue;
  queue = [];
  if (!batch.length) return;
  // One send per key (batch.ts says why), all at once; each PUT learns its own send's outcome.
  await Promise.all(
    groupByKey(batch).map(async (group) => {
      try {
        if (!kproducer) throw new Error('KAFKA_BROKERS not set');
        await kproducer.send({ topic: TOPIC, acks: -1, compression: CompressionTypes.None, messages: group.map((p) => ({ key: p.key, value: p.value })) });
        for (const p of group) p.resolve();
      } catch (e) {
        for (const p of group) p.reject(e as Error);
      }
    }),
  );
}
function publish(key: string, msg: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    queue.push({ key, value: JSON.stringify(msg), resolve, reject });
    if (queue.length >= 500) void flush();
    else flushTimer ??= setTimeout(() => void flush(), 3);
  });
}

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json({ limit: '256kb' }));

// Counting + fault injection on the data endpoints.
app.use(async (req: Request, res: Response, next: NextFunction) => {
  if (!/^\/(product|shop)(s)?(\/|$)/.test(req.path)) return next();
  const k = `${req.method} ${req.path}`;
  stats.set(k, (stats.get(k) ?? 0) + 1);
  const latency = req.query.latencyMs !== undefined ? Number(req.query.latencyMs) : fault.latencyMs;
  const failRate = req.query.fail !== undefined ? Number(req.query.fail) : fault.failRate;
  if (latency > 0) await sleep(Math.min(latency, 30_000));
  if ((failRate > 0 && Math.random() < failRate) || (req.method === 'GET' && fault.failPaths.includes(req.path))) {
    res.status(503).json({ error: 'injected failure' });
    return;
  }
  next();
});

function idOf(req: Request, res: Response): number | undefined {
  const id = parseEntityId(String(req.params.id));
  if (id === undefined) res.status(400).json({ error: 'bad id' });
  return id;
}

for (const kind of ['product', 'shop'] as const) {
  const serviceId = kind === 'product' ? 'productInfoService' : 'shopInfoService';
  app.get(`/${kind}/:id`, (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    const rec = store.get(kind, id);
    if (!rec) {
      const v = store.deleted.get(`${kind}_${id}`);
      res.status(404).json({ error: 'not found', ...(v !== undefined ? { version: v } : {}) });
      return;
    }
    res.json(rec);
  });
  app.put(`/${kind}/:id`, async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) {
      res.status(400).json({ error: 'body must be a JSON object' });
      return;
    }
    const rec = store.update(kind, id, body);
    const productId = kind === 'product' ? id : Number(req.query.productId ?? body.productId ?? id);
    const msg =
      req.query.mode === 'push'
        ? { serviceId, ...rec }
        : kind === 'product'
          ? { serviceId, productId: id, shopId: rec.shopId }
          : { serviceId, productId, shopId: id };
    try {
      await publish(String(productId), msg);
      res.json(rec);
    } catch (e) {
      log.error({ err: String(e) }, 'publish failed');
      res.status(502).json({ error: 'publish failed', record: rec });
    }
  });
  app.delete(`/${kind}/:id`, async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    const v = store.delete(kind, id);
    if (v === undefined) {
      res.status(404).json({ error: 'not found' });
      return;
    }
    const msg = kind === 'product' ? { serviceId, productId: id, shopId: 1 } : { serviceId, productId: id, shopId: id };
    try {
      await publish(String(id), msg);
      res.json({ deleted: true, version: v });
    } catch (e) {
      res.status(502).json({ error: 'publish failed', detail: String(e) });
    }
  });
}
// All current products (tests compare Redis with this).
app.get('/products', (_req, res) => {
  res.json([...store.products.values()]);
});
app.get('/stats', (_req, res) => {
  res.json({ calls: Object.fromEntries(stats) });
});
app.post('/stats/reset', (_req, res) => {
  stats.clear();
  res.json({ ok: true });
});
app.post('/config', (req, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  if (typeof b.latencyMs === 'number') fault.latencyMs = b.latencyMs;
  if (typeof b.failRate === 'number') fault.failRate = b.failRate;
  if (Array.isArray(b.failPaths)) fault.failPaths = b.failPaths.filter((x): x is string => typeof x === 'string').slice(0, 1000);
  res.json(fault);
});
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});

async function main(): Promise<void> {
  if (kproducer) await kproducer.connect();
  const server = app.listen(PORT, HOST, () => log.info({ host: HOST, port: PORT, seed: SEED }, 'source-service listening'));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const stop = async () => {
    await flush();
    server.close();
    server.closeAllConnections();
    await kproducer?.disconnect().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}
main().catch((e) => {
  log.fatal({ err: String(e) }, 'source-service failed');
  process.exit(1);
});
