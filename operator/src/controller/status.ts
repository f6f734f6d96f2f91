// Status assembly: what the reconciler writes to CacheTier.status, built from what the steps
// found. Pure functions; the write itself (only when something changed) is the reconciler's.
import type { CacheTier, CacheTierStatus, Condition, RedisMemberStatus, RedisMigrationStatus, ResolvedCacheTier, RollStatus, TopicStatus } from '../api/types.js';
import type { PodInfo } from '../runtime/kube.js';
import type { ConditionUpdate, MigrationProgress, RedisReconcileResult, TopicReconcileResult } from '../orchestration/types.js';
import { tierEndpoints } from '../render/names.js';
import { deepEqual } from './diff.js';
import { podOrdinal } from './steps/observe.js';
import { REDIS_PORT } from '../../../packages/contract/src/index.js';

/**
 * Only the fields the CRD's status schema declares: anything else would be pruned by the API
 * server, and the live status would never equal the desired one (a write on every reconcile).
 */
function pick<T extends object>(o: T, keys: readonly (keyof T)[]): T {
  const out = {} as T;
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) out[k] = o[k];
  return out;
}
const MEMBER_KEYS = ['pod', 'nodeId', 'address', 'role', 'masterOf', 'replicaOf', 'slots', 'kubernetesNode'] as const;
const TOPIC_KEYS = ['name', 'partitions', 'replicationFactor', 'ready', 'message'] as const;
const ROLL_KEYS = ['component', 'progress', 'updated', 'total', 'phase', 'pod', 'reason'] as const;
export const memberStatus = (m: RedisMemberStatus): RedisMemberStatus => pick(m, MEMBER_KEYS);
export const topicStatus = (t: TopicStatus): TopicStatus => pick(t, TOPIC_KEYS);

/**
 * status.redis: the orchestrator's view when it ran; when no pod runs or the password is
 * missing, the pods as they are (role unknown); otherwise (a read or orchestration error) the
 * last known view stays.
 */
export function redisStatus(
  previous: CacheTierStatus['redis'],
  result: RedisReconcileResult | undefined,
  problem: ConditionUpdate | undefined,
  pods: readonly PodInfo[],
): NonNullable<CacheTierStatus['redis']> {
  const out: NonNullable<CacheTierStatus['redis']> = { ...(previous ?? { readyMasters: 0 }) };
  if (result) {
    out.readyMasters = result.readyMasters;
    out.members = result.members.map(memberStatus);
    // The pass's moves are over (done, aborted or resumed next pass): no migration to show.
    // null removes a written one (merge patch); absent stays absent, so idle passes write nothing.
    if (out.migration) out.migration = null;
    else delete out.migration;
  } else if (problem?.reason === 'PodsNotRunning' || problem?.reason === 'PasswordUnavailable') {
    out.readyMasters = 0;
    out.members = pods
      .filter((p) => podOrdinal(p.name) >= 0)
      .sort((a, b) => podOrdinal(a.name) - podOrdinal(b.name))
      .map((p): RedisMemberStatus => {
        const m: RedisMemberStatus = { pod: p.name, role: 'unknown' };
        if (p.podIP) m.address = `${p.podIP}:${REDIS_PORT}`;
        if (p.nodeName) m.kubernetesNode = p.nodeName;
        return m;
      });
  }
  return out;
}

/** status.redis.migration from the orchestrator's progress report. */
export function migrationStatus(p: MigrationProgress, startedAt: string, updatedAt: string): RedisMigrationStatus {
  return {
    progress: `${p.slotsMoved}/${p.slotsTotal} slots moved${p.slotsFailed ? `, ${p.slotsFailed} failed` : ''}`,
    slotsTotal: p.slotsTotal,
    slotsMoved: p.slotsMoved,
    slotsFailed: p.slotsFailed,
    keysMoved: p.keysMoved,
    moves: p.moves.slice(0, 32).map((m) => `${m.from} -> ${m.to}: ${m.slots} slots`),
    startedAt,
    updatedAt,
  };
}

export interface StatusInputs {
  tier: CacheTier;
  resolved: ResolvedCacheTier;
  conditions: Condition[];
  redis: NonNullable<CacheTierStatus['redis']>;
  topics?: TopicReconcileResult;
  /** The roll in progress this pass (absent: none). */
  roll?: RollStatus;
}

/** The merge patch for status after an active reconcile. */
export function activeStatusPatch(s: StatusInputs): Record<string, unknown> {
  const patch: Record<string, unknown> = {
    observedGeneration: s.tier.metadata.generation,
    conditions: s.conditions,
    redis: s.redis,
    endpoints: tierEndpoints(s.resolved),
  };
  if (s.topics) patch.topics = s.topics.topics.map(topicStatus);
  // null removes a finished roll (merge patch); absent stays absent, so idle passes write nothing.
  if (s.roll) patch.roll = pick(s.roll, ROLL_KEYS);
  else if (s.tier.status?.roll) patch.roll = null;
  return patch;
}

/** true when merging `patch` into the live status changes it (compared as JSON). */
export function statusChanges(live: CacheTierStatus | undefined, patch: Record<string, unknown>): boolean {
  const current = (live ?? {}) as Record<string, unknown>;
  const desired = { ...current, ...patch };
  return !deepEqual(JSON.parse(JSON.stringify(desired)), JSON.parse(JSON.stringify(current)));
}
