// The reconcile of one CacheTier: render the desired children (pure), apply only what differs
// from the live objects, drive the orchestration seams (Redis Cluster shape, Kafka topics), and
// write an honest status — only when it changed. Everything that talks to Kubernetes goes
// through the injected KubeClient, so unit tests run this against an in-memory fake.
//
// Decisions worth knowing:
// - "Differs" means the rendered object is not a subset of the live one (controller/diff.ts):
//   server defaults, other managers' fields and `kubectl rollout restart` never count as drift.
//   An idle reconcile makes zero writes. A missing child is created with POST (fieldManager
//   cachetier-operator; the audit log shows the `create` verb the RBAC grants); a drifted one is
//   server-side applied (force) under the same field manager.
// - spec.paused: nothing is applied and no orchestration runs. Status gets a `Paused` condition
//   (True) and `Ready` becomes Unknown with reason Paused — the operator is not looking, so it
//   claims neither ready nor broken; the other conditions keep their last observed values.
//   Unpausing removes the `Paused` condition.
// - The Redis StatefulSet's replicas come from the orchestration (grow first; shrink only after
//   a verified drain). With no Redis pod running (no IPs yet) the orchestrator is not called:
//   the StatefulSet follows spec.redis.masters upward and status says "0/6 pods running".
import type { CacheTier, CacheTierStatus, Condition, RedisMemberStatus, ResolvedCacheTier, TopicStatus } from '../api/types.js';
import { resolve } from '../api/defaults.js';
import type { KObject, KubeClient, PodInfo } from '../runtime/kube.js';
import { describeError, isConflict, isNotFound } from '../runtime/kube.js';
import type { KubeObject, RenderOptions } from '../render/index.js';
import { renderAll } from '../render/index.js';
import { selectorLabels } from '../render/common.js';
import { childName, kafkaBrokerAddresses, tierEndpoints, type Component } from '../render/names.js';
import type {
  ConditionUpdate,
  OrchestrationEvent,
  RedisMember,
  RedisOrchestrator,
  RedisReconcileResult,
  TopicManager,
  TopicReconcileResult,
} from '../orchestration/types.js';
import type { Recorder } from '../runtime/events.js';
import { deepEqual, firstDifference, formatPath } from './diff.js';
import { PAUSED, READY, REDIS_CONDITIONS, TOPICS_CONDITION, mergeConditions, readyCondition } from './conditions.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { REDIS_PORT } from '../../../packages/contract/src/index.js';

export interface ReconcilerDeps {
  kube: KubeClient;
  redis: RedisOrchestrator;
  topics: TopicManager;
  recorder: Recorder;
  /** Defaults to renderAll; tests inject their own renderer. */
  render?: (tier: ResolvedCacheTier, opts: RenderOptions) => KubeObject[];
  now?: () => Date;
  log?: Logger;
  /** First requeue delay while not converged (doubles while nothing changes, up to maxRequeueMs). */
  requeueMs?: number;
  maxRequeueMs?: number;
}

export interface ReconcileOutcome {
  /** Run again after this long (not converged or not ready yet). */
  requeueAfterMs?: number;
  /** "Kind/name" of each child applied. */
  applied: string[];
  statusWritten: boolean;
}

interface ChildState {
  rendered?: KubeObject;
  live?: KObject;
  readError?: string;
}

/** Children read/applied at once in one reconcile (a tier has ~30). */
const APPLY_CONCURRENCY = 8;

interface ChildOutcome {
  id: string;
  applied?: boolean;
  error?: string;
  event?: { type: 'Normal' | 'Warning'; reason: string; message: string };
}

/** fn over items, at most `limit` at a time; results in the items' order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, () => worker()));
  return results;
}

const STATEFUL: Record<string, Component> = { ZooKeeperReady: 'zookeeper', KafkaReady: 'kafka', RedisReady: 'redis' };

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function field(obj: unknown, ...path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** Readiness of a StatefulSet or Deployment from its status, as a condition body. */
export function workloadCondition(type: string, kind: string, name: string, st: ChildState): ConditionUpdate {
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

function podOrdinal(pod: string): number {
  const m = /-(\d+)$/.exec(pod);
  return m ? Number(m[1]) : -1;
}

export function redisMembersFromPods(pods: PodInfo[]): RedisMember[] {
  return pods
    .filter((p) => p.phase === 'Running' && p.podIP && !p.deleting && podOrdinal(p.name) >= 0)
    .map((p) => ({ pod: p.name, ordinal: podOrdinal(p.name), host: p.podIP as string, port: REDIS_PORT, node: p.nodeName ?? '' }))
    .sort((a, b) => a.ordinal - b.ordinal);
}

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
const memberStatus = (m: RedisMemberStatus): RedisMemberStatus => pick(m, MEMBER_KEYS);
const topicStatus = (t: TopicStatus): TopicStatus => pick(t, TOPIC_KEYS);

function refOf(o: KubeObject, ns: string) {
  return { apiVersion: o.apiVersion, kind: o.kind, namespace: o.metadata.namespace ?? ns, name: o.metadata.name };
}

export class Reconciler {
  private readonly backoff = new Map<string, number>();
  private readonly render: (tier: ResolvedCacheTier, opts: RenderOptions) => KubeObject[];
  private readonly now: () => Date;
  private readonly log: Logger;
  private readonly requeueMs: number;
  private readonly maxRequeueMs: number;

  constructor(private readonly deps: ReconcilerDeps) {
    this.render = deps.render ?? renderAll;
    this.now = deps.now ?? (() => new Date());
    this.log = deps.log ?? silentLogger;
    this.requeueMs = deps.requeueMs ?? 5000;
    this.maxRequeueMs = deps.maxRequeueMs ?? 60_000;
  }

  /** Queue handler: key is "namespace/name". */
  async reconcileKey(key: string): Promise<ReconcileOutcome> {
    const i = key.indexOf('/');
    return this.reconcile(key.slice(0, i), key.slice(i + 1));
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileOutcome> {
    const { kube } = this.deps;
    const key = `${namespace}/${name}`;
    const tier = await kube.getCacheTier(namespace, name);
    if (!tier || tier.metadata.deletionTimestamp) {
      // Gone or going: children carry ownerReferences, the garbage collector removes them.
      this.backoff.delete(key);
      return { applied: [], statusWritten: false };
    }
    const resolved = resolve(tier);
    const now = this.now().toISOString();
    if (resolved.spec.paused) return this.reconcilePaused(tier, now);

    const log = this.log.child({ tier: key, generation: tier.metadata.generation });
    // Event writes are not awaited where they happen (the recorder never throws and logs its
    // own failures); the reconcile settles them once before it returns, so a pass never
    // overlaps its own events with the next one.
    const pendingEvents: Promise<void>[] = [];
    const emit = (type: 'Normal' | 'Warning', reason: string, message: string): void => {
      pendingEvents.push(this.deps.recorder.event(tier, type, reason, message));
    };
    try {
      return await this.reconcileActive(tier, resolved, now, key, log, emit);
    } finally {
      await Promise.allSettled(pendingEvents);
    }
  }

  private async reconcileActive(
    tier: CacheTier,
    resolved: ResolvedCacheTier,
    now: string,
    key: string,
    log: Logger,
    emit: (type: 'Normal' | 'Warning', reason: string, message: string) => void,
  ): Promise<ReconcileOutcome> {
    const { kube } = this.deps;
    const { namespace } = tier.metadata;
    const events: OrchestrationEvent[] = [];
    const errors: string[] = [];
    let changed = false;

    // --- Redis: members, password, orchestration -> StatefulSet replicas ---------------------
    const redisName = childName(resolved, 'redis');
    const shape = resolved.spec.redis;
    const wantRedis = shape.masters * (1 + shape.replicasPerMaster);
    let liveRedisSts: KObject | undefined;
    let redisStsError: string | undefined;
    try {
      liveRedisSts = await kube.get({ apiVersion: 'apps/v1', kind: 'StatefulSet', namespace, name: redisName });
    } catch (err) {
      redisStsError = describeError(err);
    }
    const currentRedisReplicas = liveRedisSts ? num(field(liveRedisSts, 'spec', 'replicas')) : 0;
    let pods: PodInfo[] = [];
    try {
      pods = await kube.listPods(namespace, selectorLabels(resolved, 'redis'));
    } catch (err) {
      errors.push(`list Redis pods: ${describeError(err)}`);
    }
    const members = redisMembersFromPods(pods);

    let password: string | undefined;
    let passwordProblem: string | undefined;
    if (shape.auth?.passwordSecretRef) {
      const ref = shape.auth.passwordSecretRef;
      try {
        const data = await kube.getSecret(namespace, ref.name);
        if (!data) passwordProblem = `Secret ${ref.name} not found`;
        else if (data[ref.key] === undefined) passwordProblem = `Secret ${ref.name} has no key ${ref.key}`;
        else password = data[ref.key];
      } catch (err) {
        passwordProblem = `Secret ${ref.name}: ${describeError(err)}`;
      }
    }

    let redisResult: RedisReconcileResult | undefined;
    let redisProblem: ConditionUpdate | undefined;
    // The StatefulSet follows the spec upward even when no pod runs; it never shrinks without
    // the orchestration's word.
    let redisReplicas = Math.max(currentRedisReplicas, wantRedis);
    if (redisStsError) {
      redisProblem = { type: 'SlotsCovered', status: 'Unknown', reason: 'ReadFailed', message: `StatefulSet ${redisName}: ${redisStsError}` };
    } else if (passwordProblem) {
      redisProblem = { type: 'SlotsCovered', status: 'Unknown', reason: 'PasswordUnavailable', message: passwordProblem };
    } else if (members.length === 0) {
      redisProblem = {
        type: 'SlotsCovered',
        status: 'Unknown',
        reason: 'PodsNotRunning',
        message: `${members.length}/${redisReplicas} Redis pods running`,
      };
    } else {
      try {
        redisResult = await this.deps.redis.reconcile(
          { masters: shape.masters, replicasPerMaster: shape.replicasPerMaster, password },
          members,
          currentRedisReplicas || wantRedis,
        );
        redisReplicas = redisResult.statefulSetReplicas;
        events.push(...redisResult.events);
      } catch (err) {
        const msg = describeError(err);
        log.warn({ err: msg }, 'Redis orchestration failed');
        redisProblem = { type: 'SlotsCovered', status: 'Unknown', reason: 'OrchestrationError', message: msg };
        events.push({ type: 'Warning', reason: 'RedisOrchestrationFailed', message: msg });
      }
    }

    // --- children: render, compare, apply what differs ----------------------------------------
    let objects: KubeObject[];
    try {
      objects = this.render(resolved, { redisStatefulSetReplicas: redisReplicas });
    } catch (err) {
      return this.renderFailed(tier, describeError(err), now);
    }
    const children = new Map<string, ChildState>();
    // Children don't depend on each other: read and apply them APPLY_CONCURRENCY at a time.
    // Results land in render order (applied, errors, events), whatever order the requests finish.
    const outcomes = await mapBounded(objects, APPLY_CONCURRENCY, async (obj): Promise<ChildOutcome> => {
      const ref = refOf(obj, namespace);
      const id = `${ref.kind}/${ref.name}`;
      const st: ChildState = { rendered: obj };
      children.set(id, st);
      const isRedisSts = ref.kind === 'StatefulSet' && ref.name === redisName;
      if (isRedisSts && redisStsError) {
        // Without the live replicas we can't tell a grow from a shrink: leave it alone.
        st.readError = redisStsError;
        return { id, error: `${id}: ${redisStsError}` };
      }
      try {
        const live = isRedisSts ? liveRedisSts : await kube.get(ref);
        st.live = live;
        const diff = live ? firstDifference(obj, live) : [];
        if (!diff) return { id };
        const body = { ...obj, metadata: { ...obj.metadata, namespace: ref.namespace } } as KObject;
        st.live = live ? await kube.apply(body) : await this.createOrApply(body);
        const verb = live ? 'Updated' : 'Created';
        const msg = live ? `updated ${ref.kind} ${ref.name} (${formatPath(diff)} differed)` : `created ${ref.kind} ${ref.name}`;
        log.info({ child: id }, msg);
        return { id, applied: true, event: { type: 'Normal', reason: verb, message: msg } };
      } catch (err) {
        const msg = describeError(err);
        st.readError = msg;
        log.warn({ child: id, err: msg }, 'apply failed');
        return { id, error: `${id}: ${msg}`, event: { type: 'Warning', reason: 'ApplyFailed', message: `${ref.kind} ${ref.name}: ${msg}` } };
      }
    });
    const applied: string[] = [];
    for (const o of outcomes) {
      if (o.applied) {
        applied.push(o.id);
        changed = true;
      }
      if (o.error) errors.push(o.error);
      if (o.event) emit(o.event.type, o.event.reason, o.event.message);
    }
    const child = (kind: string, component: Component): ChildState =>
      children.get(`${kind}/${childName(resolved, component)}`) ?? {};

    // --- component conditions ----------------------------------------------------------------
    const updates: ConditionUpdate[] = [];
    for (const [type, component] of Object.entries(STATEFUL)) {
      let c = workloadCondition(type, 'StatefulSet', childName(resolved, component), child('StatefulSet', component));
      if (component === 'redis') {
        const running = members.length;
        if (passwordProblem) c = { type, status: 'False', reason: 'PasswordUnavailable', message: passwordProblem };
        else if (running < redisReplicas && c.reason !== 'NotRendered') {
          c = { type, status: 'False', reason: 'PodsNotRunning', message: `${running}/${redisReplicas} pods running` };
        }
      }
      updates.push(c);
    }
    updates.push(workloadCondition('ProducerReady', 'Deployment', childName(resolved, 'producer'), child('Deployment', 'producer')));
    const dist = workloadCondition('OpenRestyReady', 'Deployment', childName(resolved, 'openresty-distribution'), child('Deployment', 'openresty-distribution'));
    const app = workloadCondition('OpenRestyReady', 'Deployment', childName(resolved, 'openresty-app'), child('Deployment', 'openresty-app'));
    if (dist.status === 'True' && app.status === 'True') {
      updates.push({ ...dist, message: `${dist.message}; ${app.message}` });
    } else {
      updates.push(dist.status !== 'True' ? dist : app);
    }

    // --- Redis orchestration conditions ------------------------------------------------------
    if (redisResult) {
      for (const type of REDIS_CONDITIONS) {
        const c = redisResult.conditions.find((x) => x.type === type);
        updates.push(c ?? { type, status: 'Unknown', reason: 'NotReported', message: 'the orchestration did not report this condition' });
      }
      for (const c of redisResult.conditions) if (!(REDIS_CONDITIONS as readonly string[]).includes(c.type)) updates.push(c);
    } else if (redisProblem) {
      for (const type of REDIS_CONDITIONS) updates.push({ ...redisProblem, type });
    }

    // --- Kafka topics ------------------------------------------------------------------------
    const kafkaReady = updates.find((c) => c.type === 'KafkaReady')?.status === 'True';
    const kafkaReplicas = num(field(child('StatefulSet', 'kafka').live, 'spec', 'replicas'));
    let topicResult: TopicReconcileResult | undefined;
    if (kafkaReady && kafkaReplicas > 0) {
      const brokers = kafkaBrokerAddresses(resolved, kafkaReplicas);
      const t = resolved.spec.kafka.topics;
      try {
        topicResult = await this.deps.topics.reconcile(brokers, [t.cacheMessage, t.accessLog, t.deadLetter]);
        updates.push({ ...topicResult.condition, type: TOPICS_CONDITION });
        events.push(...topicResult.events);
      } catch (err) {
        const msg = describeError(err);
        updates.push({ type: TOPICS_CONDITION, status: 'Unknown', reason: 'TopicManagerError', message: msg });
        events.push({ type: 'Warning', reason: 'TopicReconcileFailed', message: msg });
      }
    } else {
      updates.push({ type: TOPICS_CONDITION, status: 'Unknown', reason: 'WaitingForKafka', message: 'waiting for Kafka to be ready' });
    }

    const ready = readyCondition(updates);
    const { conditions, transitions } = mergeConditions(tier.status?.conditions, [ready, ...updates], now, tier.metadata.generation);

    // --- status ------------------------------------------------------------------------------
    const redisStatus: NonNullable<CacheTierStatus['redis']> = { ...(tier.status?.redis ?? { readyMasters: 0 }) };
    if (redisResult) {
      redisStatus.readyMasters = redisResult.readyMasters;
      redisStatus.members = redisResult.members.map(memberStatus);
    } else if (redisProblem?.reason === 'PodsNotRunning' || redisProblem?.reason === 'PasswordUnavailable') {
      redisStatus.readyMasters = 0;
      redisStatus.members = pods
        .filter((p) => podOrdinal(p.name) >= 0)
        .sort((a, b) => podOrdinal(a.name) - podOrdinal(b.name))
        .map((p): RedisMemberStatus => {
          const m: RedisMemberStatus = { pod: p.name, role: 'unknown' };
          if (p.podIP) m.address = `${p.podIP}:${REDIS_PORT}`;
          if (p.nodeName) m.kubernetesNode = p.nodeName;
          return m;
        });
    }
    const statusPatch: Record<string, unknown> = {
      observedGeneration: tier.metadata.generation,
      conditions,
      redis: redisStatus,
      endpoints: tierEndpoints(resolved),
    };
    if (topicResult) statusPatch.topics = topicResult.topics.map(topicStatus);
    const statusWritten = await this.writeStatus(tier, statusPatch, errors);
    changed ||= statusWritten;

    // --- events: condition transitions and orchestration --------------------------------------
    for (const t of transitions) {
      if (t.from === undefined && t.update.status === 'Unknown') continue;
      const type = t.update.status === 'False' ? 'Warning' : 'Normal';
      emit(type, `${t.update.type}${t.update.status}`, `${t.update.type} ${t.from ?? 'unset'} -> ${t.update.status} (${t.update.reason}): ${t.update.message}`);
    }
    if (tier.status?.conditions?.some((c) => c.type === PAUSED)) {
      emit('Normal', 'Resumed', 'spec.paused is false: reconciling again');
    }
    for (const e of events) emit(e.type, e.reason, e.message);

    if (errors.length > 0) {
      this.backoff.delete(key);
      throw new Error(`reconcile ${key}: ${errors.join('; ')}`);
    }

    // --- requeue -----------------------------------------------------------------------------
    const converged = ready.status === 'True' && (redisResult?.converged ?? false);
    if (converged) {
      this.backoff.delete(key);
      return { applied, statusWritten };
    }
    // Not there yet: look again soon; back off while nothing changes (e.g. pods that never
    // start) — informer events on children still wake us at once.
    const prev = this.backoff.get(key);
    const delay = changed || prev === undefined ? this.requeueMs : Math.min(this.maxRequeueMs, prev * 2);
    this.backoff.set(key, delay);
    return { applied, statusWritten, requeueAfterMs: delay };
  }

  /**
   * A missing child is created with POST (the `create` verb RBAC grants and audit shows); if it
   * appeared meanwhile (409), it is applied instead.
   */
  private async createOrApply(body: KObject): Promise<KObject> {
    try {
      return await this.deps.kube.create(body);
    } catch (err) {
      if (!isConflict(err)) throw err;
      return this.deps.kube.apply(body);
    }
  }

  /** Merge-patch the status when it differs from the live one; true when written. */
  private async writeStatus(tier: CacheTier, patch: Record<string, unknown>, errors: string[]): Promise<boolean> {
    const live = (tier.status ?? {}) as Record<string, unknown>;
    const desired = { ...live, ...patch };
    if (deepEqual(JSON.parse(JSON.stringify(desired)), JSON.parse(JSON.stringify(live)))) return false;
    try {
      await this.deps.kube.patchCacheTierStatus(tier.metadata.namespace, tier.metadata.name, patch);
      return true;
    } catch (err) {
      // Deleted while we reconciled: nothing left to report on (the children go with it).
      if (isNotFound(err)) return false;
      errors.push(`status: ${describeError(err)}`);
      return false;
    }
  }

  /** The spec can't be rendered (a bug or a spec the CRD schema let through): say so, apply nothing. */
  private async renderFailed(tier: CacheTier, message: string, now: string): Promise<ReconcileOutcome> {
    this.log.error({ tier: `${tier.metadata.namespace}/${tier.metadata.name}`, err: message }, 'render failed');
    const keep = (tier.status?.conditions ?? []).filter((c) => c.type !== READY);
    const merged = mergeConditions(
      tier.status?.conditions,
      [{ type: READY, status: 'False', reason: 'RenderFailed', message: `cannot render the desired objects: ${message}` }],
      now,
      tier.metadata.generation,
    );
    const errors: string[] = [];
    const written = await this.writeStatus(tier, { observedGeneration: tier.metadata.generation, conditions: [...merged.conditions, ...keep] }, errors);
    if (merged.transitions.length > 0 || written) await this.deps.recorder.event(tier, 'Warning', 'RenderFailed', message);
    if (errors.length > 0) throw new Error(errors.join('; '));
    // A spec edit (watched) is what fixes this; no requeue.
    return { applied: [], statusWritten: written };
  }

  private async reconcilePaused(tier: CacheTier, now: string): Promise<ReconcileOutcome> {
    const keep = (tier.status?.conditions ?? []).filter((c) => c.type !== READY && c.type !== PAUSED);
    const updates: ConditionUpdate[] = [
      { type: READY, status: 'Unknown', reason: 'Paused', message: 'spec.paused is true: nothing is applied or orchestrated' },
      { type: PAUSED, status: 'True', reason: 'Paused', message: 'spec.paused is true' },
    ];
    const merged = mergeConditions(tier.status?.conditions, updates, now, tier.metadata.generation);
    const conditions: Condition[] = [...merged.conditions, ...keep];
    const errors: string[] = [];
    const written = await this.writeStatus(tier, { observedGeneration: tier.metadata.generation, conditions }, errors);
    if (merged.transitions.some((t) => t.update.type === PAUSED)) {
      await this.deps.recorder.event(tier, 'Normal', 'Paused', 'spec.paused is true: the operator applies nothing until it is false');
    }
    if (errors.length > 0) throw new Error(`reconcile ${tier.metadata.namespace}/${tier.metadata.name}: ${errors.join('; ')}`);
    return { applied: [], statusWritten: written };
  }
}
