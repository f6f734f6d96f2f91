// Pure planning for Redis Cluster orchestration: slot assignment, balanced rebalance plans,
// master selection and anti-affine replica placement. No I/O: unit-tested without servers; the
// executor (orchestrator.ts) turns these plans into commands.
import { SLOT_COUNT } from './parse.js';

/** Slot counts per master: 16384 split evenly, the first (16384 % n) masters get one more. */
export function evenSlotCounts(n: number): number[] {
  if (n <= 0) return [];
  const base = Math.floor(SLOT_COUNT / n);
  const extra = SLOT_COUNT % n;
  return Array.from({ length: n }, (_, i) => base + (i < extra ? 1 : 0));
}

/** Contiguous [start, end] ranges for a fresh cluster of n masters. */
export function bootstrapSlotRanges(n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  for (const c of evenSlotCounts(n)) {
    out.push([start, start + c - 1]);
    start += c;
  }
  return out;
}

export interface SlotMove {
  slot: number;
  from: string;
  to: string;
}

/**
 * Moves that bring `keep` masters to an even split. Masters in `owners` but not in `keep` are
 * drained completely. Every source gives to every target in proportion to the target's need, so
 * a drained master's slots spread over all remaining masters and a new master takes slots from
 * all existing ones. Each source gives each target one contiguous run where possible (taken from
 * the top of the source's slots).
 */
export function planRebalance(owners: Map<string, number[]>, keep: string[]): SlotMove[] {
  if (keep.length === 0) return [];
  const current = (id: string) => owners.get(id)?.length ?? 0;
  // Masters already holding the most slots get the +1 shares: fewest moves.
  const order = [...keep].sort((a, b) => current(b) - current(a) || (a < b ? -1 : 1));
  const counts = evenSlotCounts(keep.length);
  const target = new Map<string, number>(order.map((id, i) => [id, counts[i]]));
  // Only owned slots are moved; uncovered slots are the caller's business.
  const sources: Array<{ id: string; give: number[] }> = [];
  const deficits: Array<{ id: string; need: number }> = [];
  for (const [id, slots] of [...owners.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const sorted = [...slots].sort((a, b) => a - b);
    const t = target.get(id) ?? 0;
    if (sorted.length > t) sources.push({ id, give: sorted.slice(t) });
  }
  for (const id of order) {
    const need = (target.get(id) ?? 0) - current(id);
    if (need > 0) deficits.push({ id, need });
  }
  const moves: SlotMove[] = [];
  const remaining = deficits.map((d) => d.need);
  for (let si = 0; si < sources.length; si++) {
    const src = sources[si];
    const total = remaining.reduce((a, b) => a + b, 0);
    if (total === 0) break;
    const give = Math.min(src.give.length, total);
    // Proportional quota, remainders by largest leftover need.
    const quota = remaining.map((r) => Math.floor((give * r) / total));
    let left = give - quota.reduce((a, b) => a + b, 0);
    const byLeftover = remaining.map((_r, i) => i).sort((a, b) => remaining[b] - quota[b] - (remaining[a] - quota[a]));
    for (let k = 0; left > 0 && k < byLeftover.length * 2; k++) {
      const i = byLeftover[k % byLeftover.length];
      if (quota[i] < remaining[i]) {
        quota[i]++;
        left--;
      }
    }
    let pos = 0;
    for (let ti = 0; ti < deficits.length; ti++) {
      for (let q = 0; q < quota[ti]; q++) moves.push({ slot: src.give[pos++], from: src.id, to: deficits[ti].id });
      remaining[ti] -= quota[ti];
    }
  }
  return moves;
}

/** True when every keep master holds floor or ceil of 16384/n slots. */
export function isBalanced(owners: Map<string, number[]>, keep: string[]): boolean {
  if (keep.length === 0) return false;
  const lo = Math.floor(SLOT_COUNT / keep.length);
  const hi = Math.ceil(SLOT_COUNT / keep.length);
  for (const id of keep) {
    const c = owners.get(id)?.length ?? 0;
    if (c < lo || c > hi) return false;
  }
  for (const [id, slots] of owners) if (!keep.includes(id) && slots.length > 0) return false;
  return true;
}

export interface PlacementNode {
  id: string;
  ordinal: number;
  /** Kubernetes node. */
  node: string;
}

/**
 * Picks `count` masters for a fresh cluster: spread over as many Kubernetes nodes as possible,
 * lowest ordinals first within that. Nothing depends on a particular pod being present.
 */
export function chooseBootstrapMasters(members: PlacementNode[], count: number): string[] {
  return spreadOverNodes([...members].sort((a, b) => a.ordinal - b.ordinal), count);
}

/**
 * Takes `count` ids from `preferred` (best first), each time from the node that has the fewest
 * picks so far; ties go to the earlier entry, so the preference order decides within a node.
 */
function spreadOverNodes(preferred: PlacementNode[], count: number): string[] {
  const left = [...preferred];
  const perNode = new Map<string, number>();
  const chosen: string[] = [];
  while (chosen.length < count && left.length > 0) {
    let best = 0;
    for (let i = 1; i < left.length; i++) {
      if ((perNode.get(left[i].node) ?? 0) < (perNode.get(left[best].node) ?? 0)) best = i;
    }
    const m = left.splice(best, 1)[0];
    chosen.push(m.id);
    perNode.set(m.node, (perNode.get(m.node) ?? 0) + 1);
  }
  return chosen;
}

/**
 * Which slot-owning masters stay masters: `count` of them, spread over nodes, preferring those
 * with more slots (fewer moves), then lower ordinals. Extra masters are drained.
 */
export function chooseKeepMasters(
  candidates: Array<PlacementNode & { slots: number }>,
  count: number,
): string[] {
  return spreadOverNodes([...candidates].sort((a, b) => b.slots - a.slots || a.ordinal - b.ordinal), count);
}

export interface ReplicaCandidate extends PlacementNode {
  /** Master it replicates now, if any. */
  currentMaster?: string;
}

export interface ReplicaPlan {
  /** candidate id -> master id. */
  assign: Map<string, string>;
  /** Human-readable reasons where anti-affinity could not be met (empty = satisfied). */
  problems: string[];
}

/**
 * Pairs every master with `perMaster` replicas on other Kubernetes nodes (bipartite matching,
 * seeded with current valid pairs so a healthy cluster is left alone). Where that is impossible
 * the remaining replicas still get a master (redundancy against a process crash) and the problem
 * is reported.
 */
export function planReplicas(masters: PlacementNode[], candidates: ReplicaCandidate[], perMaster: number): ReplicaPlan {
  const masterById = new Map(masters.map((m) => [m.id, m]));
  const cands = [...candidates].sort((a, b) => a.ordinal - b.ordinal);
  // Left side: (master, k) seats; right side: candidates.
  const seats: Array<{ master: PlacementNode }> = [];
  for (const m of masters) for (let k = 0; k < perMaster; k++) seats.push({ master: m });
  const seatOf = new Map<string, number>(); // candidate id -> seat index
  const candOfSeat = new Map<number, string>();
  const ok = (seat: number, c: ReplicaCandidate) => seats[seat].master.node !== c.node;
  // Seed with current valid pairs.
  for (const c of cands) {
    if (!c.currentMaster || !masterById.has(c.currentMaster)) continue;
    const seat = seats.findIndex((s, i) => s.master.id === c.currentMaster && !candOfSeat.has(i));
    if (seat >= 0 && ok(seat, c)) {
      seatOf.set(c.id, seat);
      candOfSeat.set(seat, c.id);
    }
  }
  const tryAugment = (seat: number, seen: Set<string>): boolean => {
    // Prefer candidates that already replicate this master, then free ones.
    // then unmatched ones (no displacement), then displacing others along an augmenting path.
    const rank = (c: ReplicaCandidate) => (c.currentMaster === seats[seat].master.id ? 0 : seatOf.has(c.id) ? 2 : 1);
    const order = [...cands].sort((a, b) => rank(a) - rank(b) || a.ordinal - b.ordinal);
    for (const c of order) {
      if (seen.has(c.id) || !ok(seat, c)) continue;
      seen.add(c.id);
      const other = seatOf.get(c.id);
      if (other === undefined || tryAugment(other, seen)) {
        seatOf.set(c.id, seat);
        candOfSeat.set(seat, c.id);
        return true;
      }
    }
    return false;
  };
  for (let s = 0; s < seats.length; s++) if (!candOfSeat.has(s)) tryAugment(s, new Set());

  const assign = new Map<string, string>();
  for (const [cid, seat] of seatOf) assign.set(cid, seats[seat].master.id);
  const problems: string[] = [];
  const free = cands.filter((c) => !seatOf.has(c.id));
  for (let s = 0; s < seats.length; s++) {
    if (candOfSeat.has(s)) continue;
    const m = seats[s].master;
    const others = cands.filter((c) => c.node !== m.node).length;
    problems.push(
      `master ${m.id.slice(0, 8)} on node ${m.node} has no replica on another node` +
        ` (${others} member(s) off that node, all needed elsewhere; ${cands.length} replica candidate(s) in total)`,
    );
    // Same-node replica is still better than none (process crash, rolling restart).
    const c = free.shift();
    if (c) assign.set(c.id, m.id);
  }
  // Extra candidates (more pods than masters*(1+perMaster)): keep their master if valid, else the
  // master with the fewest replicas on another node.
  for (const c of free) {
    if (c.currentMaster && masterById.has(c.currentMaster) && masterById.get(c.currentMaster)!.node !== c.node) {
      assign.set(c.id, c.currentMaster);
      continue;
    }
    const count = (id: string) => [...assign.values()].filter((v) => v === id).length;
    const pick = [...masters].filter((m) => m.node !== c.node).sort((a, b) => count(a.id) - count(b.id))[0] ?? masters[0];
    if (pick) assign.set(c.id, pick.id);
  }
  return { assign, problems };
}
