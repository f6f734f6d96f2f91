// The roll step: which component rolls, when it waits without asking the servers, and what the
// reconcile makes of it (status.roll, Events, requeue). The planners' own decisions are tested
// in test/unit/roll.
import { resolve } from '../../../src/api/defaults.js';
import { driveRolls, revisionView, rollPods } from '../../../src/controller/steps/roll.js';
import type { RollComponent, RollProgress } from '../../../src/roll/types.js';
import type { PodInfo } from '../../../src/runtime/kube.js';
import { FAKE_REVISION, FakeKube } from '../runtime/fake-kube.js';
import { EventRecorder } from '../../../src/runtime/events.js';
import { Reconciler } from '../../../src/controller/reconcile.js';
import { FakeProducers, FakeRedis, FakeRolls, FakeTopics, NAME, NS, WORKLOADS, makeTier, name, producerPods, redisPods, testRender } from './helpers.js';

const NEW = 'rev-2';

function pods(component: RollComponent, count: number, revision: (i: number) => string, extra: Partial<PodInfo> = {}): PodInfo[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${NAME}-${component}-${i}`,
    namespace: NS,
    labels: { 'app.kubernetes.io/name': component, 'app.kubernetes.io/instance': NAME, 'controller-revision-hash': revision(i) },
    phase: 'Running',
    podIP: `10.1.0.${i}`,
    ready: true,
    deleting: false,
    ...extra,
  }));
}

function setup() {
  const kube = new FakeKube();
  const rolls = new FakeRolls();
  const r = new Reconciler({
    kube,
    redis: new FakeRedis(),
    topics: new FakeTopics(),
    producers: new FakeProducers(),
    rolls,
    recorder: new EventRecorder(kube),
    render: testRender,
  });
  kube.addTier(makeTier());
  return { kube, rolls, r };
}

/** Everything ready at FAKE_REVISION, then the given StatefulSets move to revision NEW. */
async function readyThenChanged(t: ReturnType<typeof setup>, changed: RollComponent[]) {
  await t.r.reconcile(NS, NAME);
  for (const [kind, c] of WORKLOADS) t.kube.markReady(kind, name(c));
  t.kube.pods = [...pods('zookeeper', 3, () => FAKE_REVISION), ...pods('kafka', 3, () => FAKE_REVISION), ...redisPods(6), ...producerPods(2)];
  for (const c of changed) {
    const sts = t.kube.find('StatefulSet', name(c))!;
    (sts.status as Record<string, unknown>).updateRevision = NEW;
  }
}

describe('revisions', () => {
  test('a pod is current when its controller-revision-hash is the updateRevision; ordinal order', () => {
    const view = rollPods([...pods('kafka', 3, (i) => (i === 1 ? NEW : 'old'))].reverse(), NEW);
    expect(view.map((p) => [p.pod, p.ordinal, p.current, p.ready, p.host])).toEqual([
      ['shop-kafka-0', 0, false, true, '10.1.0.0'],
      ['shop-kafka-1', 1, true, true, '10.1.0.1'],
      ['shop-kafka-2', 2, false, true, '10.1.0.2'],
    ]);
  });

  test('a StatefulSet whose controller has not seen the latest generation has no usable revision yet', () => {
    const sts = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'x', generation: 3 }, spec: { replicas: 3 }, status: { observedGeneration: 2, updateRevision: 'x-1' } };
    expect(revisionView(sts)).toEqual({ updateRevision: 'x-1', observed: false, replicas: 3 });
  });
});

describe('driveRolls', () => {
  const tier = resolve(makeTier());
  const sts = (component: RollComponent, revision = NEW, generation = 1) => ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: `${NAME}-${component}`, namespace: NS, generation },
    spec: { replicas: component === 'redis' ? 6 : 3 },
    status: { observedGeneration: 1, updateRevision: revision },
  });
  const all = { zookeeper: sts('zookeeper'), kafka: sts('kafka'), redis: sts('redis') };

  test('nothing stale: no component is rolled and no server is asked', async () => {
    const kube = new FakeKube();
    kube.pods = [...pods('zookeeper', 3, () => NEW), ...pods('kafka', 3, () => NEW), ...pods('redis', 6, () => NEW)];
    const rolls = new FakeRolls();
    const out = await driveRolls(kube, tier, { statefulSets: all }, rolls.observers.forTier({}), rolls.step);
    expect(out).toEqual({ events: [], errors: [] });
    expect(rolls.calls).toEqual([]);
  });

  test('one component at a time, in order: Kafka and Redis wait while ZooKeeper has a stale pod', async () => {
    const kube = new FakeKube();
    kube.pods = [...pods('zookeeper', 3, (i) => (i === 2 ? 'old' : NEW)), ...pods('kafka', 3, () => 'old'), ...pods('redis', 6, () => 'old')];
    const rolls = new FakeRolls();
    rolls.answer = (component, p, target) => {
      void target.restart(component, 'shop-zookeeper-2');
      return { component, updated: p.filter((x) => x.current).length, total: 3, phase: 'Rolling', pod: 'shop-zookeeper-2', reason: 'the leader, last' };
    };
    const out = await driveRolls(kube, tier, { statefulSets: all }, rolls.observers.forTier({}), rolls.step);
    expect(rolls.calls.map((c) => [c.component, c.expected, c.pods.filter((p) => !p.current).map((p) => p.pod)])).toEqual([['zookeeper', 3, ['shop-zookeeper-2']]]);
    expect(out.progress).toMatchObject({ component: 'zookeeper', updated: 2, total: 3, phase: 'Rolling' });
    expect(kube.writes).toEqual([{ verb: 'delete', kind: 'Pod', name: 'shop-zookeeper-2' }]);
    expect(out.events).toEqual([{ type: 'Normal', reason: 'RollRestart', message: 'zookeeper: shop-zookeeper-2: the leader, last' }]);
  });

  test('a stale pod that cannot come up by itself is replaced first, without asking the servers', async () => {
    const kube = new FakeKube();
    kube.pods = pods('kafka', 3, () => 'old');
    kube.pods[1] = { ...kube.pods[1], ready: false, stuck: 'CrashLoopBackOff' };
    const rolls = new FakeRolls();
    const out = await driveRolls(kube, tier, { statefulSets: all }, rolls.observers.forTier({}), rolls.step);
    expect(rolls.calls).toEqual([]);
    expect(kube.writes).toEqual([{ verb: 'delete', kind: 'Pod', name: 'shop-kafka-1' }]);
    expect(out.progress).toMatchObject({ component: 'kafka', phase: 'Rolling', pod: 'shop-kafka-1' });
    expect(out.progress?.reason).toContain('CrashLoopBackOff');
  });

  test('Redis waits while its orchestration is busy (a reshard), without asking the servers', async () => {
    const kube = new FakeKube();
    kube.pods = pods('redis', 6, () => 'old');
    const rolls = new FakeRolls();
    const out = await driveRolls(kube, tier, { statefulSets: all, redisBusy: 'slots moving' }, rolls.observers.forTier({}), rolls.step);
    expect(rolls.calls).toEqual([]);
    expect(kube.writes).toEqual([]);
    expect(out.progress).toMatchObject({ component: 'redis', phase: 'Waiting', updated: 0, total: 6 });
    expect(out.progress?.reason).toContain('slots moving');
  });

  test('a StatefulSet the controller has not observed yet holds every later component', async () => {
    const kube = new FakeKube();
    kube.pods = [...pods('zookeeper', 3, () => NEW), ...pods('kafka', 3, () => 'old')];
    const rolls = new FakeRolls();
    const out = await driveRolls(kube, tier, { statefulSets: { ...all, zookeeper: sts('zookeeper', NEW, 2) } }, rolls.observers.forTier({}), rolls.step);
    expect(rolls.calls).toEqual([]);
    expect(out).toEqual({ events: [], errors: [] }); // not reported as a roll: a replicas change looks the same
  });

  test('pods the pass already listed (the observe step\'s Redis pods) are used, not listed again', async () => {
    const kube = new FakeKube(); // lists nothing: only the handed-in pods can be seen
    const rolls = new FakeRolls();
    await driveRolls(kube, tier, { statefulSets: { redis: sts('redis') }, listed: { redis: pods('redis', 6, () => 'old') } }, rolls.observers.forTier({}), rolls.step);
    expect(rolls.calls.map((c) => [c.component, c.pods.length])).toEqual([['redis', 6]]);
  });

  test('a planner that throws fails the pass (retried), nothing deleted', async () => {
    const kube = new FakeKube();
    kube.pods = pods('kafka', 3, () => 'old');
    const rolls = new FakeRolls();
    rolls.answer = () => {
      throw new Error('boom');
    };
    const out = await driveRolls(kube, tier, { statefulSets: all }, rolls.observers.forTier({}), rolls.step);
    expect(out.errors).toEqual(['roll kafka: boom']);
    expect(kube.writes).toEqual([]);
  });
});

describe('reconcile with a roll', () => {
  test('status.roll and the printer text while rolling, one RollWaiting event per reason, removed when done, requeued meanwhile', async () => {
    const t = setup();
    await readyThenChanged(t, ['kafka']);
    let answer: RollProgress = { component: 'kafka', updated: 0, total: 3, phase: 'Waiting', pod: 'shop-kafka-0', reason: 'partition cache-message-1 is under-replicated' };
    t.rolls.answer = () => answer;

    const first = await t.r.reconcile(NS, NAME);
    expect(t.kube.tier(NS, NAME).status?.roll).toEqual({ ...answer, progress: 'kafka 0/3 pods updated' });
    expect(first.requeueAfterMs).toBeDefined();
    await t.r.reconcile(NS, NAME); // same reason: no second event
    expect(t.kube.events.filter((e) => e.reason === 'RollWaiting').map((e) => e.message)).toEqual(['kafka: partition cache-message-1 is under-replicated']);

    answer = { component: 'kafka', updated: 1, total: 3, phase: 'Rolling', pod: 'shop-kafka-1', reason: 'not the controller' };
    await t.r.reconcile(NS, NAME);
    expect(t.kube.tier(NS, NAME).status?.roll).toMatchObject({ phase: 'Rolling', pod: 'shop-kafka-1', progress: 'kafka 1/3 pods updated' });
    expect(t.kube.events.filter((e) => e.reason === 'RollRestart').map((e) => e.message)).toEqual(['kafka: shop-kafka-1: not the controller']);

    // Every pod on the new revision: no roll, status.roll removed, RollDone once, then idle.
    t.kube.pods = t.kube.pods.map((p) => (p.labels['app.kubernetes.io/name'] === 'kafka' ? { ...p, labels: { ...p.labels, 'controller-revision-hash': NEW } } : p));
    const calls = t.rolls.calls.length;
    await t.r.reconcile(NS, NAME);
    expect(t.rolls.calls.length).toBe(calls);
    expect(t.kube.tier(NS, NAME).status?.roll).toBeUndefined();
    expect(t.kube.events.filter((e) => e.reason === 'RollDone')).toHaveLength(1);
    const writes = t.kube.writes.length;
    const idle = await t.r.reconcile(NS, NAME);
    expect(t.kube.writes.length).toBe(writes);
    expect(idle.requeueAfterMs).toBeUndefined();
  });
});
