// Operator-driven roll of a Redis Cluster on real redis-server 7.0 processes (127.0.8.x), with the
// ACL users the operator renders: a 3 + 3 cluster formed by the real orchestrator, rolled to a new
// redis.conf (hz 10 -> 20) by the real planner (roll/plan-redis.ts) and observer (redis/roll.ts),
// one action per pass, while two different cluster clients write the whole time. The simulated
// StatefulSet (OnDelete) deletes a pod as the kubelet does (SIGTERM, the process exits, a moment
// without a pod, a new one on the same volume: same data dir and nodes.conf, the new config), and
// "Ready" is the real readiness probe script run against the member. The simulated kubelet runs the
// real preStop hook before SIGTERM, and a re-created pod gets a new IP, as in Kubernetes.
//
// Then the preStop script: on a master with a replica, under writes, as a user with only the
// rules the hook needs, it hands the slots over and the master ends as a replica.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { allocateHost, randomRedisCredentials, startRedisNode, startRedisNodes, type RedisNodeHandle, type StartRedisNodesOptions } from '../../../../hack/local/redis.js';
import { makeRootDir, sleep, startProcess, waitFor, waitForPort } from '../../../../hack/local/procs.js';
import { DEFAULT_SPEC } from '../../../src/api/defaults.js';
import { createRedisOrchestrator } from '../../../src/redis/index.js';
import { isMaster, parseInfo, SLOT_COUNT } from '../../../src/redis/parse.js';
import { RedisRollObserver } from '../../../src/redis/roll.js';
import { renderRedisConf } from '../../../src/render/config/redis.js';
import { REDIS_ACL_FILE, REDIS_AUTH_CONF_FILE, type RedisCredentials } from '../../../src/render/config/redis-acl.js';
import { redisPreStopScript, redisReadinessScript } from '../../../src/render/config/redis-probe.js';
import { planRedisRoll } from '../../../src/roll/plan-redis.js';
import type { RedisRollState, RollDecision, RollPod } from '../../../src/roll/types.js';
import { REDIS_USERS, type RedisRole } from '../../../../packages/contract/src/index.js';
import { clusterInfo, clusterNodes, drive, placement, requireRedisServer, startWriter, verifyKeys, withConn } from './helpers.js';
import { startSecondClientWriter, verifySecondClient } from './second-client.js';

jest.setTimeout(900_000);
requireRedisServer();

const run = promisify(execFile);
/** This file's own addresses (the other Redis tests use 127.0.1.x). */
const IP = '127.0.8';
const NODE_TIMEOUT_MS = 2000;
const OLD_HZ = '10';
const NEW_HZ = '20';

const creds: RedisCredentials = randomRedisCredentials();
const as = (role: RedisRole) => ({ username: REDIS_USERS[role], password: creds[role] });
const admin = as('operator');

let rootDir = '';
let nodes: RedisNodeHandle[] = [];
const extra: RedisNodeHandle[] = [];
let opts: StartRedisNodesOptions;
let probePwFile = '';
const seeds = () => nodes.map((n) => ({ host: n.host, port: n.port }));
const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} roll-test ${msg}\n`);

/** The real readiness script against one member: exit 0 = ready; otherwise what it said. */
async function probe(n: { host: string; port: number }): Promise<{ ready: boolean; out: string }> {
  const script = redisReadinessScript({ user: REDIS_USERS.member, passwordFile: probePwFile, host: n.host, port: n.port });
  try {
    await run('sh', ['-c', script], { timeout: 20_000 });
    return { ready: true, out: '' };
  } catch (e) {
    const err = e as { stdout?: string; message?: string };
    return { ready: false, out: (err.stdout ?? err.message ?? '').trim() };
  }
}

/**
 * The StatefulSet (OnDelete) + kubelet for the roll: restart() returns once the pod is deleted
 * (SIGTERM sent); the pod then terminates, is missing for a moment, and comes back at the update
 * revision on the same volume. "current" = started with the new config.
 */
class SimStatefulSet {
  readonly phase = new Map<string, 'running' | 'terminating' | 'missing'>();
  readonly current = new Set<string>();
  inFlight?: Promise<void>;
  failure?: unknown;
  /** The last probe result per pod. */
  readonly lastReady = new Map<string, boolean>();
  /** Restarts asked for while another member was down or not ready. */
  readonly violations: string[] = [];
  /** Max members down (process not running) seen at any sample. */
  maxDown = 0;
  private sampler?: NodeJS.Timeout;

  constructor(
    readonly ns: RedisNodeHandle[],
    private readonly newIpOnRestart = false,
  ) {
    for (const n of ns) this.phase.set(n.pod, 'running');
  }

  startSampling() {
    this.sampler = setInterval(() => {
      const down = this.ns.filter((n) => !n.alive() || this.phase.get(n.pod) !== 'running').length;
      this.maxDown = Math.max(this.maxDown, down);
    }, 50);
  }
  stopSampling() {
    clearInterval(this.sampler);
  }

  async pods(): Promise<RollPod[]> {
    const present = this.ns.filter((n) => this.phase.get(n.pod) !== 'missing');
    return Promise.all(
      present.map(async (n) => {
        const phase = this.phase.get(n.pod)!;
        const p = phase === 'running' ? await probe(n) : { ready: false, out: phase };
        this.lastReady.set(n.pod, p.ready);
        if (!p.ready) notReadySeen.add(`${n.pod}: ${p.out.split('\n')[0].slice(0, 80)}`);
        return { pod: n.pod, ordinal: n.ordinal, host: n.host, current: this.current.has(n.pod), ready: p.ready, terminating: phase === 'terminating' };
      }),
    );
  }

  async restart(_component: string, pod: string): Promise<void> {
    if (this.inFlight) throw new Error(`restart of ${pod} while another pod is still being replaced`);
    const others = this.ns.filter((x) => x.pod !== pod && (!x.alive() || this.lastReady.get(x.pod) !== true));
    if (others.length) this.violations.push(`${pod} restarted while ${others.map((x) => x.pod).join(',')} down or not ready`);
    const n = this.ns.find((x) => x.pod === pod)!;
    this.phase.set(pod, 'terminating');
    this.inFlight = (async () => {
      // The kubelet: the preStop hook (the real script; a replica, or a master the roll already
      // failed over, has nothing to hand over), then SIGTERM.
      const hook = await run('sh', ['-c', redisPreStopScript({ user: REDIS_USERS.member, passwordFile: probePwFile, host: n.host, port: n.port, waitSeconds: 20 })], {
        timeout: 60_000,
      });
      preStopSeen.add(`${pod}: ${hook.stdout.trim()}`);
      await n.proc.kill('SIGTERM', 30_000);
      this.phase.set(pod, 'missing');
      await sleep(2000); // the StatefulSet controller re-creates the pod, the kubelet starts it
      // A new pod gets a new IP: Redis announces it (cluster-announce-ip) and the others learn it
      // from its cluster bus pings; the roll maps members to pods by their current address.
      if (this.newIpOnRestart) n.host = allocateHost(IP);
      const acl = { aclFile: path.join(n.dir, REDIS_ACL_FILE), authConf: path.join(n.dir, REDIS_AUTH_CONF_FILE) };
      const spec = { ...DEFAULT_SPEC.redis, config: { hz: NEW_HZ } };
      const conf = renderRedisConf(spec, { port: n.port, bind: n.host, dir: n.dir, announceIp: n.host, clusterNodeTimeoutMs: NODE_TIMEOUT_MS, acl });
      writeFileSync(path.join(n.dir, 'redis.conf'), conf);
      n.proc = startProcess(n.pod, 'redis-server', [path.join(n.dir, 'redis.conf')], { logDir: path.join(rootDir, 'logs') });
      n.pid = n.proc.pid;
      this.current.add(pod);
      this.phase.set(pod, 'running');
      await waitForPort(n.host, n.port, 60_000, n.proc);
    })()
      .catch((e: unknown) => {
        this.failure = e;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
  }
}

const notReadySeen = new Set<string>();
/** What the preStop hook said when the roll deleted a pod. */
const preStopSeen = new Set<string>();
/** Every distinct reason the planner waited for, over all rolls (reported). */
const waitReasons = new Set<string>();

type RollAction = { d: RollDecision; roleBefore?: string; errorsBefore: number; errorsAfter?: number; ms: number };

function summarize(actions: RollAction[]): string[] {
  return actions.map((a) => `${a.d.action} ${'pod' in a.d ? a.d.pod : ''}${a.d.action === 'failover' ? `->${a.d.to}` : ''} (was ${a.roleBefore}, ${a.ms} ms)`);
}

/**
 * The roll loop as driver.ts runs it: observe -> planRedisRoll -> act (one action), a pass about
 * every second, until done. Meanwhile a second observer samples slot coverage every 250 ms (also
 * during failovers, which the loop awaits).
 */
async function rollUntilDone(sts: SimStatefulSet, observer: RedisRollObserver, errors: () => number) {
  const actions: RollAction[] = [];
  const observations: Array<{ pass: number; covered: boolean; decision: string }> = [];
  const uncovered: string[] = [];
  const sampledUncovered: string[] = [];
  /** Every linked replica's lag (bytes) at every pass: evidence for the planner's lag threshold. */
  const lags: number[] = [];
  let sampled = 0;
  let sampling = true;
  const sampler = new RedisRollObserver(admin, { port: sts.ns[0].port, timeoutMs: 10_000 });
  const allPods = (): RollPod[] => sts.ns.map((n) => ({ pod: n.pod, ordinal: n.ordinal, host: n.host, current: false, ready: true, terminating: false }));
  const samplerLoop = (async () => {
    while (sampling) {
      const st = await sampler.redis(allPods());
      sampled++;
      if (!st.slotsCovered) sampledUncovered.push(`${new Date().toISOString()}: ${st.members.map((m) => `${m.pod}:${m.role}:${m.slots ?? ''}`).join(' ')}`);
      await sleep(250);
    }
  })();
  sts.startSampling();
  const start = Date.now();
  let last: RollDecision = { action: 'wait', reason: 'not started' };
  try {
    for (let pass = 0; ; pass++) {
      if (sts.failure) throw sts.failure;
      if (Date.now() - start > 600_000) throw new Error(`roll did not finish in 10 min; last decision ${JSON.stringify(last)}`);
      const pods = await sts.pods();
      const state: RedisRollState = await observer.redis(pods);
      if (!state.slotsCovered) uncovered.push(`pass ${pass}: ${JSON.stringify(state.members.map((m) => `${m.pod}:${m.role}:${m.slots ?? ''}`))}`);
      for (const m of state.members) if (m.linkUp && m.lagBytes !== undefined) lags.push(m.lagBytes);
      last = planRedisRoll(pods, sts.ns.length, state);
      observations.push({ pass, covered: state.slotsCovered, decision: last.action });
      if (last.action === 'wait') waitReasons.add(last.reason.replace(/\d+ bytes behind/, 'N bytes behind'));
      if (last.action !== 'wait' || pass % 5 === 0) log(`pass ${pass} (${((Date.now() - start) / 1000).toFixed(1)} s): ${JSON.stringify(last)}`);
      if (last.action === 'done') break;
      const errorsBefore = errors();
      const t0 = Date.now();
      const d = last;
      if (d.action === 'failover') {
        actions.push({ d, roleBefore: state.members.find((m) => m.pod === d.pod)?.role, errorsBefore, ms: 0 });
        await observer.redisFailover(pods, d.pod, d.to);
        actions[actions.length - 1].ms = Date.now() - t0;
      } else if (d.action === 'restart') {
        actions.push({ d, roleBefore: state.members.find((m) => m.pod === d.pod)?.role, errorsBefore, ms: 0 });
        await sts.restart('redis', d.pod);
        actions[actions.length - 1].ms = Date.now() - t0;
      }
      await sleep(1000);
      // Errors are counted until the next action.
      if (actions.length) actions[actions.length - 1].errorsAfter = errors();
    }
  } finally {
    sts.stopSampling();
    sampling = false;
    await samplerLoop;
  }
  if (lags.length) {
    const sortedLags = [...lags].sort((a, b) => a - b);
    log(`replica lag at the passes: ${lags.length} readings, ${lags.filter((l) => l > 0).length} above 0, median ${sortedLags[Math.floor(lags.length / 2)]} B, max ${sortedLags[lags.length - 1]} B`);
  }
  return { actions, observations, uncovered, sampled, sampledUncovered, rollSeconds: (Date.now() - start) / 1000 };
}

afterAll(async () => {
  log(`planner waits seen: ${[...waitReasons].join(' | ')}`);
  log(`preStop during the rolls: ${[...preStopSeen].join(' | ')}`);
  await Promise.all([...nodes, ...extra].map((n) => n.stop().catch(() => undefined)));
  if (rootDir && !process.env.KEEP_ROLL_TEST_DIR) await rm(rootDir, { recursive: true, force: true });
});

beforeAll(async () => {
  rootDir = await makeRootDir('redis-roll');
  probePwFile = path.join(rootDir, 'member-password');
  writeFileSync(probePwFile, creds.member, { mode: 0o600 });
  opts = { count: 6, ipPrefix: IP, rootDir, nodes: 3, clusterNodeTimeoutMs: NODE_TIMEOUT_MS, acl: creds, spec: { config: { hz: OLD_HZ } } };
  nodes = await startRedisNodes(opts);
  const r = await drive(createRedisOrchestrator(), { masters: 3, replicasPerMaster: 1, ...admin }, nodes, opts);
  expect(r.converged).toBe(true);
});

async function roleOf(n: RedisNodeHandle): Promise<string> {
  return withConn(n, admin, async (c) => parseInfo(String(await c.call('INFO', 'replication'))).role);
}

describe('operator-driven Redis roll', () => {
  test('readiness probe on real servers: a fresh member is ready; two slotless members that met are not; a replica without its master is not; formed members are', async () => {
    const fresh = await startRedisNode({ ...opts, firstOrdinal: 6 }, 6);
    const other = await startRedisNode({ ...opts, firstOrdinal: 7 }, 7);
    try {
      expect((await clusterInfo(fresh, admin)).cluster_state).toBe('fail'); // what Redis says for a lone node
      expect(await probe(fresh)).toEqual({ ready: true, out: '' });
      // Once it knows another node it is part of a cluster: cluster_state must be ok, and two
      // members without any slot are not (Redis counts no reachable slot owner).
      await withConn(fresh, admin, (c) => c.call('CLUSTER', 'MEET', other.host, other.port));
      await waitFor('fresh knows 2 nodes', async () => (await clusterInfo(fresh, admin)).cluster_known_nodes === '2', 30_000);
      expect(await probe(fresh)).toEqual({ ready: false, out: 'cluster_state:fail' });
      await withConn(fresh, admin, (c) => c.call('CLUSTER', 'ADDSLOTSRANGE', 0, SLOT_COUNT - 1));
      await waitFor('both ready once slots are served', async () => (await probe(fresh)).ready && (await probe(other)).ready, 30_000);
      // A replica whose master is gone: master_link_status:down.
      await withConn(other, admin, async (c) => c.call('CLUSTER', 'REPLICATE', await withConn(fresh, admin, (f) => f.call('CLUSTER', 'MYID')) as string));
      await waitFor('replica in sync', async () => (await probe(other)).ready && (await roleOf(other)) === 'slave', 30_000);
      await fresh.stop();
      await waitFor('replica not ready', async () => !(await probe(other)).ready, 30_000);
      expect((await probe(other)).out).toMatch(/^(master_link_status:down|cluster_state:fail)$/);
    } finally {
      await fresh.stop();
      await other.stop();
    }
    for (const n of nodes) expect(await probe(n)).toEqual({ ready: true, out: '' });
    // A wrong password is not ready (and the password is never on the command line).
    writeFileSync(path.join(rootDir, 'wrong-password'), 'not-the-password');
    const wrong = redisReadinessScript({ user: REDIS_USERS.member, passwordFile: path.join(rootDir, 'wrong-password'), host: nodes[0].host, port: nodes[0].port });
    await expect(run('sh', ['-c', wrong])).rejects.toMatchObject({ stdout: expect.stringMatching(/PING: .*(WRONGPASS|NOAUTH)/) });
    expect(wrong).not.toContain(creds.member);
  });

  test('roll 3+3 to a new config under writes: replicas first, failover before a master restarts, one member down at most, slots covered throughout', async () => {
    const observer = new RedisRollObserver(admin, { port: nodes[0].port, timeoutMs: 10_000, failoverTimeoutMs: 30_000 });
    const sts = new SimStatefulSet(nodes, true);
    const hostsBefore = nodes.map((n) => n.host);
    const before = await placement(nodes, admin);
    const originalMasters = new Map(before.map((m) => [m.master.pod, m.replicas.map((r) => r.pod)]));
    log(`masters before: ${[...originalMasters].map(([m, r]) => `${m}<-${r.join(',')}`).join(' ')}`);

    const w1 = startWriter(seeds(), admin);
    const w2 = await startSecondClientWriter(seeds(), { ...admin });
    await sleep(1000);

    const { actions, observations, uncovered, sampled, sampledUncovered, rollSeconds } = await rollUntilDone(sts, observer, () => w1.errors + w2.errors);
    await sleep(1000);
    await w1.stop();
    await w2.stop();

    const summary = summarize(actions);
    log(`roll done in ${rollSeconds.toFixed(1)} s, ${observations.length} passes: ${summary.join('; ')}`);
    log(`slot coverage sampled ${sampled} times in the background (failovers included): ${sampledUncovered.length} uncovered`);
    log(`writers: ioredis ${w1.acked.size} acked / ${w1.errors} errors; node-redis ${w2.writes} writes / ${w2.errors} errors (last: ${w2.lastError})`);
    log(`max members down at once: ${sts.maxDown}; not-ready reasons seen: ${[...notReadySeen].join(' | ')}`);

    // Every action a planner could take, in the order the rules demand.
    const idx = (action: string, pod: string) => actions.findIndex((a) => a.d.action === action && 'pod' in a.d && a.d.pod === pod);
    for (const [m, reps] of originalMasters) {
      const fo = idx('failover', m);
      expect(fo).toBeGreaterThanOrEqual(0);
      for (const r of reps) expect(idx('restart', r)).toBeLessThan(fo); // its replica restarted first
      expect(idx('restart', m)).toBeGreaterThan(fo); // failed over before its restart
    }
    // Nothing restarted while a master: every restart was of a replica.
    for (const a of actions.filter((x) => x.d.action === 'restart')) expect(a.roleBefore).toBe('replica');
    expect(actions.filter((a) => a.d.action === 'restart')).toHaveLength(6);
    expect(actions.filter((a) => a.d.action === 'failover')).toHaveLength(3);
    expect(sts.maxDown).toBeLessThanOrEqual(1);
    expect(sts.violations).toEqual([]);
    // The roll failed every master over first: the preStop hook never had anything to hand over.
    expect([...preStopSeen].filter((l) => !/nothing to hand over/.test(l))).toEqual([]);
    expect(uncovered).toEqual([]);
    expect(observations.every((o) => o.covered)).toBe(true);
    expect(sampledUncovered).toEqual([]);
    expect(sampled).toBeGreaterThan(20);

    // Every pod came back on a new IP, and every member knows every other at its new address.
    expect(nodes.filter((n, i) => n.host === hostsBefore[i])).toEqual([]);
    for (const n of nodes) {
      const addrs = (await clusterNodes(n, admin)).map((x) => `${x.host}:${x.port}`).sort();
      expect(addrs).toEqual(nodes.map((x) => `${x.host}:${x.port}`).sort());
    }
    // The end: every member on the new config, 3 + 3, cluster_state:ok everywhere, all slots.
    for (const n of nodes) {
      const hz = await withConn(n, admin, async (c) => (await c.call('CONFIG', 'GET', 'hz')) as string[]);
      expect(hz[1]).toBe(NEW_HZ);
      expect((await clusterInfo(n, admin)).cluster_state).toBe('ok');
    }
    const after = await placement(nodes, admin);
    expect(after).toHaveLength(3);
    expect(after.reduce((s, m) => s + m.slots, 0)).toBe(SLOT_COUNT);
    for (const m of after) expect(m.replicas).toHaveLength(1);

    // Every acknowledged write reads back.
    const missing = await verifyKeys(seeds(), w1.acked, admin);
    const second = await verifySecondClient(seeds(), w2, admin.password, admin.username);
    log(`read back: ioredis ${w1.acked.size - missing.length}/${w1.acked.size}; node-redis checked ${second.checked}, lost ${second.lost.length}, wrong ${second.wrong.length}`);
    expect(missing).toEqual([]);
    expect(second.lost).toEqual([]);
    expect(second.wrong).toEqual([]);
    expect(w1.acked.size).toBeGreaterThan(1000);
    // Reported, not asserted: the write errors each action caused (a client may see a brief error).
    log(`errors per action: ${actions.map((a, i) => `${summary[i]}: ${(a.errorsAfter ?? 0) - a.errorsBefore}`).join('; ')}`);
  });

  test('preStop on a master hands its slots to its replica under writes; on a replica it does nothing', async () => {
    // As the rendered `member` user (the ACL file the members run with), as in a pod.
    const p = await placement(nodes, admin);
    const { master, replicas, slots } = p[0];
    const replica = replicas[0];
    const hook = (n: RedisNodeHandle) =>
      run('sh', ['-c', redisPreStopScript({ user: REDIS_USERS.member, passwordFile: probePwFile, host: n.host, port: n.port, waitSeconds: 25 })], { timeout: 60_000 });

    // On a replica: nothing.
    const onReplica = await hook(replica);
    expect(onReplica.stdout).toMatch(/role slave: nothing to hand over/);
    expect(await roleOf(replica)).toBe('slave');

    const w = startWriter(seeds(), admin);
    await sleep(1000);
    const t0 = Date.now();
    const res = await hook(master);
    const ms = Date.now() - t0;
    await sleep(1000);
    await w.stop();
    log(`preStop on ${master.pod}: ${res.stdout.trim()} (${ms} ms); writer ${w.acked.size} acked, ${w.errors} errors`);
    expect(res.stdout).toMatch(new RegExp(`handed the slots to ${replica.host}:${replica.port}`));
    expect(await roleOf(master)).toBe('slave');
    expect(await roleOf(replica)).toBe('master');
    const me = (await clusterNodes(replica, admin)).find((x) => x.flags.has('myself'))!;
    expect(isMaster(me)).toBe(true);
    expect(me.slots.length).toBe(slots);
    expect(await verifyKeys(seeds(), w.acked, admin)).toEqual([]);
  });
});

describe('a cluster without replicas (replicasPerMaster 0)', () => {
  test('masters restart in place on their persisted data, one at a time; their slots are offline only while each restarts', async () => {
    // The 3 + 3 cluster has done its part: stop it to spare the (shared) machine.
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    const opts0: StartRedisNodesOptions = { ...opts, count: 3, podPrefix: 'solo' };
    const ns = await startRedisNodes(opts0);
    extra.push(...ns);
    const r = await drive(createRedisOrchestrator(), { masters: 3, replicasPerMaster: 0, ...admin }, ns, opts0);
    expect(r.converged).toBe(true);
    const seeds0 = ns.map((n) => ({ host: n.host, port: n.port }));

    // preStop on a master without a replica: nothing to hand over, and it does not hold the pod.
    const hook = await run('sh', ['-c', redisPreStopScript({ user: REDIS_USERS.member, passwordFile: probePwFile, host: ns[0].host, port: ns[0].port })], { timeout: 60_000 });
    expect(hook.stdout).toMatch(/no in-sync replica to hand the slots to/);

    const w = startWriter(seeds0, admin);
    await sleep(1000);
    const sts = new SimStatefulSet(ns);
    const observer = new RedisRollObserver(admin, { port: ns[0].port, timeoutMs: 10_000 });
    const { actions, sampled, sampledUncovered, rollSeconds } = await rollUntilDone(sts, observer, () => w.errors);
    await sleep(1000);
    await w.stop();
    const summary = summarize(actions);
    log(`replicasPerMaster 0: roll done in ${rollSeconds.toFixed(1)} s: ${summary.join('; ')}`);
    log(`replicasPerMaster 0: writer ${w.acked.size} acked, ${w.errors} errors; coverage sampled ${sampled} times, ${sampledUncovered.length} uncovered (expected: a master's slots while it restarts)`);
    log(`errors per action: ${actions.map((a, i) => `${summary[i]}: ${(a.errorsAfter ?? 0) - a.errorsBefore}`).join('; ')}`);

    expect(actions.map((a) => `${a.d.action} ${'pod' in a.d ? a.d.pod : ''}`)).toEqual(['restart solo-0', 'restart solo-1', 'restart solo-2']);
    for (const a of actions) expect(a.d).toMatchObject({ reason: expect.stringMatching(/offline/) });
    expect(sts.violations).toEqual([]);
    expect(sts.maxDown).toBeLessThanOrEqual(1);
    for (const n of ns) {
      const hz = await withConn(n, admin, async (c) => (await c.call('CONFIG', 'GET', 'hz')) as string[]);
      expect(hz[1]).toBe(NEW_HZ);
      expect((await clusterInfo(n, admin)).cluster_state).toBe('ok');
    }
    const after = await placement(ns, admin);
    expect(after).toHaveLength(3);
    expect(after.reduce((s, m) => s + m.slots, 0)).toBe(SLOT_COUNT);
    // Acknowledged writes survive a master's restart on its AOF.
    expect(await verifyKeys(seeds0, w.acked, admin)).toEqual([]);
  });
});
