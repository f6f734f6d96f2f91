// Attaching a member as a replica, tolerant of the cluster having moved first: Redis reconfigures
// members on its own (a restarted master whose slots were failed over turns into a replica of the
// new owner as soon as it hears the cluster's gossip), so what the orchestrator observed a few
// milliseconds earlier may already be stale when it acts.
import type { RedisConn } from './client.js';

export interface ObservedCandidate {
  /** Seen as a master (an empty one: the caller never attaches a slot owner). */
  master: boolean;
  /** Keys seen: an empty master must be flushed before CLUSTER REPLICATE accepts it. */
  keys: number;
}

/**
 * Makes `conn`'s member replicate `masterId`. Returns 'attached', or 'changed' when the member
 * was seen as a master but has turned into a replica since (its FLUSHALL then fails READONLY and
 * nothing was written): the caller observes again instead of failing the reconcile.
 */
export async function attachReplica(conn: RedisConn, masterId: string, seen: ObservedCandidate): Promise<'attached' | 'changed'> {
  try {
    if (seen.master && seen.keys > 0) await conn.call('FLUSHALL'); // owns no slot: nothing a client can see
    await conn.call('CLUSTER', 'REPLICATE', masterId);
    return 'attached';
  } catch (e) {
    if (seen.master && (await currentRole(conn)) === 'slave') return 'changed';
    throw e;
  }
}

async function currentRole(conn: RedisConn): Promise<string | undefined> {
  try {
    const r = await conn.call('ROLE');
    return Array.isArray(r) ? String(r[0]) : undefined;
  } catch {
    return undefined;
  }
}
