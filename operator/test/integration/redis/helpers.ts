// Shared helpers for the Redis orchestration integration tests (real redis-server 7.0).
import { execFileSync } from 'node:child_process';
import { Cluster, Redis } from 'ioredis';
import { startRedisNode, type RedisNodeHandle, type StartRedisNodesOptions } from '../../../../hack/local/redis.js';
import type { MigrationProgress, RedisDesiredShape, RedisOrchestrator, RedisReconcileResult } from '../../../src/orchestration/types.js';
import { isMaster, parseClusterNodes, parseInfo, SLOT_COUNT } from '../../../src/redis/parse.js';

export const IP_PREFIX = '127.0.1';

/** Integration tests must fail (not skip) when redis-server is missing: CI has it. */
export function requireRedisServer(): void {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'pipe' });
  } catch {
    console.warn('redis-server (Debian redis-server 7.0) is not installed: the Redis orchestration integration tests cannot run');
    throw new Error('redis-server missing');
  }
}

/** A password for the `default` user, or an ACL user and its password. */
export type Auth = string | { username: string; password: string };

export function authOptions(auth?: Auth): { username?: string; password?: string } {
  return typeof auth === 'string' ? { password: auth } : (auth ?? {});
}

export function conn(n: { host: string; port: number }, password?: Auth): Redis {
  return new Redis({ host: n.host, port: n.port, ...authOptions(password), lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 3000 });
}

export async function withConn<T>(n: { host: string; port: number }, password: Auth | undefined, f: (r: Redis) => Promise<T>): Promise<T> {
  const r = conn(n, password);
  r.on('error', () => undefined);
  try {
    return await f(r);
  } finally {
    r.disconnect();
  }
}

export async function clusterNodes(n: RedisNodeHandle, password?: Auth) {
  return withConn(n, password, async (r) => parseClusterNodes(String(await r.call('CLUSTER', 'NODES'))));
}
export async function clusterInfo(n: RedisNodeHandle, password?: Auth) {
  return withConn(n, password, async (r) => parseInfo(String(await r.call('CLUSTER', 'INFO'))));
}
export async function myId(n: RedisNodeHandle, password?: Auth): Promise<string> {
  return withConn(n, password, async (r) => String(await r.call('CLUSTER', 'MYID')));
}

/**
 * Plays the reconciler + StatefulSet controller: reconcile, then grow/shrink the simulated
 * StatefulSet to result.statefulSetReplicas, until converged (bounded).
 */
export async function drive(
  orch: RedisOrchestrator,
  desired: RedisDesiredShape,
  nodes: RedisNodeHandle[],
  nodeOpts: StartRedisNodesOptions,
  opts: { maxRounds?: number; onRound?: (r: RedisReconcileResult) => void; onProgress?: (p: MigrationProgress) => void } = {},
): Promise<RedisReconcileResult> {
  let last: RedisReconcileResult | undefined;
  const history: string[] = [];
  const events: RedisReconcileResult['events'] = [];
  for (let round = 0; round < (opts.maxRounds ?? 30); round++) {
    const current = nodes.length;
    last = await orch.reconcile(desired, nodes.map((n) => n.member()), current, opts.onProgress);
    opts.onRound?.(last);
    events.push(...last.events);
    history.push(`${last.statefulSetReplicas}/${last.converged}: ${last.conditions.map((c) => `${c.type}=${c.status}`).join(',')}`);
    // Events of every round (the result's own are the last round's).
    if (last.converged && last.statefulSetReplicas === nodes.length) return { ...last, events };
    if (last.statefulSetReplicas > nodes.length) {
      const add = await Promise.all(
        Array.from({ length: last.statefulSetReplicas - nodes.length }, (_, i) => startRedisNode(nodeOpts, current + i)),
      );
      nodes.push(...add);
    } else if (last.statefulSetReplicas < nodes.length) {
      const gone = nodes.splice(last.statefulSetReplicas);
      await Promise.all(gone.map((n) => n.stop()));
    } else {
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`did not converge: ${history.slice(-5).join(' | ')} ${JSON.stringify(last?.conditions)}`);
}

/** Every master's non-owned slots hold no keys (no stray keys at a non-owner). */
export async function strayKeys(nodes: RedisNodeHandle[], password?: Auth): Promise<string[]> {
  const out: string[] = [];
  for (const n of nodes) {
    if (!n.alive()) continue;
    await withConn(n, password, async (r) => {
      const me = parseClusterNodes(String(await r.call('CLUSTER', 'NODES'))).find((x) => x.flags.has('myself'))!;
      if (!isMaster(me)) return;
      const own = new Set(me.slots);
      const p = r.pipeline();
      const slots: number[] = [];
      for (let s = 0; s < SLOT_COUNT; s++) if (!own.has(s)) {
        slots.push(s);
        p.call('CLUSTER', 'COUNTKEYSINSLOT', s);
      }
      const res = (await p.exec()) ?? [];
      res.forEach(([, c], i) => {
        if (Number(c) > 0) out.push(`${n.pod} holds ${String(c)} key(s) of slot ${slots[i]} it does not own`);
      });
    });
  }
  return out;
}

/** Slots left MIGRATING/IMPORTING anywhere. */
export async function openSlots(nodes: RedisNodeHandle[], password?: Auth): Promise<string[]> {
  const out: string[] = [];
  for (const n of nodes) {
    if (!n.alive()) continue;
    const me = (await clusterNodes(n, password)).find((x) => x.flags.has('myself'))!;
    for (const [s, t] of me.migrating) out.push(`${n.pod} MIGRATING ${s} -> ${t}`);
    for (const [s, f] of me.importing) out.push(`${n.pod} IMPORTING ${s} <- ${f}`);
  }
  return out;
}

/** Checks every master's replicas (as the cluster reports them) run on other simulated nodes. */
export async function placement(nodes: RedisNodeHandle[], password?: Auth) {
  const byId = new Map<string, RedisNodeHandle>();
  const self = new Map<string, ReturnType<typeof parseClusterNodes>[number]>();
  for (const n of nodes) {
    const me = (await clusterNodes(n, password)).find((x) => x.flags.has('myself'))!;
    byId.set(me.id, n);
    self.set(me.id, me);
  }
  const masters = [...self.values()].filter((x) => isMaster(x) && x.slots.length > 0);
  const replicasOf = (id: string) => [...self.values()].filter((x) => x.masterId === id);
  return masters.map((m) => ({
    master: byId.get(m.id)!,
    slots: m.slots.length,
    replicas: replicasOf(m.id).map((r) => byId.get(r.id)!),
    sameNode: replicasOf(m.id).filter((r) => byId.get(r.id)!.nodeName === byId.get(m.id)!.nodeName).length,
  }));
}

/** Continuous writer through a real cluster client; records only acknowledged writes. */
export function startWriter(seeds: Array<{ host: string; port: number }>, password?: Auth) {
  const client = new Cluster(seeds, {
    redisOptions: { ...authOptions(password), connectTimeout: 3000 },
    scaleReads: 'master',
    maxRedirections: 64,
    retryDelayOnMoved: 50,
    retryDelayOnTryAgain: 100,
    retryDelayOnClusterDown: 200,
    slotsRefreshTimeout: 3000,
    clusterRetryStrategy: (times) => Math.min(times * 100, 2000),
  });
  client.on('error', () => undefined);
  const acked = new Map<string, string>();
  let errors = 0;
  let running = true;
  let i = 0;
  const loop = (async () => {
    while (running) {
      const batch: Array<Promise<void>> = [];
      for (let k = 0; k < 20; k++) {
        const key = `w:${i}`;
        const val = `v${i}`;
        i++;
        batch.push(
          client.set(key, val).then(
            () => void acked.set(key, val),
            () => void errors++,
          ),
        );
      }
      await Promise.all(batch);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    acked,
    get errors() {
      return errors;
    },
    async stop() {
      running = false;
      await loop;
      client.disconnect();
    },
  };
}

/** Reads every key back through a fresh cluster client; returns the keys that are missing or wrong. */
export async function verifyKeys(seeds: Array<{ host: string; port: number }>, expected: Map<string, string>, password?: Auth): Promise<string[]> {
  const client = new Cluster(seeds, { redisOptions: authOptions(password), scaleReads: 'master', enableAutoPipelining: true, maxRedirections: 64 });
  client.on('error', () => undefined);
  const bad: string[] = [];
  try {
    const entries = [...expected.entries()];
    for (let i = 0; i < entries.length; i += 2000) {
      const chunk = entries.slice(i, i + 2000);
      const got = await Promise.all(chunk.map(([k]) => client.get(k)));
      chunk.forEach(([k, v], j) => {
        if (got[j] !== v) bad.push(`${k}=${String(got[j])} (want ${v})`);
      });
    }
  } finally {
    client.disconnect();
  }
  return bad;
}

export function cond(r: RedisReconcileResult, type: string) {
  return r.conditions.find((c) => c.type === type);
}
