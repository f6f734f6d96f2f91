// Consumes `access-log`, keeps the sliding-window counts, and every bucket tick publishes the hot
// set (ZADD cachetier:hot <expiry ms> <id>; ZREM when cooled) and pre-warms the top-N products.
import type { Consumer, Kafka } from 'kafkajs';
import { GroupHealth } from './grouphealth.js';
import type { Logger } from 'pino';
import type { ProducerConfig } from './config.js';
import { HotTracker, parseAccessLog } from './hot.js';
import type { Metrics } from './metrics.js';
import { COMMIT_INTERVAL_MS, OffsetCommitter } from './offsets.js';
import type { Producer } from './service.js';

const BUCKETS = 10;

export class HotService {
  readonly consumer: Consumer;
  readonly tracker: HotTracker;
  readonly health: GroupHealth;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly warming = new Set<number>();
  private readonly committer: OffsetCommitter;

  constructor(
    kafka: Kafka,
    private readonly cfg: ProducerConfig,
    private readonly producer: Producer,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.tracker = new HotTracker(cfg.hot.windowSeconds * 1000, cfg.hot.topN, Date.now(), undefined, BUCKETS);
    // Its own group: access-log partitions (keyed by productId) are shared among the replicas.
    this.consumer = kafka.consumer({ groupId: `${cfg.kafka.groupId}-hot`, sessionTimeout: 30_000, heartbeatInterval: 3000 });
    this.committer = new OffsetCommitter(COMMIT_INTERVAL_MS, log);
    this.health = new GroupHealth(this.consumer);
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.cfg.kafka.topicAccessLog], fromBeginning: false });
    const windowMs = this.cfg.hot.windowSeconds * 1000;
    await this.consumer.run({
      // Resolved once counted, committed by this.committer (see offsets.ts).
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: this.committer.handler(async ({ batch, resolveOffset }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          const r = parseAccessLog(m.value);
          if (!r) {
            this.metrics.accessLogs.inc({ result: 'malformed' });
            continue;
          }
          if (now - r.ts > windowMs) {
            this.metrics.accessLogs.inc({ result: 'too_old' });
            continue;
          }
          this.tracker.record(r.productId, now);
          this.metrics.accessLogs.inc({ result: 'counted' });
        }
        const last = batch.messages.at(-1);
        if (last) resolveOffset(last.offset);
      }),
    });
    this.committer.start();
    this.timer = setInterval(() => void this.tick(), Math.max(100, windowMs / BUCKETS));
    this.timer.unref();
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = Date.now();
      const t = this.tracker.tick(now);
      this.metrics.hotProducts.set(t.hot.length);
      const redis = this.producer.store.redis;
      const key = this.cfg.hot.setKey;
      if (t.hot.length > 0) {
        const expiry = now + this.cfg.hot.ttlSeconds * 1000;
        const args: (string | number)[] = [];
        for (const id of t.hot) args.push(expiry, String(id));
        await redis.zadd(key, ...args);
      }
      if (t.cooled.length > 0) await redis.zrem(key, ...t.cooled.map(String));
      // Drop expired members (written by replicas that went away).
      await redis.zremrangebyscore(key, '-inf', `(${now}`);
      if (t.newlyHot.length || t.cooled.length) this.log.info({ newlyHot: t.newlyHot, cooled: t.cooled }, 'hot set changed');
      for (const id of [...t.hot, ...t.newTop]) {
        if (this.warming.has(id)) continue;
        this.warming.add(id);
        void this.producer
          .warm(id)
          .catch((e) => this.log.debug({ id, err: String(e) }, 'pre-warm failed'))
          .finally(() => this.warming.delete(id));
      }
    } catch (e) {
      this.log.warn({ err: String(e) }, 'hot tick failed');
    } finally {
      this.ticking = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.committer.drain(this.consumer, this.cfg.kafka.topicAccessLog, 5000, () => undefined);
    await this.consumer.stop().catch(() => undefined);
    await this.consumer.disconnect().catch(() => undefined);
  }
}
