// The reconcile's request pattern: children read/applied concurrently (bounded), Event writes
// off the child path, the recorder's aggregation safe when events are not awaited.
import { Reconciler } from '../../../src/controller/reconcile.js';
import { mapBounded } from '../../../src/controller/steps/apply.js';
import { EventRecorder } from '../../../src/runtime/events.js';
import type { EventBody, KObject, ObjectRef } from '../../../src/runtime/kube.js';
import { FakeKube } from '../runtime/fake-kube.js';
import { FakeProducers, FakeRedis, FakeRolls, FakeTopics, NAME, NS, makeTier, name, testRender } from './helpers.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('mapBounded', () => {
  test('runs at most `limit` at once and returns results in input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const items = Array.from({ length: 20 }, (_, i) => i);
    const out = await mapBounded(items, 8, async (i) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      // Later items finish first.
      await new Promise((r) => setTimeout(r, 20 - i));
      inFlight -= 1;
      return i * 2;
    });
    expect(out).toEqual(items.map((i) => i * 2));
    expect(peak).toBe(8);
  });

  test('empty input', async () => {
    expect(await mapBounded([], 8, async () => 1)).toEqual([]);
  });
});

/** A FakeKube whose child reads and creates each wait for the test to release them. */
class GatedKube extends FakeKube {
  inFlight = 0;
  peak = 0;
  gate?: Promise<void>;
  private async gated<T>(f: () => Promise<T>): Promise<T> {
    this.inFlight += 1;
    this.peak = Math.max(this.peak, this.inFlight);
    try {
      if (this.gate) await this.gate;
      return await f();
    } finally {
      this.inFlight -= 1;
    }
  }
  override get(ref: ObjectRef): Promise<KObject | undefined> {
    // The Redis StatefulSet is read once before the children (its replicas drive the render).
    if (ref.kind === 'StatefulSet' && ref.name === name('redis')) return super.get(ref);
    return this.gated(() => super.get(ref));
  }
  override create(obj: KObject): Promise<KObject> {
    return this.gated(() => super.create(obj));
  }
  /** Event creates hang until released. */
  eventGate?: Promise<void>;
  override async createEvent(ev: EventBody): Promise<string> {
    if (this.eventGate) await this.eventGate;
    return super.createEvent(ev);
  }
}

describe('reconcile request pattern', () => {
  test('children are read and created several at a time, never more than 8', async () => {
    const kube = new GatedKube();
    let release!: () => void;
    kube.gate = new Promise<void>((r) => (release = r));
    const r = new Reconciler({ kube, redis: new FakeRedis(), topics: new FakeTopics(), producers: new FakeProducers(), rolls: new FakeRolls(), recorder: new EventRecorder(kube), render: testRender });
    kube.addTier(makeTier());
    const done = r.reconcile(NS, NAME);
    for (let i = 0; i < 20; i++) await tick();
    // 8 children in testRender; the Redis StatefulSet was read up front (not gated by the pool).
    expect(kube.inFlight).toBeGreaterThan(4);
    release();
    const out = await done;
    expect(kube.peak).toBeLessThanOrEqual(8);
    expect(out.applied).toHaveLength(8);
  });

  test('no child waits for an Event write; the reconcile settles its events before returning', async () => {
    const kube = new GatedKube();
    let releaseEvents!: () => void;
    kube.eventGate = new Promise<void>((r) => (releaseEvents = r));
    const r = new Reconciler({ kube, redis: new FakeRedis(), topics: new FakeTopics(), producers: new FakeProducers(), rolls: new FakeRolls(), recorder: new EventRecorder(kube), render: testRender });
    kube.addTier(makeTier());
    let finished = false;
    const done = r.reconcile(NS, NAME).then((o) => {
      finished = true;
      return o;
    });
    for (let i = 0; i < 50; i++) await tick();
    // Every child and the status were written while every Event write was still pending.
    expect(kube.writes.filter((w) => w.verb === 'create')).toHaveLength(8);
    expect(kube.writes.filter((w) => w.verb === 'patch-status')).toHaveLength(1);
    expect(kube.events).toHaveLength(0);
    expect(finished).toBe(false);
    releaseEvents();
    await done;
    expect(kube.events.filter((e) => e.reason === 'Created')).toHaveLength(8);
  });
});

describe('EventRecorder without awaiting', () => {
  test('repeats fired while the first create is in flight bump its count instead of creating more', async () => {
    const kube = new GatedKube();
    let releaseEvents!: () => void;
    kube.eventGate = new Promise<void>((r) => (releaseEvents = r));
    const rec = new EventRecorder(kube);
    const tier = makeTier();
    const all = [rec.event(tier, 'Normal', 'X', 'same'), rec.event(tier, 'Normal', 'X', 'same'), rec.event(tier, 'Normal', 'X', 'same')];
    await tick();
    releaseEvents();
    await Promise.all(all);
    expect(kube.events).toHaveLength(1);
    const patches = kube.writes.filter((w) => w.verb === 'patch-event').map((w) => (w.body as { count: number }).count);
    expect(patches.sort()).toEqual([2, 3]);
  });

  test('a failed create is logged, not thrown, and the next one creates afresh', async () => {
    class FailingEvents extends FakeKube {
      fail = true;
      override async createEvent(ev: EventBody): Promise<string> {
        if (this.fail) throw Object.assign(new Error('boom'), { code: 500 });
        return super.createEvent(ev);
      }
    }
    const kube = new FailingEvents();
    const rec = new EventRecorder(kube);
    const tier = makeTier();
    await expect(rec.event(tier, 'Normal', 'X', 'm')).resolves.toBeUndefined();
    kube.fail = false;
    await rec.event(tier, 'Normal', 'X', 'm');
    expect(kube.events).toHaveLength(1);
    expect(kube.writes.filter((w) => w.verb === 'patch-event')).toHaveLength(0);
  });
});
