// HTTP API (the OpenResty L3 fallback) + health, readiness, metrics and the lock-interval log.
import express, { type Request, type Response } from 'express';
import { parseId, type EntityKind, type ServiceId } from './messages.js';
import type { Metrics } from './metrics.js';
import type { Producer } from './service.js';
import { decodeStored } from './store.js';

export interface HttpDeps {
  producer: Producer;
  metrics: Metrics;
  ready: () => Promise<{ ok: boolean; detail: Record<string, boolean> }>;
}

export function createApp({ producer, metrics, ready }: HttpDeps): express.Express {
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
      res.status(503).json({ error: 'unavailable', detail: String((e as Error).message ?? e).slice(0, 200) });
    }
  };
  app.get('/product/:id', serve('product', 'productInfoService'));
  app.get('/shop/:id', serve('shop', 'shopInfoService'));

  app.get('/healthz', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const r = await ready().catch(() => ({ ok: false, detail: {} }));
    res.status(r.ok ? 200 : 503).json({ ready: r.ok, ...r.detail });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
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
