// The orchestrator's decision: from one observed view and the desired shape, the single next
// action (or none, with the reasons work waits). Pure: no connection is used here, so every
// rule can be tested on a hand-built view. The order of the rules is the order of safety:
// nothing moves before every member is clean, known and reachable, and no shard is left bare.
import type { RedisDesiredShape } from '../orchestration/types.js';
import { classifyMember } from './membership.js';
import { formatSlots, isFailed, isMaster } from './parse.js';
import { chooseKeepMasters, planRebalance, planReplicas, type SlotMove } from './plan.js';
import { facts, leftClean, type Observed, type View } from './view.js';

/** One step of work. Members are named by node ID; `kind` is also the phase name hooks see. */
export type Action =
  /** Form the cluster over the staying members, all empty and alone. */
  | { kind: 'bootstrap' }
  /** Empty members the cluster does not know that carry state of their own, before they meet anyone. */
  | { kind: 'clean-joiner'; stale: Array<{ id: string; why: string }> }
  /** `from` sends CLUSTER MEET to `to` (one side of each pair is enough; gossip does the rest). */
  | { kind: 'meet'; pairs: Array<{ from: string; to: string }> }
  /** Finish or abort every open slot (progress lives in the cluster). */
  | { kind: 'resume' }
  /** Forget nodes that belong to no member (gone pods, old identities). */
  | { kind: 'forget'; nodes: string[] }
  /** Slots no node claims any more go to the emptiest master, empty. */
  | { kind: 'cover'; slots: number[]; to: string }
  /** A staying replica takes over from a leaving master. */
  | { kind: 'failover-leaving'; replica: string; why: string }
  /** A replica takes over so that no node holds two masters while another holds none. */
  | { kind: 'spread-masters'; replica: string; why: string }
  /** A surplus replica becomes an empty master (the shape needs more masters). */
  | { kind: 'convert-replica'; replica: string }
  /** Replicas re-pointed per the placement plan. */
  | { kind: 'replicate'; assign: Array<{ replica: string; master: string }> }
  /** Slot moves that drain leaving/extra masters and even out the kept ones. */
  | { kind: 'rebalance'; moves: SlotMove[] }
  /** Drained leaving members: forgotten by `forgetOn`, then emptied, memory and volume. */
  | { kind: 'remove-leaving'; members: Array<{ id: string; forgetOn: string[] }> };

export type ActionKind = Action['kind'];

export interface Decision {
  /** undefined: nothing to do now (settled, or waiting: see notes). */
  action?: Action;
  /** Why work waits; "shape: ..." notes say the desired shape cannot be kept. */
  notes: string[];
}

/**
 * The next action for view `v`. `skip` names kinds whose last attempt in this pass changed
 * nothing (a FORGET every member refused): the rules after them still get their turn.
 */
export function decide(v: View, d: RedisDesiredShape, skip: ReadonlySet<ActionKind> = new Set()): Decision {
  const notes: string[] = [];
  const act = (action: Action): Decision => ({ action, notes });
  const wait = (note: string): Decision => ({ notes: [...notes, note] });
  if (v.reachable.length === 0) return { notes };
  const stayingUp = v.staying.filter((o) => o.ok);
  const allUp = v.all.every((o) => o.ok);

  // 1. Bootstrap: only over members that are all reachable, empty and alone.
  if (v.all.every(isFresh)) {
    if (v.staying.length < v.want) return wait(`waiting for ${v.want - v.staying.length} more member(s) before forming the cluster`);
    return act({ kind: 'bootstrap' });
  }

  // 2. Joiners: a member this cluster does not know that brings keys, slot claims or a cluster
  //    view of its own (a volume kept from before it was removed, a restored backup) is emptied
  //    before it meets anyone; otherwise its stale claims could beat the real owners'.
  const stale = staleJoiners(v);
  if (stale.length > 0) return act({ kind: 'clean-joiner', stale });

  // 3. Membership: every reachable staying member knows every other at its current address.
  const pairs = meetPairs(stayingUp);
  if (pairs.length > 0) return act({ kind: 'meet', pairs });

  // 4. Resume / finish any open slot.
  if (v.open.length > 0) return act({ kind: 'resume' });

  // 5. Forget nodes that belong to no member.
  if (allUp && !skip.has('forget')) {
    const nodes = forgettable(v);
    if (nodes.length > 0) return act({ kind: 'forget', nodes });
  }

  // 6. Coverage: slots no node claims (a shard lost entirely) go to the emptiest master.
  const failing = [...v.nodeInfo.values()].some((n) => isMaster(n) && n.slots.length > 0 && isFailed(n));
  const uncovered = uncoveredSlots(v);
  if (uncovered.length > 0 && allUp && !failing) {
    const m = stayingUp.filter((o) => isMaster(o.self!)).sort((a, b) => ownedCount(v, a.id!) - ownedCount(v, b.id!))[0];
    if (m) return act({ kind: 'cover', slots: uncovered, to: m.id! });
  }
  if (failing) return wait('a master is failing; waiting for the cluster to fail over');
  if (!v.staying.every((o) => o.ok)) return wait('waiting for all members to be reachable');

  // 7. Leaving masters with slots hand over to a staying replica (failover) when that is cheaper.
  const stayingSlotMasters = stayingUp.filter((o) => isMaster(o.self!) && ownedCount(v, o.id!) > 0);
  if (stayingSlotMasters.length < d.masters) {
    for (const lm of v.leaving.filter((o) => o.ok && isMaster(o.self!) && ownedCount(v, o.id!) > 0)) {
      const rep = stayingUp.find((o) => o.self!.masterId === lm.id && !isMaster(o.self!) && o.info['cluster_state'] !== undefined);
      if (rep) return act({ kind: 'failover-leaving', replica: rep.id!, why: `${lm.member.pod} is leaving` });
    }
  }

  // 8. Which masters stay; enough empty masters for the shape.
  const keep = keepMasters(v, stayingUp, stayingSlotMasters, d.masters);
  if (keep.length < d.masters) {
    // New members come first: the StatefulSet is still creating them.
    if (v.staying.length < v.want) return wait(`waiting for ${v.want - v.staying.length} new member(s) before adding masters`);
    // Otherwise turn a surplus replica into an empty master (CLUSTER RESET SOFT keeps the node
    // ID), but only one whose master keeps another in-sync replica: no shard goes bare.
    const spare = stayingUp
      .filter((o) => !isMaster(o.self!) && canTakeReplica(v, stayingUp, o))
      .sort((a, b) => replicasOf(stayingUp, b.self!.masterId!).length - replicasOf(stayingUp, a.self!.masterId!).length || b.member.ordinal - a.member.ordinal);
    if (spare[0]) return act({ kind: 'convert-replica', replica: spare[0].id! });
    notes.push(`shape: only ${keep.length} of ${d.masters} masters possible with ${stayingUp.length} member(s) without leaving a master's slots with no replica`);
  }

  // 9. Replicas: every non-keep staying member replicates a keep master on another node, and a
  //    new master gets its replica before any slot moves to it. Members still draining, and a
  //    slot owner's only in-sync replica, wait until that is no longer so.
  const rp = planReplicas(keepNodes(v, keep), replicaCandidates(stayingUp, keep), d.replicasPerMaster);
  const assign: Array<{ replica: string; master: string }> = [];
  for (const [cid, mid] of rp.assign) {
    const o = v.byId.get(cid)!;
    if (!isMaster(o.self!) && o.self!.masterId === mid) continue;
    if (isMaster(o.self!) && ownedCount(v, cid) > 0) continue; // still draining
    if (!isMaster(o.self!) && !canTakeReplica(v, stayingUp, o)) continue; // its master's only copy
    assign.push({ replica: cid, master: mid });
  }
  if (assign.length > 0) return act({ kind: 'replicate', assign });

  // 10. Rebalance: drain leaving/extra masters, even out the keep set.
  const owners = new Map<string, number[]>(v.owned);
  for (const id of keep) if (!owners.has(id)) owners.set(id, []);
  const moves = planRebalance(owners, keep);
  if (moves.length > 0) return act({ kind: 'rebalance', moves });

  // 11. Spread masters: a node with 2+ masters while another has none -> fail over to a replica there.
  // Not during a roll (holdMasterPlacement): the roll's hand-overs would be undone one by one.
  if (rp.problems.length === 0 && !d.holdMasterPlacement) {
    const nodeOf = (id: string) => v.byId.get(id)!.member.node;
    const perNode = new Map<string, number>();
    for (const id of keep) perNode.set(nodeOf(id), (perNode.get(nodeOf(id)) ?? 0) + 1);
    for (const id of keep) {
      const crowded = perNode.get(nodeOf(id)) ?? 0;
      if (crowded < 2) continue;
      // The old master becomes a replica on its node; placement stays valid because the new
      // master's node had no master.
      const rep = stayingUp.find((o) => !isMaster(o.self!) && o.self!.masterId === id && !perNode.has(o.member.node));
      if (rep) return act({ kind: 'spread-masters', replica: rep.id!, why: `spread masters: node ${nodeOf(id)} holds ${crowded} masters` });
    }
  }

  // 12. Leaving members: forget them everywhere, empty them; the StatefulSet may then shrink.
  const removable = removableLeaving(v);
  if (removable.length > 0) return act({ kind: 'remove-leaving', members: removable });
  return { notes };
}

/** Reachable, alone, no slots, no keys, nothing open: a member that has never been part of a cluster. */
export function isFresh(o: Observed): boolean {
  return o.ok && o.nodes.length === 1 && o.self!.slots.length === 0 && o.dbsize === 0 && o.self!.migrating.size === 0;
}

function ownedCount(v: View, id: string): number {
  return v.owned.get(id)?.length ?? 0;
}

/** Reachable members the established cluster does not know that carry state of their own. */
function staleJoiners(v: View): Array<{ id: string; why: string }> {
  const coreClaims = new Set<number>();
  for (const o of v.reachable) if (v.cluster?.core.has(o.id!)) for (const s of o.self!.slots) coreClaims.add(s);
  const out: Array<{ id: string; why: string }> = [];
  for (const o of v.reachable) {
    const verdict = classifyMember({ ...facts(o), contested: o.self!.slots.filter((s) => coreClaims.has(s)).length }, v.cluster);
    if (verdict.kind === 'stale') out.push({ id: o.id!, why: verdict.why });
  }
  return out;
}

/** Pairs of reachable members where one does not see the other at its current address. */
function meetPairs(up: Observed[]): Array<{ from: string; to: string }> {
  const pairs: Array<{ from: string; to: string }> = [];
  const met = new Set<string>();
  for (const a of up) {
    for (const b of up) {
      if (a === b) continue;
      const seen = a.nodes.find((n) => n.id === b.id);
      const stale = !seen || seen.host !== b.member.host || seen.port !== b.member.port || seen.flags.has('noaddr');
      if (!stale) continue;
      const key = [a.id, b.id].sort().join();
      if (met.has(key)) continue;
      met.add(key);
      pairs.push({ from: a.id!, to: b.id! });
    }
  }
  return pairs;
}

/**
 * Nodes no member is, that have failed or lost their link, and hold nothing a replica could
 * still take over: a failed master with slots is failed over first.
 */
function forgettable(v: View): string[] {
  const memberIds = new Set(v.reachable.map((o) => o.id!));
  const known = [...v.nodeInfo.values()];
  return known
    .filter((n) => !memberIds.has(n.id) && !n.flags.has('handshake') && (isFailed(n) || !n.connected) && (n.slots.length === 0 || !isMaster(n) || n.flags.has('fail')))
    .filter((n) => !(isMaster(n) && n.slots.length > 0 && known.some((x) => x.masterId === n.id && !isFailed(x))))
    .map((n) => n.id);
}

/** Slots no line of any reachable member's view claims (conservative: gossip counts too). */
function uncoveredSlots(v: View): number[] {
  const claimedAnywhere = new Set<number>();
  for (const o of v.reachable) for (const n of o.nodes) if (isMaster(n)) for (const s of n.slots) claimedAnywhere.add(s);
  return v.owner.map((o, s) => (o === undefined && !claimedAnywhere.has(s) ? s : -1)).filter((s) => s >= 0);
}

/** The masters that stay: slot owners first, then empty masters, up to `count`. */
function keepMasters(v: View, stayingUp: Observed[], stayingSlotMasters: Observed[], count: number): string[] {
  const keep = chooseKeepMasters(
    stayingSlotMasters.map((o) => ({ id: o.id!, ordinal: o.member.ordinal, node: o.member.node, slots: ownedCount(v, o.id!) })),
    count,
  );
  if (keep.length < count) {
    const empties = stayingUp.filter((o) => isMaster(o.self!) && !keep.includes(o.id!) && ownedCount(v, o.id!) === 0 && !o.self!.importing.size);
    keep.push(...chooseKeepMasters(empties.map((o) => ({ id: o.id!, ordinal: o.member.ordinal, node: o.member.node, slots: 0 })), count - keep.length));
  }
  return keep;
}

/** Replicas of `masterId` among the given members. */
export function replicasOf(members: Observed[], masterId: string): Observed[] {
  return members.filter((o) => o.ok && !isMaster(o.self!) && o.self!.masterId === masterId);
}

/**
 * A replica may be taken from its master (re-pointed or made a master) only when that master
 * owns no slots, or keeps another in-sync replica: no shard is left without a copy.
 */
function canTakeReplica(v: View, stayingUp: Observed[], r: Observed): boolean {
  const mid = r.self!.masterId;
  if (!mid || ownedCount(v, mid) === 0) return true;
  return replicasOf(v.reachable, mid).some((o) => o !== r && o.repl['master_link_status'] === 'up' && stayingUp.includes(o));
}

function keepNodes(v: View, keep: string[]) {
  return keep.map((id) => ({ id, ordinal: v.byId.get(id)!.member.ordinal, node: v.byId.get(id)!.member.node }));
}

function replicaCandidates(stayingUp: Observed[], keep: string[]) {
  return stayingUp
    .filter((o) => !keep.includes(o.id!))
    .map((o) => ({ id: o.id!, ordinal: o.member.ordinal, node: o.member.node, currentMaster: isMaster(o.self!) ? undefined : o.self!.masterId }));
}

/** Drained leaving members still known to a staying member, or not yet empty on disk. */
function removableLeaving(v: View): Array<{ id: string; forgetOn: string[] }> {
  const out: Array<{ id: string; forgetOn: string[] }> = [];
  for (const l of v.leaving) {
    if (!l.ok || !l.id) continue;
    if (ownedCount(v, l.id) > 0) continue;
    if (v.staying.some((o) => o.self?.masterId === l.id)) continue;
    const forgetOn = v.staying.filter((o) => o.ok && o.nodes.some((n) => n.id === l.id)).map((o) => o.id!);
    if (forgetOn.length === 0 && leftClean(l)) continue; // already removed
    out.push({ id: l.id, forgetOn });
  }
  return out;
}

/** One line for logs: what the action touches. */
export function describe(a: Action, v: View): string {
  const pod = (id: string) => v.byId.get(id)?.member.pod ?? id.slice(0, 8);
  switch (a.kind) {
    case 'cover':
      return `cover [${formatSlots(a.slots)}] -> ${pod(a.to)}`;
    case 'rebalance':
      return `rebalance ${a.moves.length} slot move(s)`;
    case 'failover-leaving':
    case 'spread-masters':
    case 'convert-replica':
      return `${a.kind} ${pod(a.replica)}`;
    default:
      return a.kind;
  }
}
