// Leader election on a coordination.k8s.io/v1 Lease (client-node has no helper). Same rules as
// client-go's leaderelection:
// - a candidate takes the lease when it does not exist, has no holder (released), or its record
//   has not changed for leaseDuration as measured on the candidate's own clock since it last saw
//   the record change (so clock skew between processes does not matter);
// - the leader renews every renewPeriod; if it cannot renew for renewDeadline it has lost;
// - every write is a replace with the read resourceVersion, so two candidates can't both win.
// Losing the lease is fatal for the caller (main exits non-zero; Kubernetes restarts the pod).
import type { KubeClient, LeaseRecord } from './kube.js';
import { describeError, isConflict } from './kube.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export interface LeaderElectorOptions {
  kube: Pick<KubeClient, 'getLease' | 'createLease' | 'replaceLease'>;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewPeriodMs?: number;
  retryPeriodMs?: number;
  renewDeadlineMs?: number;
  clock?: Clock;
  log?: Logger;
}

export class LeaderElector {
  readonly leaseDurationMs: number;
  readonly renewPeriodMs: number;
  readonly retryPeriodMs: number;
  readonly renewDeadlineMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private observed?: LeaseRecord;
  private observedAt = 0;
  private leading = false;
  private lastRenew = 0;

  constructor(private readonly opts: LeaderElectorOptions) {
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewPeriodMs = opts.renewPeriodMs ?? 5_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? silentLogger;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Holder identity as last seen (for logs and readiness). */
  get observedHolder(): string | undefined {
    return this.observed?.holderIdentity || undefined;
  }

  private observe(rec: LeaseRecord): void {
    const o = this.observed;
    if (!o || o.holderIdentity !== rec.holderIdentity || o.renewTime !== rec.renewTime || o.resourceVersion !== rec.resourceVersion) {
      this.observedAt = this.clock.now();
    }
    this.observed = rec;
  }

  /** One attempt to take or renew the lease. True when we hold it afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { kube, namespace, name, identity } = this.opts;
    const nowMs = this.clock.now();
    const nowIso = new Date(nowMs).toISOString();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    let current: LeaseRecord | undefined;
    try {
      current = await kube.getLease(namespace, name);
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'leader election: cannot read the lease');
      return false;
    }
    if (!current) {
      try {
        const created = await kube.createLease(namespace, name, {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: nowIso,
          renewTime: nowIso,
          leaseTransitions: 0,
        });
        this.observe(created);
        this.lastRenew = nowMs;
        return true;
      } catch (err) {
        if (!isConflict(err)) this.log.warn({ err: describeError(err) }, 'leader election: cannot create the lease');
        return false;
      }
    }
    this.observe(current);
    const holder = current.holderIdentity || '';
    const mine = holder === identity;
    if (holder && !mine && this.observedAt + this.leaseDurationMs > nowMs) return false;
    const next: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: mine && current.acquireTime ? current.acquireTime : nowIso,
      renewTime: nowIso,
      leaseTransitions: (current.leaseTransitions ?? 0) + (mine ? 0 : 1),
      resourceVersion: current.resourceVersion,
    };
    try {
      const updated = await kube.replaceLease(namespace, name, next);
      this.observe(updated);
      this.lastRenew = nowMs;
      if (!mine) this.log.info({ previous: holder || '(released)', identity }, 'leader election: acquired the lease');
      return true;
    } catch (err) {
      if (!isConflict(err)) this.log.warn({ err: describeError(err) }, 'leader election: cannot update the lease');
      return false;
    }
  }

  /** Retries every retryPeriod until we lead (true) or the signal aborts (false). */
  async acquire(signal?: AbortSignal): Promise<boolean> {
    while (!signal?.aborted) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        return true;
      }
      await this.clock.sleep(this.retryPeriodMs, signal);
    }
    return false;
  }

  /**
   * While leading: renew every renewPeriod (retrying every retryPeriod after a failure). Resolves
   * 'lost' when a renewal has not succeeded for renewDeadline, 'stopped' when the signal aborts.
   */
  async holdLease(signal?: AbortSignal): Promise<'lost' | 'stopped'> {
    let wait = this.renewPeriodMs;
    while (!signal?.aborted) {
      await this.clock.sleep(wait, signal);
      if (signal?.aborted) break;
      if (await this.tryAcquireOrRenew()) {
        wait = this.renewPeriodMs;
        continue;
      }
      if (this.observed?.holderIdentity && this.observed.holderIdentity !== this.opts.identity) {
        this.leading = false;
        this.log.error({ holder: this.observed.holderIdentity }, 'leader election: another process holds the lease');
        return 'lost';
      }
      if (this.clock.now() - this.lastRenew >= this.renewDeadlineMs) {
        this.leading = false;
        this.log.error({ sinceMs: this.clock.now() - this.lastRenew }, 'leader election: could not renew the lease in time');
        return 'lost';
      }
      wait = this.retryPeriodMs;
    }
    return 'stopped';
  }

  /** Give the lease up (empty holder) so a standby takes over at once. Best effort. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    const { kube, namespace, name, identity } = this.opts;
    try {
      const current = await kube.getLease(namespace, name);
      if (!current || current.holderIdentity !== identity) return;
      const nowIso = new Date(this.clock.now()).toISOString();
      await kube.replaceLease(namespace, name, {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: nowIso,
        renewTime: nowIso,
        leaseTransitions: current.leaseTransitions ?? 0,
        resourceVersion: current.resourceVersion,
      });
      this.log.info('leader election: released the lease');
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'leader election: could not release the lease');
    }
  }
}
