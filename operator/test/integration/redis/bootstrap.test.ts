// Bootstrap, anti-affine placement, password, master kill and full restart with new addresses,
// against real redis-server 7.0 processes on 127.0.1.x.
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { allocateHost, startRedisNodes, type RedisNodeHandle, type StartRedisNodesOptions } from '../../../../hack/local/redis.js';
import { makeRootDir, sleep, waitFor } from '../../../../hack/local/procs.js';
import { createRedisOrchestrator } from '../../../src/redis/index.js';
import { clusterInfo, clusterNodes, cond, drive, IP_PREFIX, myId, placement, requireRedisServer, startWriter, verifyKeys } from './helpers.js';

jest.setTimeout(180_000);
requireRedisServer();

const running: RedisNodeHandle[][] = [];
const roots: string[] = [];
afterAll(async () => {
  for (const ns of running) await Promise.all(ns.map((n) => n.stop().catch(() => undefined)));
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function cluster(simNodes: number, extra: Partial<StartRedisNodesOptions> = {}) {
  const rootDir = await makeRootDir('redis-orch');
  roots.push(rootDir);
  const opts: StartRedisNodesOptions = { count: 6, ipPrefix: IP_PREFIX, rootDir, nodes: simNodes, clusterNodeTimeoutMs: 2000, ...extra };
  const nodes = await startRedisNodes(opts);
  running.push(nodes);
  return { nodes, opts };
}

async function assertHealthy(nodes: RedisNodeHandle[], password?: string) {
  for (const n of nodes) {
    const info = await clusterInfo(n, password);
    expect(info.cluster_state).toBe('ok');
    expect(info.cluster_slots_assigned).toBe('16384');
    expect(info.cluster_known_nodes).toBe(String(nodes.length));
  }
}

/** How many times the cluster was formed in a drive (its events cover every round). */
const created = (r: { events: Array<{ reason: string }> }) => r.events.filter((e) => e.reason === 'ClusterCreated').length;

describe('bootstrap and placement', () => {
  test('6 members on 3 simulated nodes: 3 masters, 16384 slots, every replica on another node', async () => {
    const { nodes, opts } = await cluster(3);
    const orch = createRedisOrchestrator();
    const r = await drive(orch, { masters: 3, replicasPerMaster: 1 }, nodes, opts);
    expect(created(r)).toBe(1);
    await assertHealthy(nodes);
    const p = await placement(nodes);
    expect(p).toHaveLength(3);
    for (const m of p) {
      expect(m.replicas).toHaveLength(1);
      expect(m.sameNode).toBe(0);
      expect([5461, 5462]).toContain(m.slots);
    }
    expect(cond(r, 'ReplicaPlacement')?.status).toBe('True');
    expect(cond(r, 'SlotsCovered')?.status).toBe('True');
    expect(cond(r, 'SlotsBalanced')?.status).toBe('True');
    expect(cond(r, 'MembershipHealthy')?.status).toBe('True');
    expect(r.members.filter((m) => m.role === 'master')).toHaveLength(3);
    expect(r.members.filter((m) => m.role === 'replica').every((m) => m.replicaOf)).toBe(true);
    expect(r.readyMasters).toBe(3);
    expect(r.events.some((e) => e.reason === 'ClusterCreated')).toBe(true);

    // An idle reconcile changes nothing and never re-bootstraps.
    const again = await orch.reconcile({ masters: 3, replicasPerMaster: 1 }, nodes.map((n) => n.member()), 6);
    expect(again.converged).toBe(true);
    expect(again.events).toEqual([]);

    // Kill a master: the cluster promotes its replica; once the pod is back (as Kubernetes would
    // restart it) the operator restores replica count and placement.
    const victim = p[0].master;
    const victimId = await myId(victim);
    const seeds = nodes.map((n) => ({ host: n.host, port: n.port }));
    const w = startWriter(seeds);
    let healed;
    try {
      await sleep(500);
      await victim.kill('SIGKILL');
      await waitFor('replica promoted', async () => {
        const view = await clusterNodes(p[0].replicas[0]);
        return view.find((x) => x.flags.has('myself'))!.flags.has('master');
      }, 30_000, 200);
      // While the pod is down: not converged, the gap is reported.
      const down = await orch.reconcile({ masters: 3, replicasPerMaster: 1 }, nodes.map((n) => n.member()), 6);
      expect(down.converged).toBe(false);
      expect(cond(down, 'MembershipHealthy')?.status).toBe('False');
      await victim.restart();
      expect(await myId(victim)).toBe(victimId);
      healed = await drive(orch, { masters: 3, replicasPerMaster: 1 }, nodes, opts);
    } finally {
      await w.stop();
    }
    expect(cond(healed, 'ReplicaPlacement')?.status).toBe('True');
    await assertHealthy(nodes);
    const p2 = await placement(nodes);
    expect(p2).toHaveLength(3);
    for (const m of p2) {
      expect(m.replicas.length).toBe(1);
      expect(m.sameNode).toBe(0);
    }
    // Writes acknowledged before the kill may be lost with an async replica (Redis' own
    // guarantee); writes after healing must all be there.
    expect(w.acked.size).toBeGreaterThan(0);
    expect(created(healed!)).toBe(0); // healing never re-forms the cluster

    // All members restarted at once with new addresses: same node IDs, same cluster, no bootstrap.
    const ids = await Promise.all(nodes.map((n) => myId(n)));
    const before = new Map<string, string>();
    const w2 = startWriter(seeds);
    await sleep(1000);
    await w2.stop();
    for (const [k, v] of w2.acked) before.set(k, v);
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(nodes.map((n) => n.restart(allocateHost(IP_PREFIX))));
    const orch2 = createRedisOrchestrator();
    const back = await drive(orch2, { masters: 3, replicasPerMaster: 1 }, nodes, opts);
    expect(created(back)).toBe(0);
    expect(await Promise.all(nodes.map((n) => myId(n)))).toEqual(ids);
    await assertHealthy(nodes);
    expect(cond(back, 'ReplicaPlacement')?.status).toBe('True');
    for (const n of nodes) {
      const view = await clusterNodes(n);
      for (const m of nodes) expect(view.find((x) => x.host === m.host)).toBeDefined();
    }
    const bad = await verifyKeys(nodes.map((n) => ({ host: n.host, port: n.port })), before);
    expect(bad.slice(0, 5)).toEqual([]);
  });

  test('6 members on 2 simulated nodes: placement still satisfied', async () => {
    const { nodes, opts } = await cluster(2);
    const orch = createRedisOrchestrator();
    const r = await drive(orch, { masters: 3, replicasPerMaster: 1 }, nodes, opts);
    await assertHealthy(nodes);
    for (const m of await placement(nodes)) {
      expect(m.replicas).toHaveLength(1);
      expect(m.sameNode).toBe(0);
    }
    expect(cond(r, 'ReplicaPlacement')?.status).toBe('True');
  });

  test('6 members on 1 simulated node: ReplicaPlacement=False with a reason, cluster still works', async () => {
    const { nodes, opts } = await cluster(1);
    const orch = createRedisOrchestrator();
    const r = await drive(orch, { masters: 3, replicasPerMaster: 1 }, nodes, opts);
    await assertHealthy(nodes);
    const pc = cond(r, 'ReplicaPlacement')!;
    expect(pc.status).toBe('False');
    expect(pc.reason).toBe('NotEnoughNodes');
    expect(pc.message).toMatch(/1 Kubernetes node/);
    expect(pc.message).toMatch(/node-0/);
    // Replicas are still assigned (process-level redundancy).
    for (const m of await placement(nodes)) expect(m.replicas).toHaveLength(1);
  });

  test('password-protected cluster (requirepass + masterauth) forms and serves', async () => {
    const password = 's3cret-pw';
    const { nodes, opts } = await cluster(3, { password });
    const orch = createRedisOrchestrator();
    const r = await drive(orch, { masters: 3, replicasPerMaster: 1, password }, nodes, opts);
    expect(r.converged).toBe(true);
    await assertHealthy(nodes, password);
    const seeds = nodes.map((n) => ({ host: n.host, port: n.port }));
    const w = startWriter(seeds, password);
    await sleep(700);
    await w.stop();
    expect(w.acked.size).toBeGreaterThan(50);
    expect(await verifyKeys(seeds, w.acked, password)).toEqual([]);
    // Without the password nothing works.
    const noAuth = await orch.reconcile({ masters: 3, replicasPerMaster: 1 }, nodes.map((n) => n.member()), 6);
    expect(noAuth.converged).toBe(false);
    expect(cond(noAuth, 'MembershipHealthy')?.message).toMatch(/NOAUTH|unreachable/);
  });
});
