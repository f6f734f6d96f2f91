// Who may join the cluster, and how a member is emptied when it joins stale or leaves.
//
// A StatefulSet keeps a scaled-down ordinal's volume (unless its PVC retention policy deletes it)
// and brings the same ordinal back on it later. Redis loads whatever that volume's AOF holds and
// claims the slots of every key it finds ("I have keys for unassigned slot N"), with no regard
// for who owns them now. A member the cluster no longer knows must therefore be emptied, in
// memory and on disk, before it meets anyone; and a member that leaves must leave an empty volume.
//
// The decisions are pure (unit-tested from recorded facts); wipeMember() carries one out against
// a live member and verifies it, failing loudly on any error.
import type { RedisConn } from './client.js';
import { errMsg } from './client.js';
import { parseClusterNodes, parseInfo } from './parse.js';

/** What the orchestrator saw of one reachable member. */
export interface MemberFacts {
  id: string;
  /** Slots this member claims in its own view. */
  slots: number;
  /** Of those, slots the established cluster's members claim too (0 when there is none). */
  contested?: number;
  /** Node IDs in its own view other than itself (handshakes excluded). */
  peers: string[];
  keys: number;
}

/**
 * The established cluster: the group of reachable members that know each other and own slots.
 * `known` is every node ID that group's views hold (its members, and members it still lists
 * while they are away).
 */
export interface ClusterFacts {
  core: Set<string>;
  known: Set<string>;
}

export type JoinVerdict =
  /** Part of the cluster, or a member it still lists: handled as itself (MEET at a new address). */
  | { kind: 'member' }
  /** Empty and alone: may be met as it is. */
  | { kind: 'newcomer' }
  /** Unknown to the cluster and carrying state of its own: empty it before it meets anyone. */
  | { kind: 'stale'; why: string };

/** Decides how a reachable member may join. Without an established cluster nothing is stale. */
export function classifyMember(m: MemberFacts, cluster: ClusterFacts | undefined): JoinVerdict {
  if (!cluster || cluster.core.has(m.id) || cluster.known.has(m.id)) return { kind: cluster ? 'member' : 'newcomer' };
  const why: string[] = [];
  if (m.keys > 0) why.push(`holds ${m.keys} key(s)`);
  // Claims on slots nobody else holds, with no keys behind them (a bootstrap that stopped between
  // ADDSLOTS and MEET), fill a hole and take nothing from anyone: such a member may join as it is.
  if (m.slots > 0 && (m.keys > 0 || (m.contested ?? m.slots) > 0)) why.push(`claims ${m.slots} slot(s)${m.contested ? ` (${m.contested} owned here)` : ''}`);
  const foreign = m.peers.filter((p) => !cluster.core.has(p));
  if (m.peers.length > 0) why.push(`has a cluster view of its own (${m.peers.length} node(s)${foreign.length ? `, ${foreign.length} unknown here` : ''})`);
  return why.length ? { kind: 'stale', why: why.join(', ') } : { kind: 'newcomer' };
}

/**
 * The established cluster among reachable members: groups of members that list each other
 * (both ways); the group whose masters claim the most slots wins, if it has at least two members
 * and claims any slot. A lone member is never an established cluster, so a full restart, where
 * members come back one at a time, never has its first member judged stale.
 */
export function establishedCluster(
  members: Array<{ id: string; slots: number; peers: string[] }>,
): ClusterFacts | undefined {
  const ids = new Set(members.map((m) => m.id));
  const peersOf = new Map(members.map((m) => [m.id, new Set(m.peers)]));
  const seen = new Set<string>();
  let best: { core: Set<string>; slots: number } | undefined;
  for (const start of members) {
    if (seen.has(start.id)) continue;
    const group = new Set<string>([start.id]);
    const queue = [start.id];
    seen.add(start.id);
    while (queue.length) {
      const a = queue.pop()!;
      for (const b of peersOf.get(a) ?? []) {
        if (!ids.has(b) || seen.has(b) || !peersOf.get(b)?.has(a)) continue;
        seen.add(b);
        group.add(b);
        queue.push(b);
      }
    }
    const slots = members.filter((m) => group.has(m.id)).reduce((n, m) => n + m.slots, 0);
    if (group.size >= 2 && slots > 0 && (!best || slots > best.slots)) best = { core: group, slots };
  }
  if (!best) return undefined;
  const known = new Set<string>();
  for (const m of members) if (best.core.has(m.id)) for (const p of m.peers) known.add(p);
  for (const id of best.core) known.add(id);
  return { core: best.core, known };
}

/**
 * The commands that empty a member, in order. A replica refuses FLUSHALL (READONLY), and
 * CLUSTER RESET on a replica empties memory without writing that to the AOF, so a replica is
 * reset to an empty master first and flushed after; a master with keys refuses CLUSTER RESET,
 * so a master is flushed first. Both end with the AOF rewritten from the empty dataset and an
 * empty RDB, so nothing on the volume can bring the keys back.
 */
export function wipeSteps(role: 'master' | 'replica'): string[][] {
  const reset = ['CLUSTER', 'RESET', 'HARD'];
  const first = role === 'replica' ? [reset, ['FLUSHALL']] : [['FLUSHALL'], reset];
  return [...first, ['FLUSHALL'], ['BGREWRITEAOF'], ['SAVE']];
}

/** An AOF rewritten from an empty dataset is one RDB preamble of about 90 bytes. */
export const EMPTY_AOF_BASE_MAX_BYTES = 128;

/**
 * True when the persistence files can hold no key: the AOF is off, never written (a fresh
 * volume), or is exactly one rewrite of an empty dataset with nothing appended since. Read from
 * INFO persistence, because the operator cannot look at the pod's volume.
 */
export function persistenceEmpty(persistence: Record<string, string>): boolean {
  if (persistence['aof_enabled'] !== '1') return true;
  const current = Number(persistence['aof_current_size'] ?? NaN);
  const base = Number(persistence['aof_base_size'] ?? NaN);
  if (!Number.isFinite(current) || !Number.isFinite(base)) return false;
  return current === base && base <= EMPTY_AOF_BASE_MAX_BYTES;
}

/** A member that holds nothing: no keys, no slots, no peers, empty files. */
export function isEmptyMember(m: MemberFacts, persistence: Record<string, string>): boolean {
  return m.keys === 0 && m.slots === 0 && m.peers.length === 0 && persistenceEmpty(persistence);
}

export interface WipeResult {
  /** Keys the member held in memory before the wipe. */
  keysDiscarded: number;
  role: 'master' | 'replica';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Empties a member (memory, AOF and RDB), resets its cluster state to a lone master with a new
 * node ID, and verifies all of it. Throws on any failed step or failed check: a member that may
 * still hold old keys must never be reported as drained.
 */
export async function wipeMember(conn: RedisConn, opts: { rewriteTimeoutMs?: number } = {}): Promise<WipeResult> {
  const step = async (args: string[]) => {
    try {
      return await conn.call(...args);
    } catch (e) {
      throw new Error(`${args.join(' ')} failed: ${errMsg(e)}`, { cause: e });
    }
  };
  const roleReply = await step(['ROLE']);
  const role = Array.isArray(roleReply) && String(roleReply[0]) === 'slave' ? 'replica' : 'master';
  const keysDiscarded = Number(await step(['DBSIZE']));
  const before = parseInfo(String(await step(['INFO', 'persistence'])));
  const rewritesBefore = Number(before['aof_rewrites'] ?? 0);
  for (const args of wipeSteps(role)) {
    if (args[0] === 'BGREWRITEAOF') {
      if (before['aof_enabled'] === '1') await rewriteAof(conn, rewritesBefore, opts.rewriteTimeoutMs ?? 60_000);
      continue;
    }
    await step(args);
  }
  // Verify memory, cluster state and files.
  const [dbsize, nodesRaw, persRaw] = await Promise.all([step(['DBSIZE']), step(['CLUSTER', 'NODES']), step(['INFO', 'persistence'])]);
  const nodes = parseClusterNodes(String(nodesRaw));
  const pers = parseInfo(String(persRaw));
  const problems: string[] = [];
  if (Number(dbsize) !== 0) problems.push(`DBSIZE ${String(dbsize)}`);
  if (nodes.length !== 1) problems.push(`still knows ${nodes.length - 1} node(s)`);
  if (nodes.some((n) => n.slots.length > 0)) problems.push('still claims slots');
  if (!persistenceEmpty(pers)) problems.push(`AOF not empty (current ${pers['aof_current_size']} bytes, base ${pers['aof_base_size']})`);
  if (pers['rdb_last_bgsave_status'] && pers['rdb_last_bgsave_status'] !== 'ok') problems.push(`last RDB save ${pers['rdb_last_bgsave_status']}`);
  if (problems.length) throw new Error(`member not empty after wipe: ${problems.join(', ')}`);
  return { keysDiscarded, role };
}

/** BGREWRITEAOF, then waits for that rewrite (not an earlier one) to finish with status ok. */
async function rewriteAof(conn: RedisConn, rewritesBefore: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let started = false;
  while (Date.now() < deadline) {
    if (!started) {
      try {
        await conn.call('BGREWRITEAOF');
        started = true;
      } catch (e) {
        // A rewrite already running was started from the old data: wait for it, then start ours.
        if (!/already in progress/i.test(errMsg(e))) throw new Error(`BGREWRITEAOF failed: ${errMsg(e)}`, { cause: e });
      }
    }
    const p = parseInfo(String(await conn.call('INFO', 'persistence')));
    const idle = p['aof_rewrite_in_progress'] === '0' && p['aof_rewrite_scheduled'] === '0';
    if (started && idle && Number(p['aof_rewrites'] ?? 0) > rewritesBefore) {
      if (p['aof_last_bgrewrite_status'] !== 'ok') throw new Error(`AOF rewrite ended with status ${p['aof_last_bgrewrite_status']}`);
      return;
    }
    await sleep(50);
  }
  throw new Error(`AOF rewrite did not finish within ${timeoutMs} ms`);
}
