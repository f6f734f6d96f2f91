// ZkLocks against a real 3-node ZooKeeper ensemble (the operator's zoo.cfg, hack/local/zookeeper.ts):
// mutual exclusion under batched (multi) acquisition from several sessions, the failed-multi split
// when a shard directory is missing, and the watch-only-the-predecessor hand-over.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rmSync } from 'node:fs';
import zookeeper from 'node-zookeeper-client';
import pino from 'pino';
import { makeRootDir } from '../../../../hack/local/procs.js';
import { startZooKeeperEnsemble, type ZooKeeperEnsemble } from '../../../../hack/local/zookeeper.js';
import { shardOf, ZkLocks, type LockHandle } from '../../src/zklock.js';

const log = pino({ level: 'silent' });
let rootDir: string;
let zk: ZooKeeperEnsemble;
const open: ZkLocks[] = [];

async function locks(root: string): Promise<ZkLocks> {
  const l = new ZkLocks(zk.connectString, 10_000, root, log);
  l.keepHistory = true;
  open.push(l);
  await l.start();
  return l;
}

beforeAll(async () => {
  rootDir = await makeRootDir('zklock-it');
  zk = await startZooKeeperEnsemble({ ipPrefix: '127.0.2', rootDir, firstHost: 61 });
}, 180_000);

afterAll(async () => {
  for (const l of open) await l.close();
  await zk?.stop();
  if (rootDir) rmSync(rootDir, { recursive: true, force: true });
});

describe('ZooKeeper per-entity locks (real ensemble)', () => {
  it('3 sessions x 600 concurrent acquisitions over 20 names: held intervals never overlap, writes are batched', async () => {
    const ls = [await locks('/it/a'), await locks('/it/a'), await locks('/it/a')];
    const batches: number[] = [];
    for (const l of ls) l.onBatch = (_op, n) => batches.push(n);
    const names = Array.from({ length: 20 }, (_, i) => `product_${i + 1}`);
    const inside = new Map<string, number>();
    let violations = 0;
    await Promise.all(
      ls.flatMap((l) =>
        Array.from({ length: 600 }, async (_, i) => {
          const name = names[i % names.length];
          const h = await l.acquire(name, 60_000);
          try {
            if (inside.get(name)) violations++;
            inside.set(name, (inside.get(name) ?? 0) + 1);
            await new Promise((r) => setTimeout(r, Math.random() * 2));
            inside.set(name, inside.get(name)! - 1);
          } finally {
            await h.release();
          }
        }),
      ),
    );
    expect(violations).toBe(0);
    const all = ls.flatMap((l) => l.intervals).sort((a, b) => a.acquiredAt - b.acquiredAt);
    expect(all).toHaveLength(1800);
    for (const name of names) {
      const mine = all.filter((i) => i.name === name);
      for (let k = 1; k < mine.length; k++) expect(mine[k].acquiredAt).toBeGreaterThanOrEqual(mine[k - 1].releasedAt);
    }
    // Batching happened (first turn: 600 creates per session) and nothing is left behind.
    expect(Math.max(...batches)).toBeGreaterThan(50);
    const c = zookeeper.createClient(zk.connectString);
    await new Promise<void>((r) => {
      c.once('connected', () => r());
      c.connect();
    });
    const shards = await new Promise<string[]>((res, rej) => c.getChildren('/it/a', (e, k) => (e ? rej(e) : res(k))));
    const leftovers = await Promise.all(shards.map((s) => new Promise<string[]>((res, rej) => c.getChildren(`/it/a/${s}`, (e, k) => (e ? rej(e) : res(k))))));
    c.close();
    expect(leftovers.flat()).toEqual([]);
  }, 180_000);

  it('a shard directory removed behind its back fails only its own op; the rest of the multi is resent', async () => {
    const l = await locks('/it/b');
    // Create and release once so every shard these names use exists and is cached as existing.
    const names = Array.from({ length: 60 }, (_, i) => `shop_${i + 1}`);
    await Promise.all(names.map(async (n) => (await l.acquire(n, 30_000)).release()));
    const victim = shardOf(names[0]);
    const c = zookeeper.createClient(zk.connectString);
    await new Promise<void>((r) => {
      c.once('connected', () => r());
      c.connect();
    });
    await new Promise<void>((res, rej) => c.remove(`/it/b/${victim}`, -1, (e) => (e ? rej(e) : res())));
    const batches: number[] = [];
    l.onBatch = (op, n) => op === 'create' && batches.push(n);
    const handles: LockHandle[] = await Promise.all(names.map((n) => l.acquire(n, 30_000)));
    expect(handles.map((h) => h.name).sort()).toEqual([...names].sort());
    expect(handles.find((h) => h.name === names[0])!.path.startsWith(`/it/b/${victim}/`)).toBe(true);
    expect(batches[0]).toBe(60); // one multi for all, which failed on the missing shard ...
    expect(batches.length).toBeGreaterThanOrEqual(2); // ... then resent without it, and it alone after its dir was made
    await Promise.all(handles.map((h) => h.release()));
    c.close();
  }, 120_000);

  it('a waiter watches its predecessor and gets the lock as soon as it is released', async () => {
    const [a, b] = [await locks('/it/c'), await locks('/it/c')];
    const first = await a.acquire('product_42', 10_000);
    let got = 0;
    const second = b.acquire('product_42', 10_000).then((h) => {
      got = Date.now();
      return h;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(got).toBe(0); // still held
    const released = Date.now();
    await first.release();
    const h = await second;
    expect(got - released).toBeLessThan(2000);
    await h.release();
    // And a waiter that can't get it in time gives up with a timeout, leaving no node behind.
    const holder = await a.acquire('product_43', 10_000);
    await expect(b.acquire('product_43', 300)).rejects.toThrow(/timed out/);
    await holder.release();
    expect((await b.acquire('product_43', 5_000)).name).toBe('product_43');
  }, 60_000);
});
