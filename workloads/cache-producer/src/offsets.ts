// Offset commits off the batch path, and the graceful drain. kafkajs 2.2 with `autoCommit: true`
// commits after EVERY eachBatch call (its autoCommitInterval only applies to eachMessage): one
// OffsetCommit, replicated in __consumer_offsets, awaited before the broker's next fetch. At 1,000
// changes/s that was hundreds of commits a second, each one added to every small batch's latency.
// Our consumers run with `autoCommit: false` and `eachBatchAutoResolve: false`, resolve offsets
// only after their work, and this commits what was resolved at most every `intervalMs`, one commit
// at a time, and once more on request (rebalance, shutdown). Anything resolved and not yet
// committed when a consumer dies is redone by the next owner: at-least-once, every write CAS-fenced.
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { Logger } from 'pino';

/** Resolved offsets are committed this often (and on rebalance / shutdown). */
export const COMMIT_INTERVAL_MS = 1000;

export class OffsetCommitter {
  private commitResolved: (() => Promise<void>) | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  private inFlight = 0;
  private readonly idleWaiters = new Set<() => void>();

  constructor(
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Wraps an eachBatch handler: counts batches in flight and, once draining, starts no new one
   * (left unresolved, its partition's next owner fetches it again). It also keeps how to commit
   * the group's resolved offsets: the payload's functions act on the runner's group, and kafkajs
   * builds a new group after a crash restart, so the newest batch's are kept.
   */
  handler(fn: (p: EachBatchPayload) => Promise<void>): (p: EachBatchPayload) => Promise<void> {
    return async (p) => {
      if (this.draining) return;
      this.commitResolved = () => p.commitOffsetsIfNecessary(p.uncommittedOffsets());
      this.inFlight++;
      try {
        await fn(p);
      } finally {
        if (--this.inFlight === 0) for (const w of [...this.idleWaiters]) w();
      }
    };
  }

  start(): void {
    // A tick while a commit is still on the wire is skipped, so a slow coordinator can't queue them up.
    this.timer ??= setInterval(() => void (this.running ?? this.commit()), this.intervalMs);
    this.timer.unref();
  }

  /** Commits every resolved, uncommitted offset; a commit already on the wire is awaited first. */
  async commit(): Promise<void> {
    while (this.running) await this.running;
    const commit = this.commitResolved;
    if (!commit) return;
    this.running = commit()
      .catch((e: unknown) => this.log.warn({ err: String(e) }, 'offset commit failed; retried on the next tick'))
      .finally(() => (this.running = undefined));
    await this.running;
  }

  /** Resolves true once no batch is in flight, false if that took longer than ms. */
  private idle(ms: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(t);
        this.idleWaiters.delete(woke);
        resolve(ok);
      };
      const woke = () => done(true);
      const t = setTimeout(() => done(false), ms);
      this.idleWaiters.add(woke);
    });
  }

  /**
   * Graceful stop, while the consumer still runs (kafkajs leaves the group in stop(), after which
   * nothing can be committed): pause the topic, let the batches in flight finish, commit what they
   * resolved. If they are still at it after timeoutMs, onTimeout() tells them to give up (their
   * batches stay unresolved) and they get 5 s more. Call consumer.stop() afterwards.
   */
  async drain(consumer: Consumer, topic: string, timeoutMs: number, onTimeout: () => void): Promise<void> {
    this.draining = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    try {
      consumer.pause([{ topic }]);
    } catch {
      /* not running (start failed): nothing in flight */
    }
    if (!(await this.idle(timeoutMs))) {
      this.log.warn({ inFlight: this.inFlight }, 'batches still in flight at the drain deadline; abandoning them');
      onTimeout();
      await this.idle(5000);
    }
    await this.commit();
  }
}
