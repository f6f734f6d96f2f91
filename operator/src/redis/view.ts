// The observed cluster: what every member says about itself and the others, read in one round
// (observe) and folded into one view (slot owners, open moves, who stays, who leaves, the
// established cluster). The orchestrator decides from this view only, so any run can pick up
// where a dead one stopped.
import type { MigrationProgress, OrchestrationEvent, RedisMember } from '../orchestration/types.js';
import { errMsg, type ConnPool, type RedisConn } from './client.js';
import { establishedCluster, isEmptyMember, type ClusterFacts, type MemberFacts } from './membership.js';
import { isMaster, parseClusterNodes, parseInfo, SLOT_COUNT, type ClusterNodeLine } from './parse.js';

export interface Observed {
  member: RedisMember;
  conn: RedisConn;
  ok: boolean;
  error?: string;
  id?: string;
  self?: ClusterNodeLine;
  nodes: ClusterNodeLine[];
  info: Record<string, string>;
  /** INFO replication. */
  repl: Record<string, string>;
  /** INFO persistence: tells whether the volume can still hold keys memory no longer has. */
  persistence: Record<string, string>;
  dbsize: number;
}

export interface View {
  all: Observed[];
  reachable: Observed[];
  staying: Observed[];
  leaving: Observed[];
  byId: Map<string, Observed>;
  /** slot -> owning node ID (undefined = uncovered). */
  owner: Array<string | undefined>;
  /** master ID -> owned slots. */
  owned: Map<string, number[]>;
  open: Array<{ slot: number; from?: string; to?: string }>;
  /** Best knowledge of every node (self lines win over gossip). */
  nodeInfo: Map<string, ClusterNodeLine>;
  /** The members that know each other and own slots (undefined before the cluster exists). */
  cluster?: ClusterFacts;
  want: number;
}

/** Data lost or at risk, found while acting: reported as a False KeyspaceIntact condition. */
export interface Loss {
  reason: 'KeysLost' | 'KeysMayBeLost';
  message: string;
}

/** What one reconcile collects while it acts. */
export interface Run {
  events: OrchestrationEvent[];
  /** Why work waits; "shape: ..." notes say the desired shape cannot be kept. */
  notes: string[];
  losses: Loss[];
  /** Told how far slot moves are while they run. */
  onProgress?: (p: MigrationProgress) => void;
}

export function short(id: string | undefined): string {
  return id ? id.slice(0, 8) : '?';
}

/** Reads every member once (in parallel) and folds what they say into one view. */
export async function observe(pool: ConnPool, members: RedisMember[], want: number): Promise<View> {
  return foldView(await readMembers(pool, members), want);
}

/** One round of reads: CLUSTER NODES/INFO, DBSIZE, INFO replication/persistence per member. */
export async function readMembers(pool: ConnPool, members: RedisMember[]): Promise<Observed[]> {
  return Promise.all(
    members.map(async (m): Promise<Observed> => {
      const conn = pool.get(m.host, m.port);
      const ob: Observed = { member: m, conn, ok: false, nodes: [], info: {}, repl: {}, persistence: {}, dbsize: 0 };
      try {
        const [nodes, info, dbsize, repl, persistence] = await Promise.all([
          conn.call('CLUSTER', 'NODES') as Promise<string>,
          conn.call('CLUSTER', 'INFO') as Promise<string>,
          conn.call('DBSIZE') as Promise<number>,
          conn.call('INFO', 'replication') as Promise<string>,
          conn.call('INFO', 'persistence') as Promise<string>,
        ]);
        ob.repl = parseInfo(String(repl));
        ob.persistence = parseInfo(String(persistence));
        ob.nodes = parseClusterNodes(String(nodes));
        ob.self = ob.nodes.find((n) => n.flags.has('myself'));
        ob.id = ob.self?.id;
        ob.info = parseInfo(String(info));
        ob.dbsize = Number(dbsize);
        ob.ok = !!ob.self;
      } catch (e) {
        ob.error = errMsg(e);
      }
      return ob;
    }),
  );
}

/**
 * Folds what every member said into one view (pure): who is reachable, who stays and who
 * leaves (ordinal < want), the slot owners (a reachable master's own claim wins over gossip,
 * then the higher config epoch), the open moves and the established cluster.
 */
export function foldView(all: Observed[], want: number): View {
  const reachable = all.filter((o) => o.ok);
  const byId = new Map<string, Observed>();
  for (const o of reachable) byId.set(o.id!, o);
  const nodeInfo = new Map<string, ClusterNodeLine>();
  // Gossip first (highest epoch wins), then each node's own line.
  for (const o of reachable) {
    for (const n of o.nodes) {
      if (n.flags.has('myself')) continue;
      const prev = nodeInfo.get(n.id);
      if (!prev || n.configEpoch > prev.configEpoch || (n.configEpoch === prev.configEpoch && n.slots.length > prev.slots.length)) nodeInfo.set(n.id, n);
    }
  }
  for (const o of reachable) nodeInfo.set(o.id!, o.self!);
  const owner: Array<string | undefined> = new Array(SLOT_COUNT).fill(undefined);
  const epochOf: number[] = new Array(SLOT_COUNT).fill(-1);
  // A reachable master's own claim is authoritative; unreachable nodes' slots come from gossip.
  const claims = [...nodeInfo.values()].filter((n) => isMaster(n) && !n.flags.has('fail'));
  claims.sort((a, b) => Number(byId.has(a.id)) - Number(byId.has(b.id)));
  for (const n of claims) {
    const self = byId.has(n.id);
    for (const s of n.slots) {
      if (self && owner[s] !== undefined && !byId.has(owner[s]!)) {
        owner[s] = n.id;
        epochOf[s] = n.configEpoch;
      } else if (owner[s] === undefined || n.configEpoch > epochOf[s]) {
        owner[s] = n.id;
        epochOf[s] = n.configEpoch;
      }
    }
  }
  // Slots only a failed node claims are still "owned" by it (its replica may take over).
  for (const n of nodeInfo.values()) {
    if (isMaster(n) && n.flags.has('fail')) for (const s of n.slots) if (owner[s] === undefined) owner[s] = n.id;
  }
  const owned = new Map<string, number[]>();
  owner.forEach((id, s) => {
    if (id === undefined) return;
    const l = owned.get(id) ?? [];
    l.push(s);
    owned.set(id, l);
  });
  const openMap = new Map<number, { slot: number; from?: string; to?: string }>();
  for (const o of reachable) {
    for (const [slot, to] of o.self!.migrating) openMap.set(slot, { ...(openMap.get(slot) ?? { slot }), from: o.id, to });
    for (const [slot, from] of o.self!.importing) openMap.set(slot, { ...(openMap.get(slot) ?? { slot }), to: o.id, from: openMap.get(slot)?.from ?? from });
  }
  return {
    all,
    reachable,
    staying: all.filter((o) => o.member.ordinal < want),
    leaving: all.filter((o) => o.member.ordinal >= want),
    byId,
    owner,
    owned,
    open: [...openMap.values()].sort((a, b) => a.slot - b.slot),
    nodeInfo,
    cluster: establishedCluster(reachable.map(facts)),
    want,
  };
}

/** The facts membership decisions need about one reachable member. */
export function facts(o: Observed): MemberFacts {
  return {
    id: o.id!,
    slots: o.self!.slots.length,
    peers: o.nodes.filter((n) => !n.flags.has('myself') && !n.flags.has('handshake')).map((n) => n.id),
    keys: o.dbsize,
  };
}

/** A leaving member that holds nothing any more, in memory or on its volume. */
export function leftClean(o: Observed): boolean {
  return o.ok && isEmptyMember(facts(o), o.persistence);
}
