// The Kafka roll observer's reading of admin answers (a fake admin shaped like kafkajs 2.2.4's
// replies), and its bounds when no broker answers.
import type { Admin } from 'kafkajs';
import { KafkaRollObserver, readKafkaClusterState } from '../../../src/roll/observe-kafka.js';
import { pods } from './pods.js';

function fakeAdmin(over: Partial<Record<keyof Admin, unknown>> = {}): { admin: Admin; calls: string[] } {
  const calls: string[] = [];
  const admin = {
    describeCluster: async () => {
      calls.push('describeCluster');
      return { clusterId: 'c', controller: 2, brokers: [2, 0, 1].map((nodeId) => ({ nodeId, host: `h${nodeId}`, port: 9092 })) };
    },
    listTopics: async () => ['roll-load', '__consumer_offsets'],
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
      calls.push(`fetchTopicMetadata ${topics.join(',')}`);
      return {
        topics: [
          { name: 'roll-load', partitions: [1, 0].map((partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0, 1, 2], isr: partitionId ? [0, 1] : [0, 1, 2], offlineReplicas: [] })) },
          { name: '__consumer_offsets', partitions: [{ partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1, 2, 0], isr: [1, 2, 0], offlineReplicas: [] }] },
        ],
      };
    },
    describeConfigs: async ({ resources }: { resources: { name: string; configNames: string[] }[] }) => {
      calls.push(`describeConfigs ${resources.map((r) => `${r.name}:${r.configNames.join('+')}`).join(',')}`);
      return {
        throttleTime: 0,
        resources: [
          { resourceName: 'roll-load', resourceType: 2, errorCode: 0, errorMessage: null, configEntries: [{ configName: 'min.insync.replicas', configValue: '2', configSource: 1, readOnly: false, isDefault: false, isSensitive: false }] },
          // Not overridden on the topic: the broker's value (DYNAMIC/STATIC_BROKER_CONFIG) is the effective one.
          { resourceName: '__consumer_offsets', resourceType: 2, errorCode: 0, errorMessage: null, configEntries: [{ configName: 'min.insync.replicas', configValue: '1', configSource: 4, readOnly: false, isDefault: false, isSensitive: false }] },
        ],
      };
    },
    ...over,
  } as unknown as Admin;
  return { admin, calls };
}

describe('readKafkaClusterState', () => {
  test('controller, registered brokers, every partition of every topic (internal ones too) with its min ISR', async () => {
    const { admin, calls } = fakeAdmin();
    expect(await readKafkaClusterState(admin)).toEqual({
      controller: 2,
      brokers: [0, 1, 2],
      partitions: [
        { topic: '__consumer_offsets', partition: 0, replicas: [1, 2, 0], isr: [1, 2, 0], minIsr: 1 },
        { topic: 'roll-load', partition: 0, replicas: [0, 1, 2], isr: [0, 1, 2], minIsr: 2 },
        { topic: 'roll-load', partition: 1, replicas: [0, 1, 2], isr: [0, 1], minIsr: 2 },
      ],
    });
    expect(calls).toContain('fetchTopicMetadata roll-load,__consumer_offsets');
    expect(calls).toContain('describeConfigs roll-load:min.insync.replicas,__consumer_offsets:min.insync.replicas');
  });

  test('no controller elected: null', async () => {
    const { admin } = fakeAdmin({ describeCluster: async () => ({ clusterId: 'c', controller: null, brokers: [] }) });
    expect(await readKafkaClusterState(admin)).toMatchObject({ controller: null, brokers: [] });
  });

  test('no topics: no partitions, no config request', async () => {
    const { admin, calls } = fakeAdmin({ listTopics: async () => [] });
    expect((await readKafkaClusterState(admin)).partitions).toEqual([]);
    expect(calls.filter((c) => c.startsWith('describeConfigs') || c.startsWith('fetchTopicMetadata'))).toEqual([]);
  });

  test('a topic without a min.insync.replicas answer is an error, not a guess', async () => {
    const { admin } = fakeAdmin({
      describeConfigs: async () => ({ throttleTime: 0, resources: [{ resourceName: 'roll-load', configEntries: [{ configName: 'min.insync.replicas', configValue: '2' }] }] }),
    });
    await expect(readKafkaClusterState(admin)).rejects.toThrow('no min.insync.replicas for topic __consumer_offsets');
  });
});

describe('KafkaRollObserver', () => {
  test('no pod with an address: an error (the driver reports Waiting)', async () => {
    const ps = pods('k', 3).map(({ host: _host, ...p }) => p);
    await expect(new KafkaRollObserver().kafka(ps)).rejects.toThrow('no Kafka pod has an address');
  });

  test('nothing listening: rejects within its bound', async () => {
    const ps = pods('k', 1);
    ps[0].host = '127.0.9.99';
    const t0 = Date.now();
    await expect(new KafkaRollObserver({ requestTimeoutMs: 1000, timeoutMs: 8000 }).kafka(ps)).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(9000);
  }, 15_000);
});
