import { DEFAULT_SPEC } from '../../../src/api/defaults.js';
import type { TopicSpec } from '../../../src/api/types.js';
import {
  planConfig,
  planReplicas,
  planTopics,
  summarize,
  validateTopic,
  type ObservedTopic,
  type TopicOutcome,
} from '../../../src/kafka/plan.js';

const specTopics = (): TopicSpec[] => Object.values(DEFAULT_SPEC.kafka.topics).map((t) => ({ ...t, config: { ...t.config } }));

function observed(name: string, partitions: number, rf = 3, overrides: Record<string, string> = {}): ObservedTopic {
  return {
    name,
    partitions,
    replicationFactor: rf,
    overrides,
    effective: { 'retention.ms': '604800000', 'min.insync.replicas': '2', 'cleanup.policy': 'delete', ...overrides },
    leaderless: [],
    underMinIsr: [],
  };
}

describe('planTopics', () => {
  test('creates every missing topic with its partitions, RF and config', () => {
    const plans = planTopics(specTopics(), new Map(), [0, 1, 2]);
    expect(plans.map((p) => p.actions)).toEqual([
      [{ kind: 'create', topic: 'cache-message', partitions: 6, replicationFactor: 3, config: {} }],
      [{ kind: 'create', topic: 'access-log', partitions: 6, replicationFactor: 3, config: { 'retention.ms': '3600000' } }],
      [{ kind: 'create', topic: 'cache-message-dlq', partitions: 1, replicationFactor: 3, config: {} }],
    ]);
    expect(plans.every((p) => p.problems.length === 0)).toBe(true);
  });

  test('does nothing when Kafka already matches the spec (idempotent)', () => {
    const obs = new Map([
      ['cache-message', observed('cache-message', 6)],
      ['access-log', observed('access-log', 6, 3, { 'retention.ms': '3600000' })],
      ['cache-message-dlq', observed('cache-message-dlq', 1)],
    ]);
    const plans = planTopics(specTopics(), obs, [0, 1, 2]);
    expect(plans.flatMap((p) => [...p.actions, ...p.problems])).toEqual([]);
  });

  test('grows partitions', () => {
    const t = specTopics()[0];
    t.partitions = 12;
    const [plan] = planTopics([t], new Map([[t.name, observed(t.name, 6)]]), [0, 1, 2]);
    expect(plan.actions).toEqual([{ kind: 'grow', topic: 'cache-message', from: 6, to: 12 }]);
    expect(plan.problems).toEqual([]);
  });

  test('refuses a shrink, names topic, counts and the fix, and still fixes config', () => {
    const t = specTopics()[0];
    t.partitions = 3;
    t.config = { 'retention.ms': '1000' };
    const [plan] = planTopics([t], new Map([[t.name, observed(t.name, 8)]]), [0, 1, 2]);
    expect(plan.actions.map((a) => a.kind)).toEqual(['alterConfig']);
    expect(plan.problems).toHaveLength(1);
    expect(plan.problems[0].reason).toBe('PartitionShrinkRefused');
    expect(plan.problems[0].message).toMatch(/cache-message has 8 partitions; the spec asks for 3/);
    expect(plan.problems[0].message).toMatch(/Fix: set partitions for cache-message in spec.kafka.topics to 8 or more/);
  });

  test('a replication-factor difference without a known assignment is reported, not acted on', () => {
    const t = specTopics()[0];
    const [plan] = planTopics([t], new Map([[t.name, observed(t.name, 6, 1)]]), [0, 1, 2]);
    expect(plan.actions).toEqual([]);
    expect(plan.problems.map((p) => p.reason)).toEqual(['ReplicationFactorMismatch']);
    expect(plan.problems[0].message).toMatch(/replication factor 1; the spec asks for 3. Not changed/);
  });

  test('a replication factor below spec is raised by reassigning replicas', () => {
    const t = specTopics()[2];
    const cur = { ...observed(t.name, 1, 1), assignment: [[1]], reassigning: [] };
    const [plan] = planTopics([t], new Map([[t.name, cur]]), [0, 1, 2]);
    expect(plan.problems).toEqual([]);
    expect(plan.actions).toEqual([
      { kind: 'reassign', topic: 'cache-message-dlq', from: 1, to: 3, partitions: [{ partition: 0, replicas: [1, 0, 2] }] },
    ]);
  });

  test('a replication-factor change is refused when brokers are missing or it would go below min ISR', () => {
    const t = { ...specTopics()[0], partitions: 1, replicationFactor: 4 };
    const cur = { ...observed(t.name, 1, 3), assignment: [[0, 1, 2]], reassigning: [] };
    let [plan] = planTopics([t], new Map([[t.name, cur]]), [0, 1, 2]);
    expect(plan.actions).toEqual([]);
    expect(plan.problems[0]).toMatchObject({ reason: 'ReplicationFactorMismatch' });
    expect(plan.problems[0].message).toMatch(/4 replicas need 4 brokers and 3 are registered/);
    [plan] = planTopics([{ ...t, replicationFactor: 1 }], new Map([[t.name, cur]]), [0, 1, 2]);
    expect(plan.actions).toEqual([]);
    expect(plan.problems[0].message).toMatch(/min.insync.replicas \(2\) would make every acks=all write fail/);
  });

  test('an ongoing reassignment is reported and not restarted', () => {
    const t = specTopics()[2];
    const cur = { ...observed(t.name, 1, 3), assignment: [[1, 0, 2]], reassigning: [0] };
    const [plan] = planTopics([t], new Map([[t.name, cur]]), [0, 1, 2]);
    expect(plan.actions).toEqual([]);
    expect(plan.problems.map((p) => p.reason)).toEqual(['ReplicationFactorChanging']);
  });
});

describe('planReplicas', () => {
  test('keeps existing replicas in order and spreads new ones over the least-loaded brokers', () => {
    const plan = planReplicas([[0], [1], [2], [0]], 3, [0, 1, 2, 3]);
    expect(plan).toHaveLength(4);
    for (const p of plan) {
      expect(new Set(p.replicas).size).toBe(3);
    }
    expect(plan.map((p) => p.replicas[0])).toEqual([0, 1, 2, 0]);
    const load = new Map<number, number>();
    for (const p of plan) for (const b of p.replicas) load.set(b, (load.get(b) ?? 0) + 1);
    expect(Math.max(...load.values()) - Math.min(...load.values())).toBeLessThanOrEqual(1);
  });

  test('shrinks by dropping trailing replicas, never the preferred leader; unchanged partitions are left out', () => {
    expect(planReplicas([[2, 0, 1], [0, 1]], 2, [0, 1, 2])).toEqual([{ partition: 0, replicas: [2, 0] }]);
  });

  test('does not create a topic needing more replicas than there are brokers', () => {
    const [plan] = planTopics([specTopics()[0]], new Map(), [0, 1]);
    expect(plan.actions).toEqual([]);
    expect(plan.problems[0].reason).toBe('InsufficientBrokers');
    expect(plan.problems[0].message).toMatch(/needs 3 brokers, 2 registered/);
  });

  test('rejects invalid and duplicate topics', () => {
    const good = specTopics()[0];
    const bad: TopicSpec = { name: 'bad topic!', partitions: 0, replicationFactor: 1.5, config: {} };
    const plans = planTopics([good, bad, { ...good }], new Map(), [0, 1, 2]);
    expect(plans[1].problems[0].reason).toBe('InvalidTopicSpec');
    expect(plans[1].problems[0].message).toMatch(/not a legal Kafka topic name.*partitions must be.*replicationFactor must be/);
    expect(plans[2].problems[0].message).toMatch(/listed twice/);
    expect(plans[1].actions).toEqual([]);
    expect(plans[2].actions).toEqual([]);
    expect(validateTopic(good)).toEqual([]);
  });
});

describe('planConfig', () => {
  test('sets differing keys, removes unmanaged overrides, keeps replication throttles', () => {
    const a = planConfig(
      't',
      { 'retention.ms': '3600000', 'cleanup.policy': 'delete' },
      {
        overrides: { 'retention.ms': '100', 'segment.ms': '5000', 'leader.replication.throttled.replicas': '0:1' },
        effective: { 'retention.ms': '100', 'cleanup.policy': 'delete', 'segment.ms': '5000' },
      },
    );
    expect(a).toEqual({
      kind: 'alterConfig',
      topic: 't',
      entries: { 'retention.ms': '3600000', 'cleanup.policy': 'delete', 'leader.replication.throttled.replicas': '0:1' },
      changed: ['retention.ms: 100 -> 3600000'],
      removed: ['segment.ms'],
    });
  });

  test('a spec value equal to the broker default is not drift', () => {
    expect(planConfig('t', { 'cleanup.policy': 'delete' }, { overrides: {}, effective: { 'cleanup.policy': 'delete' } })).toBeNull();
  });
});

describe('summarize', () => {
  const outcome = (o: Partial<TopicOutcome> & { plan: TopicOutcome['plan'] }): TopicOutcome => ({ done: [], errors: [], ...o });

  test('all ready -> TopicsReady True with counts; actions become Normal events', () => {
    const r = summarize([
      outcome({
        plan: { topic: 'a', actions: [], problems: [] },
        done: [{ kind: 'create', topic: 'a', partitions: 6, replicationFactor: 3, config: {} }],
        after: observed('a', 6),
      }),
    ]);
    expect(r.condition).toMatchObject({ type: 'TopicsReady', status: 'True', reason: 'TopicsReady' });
    expect(r.condition.message).toMatch(/a \(6 partitions, RF 3\)/);
    expect(r.topics).toEqual([{ name: 'a', partitions: 6, replicationFactor: 3, ready: true, message: 'ready' }]);
    expect(r.events).toEqual([{ type: 'Normal', reason: 'TopicCreated', message: 'created topic a: 6 partitions, replication factor 3' }]);
  });

  test('a refused shrink makes the condition False with that reason; the topic itself stays usable', () => {
    const problem = { topic: 'a', reason: 'PartitionShrinkRefused' as const, message: 'topic a has 8 partitions; the spec asks for 3' };
    const r = summarize([
      outcome({ plan: { topic: 'a', actions: [], problems: [problem] }, after: observed('a', 8) }),
      outcome({ plan: { topic: 'b', actions: [], problems: [] }, after: observed('b', 1) }),
    ]);
    expect(r.condition).toMatchObject({ status: 'False', reason: 'PartitionShrinkRefused' });
    expect(r.condition.message).toContain('8 partitions');
    expect(r.topics[0]).toMatchObject({ name: 'a', partitions: 8, ready: true });
    expect(r.topics[0].message).toContain('spec asks for 3');
    expect(r.events).toEqual([{ type: 'Warning', reason: 'PartitionShrinkRefused', message: problem.message }]);
  });

  test('failures outrank refusals; under-replicated partitions are not ready', () => {
    const r = summarize([
      outcome({
        plan: { topic: 'a', actions: [], problems: [{ topic: 'a', reason: 'ReplicationFactorMismatch', message: 'rf' }] },
        after: observed('a', 6, 1),
      }),
      outcome({ plan: { topic: 'b', actions: [], problems: [] }, errors: ['create failed: boom'] }),
      outcome({ plan: { topic: 'c', actions: [], problems: [] }, after: { ...observed('c', 2), underMinIsr: [1] } }),
    ]);
    expect(r.condition).toMatchObject({ status: 'False', reason: 'TopicReconcileFailed' });
    expect(r.condition.message).toMatch(/rf.*topic b: create failed: boom.*topic c: partitions with fewer in-sync replicas/);
    expect(r.topics.map((t) => t.ready)).toEqual([true, false, false]);
    expect(r.topics[1]).toMatchObject({ partitions: 0, replicationFactor: 0, message: 'create failed: boom' });
  });
});
