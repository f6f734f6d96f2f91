import { jest } from '@jest/globals';
import { WorkQueue } from '../../../src/runtime/queue.js';

/** A promise the test resolves by hand. */
function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('WorkQueue', () => {
  afterEach(() => jest.useRealTimers());

  test('dedupes keys that wait in the queue', async () => {
    const seen: string[] = [];
    const g = gate();
    const q = new WorkQueue({
      concurrency: 1,
      handler: async (k) => {
        seen.push(k);
        if (k === 'blocker') await g.p;
      },
    });
    q.add('blocker');
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.depth).toBe(2);
    g.open();
    await q.idle();
    expect(seen).toEqual(['blocker', 'a', 'b']);
  });

  test('never runs one key twice at once: added while running, it runs again afterwards', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const g = gate();
    const q = new WorkQueue({
      concurrency: 4,
      handler: async () => {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        if (runs === 1) await g.p;
        running--;
      },
    });
    q.add('ns/t');
    await flush();
    q.add('ns/t');
    q.add('ns/t');
    await flush();
    expect(runs).toBe(1); // the second add waits for the first run
    g.open();
    await q.idle();
    expect(runs).toBe(2); // the two adds during the run collapse into one more run
    expect(maxRunning).toBe(1);
  });

  test('limits concurrency across keys', async () => {
    let running = 0;
    let maxRunning = 0;
    const q = new WorkQueue({
      concurrency: 2,
      handler: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      },
    });
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    await q.idle();
    expect(maxRunning).toBe(2);
  });

  test('retries a failing key with exponential backoff (capped) and forgets failures on success', async () => {
    jest.useFakeTimers();
    const times: number[] = [];
    const failUntil = 5;
    const errors: number[] = [];
    const q = new WorkQueue({
      baseDelayMs: 100,
      maxDelayMs: 500,
      handler: async () => {
        times.push(Date.now());
        if (times.length < failUntil) throw new Error('nope');
      },
      onError: (_k, _e, retryIn) => errors.push(retryIn),
    });
    const t0 = Date.now();
    q.add('k');
    for (let i = 0; i < 40; i++) {
      await flush();
      jest.advanceTimersByTime(50);
    }
    await flush();
    expect(errors).toEqual([100, 200, 400, 500]);
    expect(times.map((t) => t - t0)).toEqual([0, 100, 300, 700, 1200]);
    // The gaps grow: 100, 200, 400, then capped at 500.
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    expect(gaps[0]).toBeGreaterThanOrEqual(100);
    expect(gaps[1]).toBeGreaterThanOrEqual(200);
    expect(gaps[2]).toBeGreaterThanOrEqual(400);
    expect(gaps[3]).toBeGreaterThanOrEqual(500);
    expect(gaps[3]).toBeLessThan(600);
    expect(q.failureCount('k')).toBe(0);
    expect(times).toHaveLength(5);
  });

  test('a handler can ask for a delayed requeue', async () => {
    jest.useFakeTimers();
    let runs = 0;
    const q = new WorkQueue({
      handler: async () => {
        runs++;
        return runs === 1 ? { requeueAfterMs: 5000 } : undefined;
      },
    });
    q.add('k');
    await flush();
    expect(runs).toBe(1);
    jest.advanceTimersByTime(4999);
    await flush();
    expect(runs).toBe(1);
    jest.advanceTimersByTime(1);
    await flush();
    expect(runs).toBe(2);
    jest.advanceTimersByTime(60_000);
    await flush();
    expect(runs).toBe(2);
  });

  test('shutDown drops waiting work and waits (bounded) for running handlers', async () => {
    const g = gate();
    const seen: string[] = [];
    const q = new WorkQueue({
      concurrency: 1,
      handler: async (k) => {
        seen.push(k);
        await g.p;
      },
    });
    q.add('a');
    q.add('b');
    await flush();
    const timedOut = await q.shutDown(20);
    expect(timedOut).toBe(false);
    const done = q.shutDown(1000);
    g.open();
    expect(await done).toBe(true);
    q.add('c');
    await flush();
    expect(seen).toEqual(['a']);
  });
});
