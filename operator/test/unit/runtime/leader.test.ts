import { LeaderElector, type Clock } from '../../../src/runtime/leader.js';
import { FakeKube } from './fake-kube.js';

/** A clock the test moves by hand; sleep() advances it (so loops run instantly). */
class FakeClock implements Clock {
  t = Date.parse('2026-01-01T00:00:00Z');
  now(): number {
    return this.t;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    this.t += ms;
    await Promise.resolve();
  }
}

const NS = 'cachetier-system';
const LEASE = 'cachetier-operator';

function elector(kube: FakeKube, clock: Clock, identity: string) {
  return new LeaderElector({ kube, namespace: NS, name: LEASE, identity, clock });
}

const holder = (kube: FakeKube) => kube.leases.get(`${NS}/${LEASE}`)?.holderIdentity;

describe('LeaderElector', () => {
  test('the first candidate creates the lease; a second one cannot take a fresh lease', async () => {
    const kube = new FakeKube();
    const clock = new FakeClock();
    const a = elector(kube, clock, 'a');
    const b = elector(kube, clock, 'b');
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(holder(kube)).toBe('a');
    const lease = kube.leases.get(`${NS}/${LEASE}`)!;
    expect(lease).toMatchObject({ leaseDurationSeconds: 15, leaseTransitions: 0, acquireTime: '2026-01-01T00:00:00.000Z' });
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.t += 5000;
    expect(await a.tryAcquireOrRenew()).toBe(true); // renew
    expect(kube.leases.get(`${NS}/${LEASE}`)!.renewTime).toBe('2026-01-01T00:00:05.000Z');
    expect(kube.leases.get(`${NS}/${LEASE}`)!.acquireTime).toBe('2026-01-01T00:00:00.000Z');
    clock.t += 14_000;
    expect(await b.tryAcquireOrRenew()).toBe(false); // renewed 14 s ago (as b saw it change) -> still held
  });

  test('takeover: a standby acquires once the holder stops renewing for the lease duration', async () => {
    const kube = new FakeKube();
    const clock = new FakeClock();
    const a = elector(kube, clock, 'a');
    const b = elector(kube, clock, 'b');
    await a.acquire();
    // b polls every retry period (2 s) while a renews every 5 s.
    const start = clock.t;
    let renewAt = start + 5000;
    let killedAt = 0;
    let tookOverAt = 0;
    while (clock.t - start < 60_000) {
      clock.t += 1000;
      if (!killedAt && clock.t >= renewAt) {
        await a.tryAcquireOrRenew();
        renewAt += 5000;
      }
      if (!killedAt && clock.t - start >= 20_000) killedAt = clock.t; // a dies (SIGKILL)
      if ((clock.t - start) % 2000 === 0 && (await b.tryAcquireOrRenew())) {
        tookOverAt = clock.t;
        break;
      }
      expect(holder(kube)).toBe('a');
    }
    expect(holder(kube)).toBe('b');
    expect(tookOverAt - killedAt).toBeLessThanOrEqual(20_000);
    expect(tookOverAt - killedAt).toBeGreaterThanOrEqual(10_000); // 15 s from the last renewal b saw
    expect(kube.leases.get(`${NS}/${LEASE}`)!.leaseTransitions).toBe(1);
  });

  test('release clears the holder so a standby takes over at once', async () => {
    const kube = new FakeKube();
    const clock = new FakeClock();
    const a = elector(kube, clock, 'a');
    const b = elector(kube, clock, 'b');
    await a.acquire();
    expect(await b.tryAcquireOrRenew()).toBe(false);
    await a.release();
    expect(holder(kube)).toBe('');
    clock.t += 2000;
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(holder(kube)).toBe('b');
  });

  test('two candidates racing on the same version: only one wins (resourceVersion precondition)', async () => {
    const kube = new FakeKube();
    const clock = new FakeClock();
    const old = elector(kube, clock, 'old');
    await old.acquire();
    await old.release();
    const a = elector(kube, clock, 'a');
    const b = elector(kube, clock, 'b');
    const results = await Promise.all([a.tryAcquireOrRenew(), b.tryAcquireOrRenew()]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test('holdLease reports lost when another process took the lease', async () => {
    const kube = new FakeKube();
    const clock = new FakeClock();
    const a = elector(kube, clock, 'a');
    await a.acquire();
    const lease = kube.leases.get(`${NS}/${LEASE}`)!;
    kube.leases.set(`${NS}/${LEASE}`, { ...lease, holderIdentity: 'intruder', resourceVersion: '999' });
    expect(await a.holdLease()).toBe('lost');
    expect(a.isLeader).toBe(false);
  });

  test('holdLease reports lost when it cannot renew within the renew deadline, and keeps leading through short blips', async () => {
    const kube = new FakeKube();
    const clock = new FakeClock();
    const a = elector(kube, clock, 'a');
    await a.acquire();
    let failing = true;
    let failures = 0;
    kube.failOn = (verb) => {
      if (verb !== 'get-lease' || !failing) return undefined;
      failures++;
      if (failures === 2) failing = false; // a short API blip: two failed attempts, then fine
      return Object.assign(new Error('apiserver down'), { code: 503 });
    };
    const ac = new AbortController();
    // Stop the loop once the blip is over and a few renewals went through.
    const started = clock.t;
    const origSleep = clock.sleep.bind(clock);
    clock.sleep = async (ms, signal) => {
      await origSleep(ms, signal);
      if (clock.t - started > 40_000) ac.abort();
    };
    expect(await a.holdLease(ac.signal)).toBe('stopped');
    expect(a.isLeader).toBe(true);
    expect(failures).toBe(2);
    // Now the API stays down: lost after renewDeadline (10 s).
    kube.failOn = (verb) => (verb === 'get-lease' ? Object.assign(new Error('down'), { code: 503 }) : undefined);
    clock.sleep = origSleep;
    const lastRenew = Date.parse(kube.leases.get(`${NS}/${LEASE}`)!.renewTime!);
    expect(await a.holdLease()).toBe('lost');
    // renewDeadline (10 s) after the last successful renewal, give or take one retry period (2 s)
    expect(clock.t - lastRenew).toBeGreaterThanOrEqual(10_000);
    expect(clock.t - lastRenew).toBeLessThanOrEqual(12_000);
  });

  test('acquire stops when the signal aborts', async () => {
    const kube = new FakeKube();
    const clock = new FakeClock();
    await elector(kube, clock, 'a').acquire();
    const ac = new AbortController();
    const b = elector(kube, clock, 'b');
    const origSleep = clock.sleep.bind(clock);
    let sleeps = 0;
    clock.sleep = async (ms, signal) => {
      if (++sleeps === 3) ac.abort();
      // a keeps renewing so b never gets it
      await origSleep(ms, signal);
    };
    const p = b.acquire(ac.signal);
    expect(await p).toBe(false);
  });
});
