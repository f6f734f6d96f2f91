// Scale 3 -> 4 -> 6 -> 3 masters (replicasPerMaster 1) while an ioredis Cluster client writes
// continuously: every acknowledged write reads back, no non-owner holds keys of a slot, replicas
// stay anti-affine, the StatefulSet only shrinks after the drain is verified.
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { startRedisNodes, type RedisNodeHandle, type StartRedisNodesOptions } from '../../../../hack/local/redis.js';
import { makeRootDir, sleep } from '../../../../hack/local/procs.js';
import { createRedisOrchestrator } from '../../../src/redis/index.js';
import type { MigrationProgress } from '../../../src/orchestration/types.js';
import { clusterInfo, cond, drive, IP_PREFIX, openSlots, placement, requireRedisServer, startWriter, strayKeys, verifyKeys } from './helpers.js';

jest.setTimeout(420_000);
requireRedisServer();

let nodes: RedisNodeHandle[] = [];
let rootDir = '';
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  if (rootDir) await rm(rootDir, { recursive: true, force: true });
});

describe('scaling masters under write load', () => {
  test('3 -> 4 -> 6 -> 3 masters: no acknowledged write lost, no stray keys, placement kept', async () => {
    rootDir = await makeRootDir('redis-orch');
    const opts: StartRedisNodesOptions = { count: 6, ipPrefix: IP_PREFIX, rootDir, nodes: 3, clusterNodeTimeoutMs: 3000 };
    nodes = await startRedisNodes(opts);
    const orch = createRedisOrchestrator({ migrateBatchKeys: 200 });
    await drive(orch, { masters: 3, replicasPerMaster: 1 }, nodes, opts);
    const seeds = nodes.slice(0, 3).map((n) => ({ host: n.host, port: n.port }));
    const w = startWriter(seeds);
    const shrinkSeen: Array<{ sts: number; members: number; balanced: string }> = [];
    const progress: MigrationProgress[] = [];
    try {
      await sleep(1500);
      for (const masters of [4, 6, 3]) {
        const r = await drive(orch, { masters, replicasPerMaster: 1 }, nodes, opts, {
          maxRounds: 40,
          onRound: (x) => shrinkSeen.push({ sts: x.statefulSetReplicas, members: nodes.length, balanced: cond(x, 'SlotsBalanced')!.status }),
          onProgress: (x) => progress.push(structuredClone(x)),
        });
        expect(nodes).toHaveLength(masters * 2);
        expect(cond(r, 'SlotsCovered')?.status).toBe('True');
        expect(cond(r, 'SlotsBalanced')?.status).toBe('True');
        expect(cond(r, 'ReplicaPlacement')?.status).toBe('True');
        expect(r.readyMasters).toBe(masters);
        const p = await placement(nodes);
        expect(p).toHaveLength(masters);
        for (const m of p) {
          expect(m.replicas).toHaveLength(1);
          expect(m.sameNode).toBe(0);
          expect(Math.abs(m.slots - 16384 / masters)).toBeLessThan(1);
        }
        if (masters === 4) {
          expect(r.events.filter((e) => e.reason === 'SlotsMoved').length).toBeGreaterThanOrEqual(3);
          // Progress was reported while the slots moved: from none to all, never backwards, every
          // pair naming the new master (the 4th master is one of the two new pods).
          expect(progress.length).toBeGreaterThan(2);
          expect(progress[0]).toMatchObject({ slotsMoved: 0, slotsFailed: 0 });
          const last = progress[progress.length - 1];
          expect(last.slotsMoved).toBe(last.slotsTotal);
          expect(last.slotsTotal).toBe(4096);
          expect(last.keysMoved).toBeGreaterThan(0);
          expect(progress.every((x, i) => i === 0 || x.slotsMoved >= progress[i - 1].slotsMoved || x.slotsTotal !== progress[i - 1].slotsTotal)).toBe(true);
          expect(new Set(last.moves.map((m) => m.to)).size).toBe(1);
          expect(last.moves.map((m) => m.slots).reduce((a, b) => a + b, 0)).toBe(4096);
          progress.length = 0;
        }
        if (masters === 3) {
          // Drained masters' slots were spread over every remaining master.
          const targets = new Set(r.events.filter((e) => e.reason === 'SlotsMoved').map((e) => / to (\S+)$/.exec(e.message.replace(/ \(atomic.*$/, ''))?.[1]));
          expect(targets.size).toBeGreaterThanOrEqual(3);
        }
        for (const n of nodes) expect((await clusterInfo(n)).cluster_state).toBe('ok');
        await sleep(1000); // keep writing in the new shape
      }
    } finally {
      await w.stop();
    }
    // The StatefulSet never shrank before the drain was done: while any slot was unbalanced the
    // orchestrator kept every member.
    for (const s of shrinkSeen) if (s.sts < s.members) expect(s.balanced).toBe('True');
    expect(w.acked.size).toBeGreaterThan(1000);
    const seeds2 = nodes.map((n) => ({ host: n.host, port: n.port }));
    const bad = await verifyKeys(seeds2, w.acked);
    expect(bad.slice(0, 10)).toEqual([]);
    expect(await strayKeys(nodes)).toEqual([]);
    expect(await openSlots(nodes)).toEqual([]);
    console.log(`scale test: ${w.acked.size} acknowledged writes verified, ${w.errors} write errors (retried by the client or unacknowledged)`);
  });
});
