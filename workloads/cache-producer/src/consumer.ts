// Kafka side: the `cache-message` consumer group (eachBatch, per-partition order, coalescing,
// concurrent per-entity work, manual commits after the writes) and the dead-letter producer;
// plus the `access-log` consumer that feeds the hot-product tracker.
import { Kafka, logLevel, type Consumer, type EachBatchPayload, type IHeaders, type KafkaMessage, type Producer as KafkaProducer } from 'kafkajs';
import type { Logger } from 'pino';
import type { ProducerConfig } from './config.js';
import { coalesce, parseChangeMessage, type ChangeMessage, type Job, entityName } from './messages.js';
import type { Metrics } from './metrics.js';
import { COMMIT_INTERVAL_MS, OffsetCommitter } from './offsets.js';
import type { Producer } from './service.js';
import { GroupHealth } from './grouphealth.js';
import { SourceError } from './sourceclient.js';

// Jobs of one batch in flight at once (different entities; ZooKeeper and Redis pipeline them).
// Measured (bench-producer, 90,000 messages, CAS only): 1024 -> ~6,500/s and 520 MB RSS without a
// heap cap (thousands of pending EVALSHAs and their promises), 256 -> ~9,000/s, 64 -> ~12,700/s.
// Six partitions run at once, so up to 384 locks still share each ZooKeeper multi.
const JOB_CONCURRENCY = 64;
// A fetch decodes every message it returns into the heap at once. bench-producer (90,000 messages,
// 6 partitions): 1 MB per partition peaked at 199-202 MB RSS, 256 KB at 152-162 MB, with the same
// throughput within the run-to-run noise (CAS only 22.2-22.5k/s vs 22.6-23.3k/s).
const MAX_BYTES_PER_PARTITION = 256 * 1024;
/** Bound on waiting for a batch's writes to reach a replica before its offsets are committed. */
const REPLICATION_WAIT_MS = 1000;
/** How long a graceful stop lets in-flight batches retry (main's hard limit is 25 s). */
const DRAIN_TIMEOUT_MS = 15_000;

export function createKafka(cfg: ProducerConfig, log: Logger, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: cfg.kafka.brokers,
    connectionTimeout: 5000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, retries: 10, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const lvl = entry.level === logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : 'debug';
      log[lvl]({ kafka: entry.namespace, ...entry.log }, String(entry.log.message));
    },
  });
}

/** Runs `fn` over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) {
      const t = items[i++];
      await fn(t);
    }
  });
  await Promise.all(workers);
}

export class ChangeConsumer {
  readonly consumer: Consumer;
  readonly dlq: KafkaProducer;
  /** In the group with recent heartbeats; `dead` once kafkajs gave up (liveness fails). */
  readonly health: GroupHealth;
  private stopping = false;
  private readonly committer: OffsetCommitter;

  constructor(
    kafka: Kafka,
    private readonly cfg: ProducerConfig,
    private readonly producer: Producer,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.consumer = kafka.consumer({
      groupId: cfg.kafka.groupId,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3000,
      maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
      retry: { retries: 10 },
    });
    this.dlq = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 8 } });
    this.committer = new OffsetCommitter(COMMIT_INTERVAL_MS, log);
    this.health = new GroupHealth(this.consumer, () => this.stopping);
    const ev = this.consumer.events;
    this.consumer.on(ev.GROUP_JOIN, (e) => {
      this.log.info({ assignment: e.payload.memberAssignment }, 'joined cache-message group');
    });
    this.consumer.on(ev.REBALANCING, () => {
      // The group still takes commits of the current generation while it prepares the rebalance:
      // what was done so far is not redone by the partitions' next owners.
      void this.committer.commit();
    });
    this.consumer.on(ev.CRASH, (e) => {
      this.log.error({ err: String(e.payload.error), restart: e.payload.restart }, 'cache-message consumer crashed');
    });
  }

  async start(): Promise<void> {
    await this.dlq.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.cfg.kafka.topicCacheMessage], fromBeginning: true });
    await this.consumer.run({
      // Offsets are resolved only after a batch's writes succeeded and committed by this.committer
      // (every COMMIT_INTERVAL_MS, on rebalance and on shutdown), never anything unprocessed.
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 6,
      eachBatch: this.committer.handler((p) => this.onBatch(p)),
    });
    this.committer.start();
  }

  private async deadLetter(items: { m: KafkaMessage; partition: number; reason: string; detail: string }[]): Promise<void> {
    if (items.length === 0) return;
    const messages = items.map(({ m, partition, reason, detail }) => {
      const headers: IHeaders = {
        'x-dead-letter-reason': reason,
        'x-dead-letter-detail': detail.slice(0, 500),
        'x-original-topic': this.cfg.kafka.topicCacheMessage,
        'x-original-partition': String(partition),
        'x-original-offset': m.offset,
        'x-original-timestamp': m.timestamp,
      };
      // Huge payloads are cut so the DLQ itself never refuses them (the reason says what happened).
      const value = m.value && m.value.length > 64 * 1024 ? m.value.subarray(0, 64 * 1024) : m.value;
      return { key: m.key, value, headers };
    });
    // One produce request per chunk (a record batch must stay under the broker's message.max.bytes).
    for (let i = 0; i < messages.length; i += 10) {
      await this.dlq.send({ topic: this.cfg.kafka.topicDeadLetter, acks: -1, messages: messages.slice(i, i + 10) });
    }
    for (const it of items) this.metrics.deadLettered.inc({ reason: it.reason });
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const batchStart = Date.now();
    const lagLabels = { topic: batch.topic, partition: String(batch.partition) };
    this.metrics.consumerLag.set(lagLabels, Number(batch.offsetLagLow()));
    const newestTs = Number(batch.messages[batch.messages.length - 1].timestamp);
    if (Number.isFinite(newestTs)) this.metrics.batchDelivery.observe(Math.max(0, batchStart - newestTs) / 1000);
    const good: { msg: ChangeMessage; timestamp: number; m: KafkaMessage }[] = [];
    const stopped = () => this.stopping || !isRunning() || isStale();
    const bad: { m: KafkaMessage; partition: number; reason: string; detail: string }[] = [];
    for (const m of batch.messages) {
      this.metrics.consumed.inc();
      const ts = Number(m.timestamp);
      const r = parseChangeMessage(m.value, Number.isFinite(ts) ? ts : undefined, { now: Date.now(), maxFutureSkewMs: this.cfg.dataPath.maxFutureSkewMs });
      if (r.ok) good.push({ msg: r.msg, timestamp: ts, m });
      else bad.push({ m, partition: batch.partition, reason: r.reason, detail: r.detail });
    }
    await this.retrying(() => this.deadLetter(bad), stopped);
    const jobs = coalesce(good);
    this.metrics.coalesced.inc(good.length - jobs.length);
    // Heartbeats on a timer, not between jobs: one slow job (a source retrying) must not let the
    // session lapse and rebalance the whole group.
    const beat = setInterval(() => void heartbeat().catch(() => undefined), 2000);
    try {
      await pool(jobs, JOB_CONCURRENCY, async (job: Job) => {
        try {
          await this.producer.runJob(job, { stopped });
        } catch (e) {
          if (e instanceof SourceError && !e.retryable) {
            const first = good.find((g) => entityName(g.msg.entity) === entityName(job.entity));
            if (first) await this.retrying(() => this.deadLetter([{ m: first.m, partition: batch.partition, reason: e.reason, detail: e.message }]), stopped);
            return;
          }
          throw e;
        }
      });
    } finally {
      clearInterval(beat);
    }
    if (isStale()) return; // partition moved away: the new owner redoes the batch
    // No offset is committed for a write only a master holds: if it fails over before the
    // replica has it, the write is gone and nothing would replay it. A master that cannot answer
    // fails the batch (redone); one whose replica lags past the bound is counted and let through.
    if (jobs.length > 0) {
      const lagging = await this.producer.store.waitReplicated(this.cfg.redis.waitReplicas, REPLICATION_WAIT_MS);
      if (lagging.length > 0) {
        this.metrics.replicationWaitTimeouts.inc();
        this.log.warn({ masters: lagging, timeoutMs: REPLICATION_WAIT_MS }, 'writes not yet on a replica; committing anyway');
      }
    }
    resolveOffset(batch.messages[batch.messages.length - 1].offset);
    this.metrics.batchProcessing.observe((Date.now() - batchStart) / 1000);
    this.metrics.consumerLag.set(lagLabels, Number(batch.offsetLag()));
  }

  private async retrying(fn: () => Promise<void>, stopped: () => boolean): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (stopped()) throw e;
        this.log.warn({ err: String(e) }, 'dead-letter send failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** i, 2000)));
      }
    }
  }

  /**
   * Graceful stop: no new batches, the in-flight ones finish normally (their jobs keep retrying
   * until DRAIN_TIMEOUT_MS, so a dead Redis can't hold the shutdown until the process is killed),
   * everything resolved is committed, then the group is left.
   */
  async stop(): Promise<void> {
    await this.committer.drain(this.consumer, this.cfg.kafka.topicCacheMessage, DRAIN_TIMEOUT_MS, () => (this.stopping = true));
    this.stopping = true;
    await this.consumer.stop().catch(() => undefined);
    await this.consumer.disconnect().catch(() => undefined);
    await this.dlq.disconnect().catch(() => undefined);
  }
}
