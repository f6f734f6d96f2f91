// Per-entity ZooKeeper locks, the recipe from the ZooKeeper docs (and seed 004): every contender
// creates an EPHEMERAL_SEQUENTIAL znode under the entity's lock dir, the lowest sequence holds the
// lock, every other contender watches ONLY its predecessor (no herd effect). Timeouts, release on
// every path, and session loss (locks are then considered lost; the caller retries its work).
// The lock is single-flight for the source service; the Redis CAS is what guarantees order.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

const require = createRequire(import.meta.url);
// The `zookeeper` addon is CommonJS; its promise API is the default export.
const ZooKeeper = require('zookeeper') as ZkCtor;

interface ZkClient {
  init(cfg: object): ZkClient;
  close(): void;
  on(ev: string, fn: (...a: unknown[]) => void): void;
  removeAllListeners(ev?: string): void;
  create(path: string, data: string, flags: number): Promise<string>;
  get_children(path: string, watch: boolean): Promise<string[]>;
  w_exists(path: string, cb: (type: number, state: number, path: string) => void): Promise<unknown>;
  delete_(path: string, version: number): Promise<unknown>;
}
interface ZkCtor {
  new (cfg: object): ZkClient;
  constants: Record<string, number>;
}
const C = ZooKeeper.constants;

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

/** ZooKeeper return code from a rejected promise ("-101 no node" / "... result: ZNONODE -101"). */
export function zkCode(e: unknown): number | undefined {
  const m = /(-\d{1,3})\b/.exec(String((e as Error)?.message ?? e));
  return m ? Number(m[1]) : undefined;
}

/** Sequence number of a sequential znode name (the last 10 digits). */
export function seqOf(name: string): number {
  const m = /(\d{10})$/.exec(name);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

/** Given the children of a lock dir and our node, the predecessor to watch (undefined = we hold it). */
export function predecessorOf(children: string[], ours: string): string | undefined {
  const sorted = [...children].sort((a, b) => seqOf(a) - seqOf(b));
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RETRYABLE = new Set([-4 /* CONNECTIONLOSS */, -7 /* OPERATIONTIMEOUT */, -9 /* INVALIDSTATE */, -116 /* CLOSING */]);

export class ZkLocks {
  private zk: ZkClient | undefined;
  private connected = false;
  private closing = false;
  private generation = 0;
  private disconnectedAt: number | undefined;
  private readonly held = new Set<Held>();
  private readonly wakers = new Set<() => void>();
  private readonly dirs = new Set<string>();
  private readonly connectWaiters = new Set<() => void>();
  private lostTimer: NodeJS.Timeout | undefined;
  /** Recent held intervals (bounded), for tests and debugging. */
  readonly intervals: LockInterval[] = [];
  private readonly maxIntervals = 50_000;
  onWait?: (seconds: number) => void;

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
    await this.waitConnected(Date.now() + timeoutMs);
    await this.mkdirp(this.root);
    this.lostTimer = setInterval(() => this.checkDisconnect(), 250);
    this.lostTimer.unref();
  }

  private newSession(): void {
    const gen = ++this.generation;
    const zk = new ZooKeeper({
      connect: this.connect,
      timeout: this.sessionTimeoutMs,
      debug_level: C.ZOO_LOG_LEVEL_ERROR,
      host_order_deterministic: false,
    });
    zk.on('connect', () => {
      if (gen !== this.generation) return;
      this.connected = true;
      this.disconnectedAt = undefined;
      this.log.info({ gen }, 'zookeeper connected');
      for (const w of [...this.connectWaiters]) w();
      this.wakeAll();
    });
    zk.on('connecting', () => {
      if (gen !== this.generation) return;
      if (this.connected) this.log.warn('zookeeper disconnected; reconnecting');
      this.connected = false;
      this.disconnectedAt ??= Date.now();
    });
    zk.on('close', () => {
      if (gen !== this.generation || this.closing) return;
      // Session expired (or the client gave up): every lock of this session is gone.
      this.log.error('zookeeper session closed/expired; locks lost, opening a new session');
      this.loseAll();
      this.connected = false;
      setTimeout(() => {
        if (!this.closing && gen === this.generation) this.newSession();
      }, 200).unref();
    });
    this.zk = zk;
    zk.init({});
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

  private client(): ZkClient {
    if (!this.zk || this.closing) throw new LockSessionError('(client closed)');
    return this.zk;
  }

  /** Runs a ZooKeeper call, retrying connection loss until the deadline. */
  private async op<T>(deadline: number, fn: (zk: ZkClient) => Promise<T>): Promise<T> {
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

  private async mkdirp(path: string): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    let cur = '';
    const deadline = Date.now() + 15_000;
    for (const p of parts) {
      cur += `/${p}`;
      if (this.dirs.has(cur)) continue;
      await this.ensureDir(cur, C.ZOO_PERSISTENT, deadline);
    }
  }

  private async ensureDir(path: string, flags: number, deadline: number): Promise<void> {
    try {
      await this.op(deadline, (zk) => zk.create(path, '', flags));
    } catch (e) {
      if (zkCode(e) !== -110 /* NODEEXISTS */) throw e;
    }
    this.dirs.add(path);
  }

  /**
   * Acquire the lock `name` (e.g. "product_1"), waiting at most timeoutMs.
   * Always pair with release() in a finally block.
   */
  async acquire(name: string, timeoutMs: number): Promise<LockHandle> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    const dir = `${this.root}/${name}`;
    const tag = `lock-${randomUUID()}-`;
    const gen0 = this.generation;
    let ours: string | undefined;
    let firstKids: string[] | undefined;
    const held: Held = { lost: false };
    try {
      // 1. our sequential ephemeral node (the per-entity dir is a CONTAINER: the server deletes
      //    it once empty, so lock dirs don't pile up).
      for (let i = 0; ours === undefined; i++) {
        if (!this.dirs.has(dir)) await this.ensureDir(dir, C.ZOO_CONTAINER, deadline);
        try {
          // The children list is requested right behind the create, without waiting for it: a
          // session's requests are applied in order, so the list already contains our node and
          // the uncontended case costs one round trip instead of two. If the create fails the
          // list is ignored.
          const zk = this.client();
          const creating = zk.create(`${dir}/${tag}`, '', C.ZOO_EPHEMERAL_SEQUENTIAL);
          const listing = zk.get_children(dir, false).then(
            (k) => k,
            () => undefined,
          );
          const created = await creating.catch(async (e: unknown) => {
            await listing;
            throw e;
          });
          ours = created.slice(created.lastIndexOf('/') + 1);
          const kids = await listing;
          if (kids?.includes(ours)) firstKids = kids;
        } catch (e) {
          const code = zkCode(e);
          if (code === -101 /* NONODE: the container was reaped */) {
            this.dirs.delete(dir);
          } else if (code !== undefined && RETRYABLE.has(code)) {
            // Connection loss: the create may have happened. Our tag is unique, so look for it.
            await this.waitConnected(deadline);
            const kids = await this.op(deadline, (zk) => zk.get_children(dir, false)).catch(() => [] as string[]);
            ours = kids.find((k) => k.startsWith(tag));
          } else {
            throw e;
          }
          if (Date.now() > deadline) throw new LockTimeoutError(name, timeoutMs);
          if (ours === undefined) await sleep(Math.min(10 * 2 ** i, 200));
        }
      }
      if (this.generation !== gen0) throw new LockSessionError(`while creating the lock node for ${name}`);

      // 2. wait until ours is the lowest, watching only the predecessor.
      for (;;) {
        if (this.generation !== gen0) throw new LockSessionError(`while waiting for ${name}`);
        const kids = firstKids ?? (await this.op(deadline, (zk) => zk.get_children(dir, false)));
        firstKids = undefined;
        const pred = predecessorOf(kids, ours);
        if (pred === undefined) break;
        let woke!: () => void;
        const wait = new Promise<void>((r) => (woke = r));
        this.wakers.add(woke);
        let timer: NodeJS.Timeout | undefined;
        try {
          let exists = true;
          try {
            await this.op(deadline, (zk) => zk.w_exists(`${dir}/${pred}`, () => woke()));
          } catch (e) {
            if (zkCode(e) !== -101) throw e;
            exists = false; // predecessor already gone: re-check right away
          }
          if (exists) {
            const left = deadline - Date.now();
            if (left <= 0) throw new LockTimeoutError(name, timeoutMs);
            await Promise.race([wait, new Promise<void>((r) => (timer = setTimeout(r, left)))]);
            if (Date.now() >= deadline) {
              // One last look: the predecessor may have just gone.
              const last = await this.op(deadline + 1000, (zk) => zk.get_children(dir, false));
              if (predecessorOf(last, ours) === undefined) break;
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
    this.intervals.push(i);
    if (this.intervals.length > this.maxIntervals) this.intervals.splice(0, this.intervals.length - this.maxIntervals);
  }

  /** Deletes our node; if the session changed it is already gone with the old session. */
  private async deleteNode(path: string, gen: number): Promise<void> {
    if (gen !== this.generation || this.closing) return;
    try {
      await this.op(Date.now() + this.sessionTimeoutMs, (zk) => zk.delete_(path, -1));
    } catch (e) {
      const code = zkCode(e);
      if (code !== -101) this.log.warn({ path, err: String(e) }, 'could not delete lock node (the session expiry will)');
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.lostTimer) clearInterval(this.lostTimer);
    this.wakeAll();
    const zk = this.zk;
    this.zk = undefined;
    this.connected = false;
    if (zk) {
      try {
        zk.close();
      } catch {
        /* already closed */
      }
    }
  }
}

