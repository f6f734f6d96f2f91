// A work queue of CacheTier keys ("namespace/name") with client-go's workqueue semantics:
// - a key waiting in the queue is there once, however often it is added (dedupe);
// - a key is never handled by two workers at once: added while running, it runs again after;
// - at most `concurrency` keys run at the same time;
// - a failed key is retried after base * 2^(failures-1), capped; success forgets its failures;
// - a handler may ask for a delayed requeue (e.g. "not converged, look again in 5 s").

export interface HandlerResult {
  /** Run this key again after this many ms (unless something adds it sooner). */
  requeueAfterMs?: number;
}

export type Handler = (key: string) => Promise<HandlerResult | void>;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface WorkQueueOptions {
  handler: Handler;
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timers?: Timers;
  /** Called when a handler throws (after scheduling the retry). */
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** Called whenever the number of waiting keys changes. */
  onDepth?: (depth: number) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private readonly idleWaiters: (() => void)[] = [];
  private shuttingDown = false;
  private readonly concurrency: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timers: Timers;

  constructor(private readonly opts: WorkQueueOptions) {
    this.concurrency = Math.max(1, opts.concurrency ?? 2);
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 5 * 60_000;
    this.timers = opts.timers ?? realTimers;
  }

  /** Keys waiting to run (not running, not delayed). */
  get depth(): number {
    return this.queue.length;
  }

  get running(): number {
    return this.processing.size;
  }

  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Retry delay after `failures` consecutive failures. */
  backoffMs(failures: number): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.max(0, failures - 1));
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.processing.has(key)) {
      this.queue.push(key);
      this.opts.onDepth?.(this.queue.length);
    }
    this.pump();
  }

  /** Add after a delay; an earlier pending delayed add for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.timers.clearTimeout(existing.handle);
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  private pump(): void {
    while (!this.shuttingDown && this.processing.size < this.concurrency && this.queue.length > 0) {
      const key = this.queue.shift() as string;
      this.opts.onDepth?.(this.queue.length);
      this.dirty.delete(key);
      this.processing.add(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    let result: HandlerResult | void = undefined;
    let failed = false;
    let error: unknown;
    try {
      result = await this.opts.handler(key);
    } catch (err) {
      failed = true;
      error = err;
    }
    this.processing.delete(key);
    if (failed) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = this.backoffMs(n);
      this.addAfter(key, delay);
      this.opts.onError?.(key, error, delay);
    } else {
      this.failures.delete(key);
      if (result && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    }
    // Added while it ran: run it again now (it was kept out of the queue meanwhile).
    if (this.dirty.has(key) && !this.shuttingDown) {
      this.queue.push(key);
      this.opts.onDepth?.(this.queue.length);
    }
    this.pump();
    if (this.processing.size === 0 && (this.queue.length === 0 || this.shuttingDown)) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Resolves when nothing runs and nothing waits (delayed requeues don't count). */
  idle(): Promise<void> {
    if (this.processing.size === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stop taking work, drop waiting and delayed keys, and wait up to timeoutMs for running
   * handlers. Returns true when they all finished in time.
   */
  async shutDown(timeoutMs: number): Promise<boolean> {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.timers.clearTimeout(handle);
    this.delayed.clear();
    this.queue.length = 0;
    this.dirty.clear();
    this.opts.onDepth?.(0);
    if (this.processing.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return drained;
  }
}
