// Per-entity ZooKeeper locks, the lock recipe from the ZooKeeper docs: every contender
// creates an EPHEMERAL_SEQUENTIAL znode, the lowest sequence among the entity's nodes holds the lock,
// every other contender watches ONLY its predecessor (no herd effect). Timeouts, release on every
// path, and session loss (locks are then considered lost; the caller redoes its work).
// The lock is single-flight for the source service; the Redis CAS is what guarantees order.
//
// Throughput. Every create and delete is a quorum write (leader proposal, a log append on a
// majority). A 3-node ensemble sharing two cores with Kafka does ~1,500 single writes/s, and a lock
// costs two, so one write per request caps a producer far below its Kafka rate. Two things fix that
// without changing the recipe:
//  - Lock creates issued in the same event-loop turn go to ZooKeeper as ONE `multi` transaction
//    (one quorum write for up to MAX_BATCH nodes), with the releases queued since the last one
//    (a release waits up to DELETE_LINGER_MS for a create to ride along with). A consumer batch
//    starts its jobs together, so their locks share transactions. If one op of a multi fails,
//    ZooKeeper applies none of them: the failing one is reported to its caller and the others are
//    sent again.
//  - Lock nodes live in SHARDS fixed directories (`<root>/s<NN>`, by a hash of the entity name)
//    instead of a directory per entity, so a new product costs no directory create (and no later
//    reaping). Sequence numbers are per directory, which is all the recipe needs: the contenders for
//    one entity share a shard. The counter is a signed 32-bit int that wraps after 2^31 creates in a
//    shard; nodes are compared with serial-number arithmetic, so ordering stays right across it.
// The children listing is requested right behind the transaction: a session's requests are applied
// in order, so the list already holds our node and the uncontended case costs one round trip.
import { randomBytes } from 'node:crypto';
import zookeeper, { type Client, type Event as ZkEvent } from 'node-zookeeper-client';
import type { Logger } from 'pino';

/** Lock directories; each entity hashes to one. */
export const SHARDS = 16;
/** Most ops in one multi transaction; well under ZooKeeper's 1 MB request limit. */
const MAX_BATCH = 1000;
/** Longest a release waits for a create's transaction to ride along with (see queueDelete). */
const DELETE_LINGER_MS = 5;

const E = zookeeper.Exception;
const RETRYABLE = new Set<number>([E.CONNECTION_LOSS, E.OPERATION_TIMEOUT]);

export class LockTimeoutError extends Error {
  constructor(name: string, ms: number) {
    super(`timed out after ${ms} ms waiting for the lock on ${name}`);
    this.name = 'LockTimeoutError';
  }
}
export class LockSessionError extends Error {
  constructor(what: string) {
    super(`ZooKeeper session lost ${what}`);
    this.name = 'LockSessionError';
  }
}

/** ZooKeeper return code of a client error (node-zookeeper-client Exception, or "... -101 ..." text). */
export function zkCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'number') return code;
  const m = /(-\d{1,3})\b/.exec(String((e as Error)?.message ?? e));
  return m ? Number(m[1]) : undefined;
}

/**
 * Sequence number of a sequential znode name: what ZooKeeper appended after our `...-` prefix,
 * "%010d" of a signed 32-bit counter (so "0000000042", or "-000000007" after the wrap).
 */
export function seqOf(name: string): number {
  const m = /-(-?\d+)$/.exec(name);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

/** Serial-number order of two sequence numbers: correct across the int32 wrap. */
function bySeq(a: string, b: string): number {
  return (seqOf(a) - seqOf(b)) | 0;
}

/** Directory (shard) of an entity's lock nodes: FNV-1a of the name. */
export function shardOf(name: string, shards = SHARDS): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return `s${String((h >>> 0) % shards).padStart(2, '0')}`;
}

/** The lock nodes of one entity among a shard's children. */
export function contendersOf(children: string[], name: string): string[] {
  const prefix = `${name}-lock-`;
  return children.filter((c) => c.startsWith(prefix));
}

/** Given the lock nodes of one entity and our node, the predecessor to watch (undefined = we hold it). */
export function predecessorOf(children: string[], ours: string): string | undefined {
  const sorted = [...children].sort(bySeq);
  const i = sorted.indexOf(ours);
  if (i < 0) throw new Error(`our lock node ${ours} vanished`);
  return i === 0 ? undefined : sorted[i - 1];
}

export interface LockHandle {
  readonly name: string;
  readonly path: string;
  readonly acquiredAt: number;
  /** True once the session that created the node was lost while (or after) holding the lock. */
  readonly lost: boolean;
  release(): Promise<void>;
}

export interface LockInterval {
  name: string;
  acquiredAt: number;
  releasedAt: number;
  lost: boolean;
}

interface Held {
  lost: boolean;
}

interface QueuedOp<T> {
  path: string;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}
type Queued = { kind: 'create'; q: QueuedOp<Created> } | { kind: 'delete'; q: QueuedOp<void> };
interface Created {
  /** Name of our node (no directory). */
  name: string;
  /** The directory's children, listed right after the create (undefined if that failed). */
  children?: string[];
}

/** One entry of a multi's results (node-zookeeper-client): `{ type, path }` or `{ type: -1, err }`. */
interface OpResult {
  path?: string;
  err?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cb =
  <T>(resolve: (v: T) => void, reject: (e: unknown) => void) =>
  (err: unknown, v: T) =>
    err ? reject(err) : resolve(v);

export class ZkLocks {
  private zk: Client | undefined;
  private connected = false;
  private closing = false;
  private generation = 0;
  private disconnectedAt: number | undefined;
  private readonly held = new Set<Held>();
  private readonly wakers = new Set<() => void>();
  private readonly dirs = new Set<string>();
  private readonly connectWaiters = new Set<() => void>();
  private lostTimer: NodeJS.Timeout | undefined;
  private creates: QueuedOp<Created>[] = [];
  private deletes: QueuedOp<void>[] = [];
  private flushQueued = false;
  private deleteTimer: NodeJS.Timeout | undefined;
  /** Recent held intervals (bounded), for tests and debugging; only kept when keepHistory is set. */
  readonly intervals: LockInterval[] = [];
  keepHistory = false;
  private readonly maxIntervals = 50_000;
  onWait?: (seconds: number) => void;
  /** Ops per multi transaction sent (for metrics). */
  onBatch?: (kind: 'create' | 'delete', ops: number) => void;

  constructor(
    private readonly connect: string,
    private readonly sessionTimeoutMs: number,
    private readonly root: string,
    private readonly log: Logger,
  ) {}

  get isConnected(): boolean {
    return this.connected;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    this.newSession();
    const deadline = Date.now() + timeoutMs;
    await this.waitConnected(deadline);
    await this.mkdirp(this.root, deadline);
    // Shards made by earlier processes: no create needed (a failed create is still a quorum write).
    const existing = await this.op(deadline, (zk) => new Promise<string[]>((res, rej) => zk.getChildren(this.root, cb(res, rej))));
    for (const s of existing) this.dirs.add(`${this.root}/${s}`);
    this.lostTimer = setInterval(() => this.checkDisconnect(), 250);
    this.lostTimer.unref();
  }

  private newSession(): void {
    const gen = ++this.generation;
    const zk = zookeeper.createClient(this.connect, { sessionTimeout: this.sessionTimeoutMs, spinDelay: 200, retries: 0 });
    zk.on('state', (state: { name: string }) => {
      if (gen !== this.generation || this.closing) return;
      const S = zookeeper.State;
      if (state === S.SYNC_CONNECTED) {
        this.connected = true;
        this.disconnectedAt = undefined;
        this.log.info({ gen }, 'zookeeper connected');
        for (const w of [...this.connectWaiters]) w();
        this.wakeAll();
      } else if (state === S.DISCONNECTED) {
        if (this.connected) this.log.warn('zookeeper disconnected; reconnecting');
        this.connected = false;
        this.disconnectedAt ??= Date.now();
      } else if (state === S.EXPIRED) {
        // Every lock of this session is gone; the client can't be reused.
        this.log.error('zookeeper session expired; locks lost, opening a new session');
        this.loseAll();
        this.connected = false;
        this.disconnectedAt ??= Date.now();
        try {
          zk.close();
        } catch {
          /* already closed */
        }
        setTimeout(() => {
          if (!this.closing && gen === this.generation) this.newSession();
        }, 200).unref();
      }
    });
    this.zk = zk;
    zk.connect();
  }

  private checkDisconnect(): void {
    // Disconnected longer than the session timeout: the server has expired the session by now,
    // even though the client can't learn that until it reconnects.
    if (this.disconnectedAt !== undefined && Date.now() - this.disconnectedAt > this.sessionTimeoutMs && this.held.size > 0) {
      this.log.error('zookeeper disconnected longer than the session timeout; considering locks lost');
      this.loseAll();
    }
  }

  private loseAll(): void {
    for (const h of this.held) h.lost = true;
    this.held.clear();
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const w of [...this.wakers]) w();
  }

  private waitConnected(deadline: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.connectWaiters.delete(done);
        reject(new LockSessionError(`(not connected to ${this.connect})`));
      }, Math.max(0, deadline - Date.now()));
      const done = () => {
        clearTimeout(t);
        this.connectWaiters.delete(done);
        resolve();
      };
      this.connectWaiters.add(done);
    });
  }

  private client(): Client {
    if (!this.zk || this.closing) throw new LockSessionError('(client closed)');
    return this.zk;
  }

  /** Runs a ZooKeeper call, retrying connection loss until the deadline. */
  private async op<T>(deadline: number, fn: (zk: Client) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.waitConnected(deadline);
      try {
        return await fn(this.client());
      } catch (e) {
        const code = zkCode(e);
        if (code === undefined || !RETRYABLE.has(code) || Date.now() > deadline || this.closing) throw e;
        await sleep(Math.min(20 * 2 ** attempt, 500));
      }
    }
  }

  private children(dir: string, deadline: number): Promise<string[]> {
    return this.op(deadline, (zk) => new Promise<string[]>((res, rej) => zk.getChildren(dir, cb(res, rej))));
  }

  private async mkdirp(path: string, deadline: number): Promise<void> {
    let cur = '';
    for (const p of path.split('/').filter(Boolean)) {
      cur += `/${p}`;
      await this.ensureDir(cur, deadline);
    }
  }

  private async ensureDir(path: string, deadline: number): Promise<void> {
    if (this.dirs.has(path)) return;
    try {
      await this.op(deadline, (zk) => new Promise<string>((res, rej) => zk.create(path, zookeeper.CreateMode.PERSISTENT, cb(res, rej))));
    } catch (e) {
      if (zkCode(e) !== E.NODE_EXISTS) throw e;
    }
    this.dirs.add(path);
  }

  // ---- batching: every create queued in one event-loop turn goes out as one multi, together with
  // ---- the deletes queued since the last one

  private queueCreate(path: string): Promise<Created> {
    return new Promise((resolve, reject) => {
      this.creates.push({ path, resolve, reject });
      this.scheduleFlush();
    });
  }

  /**
   * Releases wait up to DELETE_LINGER_MS for a create to ride with: nobody waits on a release but
   * a contender for the same entity, and every multi is a quorum write (the ensemble's CPU per
   * lock is mostly per-transaction cost), so a lock usually costs one transaction, not two.
   */
  private queueDelete(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.deletes.push({ path, resolve, reject });
      if (!this.flushQueued) this.deleteTimer ??= setTimeout(() => this.flush(), DELETE_LINGER_MS);
    });
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.deleteTimer) clearTimeout(this.deleteTimer);
    this.deleteTimer = undefined;
    // Releases first: a create for an entity released in the same multi then lists the shard
    // without the old node and holds the lock at once instead of watching it go.
    const ops: Queued[] = [...this.deletes.map((q) => ({ kind: 'delete' as const, q })), ...this.creates.map((q) => ({ kind: 'create' as const, q }))];
    this.creates = [];
    this.deletes = [];
    if (ops.length === 0) return;
    let zk: Client;
    try {
      zk = this.client();
    } catch (e) {
      for (const o of ops) o.q.reject(e);
      return;
    }
    for (let i = 0; i < ops.length; i += MAX_BATCH) this.commit(zk, ops.slice(i, i + MAX_BATCH));
  }

  private commit(zk: Client, batch: Queued[]): void {
    const creates = batch.filter((o): o is Extract<Queued, { kind: 'create' }> => o.kind === 'create');
    if (creates.length) this.onBatch?.('create', creates.length);
    if (creates.length < batch.length) this.onBatch?.('delete', batch.length - creates.length);
    const tx = zk.transaction();
    for (const o of batch) {
      if (o.kind === 'create') tx.create(o.q.path, zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL);
      else tx.remove(o.q.path, -1);
    }
    const done = new Promise<{ err: unknown; results: OpResult[] | undefined }>((resolve) =>
      tx.commit((err, results: OpResult[] | undefined) => resolve({ err, results })),
    );
    // Sent right behind the transaction on the same session, so they see its nodes.
    const listings = new Map<string, Promise<string[] | undefined>>();
    for (const { q } of creates) {
      const dir = q.path.slice(0, q.path.lastIndexOf('/'));
      if (!listings.has(dir)) {
        listings.set(dir, new Promise<string[] | undefined>((res) => zk.getChildren(dir, (e, kids) => res(e ? undefined : kids))));
      }
    }
    void done.then(async ({ err, results }) => {
      if (err || !results) return this.splitFailed(batch, err, results);
      for (let i = 0; i < batch.length; i++) {
        const o = batch[i];
        if (o.kind === 'delete') {
          o.q.resolve();
          continue;
        }
        const created = results[i]?.path ?? '';
        o.q.resolve({ name: created.slice(created.lastIndexOf('/') + 1), children: await listings.get(o.q.path.slice(0, o.q.path.lastIndexOf('/'))) });
      }
    });
  }

  /**
   * A failed multi applied nothing. If ZooKeeper says which op failed, that caller gets the error
   * and the rest are queued again; otherwise (connection loss: outcome unknown) all callers get
   * the error and recover on their own (creates find their node by its unique tag).
   */
  private splitFailed(batch: Queued[], err: unknown, results: OpResult[] | undefined): void {
    const failed = results?.length === batch.length ? results.findIndex((r) => r.err !== undefined && r.err !== 0 && r.err !== E.RUNTIME_INCONSISTENCY) : -1;
    if (failed < 0) {
      for (const o of batch) o.q.reject(err);
      return;
    }
    batch[failed].q.reject(err);
    const rest = batch.filter((_, i) => i !== failed);
    if (rest.length === 0) return;
    for (const o of rest) {
      if (o.kind === 'create') this.creates.push(o.q);
      else this.deletes.push(o.q);
    }
    this.scheduleFlush();
  }

  /**
   * Acquire the lock `name` (e.g. "product_1"), waiting at most timeoutMs.
   * Always pair with release() in a finally block.
   */
  async acquire(name: string, timeoutMs: number): Promise<LockHandle> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    const dir = `${this.root}/${shardOf(name)}`;
    const tag = `${name}-lock-${randomBytes(8).toString('hex')}-`;
    const gen0 = this.generation;
    let ours: string | undefined;
    let firstKids: string[] | undefined;
    const held: Held = { lost: false };
    try {
      // 1. our sequential ephemeral node
      for (let i = 0; ours === undefined; i++) {
        await this.waitConnected(deadline);
        await this.ensureDir(dir, deadline);
        try {
          const created = await this.queueCreate(`${dir}/${tag}`);
          ours = created.name;
          if (created.children?.includes(ours)) firstKids = created.children;
        } catch (e) {
          const code = zkCode(e);
          if (code === E.NO_NODE) {
            this.dirs.delete(dir); // someone removed the shard directory: make it again
          } else if (code !== undefined && RETRYABLE.has(code)) {
            // Connection loss: the create may have happened. Our tag is unique, so look for it.
            const kids = await this.children(dir, deadline).catch(() => [] as string[]);
            ours = kids.find((k) => k.startsWith(tag));
          } else {
            throw e;
          }
          if (ours === undefined) {
            if (Date.now() > deadline) throw new LockTimeoutError(name, timeoutMs);
            await sleep(Math.min(10 * 2 ** i, 200));
          }
        }
      }
      if (this.generation !== gen0) throw new LockSessionError(`while creating the lock node for ${name}`);

      // 2. wait until ours is the lowest of the entity's nodes, watching only the predecessor.
      for (;;) {
        if (this.generation !== gen0) throw new LockSessionError(`while waiting for ${name}`);
        const kids = firstKids ?? (await this.children(dir, deadline));
        firstKids = undefined;
        const pred = predecessorOf(contendersOf(kids, name), ours);
        if (pred === undefined) break;
        let woke!: () => void;
        const wait = new Promise<void>((r) => (woke = r));
        this.wakers.add(woke);
        let timer: NodeJS.Timeout | undefined;
        try {
          // getData (not exists) so a predecessor that is already gone leaves no watch behind.
          let exists = true;
          try {
            await this.op(deadline, (zk) => new Promise((res, rej) => zk.getData(`${dir}/${pred}`, (_ev: ZkEvent) => woke(), cb(res, rej))));
          } catch (e) {
            if (zkCode(e) !== E.NO_NODE) throw e;
            exists = false; // predecessor already gone: re-check right away
          }
          if (exists) {
            const left = deadline - Date.now();
            if (left <= 0) throw new LockTimeoutError(name, timeoutMs);
            await Promise.race([wait, new Promise<void>((r) => (timer = setTimeout(r, left)))]);
            if (Date.now() >= deadline) {
              // One last look: the predecessor may have just gone.
              const last = await this.children(dir, deadline + 1000);
              if (predecessorOf(contendersOf(last, name), ours) === undefined) break;
              throw new LockTimeoutError(name, timeoutMs);
            }
          }
        } finally {
          if (timer) clearTimeout(timer);
          this.wakers.delete(woke);
        }
      }
    } catch (e) {
      if (ours !== undefined) await this.deleteNode(`${dir}/${ours}`, gen0);
      throw e;
    }

    const acquiredAt = Date.now();
    this.onWait?.((acquiredAt - started) / 1000);
    this.held.add(held);
    const path = `${dir}/${ours}`;
    let released = false;
    return {
      name,
      path,
      acquiredAt,
      get lost() {
        return held.lost;
      },
      release: async () => {
        if (released) return;
        released = true;
        const releasedAt = Date.now();
        this.held.delete(held);
        this.record({ name, acquiredAt, releasedAt, lost: held.lost });
        await this.deleteNode(path, gen0);
      },
    };
  }

  private record(i: LockInterval): void {
    if (!this.keepHistory) return;
    this.intervals.push(i);
    // Trimmed in chunks: a splice per release would move 50,000 entries thousands of times a second.
    if (this.intervals.length > this.maxIntervals + 5_000) this.intervals.splice(0, this.intervals.length - this.maxIntervals);
  }

  /** Deletes our node; if the session changed it is already gone with the old session. */
  private async deleteNode(path: string, gen: number): Promise<void> {
    if (gen !== this.generation || this.closing) return;
    try {
      await this.op(Date.now() + this.sessionTimeoutMs, () => this.queueDelete(path));
    } catch (e) {
      if (zkCode(e) !== E.NO_NODE) this.log.warn({ path, err: String(e) }, 'could not delete lock node (the session expiry will)');
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.lostTimer) clearInterval(this.lostTimer);
    this.wakeAll();
    const zk = this.zk;
    this.zk = undefined;
    this.connected = false;
    if (this.deleteTimer) clearTimeout(this.deleteTimer);
    for (const q of [...this.creates, ...this.deletes]) q.reject(new LockSessionError('(client closed)'));
    this.creates = [];
    this.deletes = [];
    if (zk) {
      try {
        zk.close();
      } catch {
        /* already closed */
      }
    }
  }
}
