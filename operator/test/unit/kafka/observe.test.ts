// observeTopicsSettled against a fake admin: the retry that covers Kafka's asynchronous metadata
// propagation right after a create (CI once failed with "This server does not host this
// topic-partition" from DescribeConfigs on a topic listTopics already showed).
import kafkajs, { type Admin } from 'kafkajs';
import { isStaleMetadataError, observeTopicsSettled } from '../../../src/kafka/index.js';

// The error classes are spread into the CommonJS exports, which ESM can't name: take them off the default.
const { KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

// What kafkajs builds from a response's error code (its typings only admit Error | string).
const protocolError = (type: string, code: number, retriable: boolean, message: string) =>
  new KafkaJSProtocolError({ type, code, retriable, message } as unknown as Error);
const unknownTopic = () => protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true, 'This server does not host this topic-partition');

function fakeAdmin(describeFailures: (() => Error)[]): { admin: Admin; describeCalls: () => number } {
  let calls = 0;
  const admin = {
    listTopics: async () => ['cache-message'],
    fetchTopicMetadata: async () => ({
      topics: [{ name: 'cache-message', partitions: [0, 1].map((partitionId) => ({ partitionId, leader: 1, replicas: [1, 2, 3], isr: [1, 2, 3] })) }],
    }),
    describeConfigs: async () => {
      const fail = describeFailures[calls++];
      if (fail) throw fail();
      return { resources: [{ resourceName: 'cache-message', configEntries: [{ configName: 'min.insync.replicas', configValue: '2', configSource: 5 }] }] };
    },
    listPartitionReassignments: async () => ({ topics: [] }),
  } as unknown as Admin;
  return { admin, describeCalls: () => calls };
}

describe('observeTopicsSettled', () => {
  test('retries while brokers report stale metadata, then returns the observation', async () => {
    const { admin, describeCalls } = fakeAdmin([unknownTopic, () => new KafkaJSNumberOfRetriesExceeded(unknownTopic(), { retryCount: 3, retryTime: 10 })]);
    const seen = await observeTopicsSettled(admin, ['cache-message'], Date.now() + 5000, 5);
    expect(describeCalls()).toBe(3);
    expect(seen.get('cache-message')).toMatchObject({ partitions: 2, replicationFactor: 3, leaderless: [], underMinIsr: [] });
  });

  test('a non-metadata error is not retried', async () => {
    const { admin, describeCalls } = fakeAdmin([() => new Error('SASL authentication failed')]);
    await expect(observeTopicsSettled(admin, ['cache-message'], Date.now() + 5000, 5)).rejects.toThrow('SASL authentication failed');
    expect(describeCalls()).toBe(1);
  });

  test('gives up at the deadline with the broker error', async () => {
    const { admin, describeCalls } = fakeAdmin(Array.from({ length: 1000 }, () => unknownTopic));
    const t0 = Date.now();
    await expect(observeTopicsSettled(admin, ['cache-message'], t0 + 200, 20)).rejects.toThrow('does not host this topic-partition');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(describeCalls()).toBeGreaterThan(2);
  });

  test('isStaleMetadataError follows the retrier cause chain and ignores other types', () => {
    expect(isStaleMetadataError(unknownTopic())).toBe(true);
    expect(isStaleMetadataError(new KafkaJSNumberOfRetriesExceeded(unknownTopic(), { retryCount: 1, retryTime: 1 }))).toBe(true);
    expect(isStaleMetadataError(protocolError('TOPIC_AUTHORIZATION_FAILED', 29, false, 'no'))).toBe(false);
    expect(isStaleMetadataError('UNKNOWN_TOPIC_OR_PARTITION')).toBe(false);
  });
});
