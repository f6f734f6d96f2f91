// Prometheus metrics of the operator process. One registry (not prom-client's global one) so
// tests and embedding code get exactly these series.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();

export const reconcileTotal = new Counter({
  name: 'cachetier_reconcile_total',
  help: 'Reconciles of CacheTier objects by result (success, requeue, error).',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const reconcileDuration = new Histogram({
  name: 'cachetier_reconcile_duration_seconds',
  help: 'Duration of one CacheTier reconcile.',
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});

export const reconcileErrors = new Counter({
  name: 'cachetier_reconcile_errors_total',
  help: 'Reconciles that failed and were retried with backoff.',
  registers: [registry],
});

export const apiWrites = new Counter({
  name: 'cachetier_api_writes_total',
  help: 'Write requests sent to the Kubernetes API (apply, patch, create, update) by verb and kind.',
  labelNames: ['verb', 'kind'] as const,
  registers: [registry],
});

export const leaderGauge = new Gauge({
  name: 'cachetier_leader',
  help: '1 while this process holds the leader lease (or runs without election), else 0.',
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'cachetier_queue_depth',
  help: 'CacheTier keys waiting in the work queue (not counting delayed requeues).',
  registers: [registry],
});

let defaultsOn = false;
/** Process metrics (CPU, memory, event loop lag); main turns them on once. */
export function enableDefaultMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: registry, prefix: 'cachetier_operator_' });
}

export const tierCondition = new Gauge({
  name: 'cachetier_tier_condition',
  help: "A CacheTier's status conditions as the operator last wrote them: 1 True, 0 False, -1 Unknown.",
  labelNames: ['namespace', 'name', 'type'] as const,
  registers: [registry],
});

const CONDITION_VALUE = { True: 1, False: 0, Unknown: -1 } as const;

const exportedTypes = new Map<string, Set<string>>();

/** Export a tier's conditions (replacing the set exported before: a type no longer reported goes). */
export function recordTierConditions(namespace: string, name: string, conditions: readonly { type: string; status: 'True' | 'False' | 'Unknown' }[]): void {
  forgetTier(namespace, name);
  const types = new Set<string>();
  for (const c of conditions) {
    tierCondition.set({ namespace, name, type: c.type }, CONDITION_VALUE[c.status]);
    types.add(c.type);
  }
  exportedTypes.set(`${namespace}/${name}`, types);
}

/** Drop a tier's series (deleted, or about to be exported anew). */
export function forgetTier(namespace: string, name: string): void {
  const key = `${namespace}/${name}`;
  for (const type of exportedTypes.get(key) ?? []) tierCondition.remove({ namespace, name, type });
  exportedTypes.delete(key);
}
