// Conditions as Kubernetes conventions want them: `Ready` plus one per concern, each
// True/False/Unknown with a CamelCase reason and a human message; lastTransitionTime moves only
// when the status changes.
import type { Condition, ResolvedCacheTier } from '../api/types.js';
import type { ConditionUpdate, ProducerPodHealth, RedisReconcileResult } from '../orchestration/types.js';
import type { KObject } from '../runtime/kube.js';
import { childName, type Component } from '../render/names.js';

export const COMPONENT_CONDITIONS = ['ZooKeeperReady', 'KafkaReady', 'RedisReady', 'ProducerReady', 'OpenRestyReady'] as const;
export const REDIS_CONDITIONS = ['SlotsCovered', 'SlotsBalanced', 'MembershipHealthy', 'ReplicaPlacement', 'KeyspaceIntact'] as const;
export const TOPICS_CONDITION = 'TopicsReady';
export const CHANGES_CONDITION = 'ChangesFlowing';
export const VOLUMES_CONDITION = 'VolumesMatchSpec';
export const READY = 'Ready';
export const PAUSED = 'Paused';

/** Order in status.conditions: Ready first, then components, then orchestration. */
export const CONDITION_ORDER: readonly string[] = [READY, PAUSED, ...COMPONENT_CONDITIONS, VOLUMES_CONDITION, ...REDIS_CONDITIONS, TOPICS_CONDITION, CHANGES_CONDITION];

/** Types the reconciler computes itself; every other type in status came from the Redis orchestrator. */
const RECONCILER_CONDITIONS: ReadonlySet<string> = new Set([READY, PAUSED, ...COMPONENT_CONDITIONS, VOLUMES_CONDITION, TOPICS_CONDITION, CHANGES_CONDITION]);

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

// ---- component conditions: one per workload, from its live status ---------------------------

/** A child as the apply step left it (see steps/apply.ts ChildState). */
export interface ChildView {
  rendered?: unknown;
  live?: KObject;
  readError?: string;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** obj.path[0].path[1]..., undefined where a step is missing (live objects are untyped JSON). */
export function field(obj: unknown, ...path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** Readiness of a StatefulSet or Deployment from its status, as a condition body. */
export function workloadCondition(type: string, kind: string, name: string, st: ChildView): ConditionUpdate {
  if (st.readError) return { type, status: 'Unknown', reason: 'ReadFailed', message: `${kind} ${name}: ${st.readError}` };
  if (!st.live) {
    if (!st.rendered) return { type, status: 'Unknown', reason: 'NotRendered', message: `${kind} ${name} is not rendered yet` };
    return { type, status: 'False', reason: 'NotCreated', message: `${kind} ${name} does not exist yet` };
  }
  const live = st.live;
  const desired = field(live, 'spec', 'replicas') === undefined ? 1 : num(field(live, 'spec', 'replicas'));
  const generation = num(live.metadata.generation);
  const observed = num(field(live, 'status', 'observedGeneration'));
  const replicas = num(field(live, 'status', 'replicas'));
  const ready = num(field(live, 'status', 'readyReplicas'));
  const updated = num(field(live, 'status', 'updatedReplicas'));
  const available = num(field(live, 'status', 'availableReplicas'));
  if (observed < generation) {
    return { type, status: 'False', reason: 'Progressing', message: `${kind} ${name}: waiting for the controller to observe generation ${generation}` };
  }
  if (updated < desired) return { type, status: 'False', reason: 'RollingUpdate', message: `${kind} ${name}: ${updated}/${desired} pods updated` };
  if (ready < desired) return { type, status: 'False', reason: 'PodsNotReady', message: `${kind} ${name}: ${ready}/${desired} pods ready` };
  if (kind === 'Deployment' && available < desired) {
    return { type, status: 'False', reason: 'PodsNotAvailable', message: `${kind} ${name}: ${available}/${desired} pods available` };
  }
  if (replicas > desired) return { type, status: 'False', reason: 'ScalingDown', message: `${kind} ${name}: ${replicas} pods, want ${desired}` };
  return { type, status: 'True', reason: 'Ready', message: `${kind} ${name}: ${ready}/${desired} pods ready` };
}

const STATEFUL: Record<string, Component> = { ZooKeeperReady: 'zookeeper', KafkaReady: 'kafka', RedisReady: 'redis' };

export interface RedisPodsView {
  /** Redis pods running with an IP. */
  running: number;
  /** Replicas the Redis StatefulSet is rendered with. */
  replicas: number;
  passwordProblem?: string;
}

/** ZooKeeperReady, KafkaReady, RedisReady, ProducerReady, OpenRestyReady, in that order. */
export function componentConditions(
  tier: ResolvedCacheTier,
  child: (kind: string, component: Component) => ChildView,
  redis: RedisPodsView,
): ConditionUpdate[] {
  const updates: ConditionUpdate[] = [];
  for (const [type, component] of Object.entries(STATEFUL)) {
    let c = workloadCondition(type, 'StatefulSet', childName(tier, component), child('StatefulSet', component));
    if (component === 'redis') {
      if (redis.passwordProblem) c = { type, status: 'False', reason: 'PasswordUnavailable', message: redis.passwordProblem };
      else if (redis.running < redis.replicas && c.reason !== 'NotRendered') {
        c = { type, status: 'False', reason: 'PodsNotRunning', message: `${redis.running}/${redis.replicas} pods running` };
      }
    }
    updates.push(c);
  }
  updates.push(workloadCondition('ProducerReady', 'Deployment', childName(tier, 'producer'), child('Deployment', 'producer')));
  const dist = workloadCondition('OpenRestyReady', 'Deployment', childName(tier, 'openresty-distribution'), child('Deployment', 'openresty-distribution'));
  const app = workloadCondition('OpenRestyReady', 'Deployment', childName(tier, 'openresty-app'), child('Deployment', 'openresty-app'));
  if (dist.status === 'True' && app.status === 'True') {
    updates.push({ ...dist, message: `${dist.message}; ${app.message}` });
  } else {
    updates.push(dist.status !== 'True' ? dist : app);
  }
  return updates;
}

// ---- changes flowing: the producers' Kafka consumers, as the producer pods report them -------

/**
 * ChangesFlowing from what each ready producer pod says about its consumers. A producer stays
 * ready (it serves reads) while Kafka is down, so this is where an outage of the change feed
 * shows: False as soon as one pod's cache-message or access-log consumer is out of its group.
 */
export function changesFlowingCondition(health: ProducerPodHealth[]): ConditionUpdate {
  const type = CHANGES_CONDITION;
  if (health.length === 0) return { type, status: 'Unknown', reason: 'NoProducerPod', message: 'no ready producer pod to ask' };
  const asked = health.filter((h) => h.error === undefined);
  const unasked = health.filter((h) => h.error !== undefined).map((h) => `${h.pod}: ${h.error}`);
  const down = (pick: (h: ProducerPodHealth) => boolean | undefined) => asked.filter((h) => !pick(h)).map((h) => h.pod);
  const changes = down((h) => h.changes);
  const accessLog = down((h) => h.accessLog);
  const problems: string[] = [];
  if (changes.length > 0) problems.push(`cache-message not consumed by ${changes.length}/${health.length} producer pods (${changes.join(', ')}): updates do not reach Redis`);
  if (accessLog.length > 0) problems.push(`access-log not consumed by ${accessLog.length}/${health.length} producer pods (${accessLog.join(', ')}): hot products are not tracked`);
  const tail = unasked.length > 0 ? `; not answering: ${unasked.join('; ')}` : '';
  if (problems.length > 0) {
    return { type, status: 'False', reason: changes.length > 0 ? 'ChangeConsumerDown' : 'AccessLogConsumerDown', message: `${problems.join('; ')} (is Kafka reachable?)${tail}`.slice(0, 1000) };
  }
  if (asked.length === 0) return { type, status: 'Unknown', reason: 'ProbeFailed', message: unasked.join('; ').slice(0, 1000) };
  return { type, status: 'True', reason: 'Consuming', message: `${asked.length}/${health.length} producer pods consume cache-message and access-log${tail}`.slice(0, 1000) };
}

// ---- orchestration conditions: whatever the Redis orchestrator reports ----------------------

/**
 * The Redis orchestrator's conditions, passed through whatever their types: the reconciler only
 * insists on REDIS_CONDITIONS (NotReported when missing). When the orchestrator could not run,
 * `problem` stands in for every orchestration condition — the known ones and any other type it
 * reported before (still in `previous`), so a condition never vanishes just because Redis is down.
 */
export function orchestrationConditions(
  result: Pick<RedisReconcileResult, 'conditions'> | undefined,
  problem: ConditionUpdate | undefined,
  previous: readonly Condition[] | undefined,
): ConditionUpdate[] {
  const known = REDIS_CONDITIONS as readonly string[];
  if (result) {
    const updates: ConditionUpdate[] = known.map(
      (type) =>
        result.conditions.find((x) => x.type === type) ?? {
          type,
          status: 'Unknown',
          reason: 'NotReported',
          message: 'the orchestration did not report this condition',
        },
    );
    for (const c of result.conditions) if (!known.includes(c.type)) updates.push(c);
    return updates;
  }
  if (!problem) return [];
  const types = [...known];
  for (const c of previous ?? []) if (!RECONCILER_CONDITIONS.has(c.type) && !types.includes(c.type)) types.push(c.type);
  return types.map((type) => ({ ...problem, type }));
}
