// Conditions as Kubernetes conventions want them: `Ready` plus one per concern, each
// True/False/Unknown with a CamelCase reason and a human message; lastTransitionTime moves only
// when the status changes.
import type { Condition } from '../api/types.js';
import type { ConditionUpdate } from '../orchestration/types.js';

export const COMPONENT_CONDITIONS = ['ZooKeeperReady', 'KafkaReady', 'RedisReady', 'ProducerReady', 'OpenRestyReady'] as const;
export const REDIS_CONDITIONS = ['SlotsCovered', 'SlotsBalanced', 'MembershipHealthy', 'ReplicaPlacement', 'KeyspaceIntact'] as const;
export const TOPICS_CONDITION = 'TopicsReady';
export const READY = 'Ready';
export const PAUSED = 'Paused';

/** Order in status.conditions: Ready first, then components, then orchestration. */
export const CONDITION_ORDER: readonly string[] = [READY, PAUSED, ...COMPONENT_CONDITIONS, ...REDIS_CONDITIONS, TOPICS_CONDITION];

/**
 * Merge freshly computed conditions with the previous ones: a condition whose status did not
 * change keeps its lastTransitionTime. Returns the new list (sorted) and the transitions.
 */
export function mergeConditions(
  previous: Condition[] | undefined,
  updates: ConditionUpdate[],
  now: string,
  generation: number | undefined,
): { conditions: Condition[]; transitions: { update: ConditionUpdate; from?: Condition['status'] }[] } {
  const prev = new Map((previous ?? []).map((c) => [c.type, c]));
  const transitions: { update: ConditionUpdate; from?: Condition['status'] }[] = [];
  const conditions = updates.map((u) => {
    const old = prev.get(u.type);
    const changed = !old || old.status !== u.status;
    if (changed) transitions.push({ update: u, from: old?.status });
    const c: Condition = {
      type: u.type,
      status: u.status,
      reason: u.reason,
      message: u.message,
      lastTransitionTime: changed ? now : old.lastTransitionTime,
    };
    if (generation !== undefined) c.observedGeneration = generation;
    return c;
  });
  const rank = (t: string) => {
    const i = CONDITION_ORDER.indexOf(t);
    return i < 0 ? CONDITION_ORDER.length : i;
  };
  conditions.sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type));
  return { conditions, transitions };
}

/** Ready is True only when every other condition is True. */
export function readyCondition(others: ConditionUpdate[]): ConditionUpdate {
  const notTrue = others.filter((c) => c.status !== 'True');
  if (notTrue.length === 0) return { type: READY, status: 'True', reason: 'AllReady', message: 'all components and orchestration are ready' };
  const parts = notTrue.map((c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ''}`);
  return { type: READY, status: 'False', reason: 'NotReady', message: `waiting for ${parts.join('; ')}`.slice(0, 1000) };
}
