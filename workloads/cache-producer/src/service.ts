// The producer's core: run a coalesced job (lock -> fetch/push -> CAS -> local cache), and the
// read path for HTTP (local -> Redis -> source, single-flight in-process and across replicas).
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { ProducerConfig } from './config.js';
import { type Entity, type Job, type ServiceId, entityName, redisKey } from './messages.js';
import type { Metrics } from './metrics.js';
import { TokenBucket } from './ratelimit.js';
import { fetchEntity, SourceError } from './sourceclient.js';
import { decodeStored, encodeRecord, encodeTombstone, RedisStore } from './store.js';
import { LockSessionError, type ZkLocks } from './zklock.js';

export type WriteResult = 'written' | 'stale' | 'equal';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Producer {
  readonly local: LRUCache<string, string>;
  private readonly inflight = new Map<string, Promise<string | undefined>>();
  /** The source-call budget of this process (spec.producer.dataPath.sourceRequestsPerSecond). */
  readonly sourceBudget: TokenBucket;
  /** Outcome of the latest source call, for /readyz's detail (not its verdict). */
  lastSourceOk = true;

  constructor(
    readonly cfg: ProducerConfig,
    readonly store: RedisStore,
    readonly locks: ZkLocks | undefined,
    readonly metrics: Metrics,
    readonly log: Logger,
  ) {
    this.local = new LRUCache<string, string>({ max: cfg.localCache.maxEntries, ttl: cfg.localCache.ttlSeconds * 1000 });
    this.sourceBudget = new TokenBucket(cfg.dataPath.sourceRequestsPerSecond);
  }

  /** A record's TTL: the configured one +-10%, so records written together don't expire together. */
  recordTtlMs(): number {
    return Math.round(this.cfg.dataPath.recordTtlMs * (0.9 + 0.2 * Math.random()));
  }

  sourceUrl(serviceId: ServiceId): string {
    return serviceId === 'productInfoService' ? this.cfg.sources.productInfoService : this.cfg.sources.shopInfoService;
  }

  /**
   * Another replica wrote key at `version` (an invalidation message): drop our copy unless it is
   * already that version or newer (a late message never evicts a newer copy); no version: drop it.
   */
  forget(key: string, version?: number): void {
    const cur = version === undefined ? undefined : decodeStored(this.local.get(key));
    if (cur && cur.version >= (version ?? 0)) return;
    this.local.delete(key);
  }

  /** CAS-write one version of an entity, then update the local cache to what Redis now holds. */
  async write(entity: Entity, value: string, version: number, ttlMs: number, origin: string, weakTombstone = false): Promise<{ result: WriteResult; value: string }> {
    const key = redisKey(entity);
    // Change messages always announce; an HTTP read-through fill only when it replaced a value.
    const out = await this.store.cas(key, value, version, ttlMs, origin !== 'http', weakTombstone);
    if (out.result === 'written') {
      this.metrics.written.inc({ kind: entity.kind, origin });
    } else {
      this.metrics.staleSkipped.inc({ result: out.result });
    }
    // Local cache holds what Redis holds (never an older version than a value it has seen).
    const cur = decodeStored(this.local.get(key));
    const now = decodeStored(out.value);
    if (now && (!cur || cur.version <= now.version)) this.local.set(key, out.value);
    return { result: out.result, value: out.value };
  }

  /**
   * Fetch the latest from the source and CAS it into Redis. A 404 writes a tombstone: at the
   * deletion version when the source gives one, else one that only hides what is stored now. A
   * read-through's tombstone (an id nobody changed) lives seconds, not a record's TTL.
   * HTTP reads are refused (RateLimited) when the source-call budget is spent; change messages wait.
   */
  async refresh(serviceId: ServiceId, entity: Entity, origin: string): Promise<{ result: WriteResult; value: string }> {
    const budget = this.sourceBudget;
    let r: Awaited<ReturnType<typeof fetchEntity>>;
    try {
      r = await fetchEntity(this.sourceUrl(serviceId), entity, {
        onCall: () => this.metrics.sourceCalls.inc(),
        beforeCall: origin === 'http' ? async () => budget.takeNow() : () => budget.take(),
        bound: { now: Date.now(), maxFutureSkewMs: this.cfg.dataPath.maxFutureSkewMs },
      });
      this.lastSourceOk = true;
    } catch (e) {
      if (e instanceof SourceError) this.lastSourceOk = false;
      throw e;
    }
    if (r.status === 'gone') {
      const ttl = origin === 'http' ? this.cfg.dataPath.readThroughTombstoneTtlMs : this.recordTtlMs();
      return this.write(entity, encodeTombstone(r.version ?? 0), r.version ?? 0, ttl, origin, r.version === undefined);
    }
    return this.write(entity, encodeRecord(r.record, r.version), r.version, this.recordTtlMs(), origin);
  }

  /**
   * One coalesced job, under the entity's ZooKeeper lock (when enabled). A lost lock (session
   * loss) means the work is done again under a new lock; the CAS makes repeats harmless.
   */
  async runJob(job: Job, signal: { stopped: () => boolean }): Promise<void> {
    let sourceFailures = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const lost = await this.withLock(entityName(job.entity), async () => {
          if (job.push) await this.write(job.entity, encodeRecord(job.push.record, job.push.version), job.push.version, this.recordTtlMs(), 'push');
          if (job.pull) await this.refresh(job.serviceId, job.entity, 'pull');
        });
        if (!lost) {
          this.metrics.lag.observe(Math.max(0, Date.now() - job.firstTimestamp) / 1000);
          return;
        }
        this.metrics.locksLost.inc();
        this.log.warn({ entity: entityName(job.entity) }, 'lock lost during work; redoing it');
      } catch (e) {
        if (e instanceof SourceError && !e.retryable) throw e; // the caller dead-letters it
        this.metrics.jobErrors.inc({ error: (e as Error).name || 'Error' });
        // A source that keeps failing for one entity must not stall its partition: after the
        // configured attempts the message is dead-lettered. Redis or ZooKeeper trouble is
        // retried without limit: no message could make progress, and none may be dropped.
        if (e instanceof SourceError && ++sourceFailures >= this.cfg.dataPath.sourceAttempts) {
          throw new SourceError(`${sourceFailures} attempts failed; the last: ${e.message}`, false, 'source_failed');
        }
        if (attempt % 10 === 0) this.log.warn({ entity: entityName(job.entity), attempt, err: String(e) }, 'job failed; retrying');
      }
      if (signal.stopped()) throw new Error(`stopping with ${entityName(job.entity)} unfinished`);
      await sleep(Math.min(50 * 2 ** Math.min(attempt, 6), 2000) * (0.5 + Math.random()));
    }
  }

  /**
   * Runs fn under the lock; returns true if the lock was lost meanwhile. Always releases, without
   * waiting for it: the critical section ends here (the work is done and CAS-fenced), and the
   * node's delete is one more quorum write that would otherwise hold up the Kafka batch and its
   * next fetch. A contender is woken when the delete lands; a later acquire on this session is
   * applied after it (a session's requests are ordered); release() never rejects (a delete that
   * fails is logged and left to the session's expiry); close() ends the session, which drops
   * every node still there.
   */
  private async withLock(name: string, fn: () => Promise<void>): Promise<boolean> {
    if (!this.locks || !this.cfg.lock.enabled) {
      await fn();
      return false;
    }
    const lock = await this.locks.acquire(name, this.cfg.lock.timeoutMs);
    try {
      await fn();
      return lock.lost;
    } finally {
      void lock.release();
    }
  }

  /**
   * HTTP read path: local -> Redis -> source. Single-flight per key in this process (one promise
   * per key) and across replicas (a short Redis SET NX lock; others poll the key).
   * Resolves to the stored JSON (possibly a tombstone) or undefined.
   */
  async read(serviceId: ServiceId, entity: Entity): Promise<{ value: string | undefined; level: string }> {
    const key = redisKey(entity);
    const hit = this.local.get(key);
    if (hit !== undefined) return { value: hit, level: 'local' };
    let p = this.inflight.get(key);
    let level = 'coalesced';
    if (!p) {
      level = 'miss';
      p = this.load(serviceId, entity, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return { value: await p, level };
  }

  private async load(serviceId: ServiceId, entity: Entity, key: string): Promise<string | undefined> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const raw = await this.store.get(key);
      if (raw !== null) {
        this.metrics.hits.inc({ level: 'redis' });
        this.local.set(key, raw);
        return raw;
      }
      const release = await this.store.tryFillLock(key, 5000);
      if (release) {
        try {
          // Re-check after taking the lock: another replica may have just filled it.
          const again = await this.store.get(key);
          if (again !== null) {
            this.metrics.hits.inc({ level: 'redis' });
            this.local.set(key, again);
            return again;
          }
          this.metrics.hits.inc({ level: 'source' });
          const out = await this.refresh(serviceId, entity, 'http');
          return out.value;
        } finally {
          await release();
        }
      }
      // Another replica is filling: poll the key until it appears or its lock goes away.
      while (Date.now() < deadline) {
        await sleep(20);
        const v = await this.store.get(key);
        if (v !== null) {
          this.metrics.hits.inc({ level: 'redis' });
          this.local.set(key, v);
          return v;
        }
        if (!(await this.store.fillLockHeld(key))) break;
      }
      if (Date.now() >= deadline) {
        // The other filler is stuck: go to the source ourselves (still CAS-fenced).
        this.metrics.hits.inc({ level: 'source' });
        return (await this.refresh(serviceId, entity, 'http')).value;
      }
    }
  }

  /** Pre-warm: make sure Redis and the local cache hold this product. */
  async warm(productId: number): Promise<void> {
    await this.read('productInfoService', { kind: 'product', id: productId });
  }
}

export { LockSessionError };
