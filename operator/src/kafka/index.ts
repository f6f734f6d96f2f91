// Kafka topic management with the kafkajs admin client: creates spec.kafka.topics, grows partitions,
// never shrinks them, reports replication-factor differences, corrects topic config drift, and
// reports status. The decisions are in plan.ts (pure, unit-tested); this file does the I/O.
// The reconciler only calls createTopicManager().
import { Kafka, logLevel, type Admin, type ConfigResourceTypes, type ITopicMetadata, type logCreator } from 'kafkajs';
import type { TopicSpec } from '../api/types.js';
import type { TopicManager, TopicReconcileResult } from '../orchestration/types.js';
import {
  planTopics,
  summarize,
  TOPICS_CONDITION,
  type ObservedTopic,
  type TopicAction,
  type TopicOutcome,
} from './plan.js';

export * from './plan.js';

export interface TopicManagerOptions {
  clientId?: string;
  /** Upper bound for one whole reconcile (connect, observe, act, re-observe). Default 60 s. */
  timeoutMs?: number;
  /** Per-request timeout for the admin client. Default 15 s. */
  requestTimeoutMs?: number;
  /** Receives kafkajs log lines (WARN and above); default: dropped (results carry every error). */
  onLog?: (entry: { level: string; namespace: string; message: string; extra: Record<string, unknown> }) => void;
}

const CONFIG_SOURCE_TOPIC = 1; // kafkajs ConfigSource.TOPIC_CONFIG
// kafkajs TOPIC_RESOURCE; the enum is not a named ESM export of the CommonJS package.
export const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

function errMsg(e: unknown): string {
  if (e && typeof e === 'object' && 'errors' in e && Array.isArray((e as { errors: unknown[] }).errors)) {
    const inner = (e as { errors: unknown[] }).errors.map(errMsg).join('; ');
    if (inner) return inner;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

// Metadata reaches every broker a moment after a create/grow (in ZooKeeper mode through the
// controller's asynchronous UpdateMetadata, the controller's own cache included): until then
// DescribeConfigs/Metadata can answer UNKNOWN_TOPIC_OR_PARTITION for a topic listTopics already
// shows. kafkajs's describeConfigs bails on it instead of retrying, so we retry these ourselves.
const STALE_METADATA = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION', 'NOT_CONTROLLER']);

export function isStaleMetadataError(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const type = (e as { type?: unknown }).type;
  if (typeof type === 'string' && STALE_METADATA.has(type)) return true;
  // kafkajs's retrier wraps the last error as KafkaJSNumberOfRetriesExceeded { cause }.
  const cause = (e as { cause?: unknown }).cause;
  return cause !== undefined && cause !== e && isStaleMetadataError(cause);
}

/** observeTopics, retried while brokers still report stale metadata, until `deadline` (epoch ms). */
export async function observeTopicsSettled(
  admin: Admin,
  names: string[],
  deadline: number,
  sleepMs = 300,
): Promise<Map<string, ObservedTopic>> {
  for (;;) {
    try {
      return await observeTopics(admin, names);
    } catch (e) {
      if (!isStaleMetadataError(e) || Date.now() + sleepMs > deadline) throw e;
      await new Promise((r) => setTimeout(r, sleepMs));
    }
  }
}

/** Reads partitions, replication, ISR health and config of existing topics. */
export async function observeTopics(admin: Admin, names: string[]): Promise<Map<string, ObservedTopic>> {
  const out = new Map<string, ObservedTopic>();
  const existing = new Set(await admin.listTopics());
  const present = names.filter((n) => existing.has(n));
  if (!present.length) return out;
  const [meta, configs, moving] = await Promise.all([
    admin.fetchTopicMetadata({ topics: present }),
    admin.describeConfigs({
      resources: present.map((name) => ({ type: TOPIC_RESOURCE, name })),
      includeSynonyms: false,
    }),
    // All ongoing reassignments (the request for named topics needs partition lists).
    admin.listPartitionReassignments({}),
  ]);
  const byName = new Map<string, ITopicMetadata>(meta.topics.map((t) => [t.name, t]));
  for (const name of present) {
    const m = byName.get(name);
    if (!m) continue;
    const res = configs.resources.find((r) => r.resourceName === name);
    const overrides: Record<string, string> = {};
    const effective: Record<string, string> = {};
    for (const c of res?.configEntries ?? []) {
      if (c.configValue === null || c.configValue === undefined) continue;
      effective[c.configName] = String(c.configValue);
      if (Number(c.configSource) === CONFIG_SOURCE_TOPIC) overrides[c.configName] = String(c.configValue);
    }
    const minIsr = Number(effective['min.insync.replicas'] ?? '1');
    const parts = [...m.partitions].sort((a, b) => a.partitionId - b.partitionId);
    const ongoing = moving.topics.find((t) => t.topic === name)?.partitions ?? [];
    out.set(name, {
      name,
      partitions: parts.length,
      replicationFactor: parts.reduce((mx, p) => Math.max(mx, p.replicas.length), 0),
      overrides,
      effective,
      leaderless: parts.filter((p) => p.leader < 0).map((p) => p.partitionId),
      underMinIsr: parts.filter((p) => p.leader >= 0 && p.isr.length < minIsr).map((p) => p.partitionId),
      assignment: parts.map((p) => [...p.replicas]),
      reassigning: ongoing.map((p) => p.partitionIndex).sort((a, b) => a - b),
    });
  }
  return out;
}

async function act(admin: Admin, a: TopicAction, requestTimeoutMs: number): Promise<void> {
  switch (a.kind) {
    case 'create':
      // Resolves false when the topic already exists (a concurrent creator): fine, we re-observe.
      await admin.createTopics({
        waitForLeaders: true,
        timeout: requestTimeoutMs,
        topics: [
          {
            topic: a.topic,
            numPartitions: a.partitions,
            replicationFactor: a.replicationFactor,
            configEntries: Object.entries(a.config).map(([name, value]) => ({ name, value })),
          },
        ],
      });
      return;
    case 'grow':
      await admin.createPartitions({ timeout: requestTimeoutMs, topicPartitions: [{ topic: a.topic, count: a.to }] });
      return;
    case 'reassign':
      if (!a.partitions.length) return;
      await admin.alterPartitionReassignments({
        timeout: requestTimeoutMs,
        topics: [{ topic: a.topic, partitionAssignment: a.partitions.map((p) => ({ partition: p.partition, replicas: p.replicas })) }],
      });
      return;
    case 'alterConfig':
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: TOPIC_RESOURCE,
            name: a.topic,
            configEntries: Object.entries(a.entries).map(([name, value]) => ({ name, value })),
          },
        ],
      });
      return;
  }
}

function settled(o: TopicOutcome, t: ObservedTopic | undefined): boolean {
  for (const a of o.done) {
    if (a.kind === 'create' && (!t || t.partitions < a.partitions || t.leaderless.length)) return false;
    if (a.kind === 'grow' && (!t || t.partitions < a.to || t.leaderless.length)) return false;
    if (a.kind === 'reassign' && (!t || t.reassigning?.length || t.assignment?.some((r) => r.length !== a.to))) return false;
  }
  return true;
}

function unreachable(topics: TopicSpec[], reason: string, message: string): TopicReconcileResult {
  return {
    topics: topics.map((t) => ({ name: t.name, partitions: 0, replicationFactor: 0, ready: false, message })),
    condition: { type: TOPICS_CONDITION, status: 'Unknown', reason, message },
    events: [{ type: 'Warning', reason, message }],
  };
}

export function createTopicManager(opts: TopicManagerOptions = {}): TopicManager {
  const clientId = opts.clientId ?? 'cachetier-operator';
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 15_000;
  // How long observation waits for brokers' metadata to catch up (before and after our acts).
  const settleMs = Math.min(10_000, requestTimeoutMs);
  const creator: logCreator | undefined = opts.onLog
    ? () =>
        ({ namespace, level, log }) => {
          const { message, ...extra } = log;
          opts.onLog?.({ level: logLevel[level] ?? String(level), namespace, message, extra });
        }
    : undefined;

  return {
    async reconcile(brokers, topics) {
      if (!brokers.length) return unreachable(topics, 'NoKafkaBrokers', 'no Kafka broker addresses to connect to');
      const admin = new Kafka({
        clientId,
        brokers,
        connectionTimeout: Math.min(5000, requestTimeoutMs),
        requestTimeout: requestTimeoutMs,
        retry: { retries: 3, initialRetryTime: 300, maxRetryTime: 3000 },
        logLevel: creator ? logLevel.WARN : logLevel.NOTHING,
        ...(creator ? { logCreator: creator } : {}),
      }).admin();
      const run = async (): Promise<TopicReconcileResult> => {
        await admin.connect();
        const cluster = await admin.describeCluster();
        const names = topics.map((t) => t.name);
        // A concurrent creator (another operator replica, a user's kafka-topics.sh) can leave a
        // topic listed but not yet described everywhere: the same bounded retry as after our own acts.
        const before = await observeTopicsSettled(admin, names, Date.now() + settleMs);
        const plans = planTopics(topics, before, cluster.brokers.map((b) => b.nodeId));
        const outcomes: TopicOutcome[] = [];
        for (const plan of plans) {
          const outcome: TopicOutcome = { plan, done: [], errors: [] };
          for (const a of plan.actions) {
            try {
              await act(admin, a, requestTimeoutMs);
              outcome.done.push(a);
            } catch (e) {
              const what = { create: 'create', grow: 'partition increase', reassign: 'replica reassignment', alterConfig: 'config update' }[a.kind];
              outcome.errors.push(`${what} failed: ${errMsg(e)}`);
            }
          }
          outcomes.push(outcome);
        }
        const changed = outcomes.some((o) => o.done.length);
        let after = before;
        if (changed) {
          // Re-observe until what we did shows (bounded), so status reports the result rather than a
          // stale view (see STALE_METADATA).
          const settleBy = Date.now() + settleMs;
          for (;;) {
            after = await observeTopicsSettled(admin, names, settleBy);
            if (Date.now() > settleBy || outcomes.every((o) => settled(o, after.get(o.plan.topic)))) break;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
        for (const o of outcomes) o.after = after.get(o.plan.topic);
        return summarize(outcomes);
      };
      try {
        return await withTimeout(run(), timeoutMs, `topic reconcile against ${brokers.join(',')}`);
      } catch (e) {
        return unreachable(topics, 'KafkaUnreachable', `could not reconcile topics via ${brokers.join(',')}: ${errMsg(e)}`);
      } finally {
        await withTimeout(admin.disconnect(), 5000, 'admin disconnect').catch(() => undefined);
      }
    },
  };
}
