// The Kafka part of RollObserver, with the kafkajs admin client set up as the topic manager does
// (operator/src/kafka): bootstrap = every pod's <IP>:9092, bounded timeouts, a fresh client per
// pass (pod IPs change across a roll). What it reads: the controller and the registered brokers
// (describeCluster), every partition of every topic, internal ones included (fetchTopicMetadata),
// and each topic's effective min.insync.replicas (describeConfigs). Errors propagate: the driver
// turns them into a Waiting phase.
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { KAFKA_PORT } from '../../../packages/contract/src/index.js';
import { TOPIC_RESOURCE } from '../kafka/index.js';
import type { KafkaClusterState, KafkaPartitionState, RollPod } from './types.js';

export interface KafkaRollObserverOptions {
  /** Broker port (KAFKA_PORT, 9092). */
  port?: number;
  clientId?: string;
  /** Per admin request (10 s). */
  requestTimeoutMs?: number;
  /** Upper bound for one whole observation (30 s). */
  timeoutMs?: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** What the Kafka planner needs, read through a connected admin client. */
export async function readKafkaClusterState(admin: Admin): Promise<KafkaClusterState> {
  const cluster = await admin.describeCluster();
  const names = await admin.listTopics();
  const partitions: KafkaPartitionState[] = [];
  if (names.length) {
    const [meta, configs] = await Promise.all([
      admin.fetchTopicMetadata({ topics: names }),
      admin.describeConfigs({
        resources: names.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['min.insync.replicas'] })),
        includeSynonyms: false,
      }),
    ]);
    const minIsr = new Map<string, number>();
    for (const r of configs.resources) {
      const v = r.configEntries.find((c) => c.configName === 'min.insync.replicas')?.configValue;
      if (v !== undefined && v !== null && v !== '') minIsr.set(r.resourceName, Number(v));
    }
    for (const t of [...meta.topics].sort((a, b) => a.name.localeCompare(b.name))) {
      const m = minIsr.get(t.name);
      if (m === undefined || !Number.isFinite(m)) throw new Error(`no min.insync.replicas for topic ${t.name}`);
      for (const p of [...t.partitions].sort((a, b) => a.partitionId - b.partitionId)) {
        partitions.push({ topic: t.name, partition: p.partitionId, replicas: [...p.replicas], isr: [...p.isr], minIsr: m });
      }
    }
  }
  return {
    controller: cluster.controller ?? null,
    brokers: cluster.brokers.map((b) => b.nodeId).sort((a, b) => a - b),
    partitions,
  };
}

export class KafkaRollObserver {
  private readonly port: number;
  private readonly clientId: string;
  private readonly requestTimeoutMs: number;
  private readonly timeoutMs: number;

  constructor(opts: KafkaRollObserverOptions = {}) {
    this.port = opts.port ?? KAFKA_PORT;
    this.clientId = opts.clientId ?? 'cachetier-operator-roll';
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async kafka(pods: RollPod[]): Promise<KafkaClusterState> {
    const brokers = pods.filter((p) => p.host).map((p) => `${p.host}:${this.port}`);
    if (!brokers.length) throw new Error('no Kafka pod has an address');
    const admin = new Kafka({
      clientId: this.clientId,
      brokers,
      connectionTimeout: Math.min(5000, this.requestTimeoutMs),
      requestTimeout: this.requestTimeoutMs,
      retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 2000 },
      logLevel: logLevel.NOTHING,
    }).admin();
    const run = async (): Promise<KafkaClusterState> => {
      await admin.connect();
      return readKafkaClusterState(admin);
    };
    try {
      return await withTimeout(run(), this.timeoutMs, `observing Kafka via ${brokers.join(',')}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
