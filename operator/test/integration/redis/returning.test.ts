// Members that come back on their own volume, as a StatefulSet brings them back: scale-down stops
// the highest ordinals and keeps their data directories; scale-up starts the same ordinals on
// those directories (with new addresses, as pods get new IPs). A second cluster client
// (node-redis, not the orchestrator's ioredis) writes the whole time; every acknowledged write is
// read back and every overwritten key must hold its last acknowledged value.
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { type RedisNodeHandle, type StartRedisNodesOptions, startRedisNodes } from '../../../../hack/local/redis.js';
import { makeRootDir, sleep } from '../../../../hack/local/procs.js';
import type { OrchestrationEvent, RedisDesiredShape, RedisReconcileResult } from '../../../src/orchestration/types.js';
import { createRedisOrchestrator, type RedisOrchestratorOptions } from '../../../src/redis/index.js';
import { isMaster, parseInfo } from '../../../src/redis/parse.js';
import { clusterNodes, cond, drive, IP_PREFIX, openSlots, placement, requireRedisServer, strayKeys, withConn } from './helpers.js';
import { startSecondClientWriter, verifySecondClient, type SecondClientWriter } from './second-client.js';

jest.setTimeout(600_000);
requireRedisServer();

const started: RedisNodeHandle[][] = [];
const roots: string[] = [];
afterAll(async () => {
  for (const ns of started) await Promise.all(ns.map((n) => n.stop().catch(() => undefined)));
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function newCluster(masters: number) {
  const rootDir = await makeRootDir('redis-return');
  roots.push(rootDir);
  const opts: StartRedisNodesOptions = { count: masters * 2, ipPrefix: IP_PREFIX, rootDir, nodes: 3, clusterNodeTimeoutMs: 3000 };
  const nodes = await startRedisNodes(opts);
  started.push(nodes);
  await drive(createRedisOrchestrator(), { masters, replicasPerMaster: 1 }, nodes, opts);
  return { opts, nodes };
}

const seedsOf = (nodes: RedisNodeHandle[]) => nodes.filter((n) => n.alive()).map((n) => ({ host: n.host, port: n.port }));

async function selfLine(n: RedisNodeHandle) {
  return (await clusterNodes(n)).find((x) => x.flags.has('myself'))!;
}

/**
 * Watches every slot move: when a move into a master starts, that master must have an in-sync
 * replica on another simulated node (no shard without a copy while slots move).
 */
function replicaWatch(nodes: RedisNodeHandle[]) {
  const checked = new Set<string>();
  const bare: string[] = [];
  const hooks: RedisOrchestratorOptions['hooks'] = {
    async step(step, info) {
      if (step !== 'importing-set' || checked.has(info.to)) return;
      checked.add(info.to);
      try {
        await check(info.to);
      } catch (e) {
        // A failed look is a failed check, not a crash of the orchestrator under test.
        bare.push(`${info.to}: could not check its replicas (${String(e)})`);
      }
    },
  };
  const check = async (to: string) => {
      const info = { to };
      const byId = new Map<string, RedisNodeHandle>();
      for (const n of nodes.filter((x) => x.alive())) byId.set((await selfLine(n)).id, n);
      const target = byId.get(info.to);
      const lines = target ? await clusterNodes(target) : [];
      const reps = lines.filter((l) => l.masterId === info.to).map((l) => byId.get(l.id)).filter((x): x is RedisNodeHandle => !!x);
      let ok = false;
      for (const r of reps) {
        const link = await withConn(r, undefined, async (c) => parseInfo(String(await c.call('INFO', 'replication')))['master_link_status']);
        if (link === 'up' && r.nodeName !== target?.nodeName) ok = true;
      }
      if (!ok) bare.push(`${target?.pod ?? info.to}: slot moves began with ${reps.length} replica(s), none in sync on another node`);
  };
  return { hooks, bare, checked };
}

/** End-of-plan checks: replicas hold what their masters hold, keys only at owners, placement. */
async function checkShape(nodes: RedisNodeHandle[], masters: number) {
  expect(await openSlots(nodes)).toEqual([]);
  expect(await strayKeys(nodes)).toEqual([]);
  const p = await placement(nodes);
  expect(p).toHaveLength(masters);
  for (const m of p) {
    expect(m.replicas.length).toBeGreaterThanOrEqual(1);
    expect(m.sameNode).toBe(0);
  }
  // Replicas catch up within a bounded time once the writer has stopped.
  const deadline = Date.now() + 20_000;
  let diffs: string[] = [];
  do {
    diffs = [];
    for (const m of p) {
      const mk = await withConn(m.master, undefined, async (c) => Number(await c.call('DBSIZE')));
      for (const r of m.replicas) {
        const rk = await withConn(r, undefined, async (c) => Number(await c.call('DBSIZE')));
        if (rk !== mk) diffs.push(`${r.pod} holds ${rk} keys, its master ${m.master.pod} ${mk}`);
      }
    }
    if (diffs.length) await sleep(250);
  } while (diffs.length && Date.now() < deadline);
  expect(diffs).toEqual([]);
}

async function verify(nodes: RedisNodeHandle[], w: SecondClientWriter, label: string) {
  const r = await verifySecondClient(seedsOf(nodes), w);
  console.log(`${label}: ${r.checked} keys checked (${w.writes} writes, ${w.errors} failed: ${w.lastError || 'none'}), ${r.lost.length} lost, ${r.wrong.length} wrong`);
  expect(r.checked).toBeGreaterThan(2000);
  expect(r.lost.slice(0, 10)).toEqual([]);
  expect(r.wrong.slice(0, 10)).toEqual([]);
}

/** Makes `member` a replica of a staying master that holds keys, so it leaves as a replica with a keyspace. */
async function makeReplicaOfStayingMaster(nodes: RedisNodeHandle[], member: RedisNodeHandle, stayingCount: number) {
  const me = await selfLine(member);
  const staying = nodes.slice(0, stayingCount);
  let masterId = '';
  for (const n of staying) {
    const l = await selfLine(n);
    if (isMaster(l) && l.slots.length > 0) {
      masterId = l.id;
      break;
    }
  }
  expect(masterId).not.toBe('');
  if (me.masterId !== masterId) {
    // A master with slots cannot become a replica; only re-point a replica (or an empty master).
    expect(isMaster(me) && me.slots.length > 0).toBe(false);
    await withConn(member, undefined, (c) => c.call('CLUSTER', 'REPLICATE', masterId));
  }
  await withConn(member, undefined, async (c) => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && parseInfo(String(await c.call('INFO', 'replication')))['master_link_status'] !== 'up') await sleep(100);
  });
  const keys = await withConn(member, undefined, async (c) => Number(await c.call('DBSIZE')));
  expect(keys).toBeGreaterThan(100);
  return keys;
}

/** Bytes of the regular files in `dir` (only `name` when given). */
function filesBytes(dir: string, name?: string): number {
  const files = name ? [name] : readdirSync(dir);
  return files.map((f) => path.join(dir, f)).filter((f) => existsSync(f) && statSync(f).isFile()).reduce((a, f) => a + statSync(f).size, 0);
}

const reasons = (events: OrchestrationEvent[]) => events.map((e) => e.reason);

describe('members returning on their own volume', () => {
  test('3 -> 4 -> 3 -> 4, the leaving replica holding its master keyspace: it returns empty, no write lost', async () => {
    const { opts, nodes } = await newCluster(3);
    const w = await startSecondClientWriter(seedsOf(nodes));
    const watch = replicaWatch(nodes);
    const orch = createRedisOrchestrator({ migrateBatchKeys: 200, hooks: watch.hooks });
    const shape = (masters: number): RedisDesiredShape => ({ masters, replicasPerMaster: 1 });
    const all: OrchestrationEvent[] = [];
    const run = async (masters: number) => {
      const r = await drive(orch, shape(masters), nodes, opts, { maxRounds: 60, onRound: (x: RedisReconcileResult) => all.push(...x.events) });
      expect(cond(r, 'SlotsBalanced')?.status).toBe('True');
      expect(cond(r, 'KeyspaceIntact')?.status).toBe('True');
      expect(nodes).toHaveLength(masters * 2);
      return r;
    };
    try {
      await sleep(1000);
      await run(4);
      // Force the case that lost writes: a leaving ordinal that is a replica of a staying master.
      const leaving = nodes[7];
      const held = await makeReplicaOfStayingMaster(nodes, leaving, 6);
      const dir = leaving.dir;
      await run(3);
      // The volume is kept, and holds nothing: the AOF is one rewrite of an empty dataset, the RDB empty.
      expect(existsSync(path.join(dir, 'appendonlydir'))).toBe(true);
      expect(filesBytes(path.join(dir, 'appendonlydir'))).toBeLessThan(1024);
      expect(filesBytes(dir, 'dump.rdb')).toBeLessThan(1024);
      const removed = all.filter((e) => e.reason === 'MemberRemoved' && e.message.startsWith(`${leaving.pod} `));
      expect(removed.length).toBeGreaterThan(0);
      expect(removed[0].message).toMatch(/was a replica; \d+ key\(s\) discarded/);
      expect(Number(/(\d+) key\(s\) discarded/.exec(removed[0].message)![1])).toBeGreaterThanOrEqual(held);
      await sleep(1000);
      await run(4); // ordinals 6 and 7 come back on their directories
      expect(nodes[7].dir).toBe(dir);
      await sleep(1000);
    } finally {
      await w.stop();
    }
    expect(watch.bare).toEqual([]);
    expect(watch.checked.size).toBeGreaterThan(0);
    expect(reasons(all)).not.toContain('SlotsReassigned');
    expect(reasons(all)).not.toContain('StaleMemberEmptied'); // it left clean, so it came back clean
    await checkShape(nodes, 4);
    await verify(nodes, w, '3->4->3->4');
  });

  test('3 -> 5 -> 3 -> 5 with the orchestrator killed mid-move each way: resumed, no write lost', async () => {
    const { opts, nodes } = await newCluster(3);
    const w = await startSecondClientWriter(seedsOf(nodes));
    const shape = (masters: number): RedisDesiredShape => ({ masters, replicasPerMaster: 1 });
    const watch = replicaWatch(nodes);
    const fresh = () => createRedisOrchestrator({ migrateBatchKeys: 200, hooks: watch.hooks });
    try {
      await sleep(1000);
      for (const masters of [5, 3, 5]) {
        // A crashing orchestrator first: it dies after its 40th migrated batch, leaving slots open.
        let batches = 0;
        let dead = false;
        const crashing = createRedisOrchestrator({
          migrateBatchKeys: 5,
          migrateConcurrency: 4,
          hooks: {
            step: async (step, info) => {
              if (dead) throw new Error('dead');
              await watch.hooks!.step!(step, info);
              if (step === 'batch-migrated' && ++batches >= 40) {
                dead = true;
                throw new Error('killed mid-move');
              }
            },
          },
        });
        // Drive until the crash happens (members may need to be created first, as a StatefulSet would).
        for (let round = 0; round < 30 && !dead; round++) {
          try {
            await drive(crashing, shape(masters), nodes, opts, { maxRounds: 1 });
          } catch (e) {
            if (!/killed mid-move|dead|did not converge/.test(String(e))) throw e;
          }
        }
        expect(dead).toBe(true);
        // A brand-new orchestrator with only the cluster's state to go on finishes the job.
        const r = await drive(fresh(), shape(masters), nodes, opts, { maxRounds: 60 });
        expect(cond(r, 'SlotsBalanced')?.status).toBe('True');
        expect(cond(r, 'KeyspaceIntact')?.status).toBe('True');
        expect(nodes).toHaveLength(masters * 2);
        await sleep(1000);
      }
    } finally {
      await w.stop();
    }
    expect(watch.bare).toEqual([]);
    await checkShape(nodes, 5);
    await verify(nodes, w, '3->5->3->5 with crashes');
  });

  test('a member returning on a volume the cluster forgot (keys, slot claims) is emptied before it joins', async () => {
    const { opts, nodes } = await newCluster(3);
    const w = await startSecondClientWriter(seedsOf(nodes));
    const all: OrchestrationEvent[] = [];
    let last: RedisReconcileResult | undefined;
    try {
      await sleep(1500);
      // Ordinals 6 and 7 get volumes holding a replica's whole keyspace (copied from a running
      // replica, as a restored backup or a volume from an older removal would), no nodes.conf:
      // each starts as an unknown node with ~1/3 of the keys and claims their slots.
      const replica = (await Promise.all(nodes.map(async (n) => ({ n, l: await selfLine(n) })))).find((x) => !isMaster(x.l))!.n;
      for (const ord of [6, 7]) {
        const dir = path.join(opts.rootDir, `redis-${ord}`);
        cpSync(path.join(replica.dir, 'appendonlydir'), path.join(dir, 'appendonlydir'), { recursive: true });
        rmSync(path.join(dir, 'nodes.conf'), { force: true });
      }
      last = await drive(createRedisOrchestrator({ migrateBatchKeys: 200 }), { masters: 4, replicasPerMaster: 1 }, nodes, opts, {
        maxRounds: 60,
        onRound: (x) => all.push(...x.events),
      });
      await sleep(1000);
    } finally {
      await w.stop();
    }
    await verify(nodes, w, 'stale volumes');
    await checkShape(nodes, 4);
    expect(cond(last!, 'KeyspaceIntact')?.status).toBe('True');
    const emptied = all.filter((e) => e.reason === 'StaleMemberEmptied');
    expect(emptied.map((e) => /^(\S+)/.exec(e.message)![1]).sort()).toEqual(['redis-6', 'redis-7']);
    for (const e of emptied) {
      expect(e.type).toBe('Normal');
      expect(Number(/(\d+) key\(s\) discarded/.exec(e.message)![1])).toBeGreaterThan(100);
      expect(e.message).toMatch(/claims \d+ slot\(s\)/);
    }
    expect(reasons(all)).not.toContain('SlotsReassigned');
  });
});
