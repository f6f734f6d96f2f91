// The real data-path tier: ZooKeeper x3 + Kafka 3.9 x3 (ZooKeeper mode) on 127.0.2.11-13 / .21-23,
// each started from the operator's own rendered zoo.cfg / server.properties; the operator's topic
// manager (operator/src/kafka) run against it; and the durability the shipped config promises
// (RF 3, min.insync.replicas 2, acks=all) checked by killing a broker and a ZooKeeper node.
import { jest } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import YAML from 'yaml';
import { resolve } from '../../../src/api/defaults.js';
import type { CacheTier, TopicSpec } from '../../../src/api/types.js';
import { createTopicManager, TOPIC_RESOURCE } from '../../../src/kafka/index.js';
import { consumeFromStart, startKafkaCluster, type KafkaCluster } from '../../../../hack/local/kafka.js';
import { makeRootDir } from '../../../../hack/local/procs.js';
import { startZooKeeperEnsemble, type ZooKeeperEnsemble } from '../../../../hack/local/zookeeper.js';

jest.setTimeout(300_000);

// Parameters of the harness; this area's addresses (the producer tests use other last octets).
const IP_PREFIX = process.env.CACHETIER_KAFKA_TEST_PREFIX ?? '127.0.2';

// A CacheTier as a user writes it; resolve() fills in the operator's defaults (RF 3, min ISR 2).
const MANIFEST = `
apiVersion: cachetier.io/v1alpha1
kind: CacheTier
metadata: { name: shop, namespace: default, uid: "1" }
spec:
  kafka:
    topics:
      cacheMessage: { partitions: 6 }
      accessLog: { partitions: 4, config: { retention.ms: "3600000", cleanup.policy: delete } }
`;

let root = '';
let zk: ZooKeeperEnsemble | undefined;
let kafka: KafkaCluster | undefined;
let client: Kafka;
let admin: Admin;
const manager = createTopicManager({ clientId: 'kafka-tier-test', timeoutMs: 90_000 });

function desiredTopics(over: Partial<Record<'cacheMessage' | 'accessLog' | 'deadLetter', Partial<TopicSpec>>> = {}) {
  const tier = resolve(YAML.parse(MANIFEST) as CacheTier);
  const t = tier.spec.kafka.topics;
  return [
    { ...t.cacheMessage, ...over.cacheMessage },
    { ...t.accessLog, ...over.accessLog },
    { ...t.deadLetter, ...over.deadLetter },
  ];
}

async function topicShape(name: string) {
  const md = await admin.fetchTopicMetadata({ topics: [name] });
  const parts = md.topics[0].partitions;
  return { partitions: parts.length, rf: Math.max(...parts.map((p) => p.replicas.length)), isr: parts.map((p) => p.isr.length) };
}

async function topicOverrides(name: string): Promise<Record<string, string>> {
  const d = await admin.describeConfigs({ resources: [{ type: TOPIC_RESOURCE, name }], includeSynonyms: false });
  const out: Record<string, string> = {};
  for (const c of d.resources[0].configEntries) if (Number(c.configSource) === 1) out[c.configName] = c.configValue;
  return out;
}

/** Produces `n` keyed messages with acks=all; a generous retry budget rides out a leader election. */
async function produce(topic: string, tag: string, n: number): Promise<void> {
  const producer = client.producer({ retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 5000 } });
  await producer.connect();
  try {
    for (let i = 0; i < n; i += 10) {
      const batch = Array.from({ length: Math.min(10, n - i) }, (_, j) => ({
        key: String((i + j) % 50),
        value: JSON.stringify({ serviceId: 'productInfoService', productId: (i + j) % 50, shopId: 1, tag, seq: i + j }),
      }));
      await producer.send({ topic, acks: -1, timeout: 30_000, messages: batch });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Reads everything tagged `tag` from the start of `topic` through a fresh consumer group. */
async function consumeTagged(topic: string, tag: string, expected: number, timeoutMs = 90_000): Promise<Set<number>> {
  return consumeFromStart(client, {
    topic,
    groupId: `kafka-tier-${tag}-${Date.now()}`,
    timeoutMs,
    take: (message) => {
      const v = JSON.parse(message.value?.toString() ?? '{}') as { tag?: string; seq?: number; productId?: number };
      if (v.tag !== tag || typeof v.seq !== 'number') return undefined;
      expect(message.key?.toString()).toBe(String(v.productId));
      return v.seq;
    },
    enough: (seen) => seen.size >= expected,
  });
}

beforeAll(async () => {
  root = await makeRootDir('kafka-tier');
  const t0 = Date.now();
  // No skip: in CI the jars (hack/deps.d/30-kafka.sh) and java must be present; fail loudly if not.
  zk = await startZooKeeperEnsemble({ ipPrefix: IP_PREFIX, rootDir: root });
  kafka = await startKafkaCluster({
    ipPrefix: IP_PREFIX,
    rootDir: root,
    zookeeperConnect: zk.connectString,
    // Test-only: consumer groups form at once instead of after the shipped 3 s.
    configOverrides: { 'group.initial.rebalance.delay.ms': '0' },
  });
  console.log(`kafka-tier: ZooKeeper x3 + Kafka x3 up in ${Date.now() - t0} ms (root ${root})`);
  client = new Kafka({ clientId: 'kafka-tier-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING, requestTimeout: 30_000 });
  admin = client.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await kafka?.stop();
  await zk?.stop();
  if (root && !process.env.CACHETIER_KEEP_TMP) await rm(root, { recursive: true, force: true });
});

test('the tier runs the rendered configs: one ZooKeeper leader, brokers with RF 3 / min ISR 2', async () => {
  const modes = await zk!.modes();
  expect(modes.filter((m) => m === 'leader')).toHaveLength(1);
  expect(modes.filter((m) => m === 'follower')).toHaveLength(2);
  for (const n of kafka!.nodes) {
    expect(n.properties).toContain(`broker.id=${n.brokerId}`);
    expect(n.properties).toContain('min.insync.replicas=2');
    expect(n.properties).toContain('default.replication.factor=3');
    expect(n.properties).toContain(`zookeeper.connect=${zk!.connectString}/kafka`);
  }
  const cluster = await admin.describeCluster();
  expect(cluster.brokers.map((b) => b.nodeId).sort()).toEqual([0, 1, 2]);
});

test('topics are created from a CacheTier spec, and a second reconcile changes nothing', async () => {
  const r = await manager.reconcile(kafka!.brokers, desiredTopics());
  expect(r.condition).toMatchObject({ type: 'TopicsReady', status: 'True', reason: 'TopicsReady' });
  expect(r.topics).toEqual([
    { name: 'cache-message', partitions: 6, replicationFactor: 3, ready: true, message: 'ready' },
    { name: 'access-log', partitions: 4, replicationFactor: 3, ready: true, message: 'ready' },
    { name: 'cache-message-dlq', partitions: 1, replicationFactor: 3, ready: true, message: 'ready' },
  ]);
  expect(r.events.map((e) => e.reason)).toEqual(['TopicCreated', 'TopicCreated', 'TopicCreated']);
  expect(await topicShape('cache-message')).toMatchObject({ partitions: 6, rf: 3 });
  expect(await topicOverrides('access-log')).toEqual({ 'retention.ms': '3600000', 'cleanup.policy': 'delete' });

  const again = await manager.reconcile(kafka!.brokers, desiredTopics());
  expect(again.condition.status).toBe('True');
  expect(again.events).toEqual([]);
});

test('partitions grow', async () => {
  const r = await manager.reconcile(kafka!.brokers, desiredTopics({ cacheMessage: { partitions: 9 } }));
  expect(r.condition.status).toBe('True');
  expect(r.events).toEqual([
    { type: 'Normal', reason: 'TopicPartitionsIncreased', message: 'topic cache-message: partitions 6 -> 9' },
  ]);
  expect(r.topics[0]).toMatchObject({ name: 'cache-message', partitions: 9, ready: true });
  expect(await topicShape('cache-message')).toMatchObject({ partitions: 9, rf: 3 });
});

test('a shrink is refused with a reason, and nothing is removed', async () => {
  const r = await manager.reconcile(kafka!.brokers, desiredTopics({ cacheMessage: { partitions: 4 } }));
  expect(r.condition).toMatchObject({ type: 'TopicsReady', status: 'False', reason: 'PartitionShrinkRefused' });
  expect(r.condition.message).toMatch(/cache-message has 9 partitions; the spec asks for 4/);
  expect(r.condition.message).toMatch(/Fix: set partitions for cache-message in spec.kafka.topics to 9 or more/);
  expect(r.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'PartitionShrinkRefused' })]);
  expect(r.topics[0]).toMatchObject({ partitions: 9, ready: true });
  expect(await topicShape('cache-message')).toMatchObject({ partitions: 9 });
});

test('topic config drift is corrected; a replication factor below spec is raised by reassignment', async () => {
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: TOPIC_RESOURCE,
        name: 'access-log',
        configEntries: [
          { name: 'retention.ms', value: '1000' },
          { name: 'segment.ms', value: '600000' },
        ],
      },
    ],
  });
  // Someone created the dead-letter topic by hand with one replica.
  await admin.deleteTopics({ topics: ['cache-message-dlq'], timeout: 30_000 });
  const t0 = Date.now();
  for (;;) {
    const ok = await admin
      .createTopics({ topics: [{ topic: 'cache-message-dlq', numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true })
      .catch(() => false);
    if (ok) break;
    if (Date.now() - t0 > 60_000) throw new Error('could not re-create cache-message-dlq with RF 1');
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(await topicShape('cache-message-dlq')).toMatchObject({ rf: 1 });

  const spec = desiredTopics({ cacheMessage: { partitions: 9 } });
  const r = await manager.reconcile(kafka!.brokers, spec);
  expect(await topicOverrides('access-log')).toEqual({ 'retention.ms': '3600000', 'cleanup.policy': 'delete' });
  expect(r.events).toContainEqual({
    type: 'Normal',
    reason: 'TopicConfigUpdated',
    message: 'topic access-log: set retention.ms: 1000 -> 3600000; removed override segment.ms',
  });
  expect(r.events).toContainEqual(
    expect.objectContaining({ type: 'Normal', reason: 'TopicReplicationFactorChanging', message: expect.stringMatching(/cache-message-dlq: replication factor 1 -> 3/) }),
  );
  // The reassignment finishes in the background; the operator requeues until it has (bounded here).
  let after = r;
  for (let i = 0; i < 30 && after.condition.status !== 'True'; i++) {
    await new Promise((res) => setTimeout(res, 1000));
    after = await manager.reconcile(kafka!.brokers, spec);
  }
  expect(after.condition).toMatchObject({ status: 'True', reason: 'TopicsReady' });
  expect(after.topics[2]).toMatchObject({ name: 'cache-message-dlq', replicationFactor: 3, ready: true });
  const shape = await topicShape('cache-message-dlq');
  expect(shape).toMatchObject({ partitions: 1, rf: 3 });
  // ISR 3 once this client's broker has caught up; at least min.insync.replicas already.
  expect(shape.isr[0]).toBeGreaterThanOrEqual(2);
});

test('a replication factor the cluster cannot hold is refused and reported', async () => {
  const r = await manager.reconcile(kafka!.brokers, desiredTopics({ cacheMessage: { partitions: 9 }, deadLetter: { replicationFactor: 4 } }));
  expect(r.condition).toMatchObject({ status: 'False', reason: 'ReplicationFactorMismatch' });
  expect(r.condition.message).toMatch(/cache-message-dlq has replication factor 3; the spec asks for 4. Not changed: 4 replicas need 4 brokers and 3 are registered/);
  expect(r.topics[2]).toMatchObject({ replicationFactor: 3, ready: true });
  expect(await topicShape('cache-message-dlq')).toMatchObject({ rf: 3 });
});

test('produce (acks=all) and consume round trip on cache-message', async () => {
  await produce('cache-message', 'roundtrip', 100);
  const seen = await consumeTagged('cache-message', 'roundtrip', 100);
  expect(seen.size).toBe(100);
});

test('one broker SIGKILLed: acks=all producing still works (RF 3, min ISR 2) and nothing is lost', async () => {
  await kafka!.kill(2);
  const t0 = Date.now();
  await produce('cache-message', 'broker-down', 200);
  console.log(`kafka-tier: 200 acks=all messages with broker 2 dead took ${Date.now() - t0} ms`);
  const seen = await consumeTagged('cache-message', 'broker-down', 200);
  expect(seen.size).toBe(200);
  // The operator's view: topics still usable (ISR 2 >= min.insync.replicas 2).
  // The operator's view: topics still usable (ISR 2 >= min.insync.replicas 2) once the controller has
  // moved leaders off the dead broker (the operator requeues; here a bounded poll).
  let r = await manager.reconcile(kafka!.brokers, desiredTopics({ cacheMessage: { partitions: 9 } }));
  for (let i = 0; i < 15 && r.topics.some((t) => !t.ready); i++) {
    console.log(`kafka-tier: not ready yet with broker 2 down: ${JSON.stringify(r.topics.filter((t) => !t.ready))}`);
    await new Promise((res) => setTimeout(res, 2000));
    r = await manager.reconcile(kafka!.brokers, desiredTopics({ cacheMessage: { partitions: 9 } }));
  }
  expect(r.topics.filter((t) => !t.ready)).toEqual([]);
  expect(r.topics.map((t) => t.replicationFactor)).toEqual([3, 3, 3]);

  await kafka!.start(2);
  await kafka!.waitForBrokers(3);
});

test('one ZooKeeper node (the leader) SIGKILLed: Kafka keeps serving and metadata changes still work', async () => {
  const modes = await zk!.modes();
  const leader = modes.indexOf('leader');
  expect(leader).toBeGreaterThanOrEqual(0);
  await zk!.kill(leader);
  await zk!.waitForQuorum(60_000);
  const after = await zk!.modes();
  expect(after[leader]).toBeNull();
  expect(after.filter((m) => m === 'leader')).toHaveLength(1);

  await produce('cache-message', 'zk-down', 100);
  expect((await consumeTagged('cache-message', 'zk-down', 100)).size).toBe(100);
  // A metadata change goes through the controller into ZooKeeper: it must work with 2 of 3.
  const r = await manager.reconcile(kafka!.brokers, desiredTopics({ cacheMessage: { partitions: 9 }, deadLetter: { partitions: 2 } }));
  expect(r.events).toEqual([
    { type: 'Normal', reason: 'TopicPartitionsIncreased', message: 'topic cache-message-dlq: partitions 1 -> 2' },
  ]);
  expect(r.condition.status).toBe('True');

  await zk!.start(leader);
  expect((await zk!.modes()).filter((m) => m !== null)).toHaveLength(3);
});

test('an unreachable Kafka is reported, bounded in time', async () => {
  const quick = createTopicManager({ timeoutMs: 10_000, requestTimeoutMs: 2000 });
  const t0 = Date.now();
  const r = await quick.reconcile([`${IP_PREFIX}.99:9092`], desiredTopics());
  expect(Date.now() - t0).toBeLessThan(20_000);
  expect(r.condition).toMatchObject({ type: 'TopicsReady', status: 'Unknown', reason: 'KafkaUnreachable' });
  expect(r.topics.every((t) => !t.ready)).toBe(true);
});
