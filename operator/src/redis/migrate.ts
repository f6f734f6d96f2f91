// Slot migration executor. Legacy protocol (Redis 7.0 here):
//   target SETSLOT IMPORTING -> source SETSLOT MIGRATING -> GETKEYSINSLOT + MIGRATE ... KEYS (big
//   batches, many slots in flight) -> source COUNTKEYSINSLOT == 0 verified -> SETSLOT NODE on the
//   target, the source, then every other master.
// All progress is visible in the cluster (MIGRATING/IMPORTING in CLUSTER NODES), so a crash at any
// step boundary is finished by the next run (resumeOpenSlot). A failed MIGRATE is retried and then
// aborted (keys moved back, slot STABLE): a slot's owner never changes unless the source is empty.
// Atomic slot migration (Redis 8.4 CLUSTER MIGRATION, Valkey 9 CLUSTER MIGRATESLOTS) is detected
// and used when present.
import { errMsg, type Arg, type ConnPool, type RedisConn } from './client.js';
import { toRanges } from './parse.js';

export type MigrationStep =
  | 'importing-set'
  | 'migrating-set'
  | 'batch-migrated'
  | 'drained'
  | 'owner-target'
  | 'owner-source'
  | 'owner-broadcast';

export const MIGRATION_STEPS: MigrationStep[] = [
  'importing-set',
  'migrating-set',
  'batch-migrated',
  'drained',
  'owner-target',
  'owner-source',
  'owner-broadcast',
];

export interface MoveNode {
  id: string;
  host: string;
  port: number;
}

export interface MigrationHooks {
  /** Called after each step; throwing simulates the orchestrator dying right there. */
  step?(step: MigrationStep, info: { slot: number; from: string; to: string }): void | Promise<void>;
}

export interface MigrateOptions {
  /** With a password: MIGRATE authenticates as this ACL user (AUTH2), else as `default` (AUTH). */
  username?: string;
  password?: string;
  /** Keys per MIGRATE (redis-cli uses 10). */
  batchKeys: number;
  /** MIGRATE's own timeout, ms. */
  migrateTimeoutMs: number;
  retries: number;
  hooks?: MigrationHooks;
}

export type AtomicCapability = 'none' | 'redis-cluster-migration' | 'valkey-migrateslots';

export interface MoveResult {
  slot: number;
  from: string;
  to: string;
  ok: boolean;
  keys: number;
  error?: string;
  aborted?: boolean;
}

/** Marks an error thrown by a hook: it must propagate (a "crash"), never count as a failed MIGRATE. */
export class HookAbort extends Error {}

export class SlotMigrator {
  constructor(
    private readonly pool: ConnPool,
    private readonly opts: MigrateOptions,
    /** Every master: SETSLOT NODE is broadcast to them after a move. */
    private readonly masters: MoveNode[],
  ) {}

  private conn(n: MoveNode): RedisConn {
    return this.pool.get(n.host, n.port);
  }

  private async hook(step: MigrationStep, slot: number, from: MoveNode, to: MoveNode) {
    if (!this.opts.hooks?.step) return;
    try {
      await this.opts.hooks.step(step, { slot, from: from.id, to: to.id });
    } catch (e) {
      throw e instanceof HookAbort ? e : new HookAbort(errMsg(e));
    }
  }

  /** MIGRATE's AUTH / AUTH2 arguments: the target checks them like a client's AUTH. */
  private authArgs(): Arg[] {
    const { username, password } = this.opts;
    if (password === undefined) return [];
    return username !== undefined ? ['AUTH2', username, password] : ['AUTH', password];
  }

  private migrateArgs(to: MoveNode, keys: string[]): Arg[] {
    const a: Arg[] = ['MIGRATE', to.host, to.port, '', 0, this.opts.migrateTimeoutMs, 'REPLACE'];
    a.push(...this.authArgs());
    a.push('KEYS', ...keys);
    return a;
  }

  /** Moves every key of `slot` from -> to. Returns moved count; throws after retries. */
  private async drainKeys(slot: number, from: MoveNode, to: MoveNode, onBatch?: () => Promise<void>): Promise<number> {
    const src = this.conn(from);
    let moved = 0;
    let failures = 0;
    // Bounded: every successful batch removes keys; failures are bounded by retries.
    for (let round = 0; round < 1_000_000; round++) {
      const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, this.opts.batchKeys)) as string[];
      if (keys.length === 0) return moved;
      try {
        await src.call(...this.migrateArgs(to, keys));
        moved += keys.length;
        failures = 0;
        // A short batch was the slot's last: COUNTKEYSINSLOT (the caller's check) confirms it.
        if (keys.length < this.opts.batchKeys) {
          if (onBatch) await onBatch();
          return moved;
        }
      } catch (e) {
        const msg = errMsg(e);
        // NOKEY: keys expired/deleted between GETKEYSINSLOT and MIGRATE; just go round again.
        if (/NOKEY/i.test(msg)) continue;
        failures++;
        if (failures > this.opts.retries) throw new Error(`MIGRATE slot ${slot} ${from.id.slice(0, 8)}->${to.id.slice(0, 8)} failed: ${msg}`);
        await new Promise((r) => setTimeout(r, 50 * failures));
        continue;
      }
      if (onBatch) await onBatch();
    }
    throw new Error(`slot ${slot}: drain did not finish`);
  }

  /**
   * Full legacy move of one slot owned by `from`. `state` says what is already set (resume).
   * On MIGRATE failure after retries the move is aborted and the owner stays `from`.
   */
  async move(
    slot: number,
    from: MoveNode,
    to: MoveNode,
    state: { importingSet?: boolean; migratingSet?: boolean; targetOwns?: boolean } = {},
  ): Promise<MoveResult> {
    const src = this.conn(from);
    const dst = this.conn(to);
    if (!state.targetOwns) {
      if (!state.importingSet) {
        await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
        await this.hook('importing-set', slot, from, to);
      }
      if (!state.migratingSet) {
        await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
        await this.hook('migrating-set', slot, from, to);
      }
    }
    let keys = 0;
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        keys += await this.drainKeys(slot, from, to, () => this.hook('batch-migrated', slot, from, to));
        const left = Number(await src.call('CLUSTER', 'COUNTKEYSINSLOT', slot));
        if (left === 0) break;
        if (attempt === 4) throw new Error(`slot ${slot}: ${left} keys still on source after drain`);
      }
    } catch (e) {
      if (e instanceof HookAbort) throw e;
      const error = errMsg(e);
      if (state.targetOwns) return { slot, from: from.id, to: to.id, ok: false, keys, error };
      const abortErr = await this.abort(slot, from, to).then(
        () => undefined,
        (ae: unknown) => errMsg(ae),
      );
      return { slot, from: from.id, to: to.id, ok: false, keys, error: abortErr ? `${error}; abort failed: ${abortErr}` : error, aborted: !abortErr };
    }
    await this.hook('drained', slot, from, to);
    // Ownership changes only now: the source holds no key of this slot.
    if (!state.targetOwns) {
      await dst.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      await this.hook('owner-target', slot, from, to);
    }
    await this.setNodeOnSource(src, slot, to);
    await this.hook('owner-source', slot, from, to);
    await Promise.all(
      this.masters
        .filter((m) => m.id !== from.id && m.id !== to.id)
        .map((m) => this.conn(m).call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id).catch(() => undefined)),
    );
    await this.hook('owner-broadcast', slot, from, to);
    return { slot, from: from.id, to: to.id, ok: true, keys };
  }

  private async setNodeOnSource(src: RedisConn, slot: number, to: MoveNode) {
    try {
      await src.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    } catch (e) {
      // The source may have learnt the new owner by gossip already and dropped the slot.
      if (!/I still hold keys/i.test(errMsg(e))) return;
      throw e;
    }
  }

  /**
   * Undo a move whose MIGRATE keeps failing: new writes go back to the source first (STABLE),
   * then keys already on the target move back (the source's copy wins if a client re-created
   * the key meanwhile), then the target's IMPORTING is cleared. The owner never changed.
   */
  async abort(slot: number, from: MoveNode, to: MoveNode): Promise<void> {
    const src = this.conn(from);
    const dst = this.conn(to);
    await src.call('CLUSTER', 'SETSLOT', slot, 'STABLE');
    let reachable = true;
    try {
      await dst.call('PING');
    } catch {
      reachable = false;
    }
    if (reachable) {
      for (let round = 0; round < 100_000; round++) {
        const keys = (await dst.call('CLUSTER', 'GETKEYSINSLOT', slot, this.opts.batchKeys)) as string[];
        if (keys.length === 0) break;
        const args: Arg[] = ['MIGRATE', from.host, from.port, '', 0, this.opts.migrateTimeoutMs];
        args.push(...this.authArgs());
        args.push('KEYS', ...keys);
        try {
          await dst.call(...args);
        } catch (e) {
          if (!/BUSYKEY/i.test(errMsg(e))) throw e;
          // Those the source already has again are older copies: drop them from the target.
          for (const k of keys) {
            if (Number(await src.call('EXISTS', k)) === 1) await dst.call('DEL', k);
          }
        }
      }
      await dst.call('CLUSTER', 'SETSLOT', slot, 'STABLE');
    }
  }
}

/** Detects server-side atomic slot migration by asking for the command's metadata. */
export async function detectAtomicMigration(conn: RedisConn): Promise<AtomicCapability> {
  const has = async (name: string) => {
    try {
      const r = (await conn.call('COMMAND', 'INFO', name)) as unknown[];
      return Array.isArray(r) && r.length > 0 && r[0] !== null;
    } catch {
      return false;
    }
  };
  if (await has('cluster|migration')) return 'redis-cluster-migration';
  if (await has('cluster|migrateslots')) return 'valkey-migrateslots';
  return 'none';
}

function flatToMap(x: unknown): Map<string, unknown> {
  const m = new Map<string, unknown>();
  if (Array.isArray(x)) for (let i = 0; i + 1 < x.length; i += 2) m.set(String(x[i]), x[i + 1]);
  else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) m.set(k, v);
  return m;
}

const DONE = new Set(['completed', 'success', 'succeeded', 'finished']);
const FAILED = new Set(['failed', 'canceled', 'cancelled', 'error']);

/**
 * Atomic migration of a group of slots from one source to one target; the server moves keys and
 * ownership itself. Redis 8.4: CLUSTER MIGRATION IMPORT on the target, poll STATUS ID. Valkey 9:
 * CLUSTER MIGRATESLOTS on the source, poll CLUSTER GETSLOTMIGRATIONS. Resolves when done; throws
 * with the server's error on failure or after timeoutMs.
 */
export async function atomicMove(
  cap: Exclude<AtomicCapability, 'none'>,
  src: RedisConn,
  dst: RedisConn,
  slots: number[],
  to: MoveNode,
  timeoutMs: number,
  pollMs = 100,
): Promise<void> {
  const ranges = toRanges(slots).flatMap(([a, b]) => [a, b]);
  const deadline = Date.now() + timeoutMs;
  if (cap === 'redis-cluster-migration') {
    const id = String(await dst.call('CLUSTER', 'MIGRATION', 'IMPORT', ...ranges));
    while (Date.now() < deadline) {
      const rows = (await dst.call('CLUSTER', 'MIGRATION', 'STATUS', 'ID', id)) as unknown[];
      const row = flatToMap(Array.isArray(rows) && Array.isArray(rows[0]) ? rows[0] : rows);
      const st = String(row.get('state') ?? '').toLowerCase();
      if (DONE.has(st)) return;
      if (FAILED.has(st)) throw new Error(`atomic migration ${id} ${st}: ${String(row.get('last_error') ?? '')}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
    throw new Error(`atomic migration ${id} timed out`);
  }
  await src.call('CLUSTER', 'MIGRATESLOTS', 'SLOTSRANGE', ...ranges, 'NODE', to.id);
  const want = toRanges(slots)
    .map(([a, b]) => `${a}-${b}`)
    .join(' ');
  while (Date.now() < deadline) {
    const rows = (await src.call('CLUSTER', 'GETSLOTMIGRATIONS')) as unknown[];
    const mine = (Array.isArray(rows) ? rows : [])
      .map(flatToMap)
      .filter((r) => String(r.get('slot_ranges') ?? '') === want && String(r.get('target_node') ?? '') === to.id);
    const row = mine[mine.length - 1];
    const st = String(row?.get('state') ?? '').toLowerCase();
    if (row && DONE.has(st)) return;
    if (row && FAILED.has(st)) throw new Error(`atomic migration to ${to.id.slice(0, 8)} ${st}: ${String(row.get('message') ?? '')}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error('atomic migration timed out');
}
