// The Redis side of operator-driven rolls (roll/types.ts): what the roll planner (roll/plan-redis.ts)
// needs to know about every member, read with the orchestrator's own reads (view.ts readMembers:
// CLUSTER NODES, CLUSTER INFO, INFO replication/persistence), and the one action the roll takes on
// the servers themselves: a coordinated CLUSTER FAILOVER from a stale master to its replica.
import type { RedisMember } from '../orchestration/types.js';
import type { RedisRollMember, RedisRollState, RollPod } from '../roll/types.js';
import { REDIS_PORT } from '../../../packages/contract/src/index.js';
import { ConnPool, errMsg, ioredisFactory, type ConnFactory } from './client.js';
import { isFailed, isMaster, parseClusterNodes, SLOT_COUNT } from './parse.js';
import { readMembers, type Observed } from './view.js';

export interface RedisRollObserverOptions {
  /** The members' port (default the contract's REDIS_PORT). */
  port?: number;
  /** Per-command and connect timeout (default 5000 ms). */
  timeoutMs?: number;
  /** How long a failover may take until both sides report their new roles (default 30 s). */
  failoverTimeoutMs?: number;
  /** CLUSTER FAILOVER is sent again after this long while the replica is still one (default 10 s). */
  failoverRetryMs?: number;
  /** Replace the connection factory (unit tests). */
  connFactory?: ConnFactory;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RedisRollObserver {
  private readonly port: number;
  private readonly failoverTimeoutMs: number;
  private readonly failoverRetryMs: number;
  private readonly factory: ConnFactory;

  constructor(
    private readonly auth: { username?: string; password?: string },
    opts: RedisRollObserverOptions = {},
  ) {
    this.port = opts.port ?? REDIS_PORT;
    this.failoverTimeoutMs = opts.failoverTimeoutMs ?? 30_000;
    this.failoverRetryMs = opts.failoverRetryMs ?? 10_000;
    this.factory = opts.connFactory ?? ioredisFactory(opts.timeoutMs ?? 5000);
  }

  private pool(): ConnPool {
    return new ConnPool(this.factory, this.auth.password, this.auth.username);
  }

  private members(pods: RollPod[]): RedisMember[] {
    return pods.filter((p) => p.host).map((p) => ({ pod: p.pod, ordinal: p.ordinal, host: p.host!, port: this.port, node: '' }));
  }

  /** Every member that answers, as the roll planner sees it; a member that does not is left out. */
  async redis(pods: RollPod[]): Promise<RedisRollState> {
    const pool = this.pool();
    try {
      return rollState(await readMembers(pool, this.members(pods)));
    } finally {
      pool.closeAll();
    }
  }

  /**
   * CLUSTER FAILOVER (the default, coordinated kind: the master stops its clients until the
   * replica has its exact replication offset, so nothing acknowledged is lost) on `replicaPod`,
   * then waits until it reports role master and `masterPod` reports replica.
   */
  async redisFailover(pods: RollPod[], masterPod: string, replicaPod: string): Promise<void> {
    const byPod = new Map(this.members(pods).map((m) => [m.pod, m]));
    const m = byPod.get(masterPod);
    const r = byPod.get(replicaPod);
    if (!m || !r) throw new Error(`failover ${masterPod} -> ${replicaPod}: ${!m ? masterPod : replicaPod} has no address`);
    const pool = this.pool();
    try {
      const mc = pool.get(m.host, m.port);
      const rc = pool.get(r.host, r.port);
      const masterId = String(await mc.call('CLUSTER', 'MYID'));
      const self = parseClusterNodes(String(await rc.call('CLUSTER', 'NODES'))).find((n) => n.flags.has('myself'));
      if (!self || isMaster(self) || self.masterId !== masterId) {
        throw new Error(`failover ${masterPod} -> ${replicaPod}: ${replicaPod} is no replica of ${masterPod} (${self ? [...self.flags].join(',') : 'no self line'})`);
      }
      await rc.call('CLUSTER', 'FAILOVER');
      const deadline = Date.now() + this.failoverTimeoutMs;
      let asked = Date.now();
      let roles = { replica: '?', master: '?' };
      for (;;) {
        roles = { replica: await role(rc), master: await role(mc) };
        if (roles.replica === 'master' && roles.master === 'slave') return;
        if (Date.now() >= deadline) break;
        // Redis gives a manual failover 5 s to catch the replica up, then drops it without a
        // word: while the replica is still one, ask again (coordinated again: nothing is lost).
        if (roles.replica === 'slave' && Date.now() - asked >= this.failoverRetryMs) {
          asked = Date.now();
          await rc.call('CLUSTER', 'FAILOVER').catch(() => undefined);
        }
        await sleep(200);
      }
      throw new Error(
        `failover ${masterPod} -> ${replicaPod} did not complete within ${Math.round(this.failoverTimeoutMs / 1000)} s: ` +
          `${replicaPod} reports role ${roles.replica}, ${masterPod} reports role ${roles.master}`,
      );
    } finally {
      pool.closeAll();
    }
  }
}

async function role(c: { call(...a: Array<string | number>): Promise<unknown> }): Promise<string> {
  try {
    const r = await c.call('ROLE');
    return Array.isArray(r) ? String(r[0]) : '?';
  } catch (e) {
    return `unknown (${errMsg(e)})`;
  }
}

/** Folds one round of reads into the planner's state (pure; exported for unit tests). */
export function rollState(all: Observed[]): RedisRollState {
  const up = all.filter((o) => o.ok);
  const podById = new Map(up.map((o) => [o.id!, o.member.pod]));
  const offsetOf = new Map(up.map((o) => [o.member.pod, Number(o.repl.master_repl_offset)]));
  const members: RedisRollMember[] = [];
  const covered = new Set<number>();
  for (const o of all) {
    if (!o.ok) {
      // A member loading its AOF answers every command with LOADING: it is reported as loading,
      // anything else that does not answer is left out (the planner waits for it).
      if (/LOADING/.test(o.error ?? '')) members.push({ pod: o.member.pod, role: 'master', clusterOk: false, linksUp: false, loading: true });
      continue;
    }
    const self = o.self!;
    const common = {
      pod: o.member.pod,
      clusterOk: o.info.cluster_state === 'ok',
      linksUp: o.nodes.every((n) => n.flags.has('myself') || (n.connected && !isFailed(n))),
      loading: o.persistence.loading === '1',
    };
    if (isMaster(self)) {
      for (const s of self.slots) covered.add(s);
      members.push({ ...common, role: 'master', slots: self.slots.length });
      continue;
    }
    // The master by node ID (a member that answered), else by the address its line gossips (pods
    // are mapped by host: a master that does not answer is still known by its address).
    const ml = o.nodes.find((n) => n.id === self.masterId);
    const masterPod = podById.get(self.masterId ?? '') ?? all.find((x) => ml && x.member.host === ml.host && x.member.port === ml.port)?.member.pod;
    const linkUp = o.repl.master_link_status === 'up';
    const masterOffset = masterPod !== undefined ? offsetOf.get(masterPod) : undefined;
    const mine = Number(o.repl.slave_repl_offset);
    const lagBytes = masterOffset !== undefined && Number.isFinite(masterOffset) && Number.isFinite(mine) ? Math.max(0, masterOffset - mine) : undefined;
    members.push({ ...common, role: 'replica', masterPod, linkUp, lagBytes });
  }
  return { members, slotsCovered: covered.size === SLOT_COUNT };
}

