// The Redis Cluster roll planner (pure): one decision per pass from the pods and what the members
// report (observer.redis). A pod is deleted only while the whole cluster is healthy, replicas go
// first (lowest ordinal), and a master with slots is never deleted while it owns them: it hands
// its slots to an in-sync replica first (CLUSTER FAILOVER, coordinated: the master stops writes
// until the replica has its exact offset, so no acknowledged write is lost), and a later pass
// restarts it like any replica. No slot goes uncovered during a roll, with one documented
// exception: a cluster without any replica (replicasPerMaster 0), see below.
import { byOrdinal } from './pods.js';
import type { RedisRollMember, RedisRollState, RollDecision, RollPod } from './types.js';

/**
 * How far (bytes of replication stream) a replica may trail its master and still count as in
 * sync. Not 0: the observer reads the master's and the replica's offsets at slightly different
 * instants, so under steady writes a live, healthy replica is always a few KB "behind" and a zero
 * threshold would stall every roll under load. A replica still loading a full resync or working
 * off a backlog trails by far more (or has its link down). The threshold never costs data: a
 * coordinated CLUSTER FAILOVER makes the replica catch up to the master's exact offset before it
 * promotes, and a replica restart touches no master.
 */
export const REDIS_ROLL_MAX_LAG_BYTES = 1024 * 1024;

export interface PlanRedisOptions {
  /** Override REDIS_ROLL_MAX_LAG_BYTES. */
  maxLagBytes?: number;
}

export function replicaInSync(m: RedisRollMember, maxLagBytes = REDIS_ROLL_MAX_LAG_BYTES): boolean {
  return m.role === 'replica' && m.linkUp === true && m.lagBytes !== undefined && m.lagBytes <= maxLagBytes;
}

export function planRedisRoll(pods: RollPod[], expected: number, state: RedisRollState, opts: PlanRedisOptions = {}): RollDecision {
  const maxLag = opts.maxLagBytes ?? REDIS_ROLL_MAX_LAG_BYTES;
  const sorted = [...pods].sort(byOrdinal);
  const staleNext = sorted.find((p) => !p.current)?.pod;
  const wait = (reason: string, pod = staleNext): RollDecision => (pod ? { action: 'wait', pod, reason } : { action: 'wait', reason });

  // 1. Every pod there, running, ready.
  if (sorted.length < expected) return wait(`${sorted.length}/${expected} Redis pods exist; waiting for the missing ones`);
  const terminating = sorted.filter((p) => p.terminating);
  if (terminating.length) return wait(`${terminating.map((p) => p.pod).join(', ')} terminating`);
  const notReady = sorted.filter((p) => !p.ready || !p.host);
  if (notReady.length) return wait(`${notReady.map((p) => p.pod).join(', ')} not ready`);

  // 2. Every member healthy, as it says itself.
  const member = new Map(state.members.map((m) => [m.pod, m]));
  const unobserved = sorted.filter((p) => !member.has(p.pod));
  if (unobserved.length) return wait(`${unobserved.map((p) => p.pod).join(', ')} did not answer`);
  const members = sorted.map((p) => member.get(p.pod)!);
  const loading = members.filter((m) => m.loading);
  if (loading.length) return wait(`${loading.map((m) => m.pod).join(', ')} loading the dataset`);
  const notOk = members.filter((m) => !m.clusterOk);
  if (notOk.length) return wait(`${notOk.map((m) => m.pod).join(', ')} not cluster_state:ok`);
  const linksDown = members.filter((m) => !m.linksUp);
  if (linksDown.length) return wait(`${linksDown.map((m) => m.pod).join(', ')} see a cluster link down or a node failing`);
  if (!state.slotsCovered) return wait('not every slot is served by a reachable master');
  const orphans = members.filter((m) => m.role === 'replica' && (!m.masterPod || !member.has(m.masterPod)));
  if (orphans.length) return wait(`${orphans.map((m) => m.pod).join(', ')} replicate no member of this cluster`);
  const unsynced = members.filter((m) => m.role === 'replica' && !replicaInSync(m, maxLag));
  if (unsynced.length) {
    return wait(
      `${unsynced.map((m) => `${m.pod} (${m.linkUp ? `${m.lagBytes ?? '?'} bytes behind` : 'master link down'})`).join(', ')} not in sync with its master`,
    );
  }

  const stale = sorted.filter((p) => !p.current);
  if (stale.length === 0) return { action: 'done' };

  // 3. Stale replicas first, lowest ordinal first: restarting a replica moves no slot.
  const staleReplica = stale.find((p) => member.get(p.pod)!.role === 'replica');
  if (staleReplica) {
    const m = member.get(staleReplica.pod)!;
    return { action: 'restart', pod: staleReplica.pod, reason: `stale replica of ${m.masterPod}` };
  }

  // 4. Stale masters (all replicas are current now), lowest ordinal first.
  const master = member.get(stale[0].pod)!;
  if (!master.slots) return { action: 'restart', pod: master.pod, reason: 'stale master that owns no slot' };
  const replicas = members.filter((m) => m.role === 'replica' && m.masterPod === master.pod);
  // Prefer a replica that already runs the update revision (it will not restart again), then the
  // lowest ordinal.
  const pod = new Map(sorted.map((p) => [p.pod, p]));
  const inSync = replicas
    .filter((m) => replicaInSync(m, maxLag))
    .sort((a, b) => Number(pod.get(b.pod)!.current) - Number(pod.get(a.pod)!.current) || pod.get(a.pod)!.ordinal - pod.get(b.pod)!.ordinal);
  if (inSync.length) {
    return {
      action: 'failover',
      pod: master.pod,
      to: inSync[0].pod,
      reason: `stale master with ${master.slots} slot(s): ${inSync[0].pod} takes them over (CLUSTER FAILOVER) before ${master.pod} restarts`,
    };
  }
  // No replica anywhere (replicasPerMaster 0): waiting would never end, and there is no copy to hand
  // the slots to. The member's data persists (AOF + RDB on its volume, nodes.conf keeps its node ID
  // and slots), so it is restarted in place: its slots are offline (CLUSTERDOWN for those keys, the
  // other masters keep serving: cluster-require-full-coverage no) until it has loaded its AOF, and
  // no acknowledged write is lost beyond appendfsync everysec (a SIGTERM shutdown fsyncs anyway).
  // The planner then waits for it to be ready and cluster_state:ok before the next master.
  if (!members.some((m) => m.role === 'replica')) {
    return {
      action: 'restart',
      pod: master.pod,
      reason: `stale master with ${master.slots} slot(s) and no replicas in the cluster: restarting it on its persisted data (AOF/RDB on its volume); its slots are offline until it has loaded`,
    };
  }
  return wait(
    replicas.length
      ? `stale master ${master.pod} has no in-sync replica to hand its ${master.slots} slot(s) to`
      : `stale master ${master.pod} has no replica to hand its ${master.slots} slot(s) to (other masters have replicas: the orchestrator must give it one first)`,
    master.pod,
  );
}
