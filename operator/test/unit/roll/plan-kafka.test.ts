import { planKafkaRoll } from '../../../src/roll/plan-kafka.js';
import type { KafkaClusterState, KafkaPartitionState } from '../../../src/roll/types.js';
import { pods } from './pods.js';

const K = 'shop-kafka';
const part = (topic: string, partition: number, replicas: number[], isr = replicas, minIsr = 2): KafkaPartitionState => ({
  topic,
  partition,
  replicas,
  isr,
  minIsr,
});
/** A healthy 3-broker cluster as recorded: cache-message x3 (RF 3, min ISR 2), __consumer_offsets x2. */
const healthy = (controller: number | null = 1): KafkaClusterState => ({
  controller,
  brokers: [0, 1, 2],
  partitions: [
    part('cache-message', 0, [0, 1, 2]),
    part('cache-message', 1, [1, 2, 0]),
    part('cache-message', 2, [2, 0, 1]),
    part('__consumer_offsets', 0, [1, 0, 2]),
    part('__consumer_offsets', 1, [2, 1, 0]),
  ],
});

describe('planKafkaRoll', () => {
  test('every pod current and no partition under-replicated: done', () => {
    expect(planKafkaRoll(pods(K, 3), 3, healthy())).toEqual({ action: 'done' });
  });

  test('every pod current but a partition under-replicated: wait, not done', () => {
    const s = healthy();
    s.partitions[1] = part('cache-message', 1, [1, 2, 0], [1, 2]);
    expect(planKafkaRoll(pods(K, 3), 3, s)).toEqual({
      action: 'wait',
      reason: '1 partition is under-replicated (cache-message-1: ISR [1,2] of replicas [1,2,0])',
    });
  });

  test('stale non-controller brokers first, lowest ordinal first', () => {
    const d = planKafkaRoll(pods(K, 3, [0, 1, 2]), 3, healthy(0));
    expect(d).toEqual({
      action: 'restart',
      pod: `${K}-1`,
      reason: `broker 1 (${K}-1) runs an old revision; every partition is fully in sync (controller: broker 0)`,
    });
    expect(planKafkaRoll(pods(K, 3, [0, 2]), 3, healthy(0))).toMatchObject({ action: 'restart', pod: `${K}-2` });
  });

  test('the controller last', () => {
    expect(planKafkaRoll(pods(K, 3, [1]), 3, healthy(1))).toEqual({
      action: 'restart',
      pod: `${K}-1`,
      reason: `controller broker 1 (${K}-1) goes last: every other broker runs the new revision and every partition is fully in sync`,
    });
  });

  test('the restarted broker not yet registered: wait for it', () => {
    const s = { ...healthy(1), brokers: [1, 2] };
    expect(planKafkaRoll(pods(K, 3, [1, 2]), 3, s)).toEqual({ action: 'wait', pod: `${K}-0`, reason: `broker 0 (${K}-0) is not registered` });
  });

  test('the restarted broker registered but still catching up (URP): wait', () => {
    const s = healthy(1);
    s.partitions = s.partitions.map((p) => ({ ...p, isr: p.isr.filter((b) => b !== 0) }));
    const d = planKafkaRoll(pods(K, 3, [1, 2]), 3, s);
    expect(d).toEqual({ action: 'wait', reason: '5 partitions are under-replicated (cache-message-0: ISR [1,2] of replicas [0,1,2])' });
  });

  test('no controller elected: wait', () => {
    expect(planKafkaRoll(pods(K, 3, [0]), 3, healthy(null))).toEqual({ action: 'wait', reason: 'no active Kafka controller' });
  });

  test('a partition with RF 2 and min ISR 2 cannot stay writable through any restart: it does not stop the roll, the reason names it', () => {
    // (With every partition fully in sync, which the roll waits for, only such partitions could
    // fall below min ISR; Strimzi's roller ignores them too.)
    const s = healthy(2);
    s.partitions.push(part('orders', 3, [0, 1], [0, 1], 2));
    const d = planKafkaRoll(pods(K, 3, [0, 1, 2]), 3, s);
    expect(d).toEqual({
      action: 'restart',
      pod: `${K}-0`,
      reason:
        `broker 0 (${K}-0) runs an old revision; every partition is fully in sync (controller: broker 2); ` +
        `1 partition has no more replicas than min.insync.replicas (orders-3) and cannot take acks=all writes while it restarts`,
    });
  });

  test('min ISR 1 lets a broker of an RF 2 topic go', () => {
    const s = healthy(2);
    s.partitions.push(part('scratch', 0, [0, 1], [0, 1], 1));
    expect(planKafkaRoll(pods(K, 3, [0]), 3, s)).toMatchObject({ action: 'restart', pod: `${K}-0` });
  });

  test('a pod missing: wait before anything else', () => {
    const p = pods(K, 3, [2]).filter((x) => x.ordinal !== 1);
    expect(planKafkaRoll(p, 3, healthy(0))).toEqual({ action: 'wait', pod: `${K}-1`, reason: `2 of 3 pods exist; waiting for ${K}-1 to be created` });
  });

  test('a pod terminating or not ready: wait', () => {
    expect(planKafkaRoll(pods(K, 3, [0, 1], { 2: { terminating: true, ready: false } }), 3, healthy(0))).toEqual({
      action: 'wait',
      pod: `${K}-2`,
      reason: `${K}-2 is terminating`,
    });
    expect(planKafkaRoll(pods(K, 3, [0], { 1: { ready: false } }), 3, healthy(0))).toEqual({ action: 'wait', pod: `${K}-1`, reason: `${K}-1 is not ready` });
  });

  test('one broker: restarted anyway (no restart can keep an RF 1 partition writable; waiting would never end); the reason says so', () => {
    const s: KafkaClusterState = { controller: 0, brokers: [0], partitions: [part('cache-message', 0, [0], [0], 1)] };
    expect(planKafkaRoll(pods(K, 1, [0]), 1, s)).toEqual({
      action: 'restart',
      pod: `${K}-0`,
      reason:
        `controller broker 0 (${K}-0) goes last: every other broker runs the new revision and every partition is fully in sync; ` +
        `1 partition has no more replicas than min.insync.replicas (cache-message-0) and cannot take acks=all writes while it restarts`,
    });
  });

  test('RF 2 with min ISR 2 does not stop a roll; RF 3 with min ISR 3 neither', () => {
    const s: KafkaClusterState = { controller: 2, brokers: [0, 1, 2], partitions: [part('t', 0, [0, 1], [0, 1], 2), part('u', 0, [0, 1, 2], [0, 1, 2], 3)] };
    expect(planKafkaRoll(pods(K, 3, [0]), 3, s)).toMatchObject({ action: 'restart', pod: `${K}-0` });
  });
});
