// Redis Cluster orchestrator: each pass observes every member (view.ts), takes the next action
// from the pure decision (decide.ts, over plan.ts and membership.ts) and carries it out here in
// one small, re-observable step; status.ts reports on the settled view. All state lives in the cluster itself (nodes.conf,
// MIGRATING/IMPORTING), so any run can pick up where a dead one stopped.
import type { MigrationProgress, OrchestrationEvent, RedisDesiredShape, RedisMember, RedisOrchestrator, RedisReconcileResult } from '../orchestration/types.js';
import { ConnPool, errMsg, ioredisFactory, type ConnFactory } from './client.js';
import { decide, describe, replicasOf, type Action, type ActionKind } from './decide.js';
import { wipeMember } from './membership.js';
import {
  atomicMove,
  detectAtomicMigration,
  HookAbort,
  SlotMigrator,
  type AtomicCapability,
  type MigrationHooks,
  type MoveNode,
  type MoveResult,
} from './migrate.js';
import { formatSlots, isMaster, parseClusterNodes, parseInfo, toRanges } from './parse.js';
import { bootstrapSlotRanges, chooseBootstrapMasters, planReplicas, type SlotMove } from './plan.js';
import { attachReplica } from './replica.js';
import { clusterStatus } from './status.js';
import { observe, short, type Observed, type Run, type View } from './view.js';

export interface RedisOrchestratorOptions {
  /** Per-command and connect timeout (default 15000 ms). */
  timeoutMs?: number;
  /** Keys per MIGRATE (default 1000; redis-cli uses 10). */
  migrateBatchKeys?: number;
  /** Slots moved concurrently (default 32). */
  migrateConcurrency?: number;
  /** MIGRATE retries before a move is aborted (default 3). */
  migrateRetries?: number;
  /** Step hooks for crash-injection tests. */
  hooks?: MigrationHooks & {
    /** Called before each phase acts; throwing simulates a crash there. */
    phase?(phase: string): void | Promise<void>;
  };
  /** Use server-side atomic slot migration when the server has it (default true). */
  atomicMigration?: boolean;
  /** Stop starting new work after this long in one reconcile (default 10 min). */
  budgetMs?: number;
  /** Internal observe/act passes per reconcile (default 16). */
  maxPasses?: number;
  /** Replace the connection factory (unit tests). */
  connFactory?: ConnFactory;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Orchestrator implements RedisOrchestrator {
  private readonly o: Required<Omit<RedisOrchestratorOptions, 'hooks' | 'connFactory' | 'log'>> &
    Pick<RedisOrchestratorOptions, 'hooks' | 'log'>;
  private readonly factory: ConnFactory;

  constructor(opts: RedisOrchestratorOptions = {}) {
    this.o = {
      timeoutMs: opts.timeoutMs ?? 15_000,
      migrateBatchKeys: opts.migrateBatchKeys ?? 1000,
      migrateConcurrency: opts.migrateConcurrency ?? 32,
      migrateRetries: opts.migrateRetries ?? 3,
      atomicMigration: opts.atomicMigration ?? true,
      budgetMs: opts.budgetMs ?? 600_000,
      maxPasses: opts.maxPasses ?? 16,
      hooks: opts.hooks,
      log:
        opts.log ??
        (process.env.CACHETIER_REDIS_DEBUG
          ? (msg, fields) => process.stderr.write(`${new Date().toISOString()} redis-orch ${msg} ${fields ? JSON.stringify(fields) : ''}\n`)
          : undefined),
    };
    this.factory = opts.connFactory ?? ioredisFactory(this.o.timeoutMs);
  }

  async reconcile(
    desired: RedisDesiredShape,
    members: RedisMember[],
    currentStatefulSetReplicas: number,
    onProgress?: (p: MigrationProgress) => void,
  ): Promise<RedisReconcileResult> {
    const pool = new ConnPool(this.factory, desired.password, desired.username);
    const run: Run = { events: [], notes: [], losses: [], onProgress };
    const start = Date.now();
    const want = desired.masters * (1 + desired.replicasPerMaster);
    this.currentPhase = 'observe';
    try {
      return await this.reconcileInner(pool, desired, members, currentStatefulSetReplicas, want, start, run);
    } catch (e) {
      if (e instanceof HookAbort) throw e;
      throw new Error(`redis orchestration failed in phase ${this.currentPhase}: ${errMsg(e)}`, { cause: e });
    } finally {
      pool.closeAll();
    }
  }

  private async reconcileInner(
    pool: ConnPool,
    desired: RedisDesiredShape,
    members: RedisMember[],
    currentStatefulSetReplicas: number,
    want: number,
    start: number,
    run: Run,
  ): Promise<RedisReconcileResult> {
    let acted = true;
    let view = await observe(pool, members, want);
    for (let pass = 0; pass < this.o.maxPasses && acted && Date.now() - start < this.o.budgetMs; pass++) {
      acted = await this.act(pool, view, desired, run);
      if (acted) view = await observe(pool, members, want);
    }
    if (!acted) await this.waitAgreement(pool, members, want);
    view = await observe(pool, members, want);
    const audit = await this.auditKeyspace(view);
    if (run.notes.length) this.o.log?.('notes', { notes: run.notes });
    return clusterStatus(view, desired, currentStatefulSetReplicas, run, acted, audit);
  }

  // ---------------------------------------------------------------- observe

  private moveNode(v: View, id: string): MoveNode | undefined {
    const o = v.byId.get(id);
    return o ? { id, host: o.member.host, port: o.member.port } : undefined;
  }

  private masters(v: View): MoveNode[] {
    return v.reachable.filter((o) => isMaster(o.self!)).map((o) => ({ id: o.id!, host: o.member.host, port: o.member.port }));
  }

  private currentPhase = 'observe';

  private async phase(name: string) {
    this.currentPhase = name;
    await this.o.hooks?.phase?.(name);
    this.o.log?.(`phase ${name}`);
  }

  // ---------------------------------------------------------------- act

  /**
   * One pass: decide the next action from the view, carry it out. true when something was done
   * (observe again). An action that changed nothing lets the rules after it have their turn.
   */
  private async act(pool: ConnPool, v: View, d: RedisDesiredShape, run: Run): Promise<boolean> {
    const skip = new Set<ActionKind>();
    for (;;) {
      const { action, notes } = decide(v, d, skip);
      if (!action) {
        run.notes.push(...notes);
        return false;
      }
      await this.phase(action.kind);
      this.o.log?.('action', { what: describe(action, v) });
      const outcome = await this.execute(pool, v, d, run, action);
      if (outcome !== 'unchanged') {
        run.notes.push(...notes);
        return outcome === 'acted';
      }
      skip.add(action.kind);
    }
  }

  /** Carries out one action: 'acted' (observe again), 'waiting' (notes say why), 'unchanged'. */
  private async execute(pool: ConnPool, v: View, d: RedisDesiredShape, run: Run, a: Action): Promise<'acted' | 'waiting' | 'unchanged'> {
    const { events } = run;
    const obs = (id: string) => v.byId.get(id)!;
    switch (a.kind) {
      case 'bootstrap':
        await this.bootstrap(v.staying, d, events);
        return 'acted';
      case 'clean-joiner':
        await this.cleanJoiners(a.stale.map((x) => ({ o: obs(x.id), why: x.why })), events);
        return 'acted';
      case 'meet':
        await this.meet(v.staying.filter((o) => o.ok), a.pairs.map((p) => [obs(p.from), obs(p.to)]), events);
        return 'acted';
      case 'resume':
        await this.resumeOpen(pool, v, run, d);
        return 'acted';
      case 'forget':
        return (await this.forget(v, a.nodes, events)) ? 'acted' : 'unchanged';
      case 'cover': {
        const m = obs(a.to);
        for (const [lo, hi] of toRanges(a.slots)) await m.conn.call('CLUSTER', 'ADDSLOTSRANGE', lo, hi);
        const what = `${a.slots.length} slot(s) [${formatSlots(a.slots)}] had no owner left (their master and every replica are gone) and now belong to ${m.member.pod} with 0 keys`;
        events.push({ type: 'Warning', reason: 'SlotsReassigned', message: `${what}: every key they held is lost` });
        run.losses.push({ reason: 'KeysLost', message: what });
        return 'acted';
      }
      case 'failover-leaving':
      case 'spread-masters':
        await this.failover(obs(a.replica), a.why, events);
        return 'acted';
      case 'convert-replica': {
        const r = obs(a.replica);
        await r.conn.call('CLUSTER', 'RESET', 'SOFT');
        events.push({ type: 'Normal', reason: 'ReplicaConverted', message: `${r.member.pod} reset to an empty master to reach ${d.masters} masters` });
        return 'acted';
      }
      case 'replicate':
        await this.replicate(v, a.assign, events);
        return 'acted';
      case 'rebalance':
        return this.rebalance(pool, v, d, run, a.moves);
      case 'remove-leaving':
        await this.removeLeaving(v, a.members, events);
        return 'acted';
    }
  }

  private async failover(rep: Observed, why: string, events: OrchestrationEvent[]) {
    const old = rep.self!.masterId;
    await rep.conn.call('CLUSTER', 'FAILOVER');
    const deadline = Date.now() + 20_000;
    let promoted = false;
    while (!promoted && Date.now() < deadline) {
      await sleep(100);
      const me = parseClusterNodes(String(await rep.conn.call('CLUSTER', 'NODES'))).find((n) => n.flags.has('myself'));
      promoted = !!me && isMaster(me);
    }
    events.push(
      promoted
        ? { type: 'Normal', reason: 'Failover', message: `${rep.member.pod} took over from ${short(old)} (${why})` }
        : { type: 'Warning', reason: 'FailoverTimedOut', message: `${rep.member.pod} did not take over from ${short(old)} within 20 s (${why}); observing again` },
    );
  }

  /** Re-points each replica at its planned master. */
  private async replicate(v: View, assign: Array<{ replica: string; master: string }>, events: OrchestrationEvent[]) {
    for (const { replica, master } of assign) {
      const o = v.byId.get(replica)!;
      const m = v.byId.get(master)!;
      if ((await attachReplica(o.conn, master, { master: isMaster(o.self!), keys: o.dbsize })) === 'changed') {
        this.o.log?.('replica attach: member turned replica on its own; observing again', { pod: o.member.pod });
        continue;
      }
      events.push({ type: 'Normal', reason: 'ReplicaAssigned', message: `${o.member.pod} (${o.member.node}) now replicates ${m.member.pod} (${m.member.node})` });
    }
    await sleep(200);
  }

  /** Moves slots once every target's replica is in sync and every target sees a healthy cluster. */
  private async rebalance(pool: ConnPool, v: View, d: RedisDesiredShape, run: Run, moves: SlotMove[]): Promise<'acted' | 'waiting'> {
    const targets = [...new Set(moves.map((m) => m.to))];
    const unsynced = await this.waitReplicasInSync(v, targets, d);
    if (unsynced.length > 0) {
      run.notes.push(`slot moves wait for replicas to sync: ${unsynced.join(', ')}`);
      return 'waiting';
    }
    const notReady = await this.waitTargetsReady(v, targets);
    if (notReady.length > 0) {
      // A target that is not yet part of a healthy cluster answers MIGRATE with CLUSTERDOWN.
      run.notes.push(`slot moves wait: ${notReady.join(', ')}`);
      return 'waiting';
    }
    const failed = await this.executeMoves(pool, v, moves, run, d);
    if (failed > 0) {
      // Aborted moves left their owners unchanged; retrying at once would fail the same way.
      run.notes.push(`${failed} slot move(s) failed and were aborted; retrying on the next reconcile`);
      return 'waiting';
    }
    return 'acted';
  }

  /**
   * Bounded wait until every move target that has a replica has one in sync
   * (master_link_status:up). Returns the targets still waiting ("redis-6: redis-7 syncing").
   * A target with no replica at all has none to wait for: the shape condition says so.
   */
  private async waitReplicasInSync(v: View, targets: string[], d: RedisDesiredShape): Promise<string[]> {
    if (d.replicasPerMaster === 0) return [];
    const stayingUp = v.staying.filter((o) => o.ok);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const waiting: string[] = [];
      for (const t of targets) {
        const reps = replicasOf(stayingUp, t);
        if (reps.length === 0) continue;
        const links = await Promise.all(reps.map(async (r) => parseInfo(String(await r.conn.call('INFO', 'replication').catch(() => '')))['master_link_status']));
        if (!links.includes('up')) waiting.push(`${v.byId.get(t)!.member.pod}: ${reps.map((r) => r.member.pod).join(',')} syncing`);
      }
      if (waiting.length === 0 || Date.now() >= deadline) return waiting;
      await sleep(200);
    }
  }

  /** Empties members the cluster does not know that carry state of their own. */
  private async cleanJoiners(stale: Array<{ o: Observed; why: string }>, events: OrchestrationEvent[]) {
    for (const { o, why } of stale) {
      const w = await wipeMember(o.conn).catch((e: unknown) => {
        throw new Error(`emptying ${o.member.pod} before it joins: ${errMsg(e)}`, { cause: e });
      });
      events.push({
        type: 'Normal',
        reason: 'StaleMemberEmptied',
        message: `${o.member.pod} is no member of this cluster but ${why}: emptied it (memory, AOF, RDB; ${w.keysDiscarded} key(s) discarded) before it joins, so its old data cannot replace the owners'`,
      });
    }
  }

  private async bootstrap(members: Observed[], d: RedisDesiredShape, events: OrchestrationEvent[]) {
    const ids = members.map((o) => ({ id: o.id!, ordinal: o.member.ordinal, node: o.member.node }));
    const masters = chooseBootstrapMasters(ids, d.masters);
    const ranges = bootstrapSlotRanges(d.masters);
    const by = new Map(members.map((o) => [o.id!, o]));
    // Distinct config epochs up front: no collision handling needed later.
    await Promise.all(members.map((o, i) => o.conn.call('CLUSTER', 'SET-CONFIG-EPOCH', i + 1).catch(() => undefined)));
    await Promise.all(masters.map((id, i) => by.get(id)!.conn.call('CLUSTER', 'ADDSLOTSRANGE', ranges[i][0], ranges[i][1])));
    const first = by.get(masters[0])!;
    await Promise.all(members.filter((o) => o !== first).map((o) => first.conn.call('CLUSTER', 'MEET', o.member.host, o.member.port)));
    await this.waitKnown(members, members.length, 20_000);
    const cands = ids.filter((x) => !masters.includes(x.id));
    const rp = planReplicas(
      ids.filter((x) => masters.includes(x.id)),
      cands,
      d.replicasPerMaster,
    );
    await Promise.all([...rp.assign].map(([cid, mid]) => by.get(cid)!.conn.call('CLUSTER', 'REPLICATE', mid)));
    events.push({
      type: 'Normal',
      reason: 'ClusterCreated',
      message: `formed a ${d.masters}-master cluster over ${members.length} members: ${masters.map((id, i) => `${by.get(id)!.member.pod}=${ranges[i][0]}-${ranges[i][1]}`).join(' ')}`,
    });
  }

  /** Waits until every member knows `count` nodes with a live link (gossip settled). */
  private async waitKnown(members: Observed[], count: number, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ok = await Promise.all(
        members.map(async (o) => {
          const nodes = parseClusterNodes(String(await o.conn.call('CLUSTER', 'NODES').catch(() => '')));
          return nodes.length >= count && nodes.every((n) => !n.flags.has('handshake') && (n.flags.has('myself') || n.connected));
        }),
      );
      if (ok.every(Boolean)) return;
      await sleep(50);
    }
  }

  /** Sends the decided MEETs, then waits (bounded) until every up member sees every other. */
  private async meet(up: Observed[], pairs: Array<[Observed, Observed]>, events: OrchestrationEvent[]) {
    await Promise.all(pairs.map(([a, b]) => a.conn.call('CLUSTER', 'MEET', b.member.host, b.member.port).catch(() => undefined)));
    for (const [a, b] of pairs) events.push({ type: 'Normal', reason: 'MemberMet', message: `${a.member.pod} met ${b.member.pod} at ${b.member.host}:${b.member.port}` });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      await sleep(100);
      const views = await Promise.all(up.map(async (o) => parseClusterNodes(String(await o.conn.call('CLUSTER', 'NODES').catch(() => '')))));
      const ok = up.every((a, i) =>
        up.every((b) => {
          if (a === b) return true;
          const n = views[i].find((x) => x.id === b.id);
          return !!n && n.host === b.member.host && n.port === b.member.port && n.connected && !n.flags.has('handshake');
        }),
      );
      // New members must also have learnt the slot map (a MIGRATE target that doesn't know a
      // slot's owner answers CLUSTERDOWN).
      const assigned = views.map((vw) => vw.filter((n) => isMaster(n)).reduce((a, n) => a + n.slots.length, 0));
      if (ok && assigned.every((x) => x === Math.max(...assigned))) break;
    }
  }

  /** CLUSTER FORGET each node on every member that knows it; true when any member forgot one. */
  private async forget(v: View, nodes: string[], events: OrchestrationEvent[]): Promise<boolean> {
    let did = false;
    for (const id of nodes) {
      const res = await Promise.all(
        v.reachable
          .filter((o) => o.nodes.some((x) => x.id === id))
          .map((o) =>
            o.conn.call('CLUSTER', 'FORGET', id).then(
              () => true,
              () => false,
            ),
          ),
      );
      if (res.some(Boolean)) {
        did = true;
        const n = v.nodeInfo.get(id);
        events.push({ type: 'Normal', reason: 'MemberForgotten', message: `forgot gone node ${short(id)} (${n?.host}:${n?.port})` });
      }
    }
    return did;
  }

  private async resumeOpen(pool: ConnPool, v: View, run: Run, d: RedisDesiredShape) {
    const { events, losses } = run;
    const mig = this.migrator(pool, v, d);
    for (const o of v.open) {
      const owner = v.owner[o.slot];
      const from = o.from && v.byId.has(o.from) ? o.from : owner;
      const to = o.to;
      const src = from ? this.moveNode(v, from) : undefined;
      const dst = to ? this.moveNode(v, to) : undefined;
      const dstOk = dst && isMaster(v.byId.get(dst.id)!.self!);
      if (src && dst && dstOk && src.id !== dst.id) {
        const srcSelf = v.byId.get(src.id)!.self!;
        const dstSelf = v.byId.get(dst.id)!.self!;
        const r = await mig.move(o.slot, src, dst, {
          importingSet: dstSelf.importing.has(o.slot),
          migratingSet: srcSelf.migrating.has(o.slot) || owner !== src.id,
          targetOwns: owner === dst.id || dstSelf.slots.includes(o.slot),
        });
        events.push(r.ok
          ? { type: 'Normal', reason: 'SlotMoveResumed', message: `finished interrupted move of slot ${o.slot} ${short(src.id)}->${short(dst.id)} (${r.keys} keys)` }
          : { type: 'Warning', reason: 'SlotMoveFailed', message: `slot ${o.slot}: ${r.error}` });
      } else if (src) {
        // Target gone or no longer a master: nothing left to finish; the owner stays. Keys a
        // gone target had already received are gone with it: said, never passed over.
        const srcObs = v.byId.get(src.id)!;
        let lost = '';
        if (dst) {
          try {
            await mig.abort(o.slot, src, dst);
          } catch (e) {
            lost = `keys already moved to ${v.byId.get(dst.id)?.member.pod ?? short(to)} could not be moved back (${errMsg(e)})`;
          }
        } else {
          await srcObs.conn.call('CLUSTER', 'SETSLOT', o.slot, 'STABLE');
          lost = `keys already moved to ${short(to)}, if any, are gone with it`;
        }
        const left = Number(await srcObs.conn.call('CLUSTER', 'COUNTKEYSINSLOT', o.slot));
        const what = `slot ${o.slot}: move to ${short(to)} aborted (target unavailable), ${srcObs.member.pod} stays owner with ${left} key(s)`;
        events.push({ type: 'Warning', reason: 'SlotMoveAborted', message: lost ? `${what}; ${lost}` : what });
        if (lost) losses.push({ reason: 'KeysMayBeLost', message: `${what}; ${lost}` });
      } else {
        // Only an importing node left (source unknown): clear it if it isn't the owner.
        for (const ob of v.reachable) if (ob.self!.importing.has(o.slot)) await ob.conn.call('CLUSTER', 'SETSLOT', o.slot, 'STABLE').catch(() => undefined);
      }
    }
  }

  private migrator(pool: ConnPool, v: View, d: RedisDesiredShape): SlotMigrator {
    return new SlotMigrator(
      pool,
      { username: d.username, password: d.password, batchKeys: this.o.migrateBatchKeys, migrateTimeoutMs: Math.max(2000, this.o.timeoutMs - 2000), retries: this.o.migrateRetries, hooks: this.o.hooks },
      this.masters(v),
    );
  }

  /** Runs the moves; returns how many failed (and were aborted). */
  /** Reports how far the moves are (results so far) to the run's progress listener, if any. */
  private progressReporter(v: View, moves: SlotMove[], results: MoveResult[], run: Run): () => void {
    const listener = run.onProgress;
    if (!listener) return () => undefined;
    const pod = (id: string) => v.byId.get(id)?.member.pod ?? short(id);
    const pairs = new Map<string, { from: string; to: string; slots: number }>();
    for (const m of moves) {
      const k = `${m.from}>${m.to}`;
      const p = pairs.get(k) ?? { from: pod(m.from), to: pod(m.to), slots: 0 };
      p.slots++;
      pairs.set(k, p);
    }
    const list = [...pairs.values()];
    return () => {
      let moved = 0;
      let failed = 0;
      let keys = 0;
      for (const r of results) {
        if (r.ok) moved++;
        else failed++;
        keys += r.keys;
      }
      listener({ slotsTotal: moves.length, slotsMoved: moved, slotsFailed: failed, keysMoved: keys, moves: list });
    };
  }

  private async executeMoves(pool: ConnPool, v: View, moves: SlotMove[], run: Run, d: RedisDesiredShape): Promise<number> {
    const { events } = run;
    const pairKey = (m: SlotMove) => `${m.from}>${m.to}`;
    const groups = new Map<string, SlotMove[]>();
    for (const m of moves) groups.set(pairKey(m), [...(groups.get(pairKey(m)) ?? []), m]);
    let cap: AtomicCapability = 'none';
    if (this.o.atomicMigration) cap = await detectAtomicMigration(v.byId.get(moves[0].to)!.conn);
    const results: MoveResult[] = [];
    const report = this.progressReporter(v, moves, results, run);
    report();
    if (cap !== 'none') {
      for (const g of groups.values()) {
        const src = v.byId.get(g[0].from)!;
        const dst = v.byId.get(g[0].to)!;
        try {
          await atomicMove(cap, src.conn, dst.conn, g.map((m) => m.slot), this.moveNode(v, g[0].to)!, this.o.budgetMs);
          for (const m of g) results.push({ ...m, ok: true, keys: 0 });
        } catch (e) {
          for (const m of g) results.push({ ...m, ok: false, keys: 0, error: errMsg(e) });
        }
        report();
      }
    } else {
      // Interleave pairs so concurrent moves hit different sources and targets.
      const queues = [...groups.values()];
      const order: SlotMove[] = [];
      for (let i = 0; order.length < moves.length; i++) for (const q of queues) if (i < q.length) order.push(q[i]);
      const mig = this.migrator(pool, v, d);
      let next = 0;
      let crash: unknown;
      const worker = async () => {
        while (crash === undefined && next < order.length) {
          const m = order[next++];
          try {
            results.push(await mig.move(m.slot, this.moveNode(v, m.from)!, this.moveNode(v, m.to)!));
          } catch (e) {
            if (e instanceof HookAbort) {
              crash = e;
              return;
            }
            results.push({ ...m, ok: false, keys: 0, error: errMsg(e) });
          }
          report();
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, this.o.migrateConcurrency) }, worker));
      if (crash !== undefined) throw crash;
    }
    // One event per source->target pair (4096 per-slot events would drown the object).
    const byPair = new Map<string, MoveResult[]>();
    for (const r of results) byPair.set(`${r.from}>${r.to}`, [...(byPair.get(`${r.from}>${r.to}`) ?? []), r]);
    for (const rs of byPair.values()) {
      const ok = rs.filter((r) => r.ok);
      const bad = rs.filter((r) => !r.ok);
      const fromPod = v.byId.get(rs[0].from)?.member.pod ?? short(rs[0].from);
      const toPod = v.byId.get(rs[0].to)?.member.pod ?? short(rs[0].to);
      if (ok.length) {
        events.push({
          type: 'Normal',
          reason: 'SlotsMoved',
          message: `moved ${ok.length} slot(s) [${formatSlots(ok.map((r) => r.slot))}] with ${ok.reduce((a, r) => a + r.keys, 0)} keys from ${fromPod} to ${toPod}${cap !== 'none' ? ` (atomic: ${cap})` : ''}`,
        });
      }
      if (bad.length) {
        events.push({
          type: 'Warning',
          reason: 'SlotMoveFailed',
          message: `${bad.length} slot(s) [${formatSlots(bad.map((r) => r.slot))}] could not move from ${fromPod} to ${toPod}; owner unchanged: ${bad[0].error}`,
        });
      }
    }
    const failed = results.filter((r) => !r.ok).length;
    this.o.log?.('moves done', { ok: results.length - failed, failed });
    return failed;
  }

  /**
   * Bounded wait until every move target sees an owner for every covered slot and reports
   * cluster_state:ok. Returns what is still not ready ("redis-3: cluster_state=fail"), empty when
   * all are: a target that joined moments ago knows the slot map before it counts as healthy.
   */
  private async waitTargetsReady(v: View, targets: string[]): Promise<string[]> {
    const covered = v.owner.filter((x) => x !== undefined).length;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const states = await Promise.all(
        targets.map(async (id) => {
          const o = v.byId.get(id)!;
          const [nodesRaw, infoRaw] = await Promise.all([
            o.conn.call('CLUSTER', 'NODES').catch(() => ''),
            o.conn.call('CLUSTER', 'INFO').catch(() => ''),
          ]);
          const known = parseClusterNodes(String(nodesRaw))
            .filter((n) => isMaster(n))
            .reduce((a, n) => a + n.slots.length, 0);
          const state = parseInfo(String(infoRaw))['cluster_state'] ?? 'unknown';
          if (known < covered) return `${o.member.pod}: knows ${known}/${covered} slot owners`;
          return state === 'ok' ? '' : `${o.member.pod}: cluster_state=${state}`;
        }),
      );
      const notReady = states.filter((x) => x !== '');
      if (notReady.length === 0 || Date.now() >= deadline) return notReady;
      await sleep(100);
    }
  }

  /**
   * Forgets each drained leaving member everywhere and empties it, memory and volume, so the
   * same ordinal can never come back with keys. Any error fails the step.
   */
  private async removeLeaving(v: View, members: Array<{ id: string; forgetOn: string[] }>, events: OrchestrationEvent[]) {
    for (const { id, forgetOn } of members) {
      const l = v.byId.get(id)!;
      const known = forgetOn.map((x) => v.byId.get(x)!);
      const forgot = await Promise.allSettled(known.map((o) => o.conn.call('CLUSTER', 'FORGET', id)));
      const failed = forgot.flatMap((r, i) => (r.status === 'rejected' && !/unknown node/i.test(errMsg(r.reason)) ? [`${known[i].member.pod}: ${errMsg(r.reason)}`] : []));
      if (failed.length) throw new Error(`CLUSTER FORGET ${l.member.pod} failed on ${failed.join('; ')}`);
      const w = await wipeMember(l.conn).catch((e: unknown) => {
        throw new Error(`emptying leaving member ${l.member.pod}: ${errMsg(e)}`, { cause: e });
      });
      events.push({
        type: 'Normal',
        reason: 'MemberRemoved',
        message: `${l.member.pod} drained, forgotten by ${known.length} member(s), reset and emptied on disk (was a ${w.role}; ${w.keysDiscarded} key(s) discarded)`,
      });
    }
  }

  /** Bounded wait until every reachable staying member agrees on the slot map. */
  private async waitAgreement(pool: ConnPool, members: RedisMember[], want: number) {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const v = await observe(pool, members, want);
      const up = v.staying.filter((o) => o.ok);
      const sig = (o: Observed) =>
        o.nodes
          .filter((n) => isMaster(n) && n.slots.length > 0)
          .map((n) => `${n.id}:${formatSlots(n.slots)}`)
          .sort()
          .join('|');
      const first = up[0] ? sig(up[0]) : '';
      if (up.every((o) => sig(o) === first && o.info['cluster_state'] === 'ok')) return;
      await sleep(100);
    }
  }

  // ---------------------------------------------------------------- result

  /**
   * Checks, on the settled view, that every key lives where its slot is owned: a master holding
   * keys in slots it does not own, or a member claiming slots the cluster gives to another, is
   * data a client cannot reach or data that may replace the owner's. Skipped while slots are
   * open (keys legitimately sit on both sides of a move).
   */
  private async auditKeyspace(v: View): Promise<string[]> {
    if (v.open.length > 0) return [];
    const issues: string[] = [];
    for (const o of v.reachable) {
      const claimed = o.self!.slots.filter((s) => v.owner[s] !== undefined && v.owner[s] !== o.id);
      if (isMaster(o.self!) && claimed.length) {
        const others = [...new Set(claimed.map((s) => v.byId.get(v.owner[s]!)?.member.pod ?? short(v.owner[s])))];
        issues.push(`${o.member.pod} claims ${claimed.length} slot(s) [${formatSlots(claimed)}] the cluster gives to ${others.join(',')}`);
      }
    }
    await Promise.all(
      v.reachable
        .filter((o) => isMaster(o.self!) && o.dbsize > 0)
        .map(async (o) => {
          const owned = v.owned.get(o.id!) ?? [];
          const counts = await Promise.all(owned.map((s) => o.conn.call('CLUSTER', 'COUNTKEYSINSLOT', s) as Promise<number>));
          const inOwned = counts.reduce((a, n) => a + Number(n), 0);
          // DBSIZE from the observation just made, read before the counts: a key written in
          // between can only raise the counts, never fake a stray key as a second read could.
          if (o.dbsize > inOwned) issues.push(`${o.member.pod} holds ${o.dbsize - inOwned} key(s) in slots it does not own`);
        }),
    );
    return issues;
  }
}
