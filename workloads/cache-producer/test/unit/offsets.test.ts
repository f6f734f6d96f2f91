// OffsetCommitter against a fake kafkajs payload/consumer: commits happen off the batch path, one at
// a time, only of what was resolved; a drain stops new batches, waits for the running ones and
// commits what they resolved. The real-Kafka side (SIGTERM/SIGKILL, no update lost) is in the
// producer's integration tests.
import type { Consumer, EachBatchPayload, OffsetsByTopicPartition } from 'kafkajs';
import pino from 'pino';
import { OffsetCommitter } from '../../src/offsets.js';

const log = pino({ level: 'silent' });

/** The payload functions OffsetCommitter uses, over a fake group's resolved/committed offsets. */
function fakeGroup(commitMs = 0) {
  const resolved = new Map<number, string>();
  const committed = new Map<number, string>();
  let commits = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  const payload = (partition: number) =>
    ({
      batch: { partition },
      resolveOffset: (o: string) => resolved.set(partition, String(Number(o) + 1)),
      uncommittedOffsets: (): OffsetsByTopicPartition => ({
        topics: [{ topic: 't', partitions: [...resolved].filter(([p, o]) => committed.get(p) !== o).map(([partition, offset]) => ({ partition, offset })) }],
      }),
      commitOffsetsIfNecessary: async (o?: OffsetsByTopicPartition) => {
        commits++;
        maxConcurrent = Math.max(maxConcurrent, ++concurrent);
        await new Promise((r) => setTimeout(r, commitMs));
        for (const t of o?.topics ?? []) for (const p of t.partitions) committed.set(p.partition, p.offset);
        concurrent--;
      },
    }) as unknown as EachBatchPayload;
  return { payload, resolved, committed, commits: () => commits, maxConcurrent: () => maxConcurrent };
}

const fakeConsumer = () => {
  const paused: string[] = [];
  return { consumer: { pause: (tps: { topic: string }[]) => paused.push(...tps.map((t) => t.topic)) } as unknown as Consumer, paused };
};

describe('OffsetCommitter', () => {
  test('a batch never waits for a commit; the timer commits what was resolved, one commit at a time', async () => {
    const g = fakeGroup(30);
    const c = new OffsetCommitter(10, log);
    const run = c.handler(async (p) => p.resolveOffset('41'));
    const t0 = Date.now();
    await run(g.payload(0));
    expect(Date.now() - t0).toBeLessThan(25); // no commit on the batch path
    expect(g.commits()).toBe(0);
    c.start();
    await new Promise((r) => setTimeout(r, 120));
    await run(g.payload(1)).then(() => g.payload(1).resolveOffset('7'));
    await c.commit();
    expect(g.committed.get(0)).toBe('42');
    expect(g.committed.get(1)).toBe('8');
    expect(g.maxConcurrent()).toBe(1);
    await c.drain(fakeConsumer().consumer, 't', 1000, () => undefined);
  });

  test('nothing to commit before the first batch', async () => {
    const g = fakeGroup();
    const c = new OffsetCommitter(10, log);
    await c.commit();
    expect(g.commits()).toBe(0);
  });

  test('drain pauses the topic, waits for the batches in flight, commits them, then starts no new batch', async () => {
    const g = fakeGroup();
    const c = new OffsetCommitter(60_000, log);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const run = c.handler(async (p) => {
      started++;
      await gate;
      p.resolveOffset('99');
    });
    const inflight = run(g.payload(3));
    const { consumer, paused } = fakeConsumer();
    const drained = c.drain(consumer, 'cache-message', 5000, () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    expect(paused).toEqual(['cache-message']);
    expect(g.committed.size).toBe(0); // still waiting for the batch
    release();
    await Promise.all([inflight, drained]);
    expect(g.committed.get(3)).toBe('100');
    await run(g.payload(4)); // arrives after the drain: not started, not resolved
    expect(started).toBe(1);
    expect(g.resolved.has(4)).toBe(false);
  });

  test('a batch still running at the drain deadline is told to give up, and what it did not resolve is not committed', async () => {
    const g = fakeGroup();
    const c = new OffsetCommitter(60_000, log);
    let giveUp = false;
    const run = c.handler(async () => {
      while (!giveUp) await new Promise((r) => setTimeout(r, 5));
      throw new Error('stopping with work unfinished');
    });
    const inflight = run(g.payload(0)).catch((e: Error) => e.message);
    await c.drain(fakeConsumer().consumer, 't', 50, () => (giveUp = true));
    expect(await inflight).toBe('stopping with work unfinished');
    expect(g.resolved.size).toBe(0);
    expect(g.committed.size).toBe(0);
  });
});
