import { Reconciler } from '../../../src/controller/reconcile.js';
import { EventRecorder } from '../../../src/runtime/events.js';
import type { KObject } from '../../../src/runtime/kube.js';
import type { Condition } from '../../../src/api/types.js';
import { renderAll } from '../../../src/render/index.js';
import { resolve } from '../../../src/api/defaults.js';
import { FakeKube } from '../runtime/fake-kube.js';
import { FakeProducers, FakeRedis, FakeRolls, FakeTopics, producerPods, NAME, NS, WORKLOADS, makeTier, name, redisPods, testRender } from './helpers.js';

/** What the API server does to our objects: canonical quantities, omitted empty values, defaults. */
function apiServerDefaults(o: KObject): void {
  const spec = o.spec as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  const pod = spec?.template?.spec;
  if (pod) {
    pod.restartPolicy ??= 'Always';
    pod.dnsPolicy ??= 'ClusterFirst';
    for (const c of pod.containers ?? []) {
      c.terminationMessagePath ??= '/dev/termination-log';
      if (c.resources?.requests?.cpu === '0.5') c.resources.requests.cpu = '500m';
      for (const e of c.env ?? []) if (e.value === '') delete e.value;
    }
  }
  if (o.kind === 'Deployment') spec!.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
  if (o.kind === 'Service') {
    spec!.type ??= 'ClusterIP';
    for (const p of spec!.ports ?? []) p.protocol ??= 'TCP';
  }
}

function setup(spec: Record<string, unknown> = {}) {
  const kube = new FakeKube();
  kube.defaulter = apiServerDefaults;
  const redis = new FakeRedis();
  const topics = new FakeTopics();
  const producers = new FakeProducers();
  const rolls = new FakeRolls();
  let nowMs = Date.parse('2026-01-01T00:00:00Z');
  const now = () => new Date(nowMs);
  const recorder = new EventRecorder(kube, { now });
  const r = new Reconciler({ kube, redis, topics, producers, rolls, recorder, render: testRender, now });
  kube.addTier(makeTier(spec));
  return {
    kube,
    redis,
    topics,
    producers,
    rolls,
    r,
    tick: (ms: number) => {
      nowMs += ms;
    },
    run: () => r.reconcile(NS, NAME),
    cond: (type: string): Condition | undefined => kube.tier(NS, NAME).status?.conditions?.find((c) => c.type === type),
  };
}

/** Everything ready: workloads rolled out, Redis pods running. */
function allReady(t: ReturnType<typeof setup>) {
  for (const [kind, c] of WORKLOADS) t.kube.markReady(kind, name(c));
  t.kube.pods = [...redisPods(6), ...producerPods(2)];
}

describe('reconcile: children', () => {
  test('creates every missing child, then an idle reconcile makes zero writes', async () => {
    const t = setup();
    const first = await t.run();
    const creates = t.kube.writes.filter((w) => w.verb === 'create').map((w) => `${w.kind}/${w.name}`);
    const rendered = testRender(resolve(makeTier()), {}).map((o) => `${o.kind}/${o.metadata.name}`);
    // Children are created concurrently: the requests may go out in any order, but each child
    // is created exactly once, and the results and events come back in render order.
    expect([...creates].sort()).toEqual([...rendered].sort());
    expect(first.applied).toEqual(rendered);
    expect(t.kube.writes.filter((w) => w.verb === 'patch-status')).toHaveLength(1);
    expect(t.kube.events.filter((e) => e.reason === 'Created').map((e) => e.message)).toEqual(
      rendered.map((id) => `created ${id.replace('/', ' ')}`),
    );
    expect(t.kube.events[0].involvedObject).toMatchObject({ kind: 'CacheTier', name: NAME, namespace: NS, uid: 'tier-uid-1' });

    t.kube.writes = [];
    t.tick(5000);
    const second = await t.run();
    expect(t.kube.writes).toEqual([]);
    expect(second.applied).toEqual([]);
    expect(second.statusWritten).toBe(false);
  });

  test('a changed spec re-applies only the children that changed', async () => {
    const t = setup();
    await t.run();
    t.kube.writes = [];
    t.kube.editSpec(NS, NAME, { producer: { replicas: 5 }, redis: { config: { 'slowlog-max-len': '256' } } });
    const out = await t.run();
    expect(out.applied.sort()).toEqual(['ConfigMap/shop-redis', 'Deployment/shop-producer', 'StatefulSet/shop-redis']);
    expect(t.kube.writes.filter((w) => w.verb === 'apply').map((w) => w.name).sort()).toEqual(['shop-producer', 'shop-redis', 'shop-redis']);
    expect((t.kube.find('Deployment', 'shop-producer')!.spec as { replicas: number }).replicas).toBe(5);
    expect(t.kube.tier(NS, NAME).status?.observedGeneration).toBe(2);
    const updated = t.kube.events.filter((e) => e.reason === 'Updated').map((e) => e.message);
    expect(updated.some((m) => /Deployment shop-producer \(spec\.replicas differed\)/.test(m))).toBe(true);
  });

  test('a deleted child is re-created', async () => {
    const t = setup();
    await t.run();
    t.kube.remove('Deployment', 'shop-producer');
    t.kube.writes = [];
    await t.run();
    expect(t.kube.writes.filter((w) => w.verb === 'create' || w.verb === 'apply').map((w) => `${w.verb} ${w.kind}/${w.name}`)).toEqual([
      'create Deployment/shop-producer',
    ]);
    expect(t.kube.find('Deployment', 'shop-producer')).toBeDefined();
  });

  test('kubectl rollout restart (restartedAt annotation), extra labels and server defaults are not drift', async () => {
    const t = setup();
    await t.run();
    const sts = t.kube.find('StatefulSet', 'shop-kafka')!;
    const tpl = (sts.spec as { template: { metadata: { annotations: Record<string, string>; labels: Record<string, string> } } }).template;
    tpl.metadata.annotations['kubectl.kubernetes.io/restartedAt'] = '2026-01-01T00:00:00Z';
    sts.metadata.labels = { ...sts.metadata.labels, 'team': 'checkout' };
    t.kube.writes = [];
    await t.run();
    expect(t.kube.writes.filter((w) => w.verb === 'apply' || w.verb === 'create')).toEqual([]);
    // ...and when Kafka is re-applied for a real change, the annotation survives.
    t.kube.editSpec(NS, NAME, { kafka: { config: { 'log.retention.hours': '48' } } });
    await t.run();
    const after = t.kube.find('StatefulSet', 'shop-kafka')!;
    expect((after.spec as typeof sts.spec & { template: typeof tpl }).template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toBe(
      '2026-01-01T00:00:00Z',
    );
  });

  test('a field someone else changed is drift and is put back', async () => {
    const t = setup();
    await t.run();
    const d = t.kube.find('Deployment', 'shop-producer')!;
    (d.spec as { replicas: number }).replicas = 9;
    t.kube.writes = [];
    const out = await t.run();
    expect(out.applied).toEqual(['Deployment/shop-producer']);
    expect((t.kube.find('Deployment', 'shop-producer')!.spec as { replicas: number }).replicas).toBe(2);
  });

  test('a failed apply is retried (throws), other children are still applied and status still written', async () => {
    const t = setup();
    t.kube.failOn = (verb, _kind, n) => (verb === 'create' && n === 'shop-kafka' ? Object.assign(new Error('boom'), { code: 500 }) : undefined);
    await expect(t.run()).rejects.toThrow(/StatefulSet\/shop-kafka: boom/);
    expect(t.kube.find('Deployment', 'shop-producer')).toBeDefined();
    expect(t.kube.writes.some((w) => w.verb === 'patch-status')).toBe(true);
    expect(t.kube.events.some((e) => e.reason === 'ApplyFailed' && e.type === 'Warning')).toBe(true);
    t.kube.failOn = undefined;
    await t.run();
    expect(t.kube.find('StatefulSet', 'shop-kafka')).toBeDefined();
  });
});

describe('reconcile: status', () => {
  test('nothing running: Ready False, RedisReady says 0/6 pods running, SlotsCovered Unknown, requeue, orchestrator not called', async () => {
    const t = setup();
    const out = await t.run();
    expect(t.redis.calls).toHaveLength(0);
    expect(t.cond('Ready')?.status).toBe('False');
    expect(t.cond('RedisReady')).toMatchObject({ status: 'False', reason: 'PodsNotRunning', message: '0/6 pods running' });
    expect(t.cond('SlotsCovered')).toMatchObject({ status: 'Unknown', reason: 'PodsNotRunning' });
    expect(t.cond('TopicsReady')).toMatchObject({ status: 'Unknown', reason: 'WaitingForKafka' });
    expect(t.cond('KafkaReady')).toMatchObject({ status: 'False' });
    expect(out.requeueAfterMs).toBe(5000);
    const st = t.kube.tier(NS, NAME).status!;
    expect(st.observedGeneration).toBe(1);
    expect(st.redis?.readyMasters).toBe(0);
    expect(st.endpoints?.distribution).toBe(`http://shop-openresty-distribution.${NS}.svc:8080`);
    expect(st.endpoints?.redisSeeds?.split(',')).toHaveLength(6);
    for (const c of st.conditions ?? []) {
      expect(c.reason).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
      expect(c.observedGeneration).toBe(1);
    }
    // Idle but not converged: requeue backs off instead of polling at 5 s forever.
    const again = await t.run();
    expect(again.requeueAfterMs).toBe(10_000);
  });

  test('all ready: Ready True; lastTransitionTime moves only for conditions whose status changed', async () => {
    const t = setup();
    await t.run();
    const before = new Map((t.kube.tier(NS, NAME).status?.conditions ?? []).map((c) => [c.type, c]));
    allReady(t);
    t.tick(60_000);
    await t.run(); // Kafka now ready -> topics reconciled in the same pass
    const ready = t.cond('Ready')!;
    expect(ready).toMatchObject({ status: 'True', reason: 'AllReady' });
    expect(ready.lastTransitionTime).toBe('2026-01-01T00:01:00.000Z');
    expect(t.topics.calls).toHaveLength(1);
    expect(t.topics.calls[0].brokers).toEqual([0, 1, 2].map((i) => `shop-kafka-${i}.shop-kafka-headless.${NS}.svc:9092`));
    expect(t.topics.calls[0].topics.map((x) => x.name)).toEqual(['cache-message', 'access-log', 'cache-message-dlq']);
    expect(t.kube.tier(NS, NAME).status?.topics?.map((x) => x.ready)).toEqual([true, true, true]);
    expect(t.kube.tier(NS, NAME).status?.redis).toMatchObject({ readyMasters: 3 });
    // A condition that was already there with the same status keeps its time: make one flip back.
    t.kube.find('Deployment', 'shop-producer')!.status = { observedGeneration: 1, replicas: 2, readyReplicas: 1, updatedReplicas: 2, availableReplicas: 1 };
    t.tick(60_000);
    await t.run();
    expect(t.cond('ProducerReady')).toMatchObject({ status: 'False', reason: 'PodsNotReady', lastTransitionTime: '2026-01-01T00:02:00.000Z' });
    expect(t.cond('KafkaReady')!.lastTransitionTime).toBe('2026-01-01T00:01:00.000Z');
    expect(t.cond('Ready')).toMatchObject({ status: 'False', lastTransitionTime: '2026-01-01T00:02:00.000Z' });
    expect(before.get('KafkaReady')!.lastTransitionTime).toBe('2026-01-01T00:00:00.000Z');
    // Transition events, not repeated on an idle pass.
    expect(t.kube.events.filter((e) => e.reason === 'ProducerReadyFalse' && e.message.startsWith('ProducerReady True -> False'))).toHaveLength(1);
    t.kube.writes = [];
    t.tick(60_000);
    await t.run();
    expect(t.kube.objectWrites()).toEqual([]);
  });

  test('converged and ready: no requeue (resync covers drift)', async () => {
    const t = setup();
    await t.run();
    allReady(t);
    const out = await t.run();
    expect(t.cond('Ready')?.status).toBe('True');
    expect(out.requeueAfterMs).toBeUndefined();
  });

  test('ChangesFlowing: asked of the ready producer pods once producer and topics are ready; a consumer down is False and Ready False, not a lost pod', async () => {
    const t = setup();
    await t.run();
    expect(t.cond('ChangesFlowing')).toMatchObject({ status: 'Unknown', reason: 'WaitingForProducer' });
    expect(t.producers.calls).toHaveLength(0);
    allReady(t);
    await t.run();
    expect(t.cond('ChangesFlowing')).toMatchObject({ status: 'True', reason: 'Consuming', message: '2/2 producer pods consume cache-message and access-log' });
    expect(t.producers.calls.at(-1)).toEqual([
      { pod: 'shop-producer-abc-0', host: '10.0.1.10', port: 8080 },
      { pod: 'shop-producer-abc-1', host: '10.0.1.11', port: 8080 },
    ]);
    // Kafka gone for one pod's consumer: the pods stay ready (they serve reads), the tier says why.
    t.producers.answer = (pod) => (pod.endsWith('-1') ? { changes: false, accessLog: true } : { changes: true, accessLog: true });
    t.tick(60_000);
    const out = await t.run();
    expect(t.cond('ProducerReady')?.status).toBe('True');
    expect(t.cond('ChangesFlowing')).toMatchObject({ status: 'False', reason: 'ChangeConsumerDown' });
    expect(t.cond('ChangesFlowing')!.message).toMatch(/^cache-message not consumed by 1\/2 producer pods \(shop-producer-abc-1\): updates do not reach Redis/);
    expect(t.cond('Ready')).toMatchObject({ status: 'False' });
    expect(out.requeueAfterMs).toBeDefined(); // looked at again soon
    expect(t.kube.events.filter((e) => e.reason === 'ChangesFlowingFalse')).toHaveLength(1);
    // A pod that cannot be asked is named; the others still decide.
    t.producers.answer = (pod) => (pod.endsWith('-1') ? { error: '/readyz: timeout' } : { changes: true, accessLog: false });
    await t.run();
    expect(t.cond('ChangesFlowing')).toMatchObject({ status: 'False', reason: 'AccessLogConsumerDown' });
    expect(t.cond('ChangesFlowing')!.message).toMatch(/not answering: shop-producer-abc-1: \/readyz: timeout$/);
    t.producers.answer = undefined;
    await t.run();
    expect(t.cond('ChangesFlowing')?.status).toBe('True');
    expect(t.cond('Ready')?.status).toBe('True');
  });

  test('a child still rolling out (observedGeneration behind) is not ready', async () => {
    const t = setup();
    await t.run();
    allReady(t);
    await t.run();
    t.kube.editSpec(NS, NAME, { openresty: { app: { replicas: 4 } } });
    await t.run();
    expect(t.cond('OpenRestyReady')).toMatchObject({ status: 'False', reason: 'Progressing' });
  });
});

describe('reconcile: Redis orchestration wiring', () => {
  test('members come from running pods; the password from the Secret; the StatefulSet follows the result', async () => {
    const t = setup({ redis: { auth: { passwordSecretRef: { name: 'redis-auth', key: 'password' } } } });
    t.kube.secrets.set(`${NS}/redis-auth`, { password: 's3cret' });
    await t.run();
    t.kube.pods = [...redisPods(4), ...redisPods(6, false).slice(4), ...producerPods(2)];
    await t.run();
    expect(t.redis.calls).toHaveLength(1);
    const call = t.redis.calls[0];
    expect(call.desired).toEqual({ masters: 3, replicasPerMaster: 1, username: 'operator', password: 's3cret' });
    expect(call.current).toBe(6);
    expect(call.members).toEqual([0, 1, 2, 3].map((i) => ({ pod: `shop-redis-${i}`, ordinal: i, host: `10.0.0.${10 + i}`, port: 6379, node: `node-${i % 3}` })));
    expect(t.cond('RedisReady')).toMatchObject({ status: 'False', message: '4/6 pods running' });
  });

  test('a missing password Secret is reported and the orchestrator is not called', async () => {
    const t = setup({ redis: { auth: { passwordSecretRef: { name: 'nope', key: 'password' } } } });
    t.kube.pods = [...redisPods(6), ...producerPods(2)];
    await t.run();
    expect(t.redis.calls).toHaveLength(0);
    expect(t.cond('RedisReady')).toMatchObject({ status: 'False', reason: 'PasswordUnavailable', message: 'Secret nope not found' });
  });

  test('scale up with no pods running: the StatefulSet follows spec.redis.masters upward', async () => {
    const t = setup();
    await t.run();
    t.kube.editSpec(NS, NAME, { redis: { masters: 4 } });
    await t.run();
    expect((t.kube.find('StatefulSet', 'shop-redis')!.spec as { replicas: number }).replicas).toBe(8);
    expect(t.cond('RedisReady')?.message).toBe('0/8 pods running');
  });

  test('scale down waits for the orchestration: replicas shrink only when it says the drain is done', async () => {
    const t = setup({ redis: { masters: 4 } });
    await t.run();
    expect((t.kube.find('StatefulSet', 'shop-redis')!.spec as { replicas: number }).replicas).toBe(8);
    t.kube.pods = [...redisPods(8), ...producerPods(2)];
    t.kube.editSpec(NS, NAME, { redis: { masters: 3 } });
    let drained = false;
    t.redis.result = (_d, _m, current) =>
      drained ? { statefulSetReplicas: 6, converged: true } : { statefulSetReplicas: current, converged: false, events: [{ type: 'Normal', reason: 'DrainingMaster', message: 'moving slots off shop-redis-3' }] };
    const out = await t.run();
    expect(t.redis.calls.at(-1)!.current).toBe(8);
    expect((t.kube.find('StatefulSet', 'shop-redis')!.spec as { replicas: number }).replicas).toBe(8);
    expect(out.requeueAfterMs).toBe(5000);
    expect(t.kube.events.some((e) => e.reason === 'DrainingMaster')).toBe(true);
    drained = true;
    await t.run();
    expect((t.kube.find('StatefulSet', 'shop-redis')!.spec as { replicas: number }).replicas).toBe(6);
  });

  test('status.redis.migration is written while slots move (throttled, last report kept) and removed when they are done; idle passes write nothing', async () => {
    const t = setup();
    await t.run();
    allReady(t);
    await t.run();
    const moves = [{ from: 'shop-redis-0', to: 'shop-redis-6', slots: 1366 }, { from: 'shop-redis-1', to: 'shop-redis-6', slots: 1365 }, { from: 'shop-redis-2', to: 'shop-redis-6', slots: 1365 }];
    const at = (moved: number, keys: number) => ({ slotsTotal: 4096, slotsMoved: moved, slotsFailed: 0, keysMoved: keys, moves });
    t.redis.progress = [at(0, 0), at(100, 1000), at(200, 2000), at(3000, 30000), at(4096, 41000)];
    t.redis.beforeEach = () => t.tick(1500); // reports 1.5 s apart: every other one is written
    const seen: unknown[] = [];
    const patch = t.kube.patchCacheTierStatus.bind(t.kube);
    t.kube.patchCacheTierStatus = async (ns, n, status) => {
      seen.push(structuredClone((status.redis as { migration?: unknown } | undefined)?.migration));
      await patch(ns, n, status);
    };
    await t.run();
    const written = seen.filter((m) => m) as { progress: string; moves: string[]; startedAt: string; updatedAt: string }[];
    expect(written.map((m) => m.progress)).toEqual(['0/4096 slots moved', '200/4096 slots moved', '4096/4096 slots moved']);
    expect(written[0].moves).toEqual(['shop-redis-0 -> shop-redis-6: 1366 slots', 'shop-redis-1 -> shop-redis-6: 1365 slots', 'shop-redis-2 -> shop-redis-6: 1365 slots']);
    expect(new Set(written.map((m) => m.startedAt)).size).toBe(1);
    // The pass's own status write removes it: nothing left for `kubectl get` to show.
    expect(seen[seen.length - 1]).toBeNull();
    expect(t.kube.tier(NS, NAME).status?.redis?.migration).toBeUndefined();
    t.kube.writes = [];
    await t.run();
    expect(t.kube.writes.filter((w) => w.verb === 'patch-status')).toEqual([]);
  });

  test('orchestration conditions and members land in status; a failing orchestrator is reported, not fatal', async () => {
    const t = setup();
    await t.run();
    t.kube.pods = [...redisPods(6), ...producerPods(2)];
    t.redis.result = () => ({
      conditions: [{ type: 'SlotsCovered', status: 'False', reason: 'SlotsMissing', message: '100 slots unassigned' }],
      readyMasters: 2,
      converged: false,
    });
    await t.run();
    expect(t.cond('SlotsCovered')).toMatchObject({ status: 'False', reason: 'SlotsMissing' });
    expect(t.cond('SlotsBalanced')).toMatchObject({ status: 'Unknown', reason: 'NotReported' });
    expect(t.kube.tier(NS, NAME).status?.redis?.members).toHaveLength(6);
    t.redis.result = () => {
      throw new Error('connect ECONNREFUSED 10.0.0.10:6379');
    };
    const out = await t.run();
    expect(t.cond('SlotsCovered')).toMatchObject({ status: 'Unknown', reason: 'OrchestrationError' });
    expect(out.requeueAfterMs).toBeDefined();
    expect(t.kube.events.some((e) => e.reason === 'RedisOrchestrationFailed' && e.type === 'Warning')).toBe(true);
    // The members seen last stay in status (we don't know better).
    expect(t.kube.tier(NS, NAME).status?.redis?.members).toHaveLength(6);
  });
});

describe('reconcile: paused', () => {
  test('spec.paused applies nothing, says so in status, and resumes cleanly', async () => {
    const t = setup();
    await t.run();
    t.kube.editSpec(NS, NAME, { paused: true, producer: { replicas: 7 } });
    t.kube.writes = [];
    await t.run();
    expect(t.kube.writes.filter((w) => w.verb === 'apply' || w.verb === 'create')).toEqual([]);
    expect(t.cond('Paused')).toMatchObject({ status: 'True', reason: 'Paused' });
    expect(t.cond('Ready')).toMatchObject({ status: 'Unknown', reason: 'Paused' });
    expect(t.cond('KafkaReady')).toBeDefined(); // the rest is kept as last observed
    expect(t.kube.tier(NS, NAME).status?.observedGeneration).toBe(2);
    expect(t.kube.events.filter((e) => e.reason === 'Paused')).toHaveLength(1);
    t.kube.writes = [];
    await t.run();
    expect(t.kube.objectWrites()).toEqual([]);
    t.kube.editSpec(NS, NAME, { paused: false });
    await t.run();
    expect((t.kube.find('Deployment', 'shop-producer')!.spec as { replicas: number }).replicas).toBe(7);
    expect(t.cond('Paused')).toBeUndefined();
    expect(t.kube.events.filter((e) => e.reason === 'Resumed')).toHaveLength(1);
  });
});

describe('reconcile: edge cases', () => {
  test('a spec the renderers reject: Ready False RenderFailed, nothing applied, one event, idle afterwards', async () => {
    const kube = new FakeKube();
    const r = new Reconciler({
      kube,
      redis: new FakeRedis(),
      topics: new FakeTopics(),
      producers: new FakeProducers(),
      rolls: new FakeRolls(),
      recorder: new EventRecorder(kube),
      render: () => {
        throw new Error('spec.kafka.version 4.0.0 has no ZooKeeper mode');
      },
    });
    kube.addTier(makeTier());
    const out = await r.reconcile(NS, NAME);
    expect(out.requeueAfterMs).toBeUndefined();
    expect(kube.tier(NS, NAME).status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'RenderFailed' });
    expect(kube.writes.filter((w) => w.verb === 'create' || w.verb === 'apply')).toEqual([]);
    expect(kube.events.map((e) => e.reason)).toEqual(['RenderFailed']);
    kube.writes = [];
    await r.reconcile(NS, NAME);
    expect(kube.writes).toEqual([]);
  });

  test('a config value with a line break: the real renderers refuse it, Ready False RenderFailed says what to fix, nothing applied', async () => {
    const kube = new FakeKube();
    const r = new Reconciler({ kube, redis: new FakeRedis(), topics: new FakeTopics(), producers: new FakeProducers(), rolls: new FakeRolls(), recorder: new EventRecorder(kube) });
    kube.addTier(makeTier({ kafka: { config: { 'log.retention.hours': '1\nlisteners=PLAINTEXT://:9999' } } }));
    await r.reconcile(NS, NAME);
    const ready = kube.tier(NS, NAME).status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'RenderFailed' });
    expect(ready?.message).toContain('spec.kafka.config: keys and values must not contain CR, LF or NUL');
    expect(kube.writes.filter((w) => w.verb === 'create' || w.verb === 'apply')).toEqual([]);
    expect(kube.events.find((e) => e.reason === 'RenderFailed')?.message).toContain('spec.kafka.config');
  });

  test('spec.networkPolicy.enabled false: the tier\'s NetworkPolicies are deleted once (not someone else\'s), then idle', async () => {
    const kube = new FakeKube();
    const r = new Reconciler({ kube, redis: new FakeRedis(), topics: new FakeTopics(), producers: new FakeProducers(), rolls: new FakeRolls(), recorder: new EventRecorder(kube), render: renderAll });
    kube.addTier(makeTier());
    await r.reconcile(NS, NAME).catch(() => undefined);
    const policies = () => [...kube.objects.values()].filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name).sort();
    expect(policies()).toHaveLength(6);
    // Same name, another owner: not ours to delete.
    const foreign = kube.find('NetworkPolicy', `${NAME}-producer`)!;
    foreign.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'other', controller: true }];
    kube.editSpec(NS, NAME, { networkPolicy: { enabled: false } });
    kube.writes = [];
    await r.reconcile(NS, NAME).catch(() => undefined);
    const deletes = kube.writes.filter((w) => w.verb === 'delete').map((w) => w.name).sort();
    expect(deletes).toEqual(['zookeeper', 'kafka', 'redis', 'openresty-distribution', 'openresty-app'].map((c) => `${NAME}-${c}`).sort());
    expect(policies()).toEqual([`${NAME}-producer`]);
    expect(kube.events.filter((e) => e.reason === 'Deleted')).toHaveLength(5);
    kube.writes = [];
    await r.reconcile(NS, NAME).catch(() => undefined);
    expect(kube.writes.filter((w) => w.verb === 'delete')).toEqual([]);
  });

  test('PodMonitors (the API served): rendered; podMonitor.enabled false deletes the tier\'s; metrics.enabled false only the exporters\'', async () => {
    const kube = new FakeKube();
    const r = new Reconciler({
      kube,
      redis: new FakeRedis(),
      topics: new FakeTopics(),
      producers: new FakeProducers(),
      rolls: new FakeRolls(),
      recorder: new EventRecorder(kube),
      render: renderAll,
      renderOptions: { podMonitorApi: true },
    });
    kube.addTier(makeTier());
    await r.reconcile(NS, NAME).catch(() => undefined);
    const monitors = () => [...kube.objects.values()].filter((o) => o.kind === 'PodMonitor').map((o) => o.metadata.name.slice(NAME.length + 1)).sort();
    expect(monitors()).toEqual(['kafka', 'openresty-app', 'openresty-distribution', 'producer', 'redis', 'zookeeper']);
    kube.editSpec(NS, NAME, { metrics: { enabled: false } });
    await r.reconcile(NS, NAME).catch(() => undefined);
    expect(monitors()).toEqual(['openresty-app', 'openresty-distribution', 'producer']);
    expect(kube.events.filter((e) => e.reason === 'Deleted' && e.message.includes('spec.metrics.enabled is false'))).toHaveLength(3);
    kube.editSpec(NS, NAME, { metrics: { enabled: false, podMonitor: { enabled: false } } });
    kube.writes = [];
    await r.reconcile(NS, NAME).catch(() => undefined);
    expect(monitors()).toEqual([]);
    expect(kube.writes.filter((w) => w.verb === 'delete' && w.kind === 'PodMonitor')).toHaveLength(3);
    kube.writes = [];
    await r.reconcile(NS, NAME).catch(() => undefined);
    expect(kube.writes.filter((w) => w.verb === 'delete')).toEqual([]);
  });

  test('without the PodMonitor API no PodMonitor is rendered or looked up', async () => {
    const kube = new FakeKube();
    const gets: string[] = [];
    const get = kube.get.bind(kube);
    kube.get = async (ref) => {
      gets.push(ref.kind);
      return get(ref);
    };
    const r = new Reconciler({ kube, redis: new FakeRedis(), topics: new FakeTopics(), producers: new FakeProducers(), rolls: new FakeRolls(), recorder: new EventRecorder(kube), render: renderAll });
    kube.addTier(makeTier({ metrics: { podMonitor: { enabled: false } } }));
    await r.reconcile(NS, NAME).catch(() => undefined);
    expect([...kube.objects.values()].filter((o) => o.kind === 'PodMonitor')).toEqual([]);
    expect(gets).not.toContain('PodMonitor');
  });

  test('a CacheTier deleted during the reconcile: the status 404 is not an error', async () => {
    const t = setup();
    t.kube.failOn = (verb) => (verb === 'patch-status' ? Object.assign(new Error('cachetiers "shop" not found'), { code: 404 }) : undefined);
    await expect(t.run()).resolves.toMatchObject({ statusWritten: false });
  });

  test('a deleted CacheTier is a no-op', async () => {
    const t = setup();
    t.kube.tiers.clear();
    const out = await t.run();
    expect(out).toEqual({ applied: [], statusWritten: false });
    expect(t.kube.writes).toEqual([]);
  });

  test('a volume change a StatefulSet cannot take: the rest of it still rolls, VolumesMatchSpec says what and how; re-created by hand, it matches', async () => {
    const kube = new FakeKube();
    // As the API server: a StatefulSet's claim templates never change.
    const apply = kube.apply.bind(kube);
    kube.apply = async (obj) => {
      const live = kube.find(obj.kind, obj.metadata.name);
      const vct = (o: unknown) => JSON.stringify((o as { spec?: { volumeClaimTemplates?: unknown } }).spec?.volumeClaimTemplates ?? null);
      if (obj.kind === 'StatefulSet' && live && vct(obj) !== vct(live)) throw Object.assign(new Error('StatefulSet.apps is invalid: spec: Forbidden: updates to statefulset spec for fields other than ...'), { code: 422 });
      return apply(obj);
    };
    const r = new Reconciler({ kube, redis: new FakeRedis(), topics: new FakeTopics(), producers: new FakeProducers(), rolls: new FakeRolls(), recorder: new EventRecorder(kube) });
    kube.addTier(makeTier());
    await r.reconcile(NS, NAME);
    const cond = () => kube.tier(NS, NAME).status?.conditions?.find((c) => c.type === 'VolumesMatchSpec');
    expect(cond()).toMatchObject({ status: 'True' });
    const hashOf = () => JSON.stringify((kube.find('StatefulSet', 'shop-redis')!.spec as { template: { metadata: unknown } }).template.metadata);
    const before = hashOf();
    kube.editSpec(NS, NAME, { redis: { storage: { size: '2Gi' }, config: { 'maxmemory-policy': 'allkeys-lfu' } } });
    await r.reconcile(NS, NAME);
    expect(kube.events.filter((e) => e.reason === 'ApplyFailed')).toEqual([]);
    expect(hashOf()).not.toBe(before); // the config change rolls
    expect(JSON.stringify(kube.find('StatefulSet', 'shop-redis')!.spec)).toContain('"storage":"1Gi"');
    expect(cond()).toMatchObject({ status: 'False', reason: 'ExpansionNeedsSteps' });
    expect(cond()!.message).toMatch(/^shop-redis: data: size 1Gi -> 2Gi \(not applied/);
    expect(kube.tier(NS, NAME).status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    // kubectl delete statefulset shop-redis --cascade=orphan: re-created with the new template.
    kube.remove('StatefulSet', 'shop-redis');
    await r.reconcile(NS, NAME);
    expect(JSON.stringify(kube.find('StatefulSet', 'shop-redis')!.spec)).toContain('"storage":"2Gi"');
    expect(cond()).toMatchObject({ status: 'True' });
  });

  test('the real renderAll output is stable: the second reconcile writes nothing', async () => {
    const kube = new FakeKube();
    const r = new Reconciler({ kube, redis: new FakeRedis(), topics: new FakeTopics(), producers: new FakeProducers(), rolls: new FakeRolls(), recorder: new EventRecorder(kube) });
    kube.addTier(makeTier());
    const objects = renderAll(resolve(makeTier()), {});
    if (objects.length === 0) console.warn('renderAll returns no objects yet (renderers not landed): this test only checks the status path');
    await r.reconcile(NS, NAME);
    kube.writes = [];
    await r.reconcile(NS, NAME);
    expect(kube.objectWrites()).toEqual([]);
  });
});
