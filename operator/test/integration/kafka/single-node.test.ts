// The single-node shape of examples/cachetier-kind.yaml (1 ZooKeeper, 1 broker, RF 1, min ISR 1),
// run from the rendered configs: a one-server ensemble must still form (standaloneEnabled=false),
// and the topic manager must create the example's topics on it.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import YAML from 'yaml';
import { resolve } from '../../../src/api/defaults.js';
import type { CacheTier } from '../../../src/api/types.js';
import { createTopicManager } from '../../../src/kafka/index.js';
import { kafkaReadinessCommand } from '../../../src/render/kafka.js';
import { startKafkaCluster, type KafkaCluster } from '../../../../hack/local/kafka.js';
import { makeRootDir } from '../../../../hack/local/procs.js';
import { startZooKeeperEnsemble, type ZooKeeperEnsemble } from '../../../../hack/local/zookeeper.js';

jest.setTimeout(240_000);

const IP_PREFIX = process.env.CACHETIER_KAFKA_TEST_PREFIX ?? '127.0.2';
const tier = resolve(YAML.parse(readFileSync(path.join(process.cwd(), 'examples/cachetier-kind.yaml'), 'utf8')) as CacheTier);
let root = '';
let zk: ZooKeeperEnsemble | undefined;
let kafka: KafkaCluster | undefined;

beforeAll(async () => {
  root = await makeRootDir('kafka-single');
  zk = await startZooKeeperEnsemble({ ipPrefix: IP_PREFIX, rootDir: root, count: tier.spec.zookeeper.replicas, firstHost: 14, spec: tier.spec.zookeeper });
  kafka = await startKafkaCluster({
    ipPrefix: IP_PREFIX,
    rootDir: root,
    zookeeperConnect: zk.connectString,
    count: tier.spec.kafka.replicas,
    firstHost: 24,
    spec: tier.spec.kafka,
  });
});

afterAll(async () => {
  await kafka?.stop();
  await zk?.stop();
  if (root && !process.env.CACHETIER_KEEP_TMP) await rm(root, { recursive: true, force: true });
});

test('kind example: one ZooKeeper leads, one broker with RF 1 / min ISR 1 takes the topics and acks=all writes', async () => {
  expect(tier.spec.zookeeper.replicas).toBe(1);
  expect(await zk!.modes()).toEqual(['leader']);
  expect(kafka!.nodes[0].properties).toContain('min.insync.replicas=1');
  expect(kafka!.nodes[0].properties).toContain('offsets.topic.replication.factor=1');

  const t = tier.spec.kafka.topics;
  const r = await createTopicManager().reconcile(kafka!.brokers, [t.cacheMessage, t.accessLog, t.deadLetter]);
  expect(r.condition).toMatchObject({ status: 'True', reason: 'TopicsReady' });
  expect(r.topics.map((x) => [x.name, x.partitions, x.replicationFactor, x.ready])).toEqual([
    ['cache-message', 3, 1, true],
    ['access-log', 3, 1, true],
    ['cache-message-dlq', 1, 1, true],
  ]);

  const client = new Kafka({ clientId: 'kafka-single', brokers: kafka!.brokers, logLevel: logLevel.NOTHING });
  const producer = client.producer();
  await producer.connect();
  try {
    const res = await producer.send({
      topic: 'cache-message',
      acks: -1,
      messages: [{ key: '1', value: '{"serviceId":"productInfoService","productId":1,"shopId":1}' }],
    });
    expect(res[0].errorCode).toBe(0);
  } finally {
    await producer.disconnect();
  }
});

test('the broker readiness probe passes on a serving broker and fails on a port that only accepts TCP', async () => {
  const run = (host: string, port: number) => {
    const [cmd, ...args] = kafkaReadinessCommand(host, port);
    return spawnSync(cmd, args, { timeout: 15_000 }).status;
  };
  const [host, port] = kafka!.brokers[0].split(':');
  expect(run(host, Number(port))).toBe(0);
  // What a starting broker looks like to a TCP probe: the connection is accepted, nothing answers.
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, `${IP_PREFIX}.29`, r));
  try {
    expect(run(`${IP_PREFIX}.29`, (silent.address() as net.AddressInfo).port)).not.toBe(0);
  } finally {
    await new Promise((r) => silent.close(r));
  }
  // Nothing listening at all.
  expect(run(`${IP_PREFIX}.29`, 1)).not.toBe(0);
});
