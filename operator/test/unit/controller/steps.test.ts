// The reconcile pipeline's steps, each on its own (reconcile.test.ts drives them together).
import type { Condition } from '../../../src/api/types.js';
import { resolve } from '../../../src/api/defaults.js';
import { changesFlowingCondition, orchestrationConditions, REDIS_CONDITIONS } from '../../../src/controller/conditions.js';
import { orchestrateRedis } from '../../../src/controller/steps/redis.js';
import { reconcileTopics } from '../../../src/controller/steps/topics.js';
import { redisMembersFromPods, type RedisObservation } from '../../../src/controller/steps/observe.js';
import { redisStatus } from '../../../src/controller/status.js';
import { silentLogger } from '../../../src/log.js';
import { FakeRedis, FakeTopics, makeTier, redisPods } from './helpers.js';

const problem = { type: 'SlotsCovered', status: 'Unknown' as const, reason: 'PodsNotRunning', message: '0/6 Redis pods running' };
const cond = (type: string, status: Condition['status'] = 'True'): Condition => ({
  type,
  status,
  reason: 'R',
  message: 'm',
  lastTransitionTime: '2026-01-01T00:00:00Z',
});

describe('orchestrationConditions', () => {
  test('passes through condition types the reconciler does not know, after the four it insists on', () => {
    const reported = [
      { type: 'KeysLost', status: 'False' as const, reason: 'NoLoss', message: 'no key lost' },
      { type: 'SlotsCovered', status: 'True' as const, reason: 'OK', message: 'ok' },
    ];
    const out = orchestrationConditions({ conditions: reported }, undefined, undefined);
    expect(out.map((c) => c.type)).toEqual([...REDIS_CONDITIONS, 'KeysLost']);
    expect(out[0]).toEqual(reported[1]);
    expect(out.find((c) => c.type === 'SlotsBalanced')).toMatchObject({ status: 'Unknown', reason: 'NotReported' });
    expect(out.find((c) => c.type === 'KeysLost')).toEqual(reported[0]);
  });

  test('when the orchestrator could not run, its problem stands in for every orchestration condition it reported before', () => {
    const previous = [cond('Ready'), cond('RedisReady'), cond('TopicsReady'), cond('SlotsCovered'), cond('StaleMembers', 'False')];
    const out = orchestrationConditions(undefined, problem, previous);
    expect(out.map((c) => c.type)).toEqual([...REDIS_CONDITIONS, 'StaleMembers']);
    for (const c of out) expect(c).toMatchObject({ status: 'Unknown', reason: 'PodsNotRunning' });
  });
});

describe('orchestrateRedis', () => {
  const tier = resolve(makeTier());
  const observed = (over: Partial<RedisObservation> = {}): RedisObservation => ({
    currentReplicas: 0,
    pods: [],
    members: [],
    podsListed: true,
    rolling: false,
    errors: [],
    ...over,
  });

  test('no pod running: the orchestrator is not called and the StatefulSet follows the spec upward', async () => {
    const redis = new FakeRedis();
    const out = await orchestrateRedis(redis, tier, observed({ currentReplicas: 2 }), silentLogger);
    expect(redis.calls).toHaveLength(0);
    expect(out).toMatchObject({ replicas: 6, problem: { reason: 'PodsNotRunning', message: '0/6 Redis pods running' } });
  });

  test('pods running: one call, and the orchestrator decides the replicas', async () => {
    const redis = new FakeRedis();
    redis.result = () => ({ statefulSetReplicas: 4 });
    const members = redisMembersFromPods(redisPods(4));
    const out = await orchestrateRedis(redis, tier, observed({ currentReplicas: 4, members }), silentLogger);
    expect(redis.calls).toEqual([{ desired: { masters: 3, replicasPerMaster: 1, password: undefined }, members, current: 4 }]);
    expect(out.replicas).toBe(4);
    expect(out.problem).toBeUndefined();
  });

  test('while Redis pods roll, master placement is held (the roll hands masters over on purpose)', async () => {
    const redis = new FakeRedis();
    const members = redisMembersFromPods(redisPods(6));
    await orchestrateRedis(redis, tier, observed({ currentReplicas: 6, members, rolling: true }), silentLogger);
    expect(redis.calls[0].desired.holdMasterPlacement).toBe(true);
  });

  test('an unreadable StatefulSet is a problem, not a guess', async () => {
    const redis = new FakeRedis();
    const out = await orchestrateRedis(redis, tier, observed({ statefulSetError: 'HTTP 500: boom' }), silentLogger);
    expect(redis.calls).toHaveLength(0);
    expect(out.problem).toMatchObject({ reason: 'ReadFailed' });
  });
});

describe('reconcileTopics', () => {
  const tier = resolve(makeTier());
  test('waits for Kafka without calling the topic manager', async () => {
    const topics = new FakeTopics();
    const out = await reconcileTopics(topics, tier, false, 3);
    expect(topics.calls).toHaveLength(0);
    expect(out.condition).toMatchObject({ type: 'TopicsReady', status: 'Unknown', reason: 'WaitingForKafka' });
  });

  test('Kafka ready: the three topics, against the live brokers', async () => {
    const topics = new FakeTopics();
    const out = await reconcileTopics(topics, tier, true, 2);
    expect(topics.calls[0].brokers).toHaveLength(2);
    expect(topics.calls[0].topics.map((t) => t.name)).toEqual([
      tier.spec.kafka.topics.cacheMessage.name,
      tier.spec.kafka.topics.accessLog.name,
      tier.spec.kafka.topics.deadLetter.name,
    ]);
    expect(out.condition).toMatchObject({ type: 'TopicsReady', status: 'True' });
  });
});

describe('redisStatus', () => {
  test('no pod running: the pods as they are, role unknown; a read error keeps the last view', () => {
    const pods = redisPods(2);
    const down = redisStatus({ readyMasters: 3 }, undefined, problem, pods);
    expect(down.readyMasters).toBe(0);
    expect(down.members?.map((m) => m.role)).toEqual(['unknown', 'unknown']);
    const prev = { readyMasters: 3, members: [{ pod: 'x', role: 'master' as const }] };
    expect(redisStatus(prev, undefined, { ...problem, reason: 'ReadFailed' }, pods)).toEqual(prev);
  });
});

describe('changesFlowingCondition', () => {
  test('no pod: Unknown; every pod unreachable: Unknown with why; all consuming: True', () => {
    expect(changesFlowingCondition([])).toMatchObject({ status: 'Unknown', reason: 'NoProducerPod' });
    expect(changesFlowingCondition([{ pod: 'p0', error: 'ECONNREFUSED' }])).toMatchObject({ status: 'Unknown', reason: 'ProbeFailed', message: 'p0: ECONNREFUSED' });
    expect(changesFlowingCondition([{ pod: 'p0', changes: true, accessLog: true }])).toMatchObject({ status: 'True', reason: 'Consuming' });
  });
  test('either consumer down on any pod: False, the change feed named first', () => {
    const c = changesFlowingCondition([
      { pod: 'p0', changes: false, accessLog: false },
      { pod: 'p1', changes: true, accessLog: false },
    ]);
    expect(c).toMatchObject({ status: 'False', reason: 'ChangeConsumerDown' });
    expect(c.message).toBe(
      'cache-message not consumed by 1/2 producer pods (p0): updates do not reach Redis; access-log not consumed by 2/2 producer pods (p0, p1): hot products are not tracked (is Kafka reachable?)',
    );
  });
});
