// A writer and a reader through node-redis (@redis/client), a cluster client that is not the
// orchestrator's own library (ioredis): what it sees is what an application would see, not what
// the orchestrator's connection handling makes of the cluster.
//
// The writer writes new keys and overwrites a fixed pool of keys, one write per key in flight at
// a time, so each key's last acknowledged value is well defined. A write that failed (error or
// timeout) may or may not have been applied; its value is allowed too, never required.
import { createCluster } from '@redis/client';

type Seed = { host: string; port: number };

function cluster(seeds: Seed[], password?: string, username?: string) {
  const c = createCluster({
    rootNodes: seeds.map((s) => ({ socket: { host: s.host, port: s.port, connectTimeout: 3000, reconnectStrategy: (n: number) => Math.min(50 * (n + 1), 1000) } })),
    defaults: { username, password, socket: { connectTimeout: 3000, reconnectStrategy: (n: number) => Math.min(50 * (n + 1), 1000) } },
    useReplicas: false,
    maxCommandRedirections: 64,
  });
  c.on('error', () => undefined);
  return c;
}

export interface SecondClientWriter {
  /** key -> last acknowledged value. */
  acked: Map<string, string>;
  /** key -> values written after the last ack whose outcome is unknown. */
  unknown: Map<string, Set<string>>;
  readonly writes: number;
  readonly errors: number;
  readonly lastError: string;
  stop(): Promise<void>;
}

export async function startSecondClientWriter(
  seeds: Seed[],
  opts: { password?: string; username?: string; overwritePool?: number; batch?: number } = {},
): Promise<SecondClientWriter> {
  const c = cluster(seeds, opts.password, opts.username);
  await c.connect();
  const pool = opts.overwritePool ?? 500;
  const batch = opts.batch ?? 20;
  const acked = new Map<string, string>();
  const unknown = new Map<string, Set<string>>();
  let writes = 0;
  let errors = 0;
  let lastError = '';
  let running = true;
  let i = 0;
  const write = async (key: string, val: string) => {
    writes++;
    try {
      // A command that cannot be answered in time counts as failed (its outcome unknown).
      await Promise.race([c.set(key, val), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 5000))]);
      acked.set(key, val);
      unknown.delete(key);
    } catch (e) {
      errors++;
      lastError = e instanceof Error ? e.message : String(e);
      const u = unknown.get(key) ?? new Set<string>();
      u.add(val);
      unknown.set(key, u);
    }
  };
  const loop = (async () => {
    while (running) {
      const ps: Array<Promise<void>> = [];
      for (let k = 0; k < batch / 2; k++, i++) {
        ps.push(write(`nr:new:${i}`, `v${i}`));
        ps.push(write(`nr:over:${i % pool}`, `v${i}`)); // distinct within a batch while batch/2 <= pool
      }
      await Promise.all(ps);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    acked,
    unknown,
    get writes() {
      return writes;
    },
    get errors() {
      return errors;
    },
    get lastError() {
      return lastError;
    },
    async stop() {
      running = false;
      await loop;
      await c.close().catch(() => undefined);
    },
  };
}

/**
 * Reads every written key back through a fresh node-redis cluster client. A key is lost when it
 * reads nil; wrong when it holds neither its last acknowledged value nor a value whose write's
 * outcome was unknown (an overwrite that went back to an older value).
 */
export async function verifySecondClient(
  seeds: Seed[],
  w: SecondClientWriter,
  password?: string,
  username?: string,
): Promise<{ checked: number; lost: string[]; wrong: string[] }> {
  const c = cluster(seeds, password, username);
  await c.connect();
  const lost: string[] = [];
  const wrong: string[] = [];
  try {
    const keys = [...w.acked.keys()];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const got = await Promise.all(chunk.map((k) => c.get(k)));
      chunk.forEach((k, j) => {
        const g = got[j];
        const want = w.acked.get(k)!;
        if (g === null) lost.push(`${k} (want ${want})`);
        else if (g !== want && !w.unknown.get(k)?.has(String(g))) wrong.push(`${k}=${String(g)} (want ${want})`);
      });
    }
  } finally {
    await c.close().catch(() => undefined);
  }
  return { checked: w.acked.size, lost, wrong };
}
