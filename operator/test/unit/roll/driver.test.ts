import { jest } from '@jest/globals';
import { rollStep } from '../../../src/roll/driver.js';
import type { KafkaClusterState, RollObserver, RollTarget, ZooKeeperServerState } from '../../../src/roll/types.js';
import { pods } from './pods.js';

const Z = 'shop-zookeeper';
const K = 'shop-kafka';
const zkWhole: ZooKeeperServerState[] = [
  { pod: `${Z}-0`, mode: 'follower' },
  { pod: `${Z}-1`, mode: 'leader', syncedFollowers: 2 },
  { pod: `${Z}-2`, mode: 'follower' },
];
const kafkaHealthy: KafkaClusterState = {
  controller: 0,
  brokers: [0, 1, 2],
  partitions: [{ topic: 't', partition: 0, replicas: [0, 1, 2], isr: [0, 1, 2], minIsr: 2 }],
};

function observer(over: Partial<RollObserver> = {}): RollObserver {
  return {
    zookeeper: jest.fn(async () => zkWhole),
    kafka: jest.fn(async () => kafkaHealthy),
    redis: jest.fn(async () => ({ members: [], slotsCovered: true })),
    redisFailover: jest.fn(async () => undefined),
    ...over,
  };
}
function target(impl: RollTarget['restart'] = async () => undefined) {
  return { restart: jest.fn(impl) };
}

describe('rollStep', () => {
  test('restarts the one pod the planner picks, once, and reports Rolling', async () => {
    const t = target();
    const p = await rollStep('zookeeper', pods(Z, 3, [0, 1, 2]), 3, observer(), t);
    expect(t.restart).toHaveBeenCalledTimes(1);
    expect(t.restart).toHaveBeenCalledWith('zookeeper', `${Z}-0`);
    expect(p).toEqual({
      component: 'zookeeper',
      updated: 0,
      total: 3,
      phase: 'Rolling',
      pod: `${Z}-0`,
      reason: expect.stringMatching(/runs an old revision/),
    });
  });

  test('no stale pod: still observes, Done only when healthy', async () => {
    const t = target();
    expect(await rollStep('kafka', pods(K, 3), 3, observer(), t)).toEqual({ component: 'kafka', updated: 3, total: 3, phase: 'Done' });
    const urp = { ...kafkaHealthy, partitions: [{ ...kafkaHealthy.partitions[0], isr: [0, 1] }] };
    const p = await rollStep('kafka', pods(K, 3), 3, observer({ kafka: async () => urp }), t);
    expect(p).toMatchObject({ phase: 'Waiting', updated: 3, reason: expect.stringMatching(/under-replicated/) });
    expect(t.restart).not.toHaveBeenCalled();
  });

  test('a pod missing: Waiting without asking any server', async () => {
    const o = observer();
    const t = target();
    const p = await rollStep('kafka', pods(K, 3, [1, 2]).slice(1), 3, o, t);
    expect(p).toEqual({ component: 'kafka', updated: 0, total: 3, phase: 'Waiting', pod: `${K}-0`, reason: `2 of 3 pods exist; waiting for ${K}-0 to be created` });
    expect(o.kafka).not.toHaveBeenCalled();
    expect(t.restart).not.toHaveBeenCalled();
  });

  test('an observer error is a Waiting phase with the error as the reason, never a throw', async () => {
    const t = target();
    const o = observer({
      kafka: async () => {
        throw new Error('Connection timeout');
      },
    });
    const p = await rollStep('kafka', pods(K, 3, [0]), 3, o, t);
    expect(p).toEqual({ component: 'kafka', updated: 2, total: 3, phase: 'Waiting', reason: 'could not observe Kafka: Connection timeout' });
    expect(t.restart).not.toHaveBeenCalled();
  });

  test('a failed restart is a Waiting phase naming the pod', async () => {
    const t = target(async () => {
      throw new Error('pods "shop-kafka-1" is forbidden');
    });
    const p = await rollStep('kafka', pods(K, 3, [1]), 3, observer(), t);
    expect(p).toMatchObject({ phase: 'Waiting', pod: `${K}-1`, reason: `restarting ${K}-1 failed: pods "shop-kafka-1" is forbidden` });
  });

  test('a planner wait passes through with its pod and reason', async () => {
    const o = observer({ zookeeper: async () => zkWhole.map((s) => (s.mode === 'leader' ? { ...s, syncedFollowers: 1 } : s)) });
    const p = await rollStep('zookeeper', pods(Z, 3, [2]), 3, o, target());
    expect(p).toEqual({ component: 'zookeeper', updated: 2, total: 3, phase: 'Waiting', reason: `leader ${Z}-1 has 1 of 2 followers in sync` });
  });

  test('redis goes through planRedisRoll (the placeholder on this branch only waits)', async () => {
    const o = observer();
    const t = target();
    const p = await rollStep('redis', pods('shop-redis', 6, [0]), 6, o, t);
    expect(o.redis).toHaveBeenCalledTimes(1);
    expect(p.phase).not.toBe('Done');
    expect(t.restart).not.toHaveBeenCalled();
  });
});
