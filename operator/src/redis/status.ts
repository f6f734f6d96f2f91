// The orchestrator's report on the settled view: every member's role, the conditions
// (SlotsCovered, SlotsBalanced, MembershipHealthy, ReplicaPlacement, KeyspaceIntact), how far the
// StatefulSet may shrink, and whether the cluster has converged. A pure function of the view and
// of what the run did and found.
import type { RedisMemberStatus } from '../api/types.js';
import type { ConditionUpdate, RedisDesiredShape, RedisReconcileResult } from '../orchestration/types.js';
import { formatSlots, isFailed, isMaster, SLOT_COUNT } from './parse.js';
import { isBalanced, planReplicas } from './plan.js';
import { leftClean, short, type Run, type View } from './view.js';

/** The status of the cluster as observed at the end of a reconcile. */
export function clusterStatus(
  v: View,
  d: RedisDesiredShape,
  currentSts: number,
  run: Run,
  stillActing: boolean,
  audit: string[],
): RedisReconcileResult {
  const { events, notes, losses } = run;
  const want = v.want;
  const podOf = (id?: string) => (id ? (v.byId.get(id)?.member.pod ?? short(id)) : undefined);
  const members: RedisMemberStatus[] = v.all.map((o) => {
    if (!o.ok) return { pod: o.member.pod, address: `${o.member.host}:${o.member.port}`, role: 'unknown', kubernetesNode: o.member.node };
    const s = o.self!;
    const st: RedisMemberStatus = {
      pod: o.member.pod,
      nodeId: o.id,
      address: `${o.member.host}:${o.member.port}`,
      role: isMaster(s) ? 'master' : 'replica',
      kubernetesNode: o.member.node,
    };
    if (isMaster(s)) {
      const slots = v.owned.get(o.id!) ?? [];
      if (slots.length) st.slots = formatSlots(slots);
      const reps = v.reachable.filter((x) => x.self!.masterId === o.id).map((x) => x.member.pod);
      if (reps.length) st.masterOf = reps.join(',');
    } else st.replicaOf = podOf(s.masterId);
    return st;
  });
  const conds: ConditionUpdate[] = [];
  const uncovered = v.owner.filter((x) => x === undefined).length;
  const failingOwners = new Set(v.owner.filter((x) => x !== undefined && (!v.byId.has(x) || isFailed(v.nodeInfo.get(x)!))));
  conds.push(
    uncovered === 0 && v.open.length === 0 && failingOwners.size === 0
      ? { type: 'SlotsCovered', status: 'True', reason: 'AllSlotsServed', message: `${SLOT_COUNT} slots served by reachable masters` }
      : {
          type: 'SlotsCovered',
          status: 'False',
          reason: uncovered ? 'SlotsUncovered' : v.open.length ? 'MigrationInProgress' : 'OwnerUnreachable',
          message: `${uncovered} uncovered, ${v.open.length} migrating/importing, ${failingOwners.size} owner(s) unreachable or failing`,
        },
  );
  const slotMasters = [...v.owned.entries()].filter(([, s]) => s.length > 0).map(([id]) => id);
  const stayingSlotMasters = slotMasters.filter((id) => v.byId.get(id) && v.byId.get(id)!.member.ordinal < want);
  const balanced = slotMasters.length === d.masters && stayingSlotMasters.length === d.masters && isBalanced(v.owned, slotMasters);
  const counts = slotMasters.map((id) => `${podOf(id)}=${v.owned.get(id)!.length}`).join(' ');
  conds.push(
    balanced
      ? { type: 'SlotsBalanced', status: 'True', reason: 'EvenSplit', message: `${d.masters} masters: ${counts}` }
      : (() => {
          const shape = notes.filter((n) => n.startsWith('shape: ')).map((n) => n.slice(7));
          return {
            type: 'SlotsBalanced',
            status: 'False' as const,
            reason: shape.length ? 'ShapeNotReachable' : 'Rebalancing',
            message: `want ${d.masters} masters with an even split; have ${counts || 'none'}${shape.length ? `; ${shape.join('; ')}` : ''}`,
          };
        })(),
  );
  // Keys where they belong: nothing lost this run, no stray keys, no conflicting claims.
  const keyIssues = [...losses.map((l) => l.message), ...audit];
  conds.push(
    keyIssues.length === 0
      ? { type: 'KeyspaceIntact', status: 'True', reason: 'KeysWithOwners', message: 'every key is held by its slot owner; no slot was re-owned without its keys' }
      : {
          type: 'KeyspaceIntact',
          status: 'False',
          reason: losses.some((l) => l.reason === 'KeysLost') ? 'KeysLost' : losses.length ? 'KeysMayBeLost' : 'KeysOutsideOwners',
          message: dedupe(keyIssues).slice(0, 6).join('; '),
        },
  );
  // Membership.
  const issues: string[] = [];
  for (const o of v.all) if (!o.ok) issues.push(`${o.member.pod} unreachable${o.error ? ` (${o.error})` : ''}`);
  if (v.staying.length < want) issues.push(`${want - v.staying.length} member(s) missing`);
  const stayingUp = v.staying.filter((o) => o.ok);
  for (const a of stayingUp) {
    for (const b of stayingUp) {
      if (a === b) continue;
      const n = a.nodes.find((x) => x.id === b.id);
      if (!n || n.host !== b.member.host || isFailed(n)) issues.push(`${a.member.pod} does not see ${b.member.pod} healthy`);
    }
    if (a.info['cluster_state'] !== 'ok') issues.push(`${a.member.pod} cluster_state=${a.info['cluster_state']}`);
    if (!isMaster(a.self!) && a.repl['master_link_status'] !== 'up') issues.push(`${a.member.pod} replica not in sync with its master yet`);
    const foreign = a.nodes.filter((n) => !v.byId.has(n.id) && !n.flags.has('handshake')).length;
    if (foreign) issues.push(`${a.member.pod} knows ${foreign} node(s) that are no member`);
  }
  const leavingKnown = v.leaving.filter((l) => l.ok && stayingUp.some((o) => o.nodes.some((n) => n.id === l.id)));
  conds.push(
    issues.length === 0
      ? { type: 'MembershipHealthy', status: 'True', reason: 'AllMembersJoined', message: `${stayingUp.length} members know each other` }
      : { type: 'MembershipHealthy', status: 'False', reason: 'MembershipDegraded', message: dedupe(issues).slice(0, 8).join('; ') },
  );
  // Placement, as it is now.
  const keepIds = stayingSlotMasters;
  const placementIssues: string[] = [];
  for (const id of keepIds) {
    const m = v.byId.get(id);
    if (!m) continue;
    const reps = stayingUp.filter((o) => !isMaster(o.self!) && o.self!.masterId === id);
    const good = reps.filter((r) => r.member.node !== m.member.node);
    if (good.length < d.replicasPerMaster) {
      placementIssues.push(
        `${m.member.pod} (${m.member.node}) has ${good.length}/${d.replicasPerMaster} replica(s) on other nodes${reps.length > good.length ? ` (${reps.length - good.length} on its own node)` : ''}`,
      );
    }
  }
  let placementReason = 'Placed';
  if (placementIssues.length) {
    const plan = planReplicas(
      keepIds.map((id) => ({ id, ordinal: v.byId.get(id)!.member.ordinal, node: v.byId.get(id)!.member.node })),
      stayingUp.filter((o) => !keepIds.includes(o.id!)).map((o) => ({ id: o.id!, ordinal: o.member.ordinal, node: o.member.node })),
      d.replicasPerMaster,
    );
    const nodes = new Set(v.staying.map((o) => o.member.node));
    placementReason = plan.problems.length ? 'NotEnoughNodes' : 'Pending';
    if (plan.problems.length) placementIssues.unshift(`members run on ${nodes.size} Kubernetes node(s) [${[...nodes].join(',')}]: ${plan.problems[0]}`);
  }
  conds.push(
    placementIssues.length === 0
      ? { type: 'ReplicaPlacement', status: 'True', reason: 'Placed', message: `every master has ${d.replicasPerMaster} replica(s) on other Kubernetes nodes` }
      : { type: 'ReplicaPlacement', status: 'False', reason: placementReason, message: placementIssues.slice(0, 6).join('; ') },
  );

  // The StatefulSet shrinks only once every leaving member is drained and forgotten.
  const leavingDone = v.leaving.every((l) => {
    if (l.id && (v.owned.get(l.id)?.length ?? 0) > 0) return false;
    if (l.id && v.open.some((o) => o.from === l.id || o.to === l.id)) return false;
    // Emptied, memory and volume: a StatefulSet that keeps the PVC may bring it back later.
    if (!leftClean(l)) return false;
    return !stayingUp.some((o) => o.nodes.some((n) => n.id === l.id));
  });
  const drainVerified = leavingDone && leavingKnown.length === 0 && uncovered === 0 && v.open.length === 0 && balanced && v.staying.every((o) => o.ok);
  let statefulSetReplicas = want >= currentSts ? want : drainVerified ? want : currentSts;
  if (v.leaving.length > 0 && !drainVerified) statefulSetReplicas = Math.max(statefulSetReplicas, Math.max(...v.leaving.map((l) => l.member.ordinal)) + 1);
  const readyMasters = stayingSlotMasters.filter((id) => !isFailed(v.nodeInfo.get(id)!)).length;
  const condOk = (t: string) => conds.find((c) => c.type === t)!.status === 'True';
  const placementOk = condOk('ReplicaPlacement') || placementReason === 'NotEnoughNodes';
  const converged =
    !stillActing &&
    v.leaving.length === 0 &&
    condOk('SlotsCovered') &&
    condOk('SlotsBalanced') &&
    condOk('MembershipHealthy') &&
    condOk('KeyspaceIntact') &&
    placementOk &&
    statefulSetReplicas === want;
  return { members, readyMasters, conditions: conds, events, statefulSetReplicas, converged };
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}
