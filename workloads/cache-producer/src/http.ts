// HTTP API (the OpenResty L3 fallback) + health, readiness and the lock-interval log; /metrics is
// a second listener of its own (createMetricsApp), so the data port answers /metrics with 404.
// Error bodies never carry an error's message: those name internal addresses (Redis nodes,
// source URLs, brokers); the message goes to onError (the log) instead.
import express, { type Request, type Response } from 'express';
import { parseId, type EntityKind, type ServiceId } from './messages.js';
import type { Metrics } from './metrics.js';
import type { Producer } from './service.js';
import { RateLimited } from './ratelimit.js';
import { decodeStored } from './store.js';

export interface HttpDeps {
  producer: Producer;
  metrics: Metrics;
  /** Can this replica serve reads (its L3 path)? The detail names everything else too. */
  ready: () => Promise<{ ok: boolean; detail: Record<string, boolean> }>;
  /** undefined when alive; otherwise why the process should be restarted. */
  dead?: () => string | undefined;
  /** A failure whose detail stays out of the response body (it may name internal addresses). */
  onError?: (what: string, err: unknown) => void;
}

/** The first word of a liveness reason ("cache-message", "access-log"): which consumer, no detail. */
function deadConsumer(reason: string): string {
  return reason.split(/\s/, 1)[0];
}

export function createApp({ producer, metrics, ready, dead, onError }: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const serve = (kind: EntityKind, serviceId: ServiceId) => async (req: Request, res: Response) => {
    const id = parseId(req.params.id);
    if (id === undefined) {
      res.status(400).json({ error: 'bad id' });
      return;
    }
    try {
      const { value, level } = await producer.read(serviceId, { kind, id });
      if (level === 'local') metrics.hits.inc({ level: 'local' });
      const stored = decodeStored(value);
      if (!stored || stored.deleted) {
        res.status(404).json({ error: 'not found' });
        return;
      }
      res.status(200).type('application/json').send(stored.raw);
    } catch (e) {
      if (e instanceof RateLimited) {
        // A flood of ids nobody has cached costs the source at most its budget.
        res.status(429).set('Retry-After', String(Math.max(1, Math.ceil(e.retryAfterMs / 1000)))).json({ error: 'too many source reads' });
        return;
      }
      onError?.(`read ${kind} ${id}`, e);
      res.status(503).json({ error: 'unavailable' });
    }
  };
  const onlyGetHead = (_req: Request, res: Response) => {
    res.status(405).set('Allow', 'GET, HEAD').json({ error: 'method not allowed' });
  };
  app.get('/product/:id', serve('product', 'productInfoService'));
  app.get('/shop/:id', serve('shop', 'shopInfoService'));
  app.all(['/product/:id', '/shop/:id'], onlyGetHead);

  app.get('/healthz', (_req, res) => {
    const why = dead?.();
    if (why) onError?.('liveness', why);
    res.status(why ? 503 : 200).json(why ? { status: 'dead', consumer: deadConsumer(why) } : { status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const r = await ready().catch(() => ({ ok: false, detail: {} }));
    res.status(r.ok ? 200 : 503).json({ ready: r.ok, ...r.detail });
  });
  // Lock-held intervals of this replica (bounded), so tests can prove mutual exclusion. Off unless
  // DEBUG_LOCK_HISTORY=true: in production it would be memory and an unauthenticated endpoint.
  app.get('/debug/locks', (_req, res) => {
    if (!producer.locks?.keepHistory) return void res.status(404).json({ error: 'lock history is off (DEBUG_LOCK_HISTORY=true turns it on)' });
    res.json({ intervals: producer.locks.intervals });
  });
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not found' });
  });
  return app;
}

/** /metrics alone, for the `metrics` port (HTTP_HOST:METRICS_PORT); everything else 404. */
export function createMetricsApp(metrics: Metrics): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not found' });
  });
  return app;
}
