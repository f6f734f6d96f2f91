// The reconcile of one CacheTier, as a pipeline of named steps (each in its own module, each
// testable alone):
//   observe -> orchestrate Redis -> render -> apply children -> prune -> roll -> expand volumes
//           -> conditions -> topics -> changes flowing -> status -> events -> requeue
// - observe (steps/observe.ts): the live Redis StatefulSet, the Redis pods, the password;
// - orchestrate Redis (steps/redis.ts): one call into the Redis orchestrator, which decides the
//   Redis StatefulSet's replicas;
// - render (render/index.ts, pure) and apply children (steps/apply.ts): write only what differs;
// - prune (steps/prune.ts): delete the NetworkPolicies and PodMonitors this tier owns once the spec turns them off;
// - roll (steps/roll.ts, roll/): the StatefulSets are OnDelete; the first of ZooKeeper, Kafka,
//   Redis with a pod on an older revision gets one pass of its roll: at most one pod deleted, and
//   only when its servers say it is safe (status.roll says what it waits for);
// - expand volumes (steps/expand.ts): a grown storage size where the StorageClass allows it: PVCs
//   raised, the StatefulSet re-created (orphan delete) with the new claim templates;
// - conditions (conditions.ts): one per component from the workloads' status, VolumesMatchSpec
//   (volumes.ts: claim-template changes a StatefulSet cannot take), plus whatever the Redis
//   orchestrator reports;
// - topics (steps/topics.ts): once Kafka is ready;
// - changes flowing (steps/changes.ts): the producer pods' Kafka consumers, as they report them
//   (a producer stays ready through a Kafka outage, so its Deployment cannot show one);
// - status (status.ts): assembled from all of the above, written only when it changed;
// - events: condition transitions and what the orchestration reported;
// - requeue: again soon while not converged, backing off while nothing changes.
// Everything that talks to Kubernetes goes through the injected KubeClient, so unit tests run
// this against an in-memory fake.
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
import type { CacheTier, Condition, ResolvedCacheTier } from '../api/types.js';
import { resolve } from '../api/defaults.js';
import type { KubeClient } from '../runtime/kube.js';
import { describeError, isNotFound } from '../runtime/kube.js';
import { forgetTier, recordTierConditions } from '../metrics.js';
import type { Recorder } from '../runtime/events.js';
import type { RenderOptions } from '../render/index.js';
import { renderAll } from '../render/index.js';
import type { KubeObject } from '../render/object.js';
import { childName, type Component } from '../render/names.js';
import type { ConditionUpdate, OrchestrationEvent, ProducerProbe, RedisOrchestrator, TopicManager } from '../orchestration/types.js';
import { PAUSED, READY, componentConditions, mergeConditions, orchestrationConditions, readyCondition } from './conditions.js';
import { activeStatusPatch, redisStatus, statusChanges } from './status.js';
import { observeRedis, type RedisObservation } from './steps/observe.js';
import { migrationStatusWriter, orchestrateRedis, type RedisStepOutcome } from './steps/redis.js';
import { applyChildren, type ApplyOutcome, type ChildState } from './steps/apply.js';
import { pruneSwitchedOff, type PruneOutcome } from './steps/prune.js';
import { reconcileTopics, type TopicsStepOutcome } from './steps/topics.js';
import { checkChangesFlowing } from './steps/changes.js';
import { driveRolls, rollSummary, type RollOutcome } from './steps/roll.js';
import { expandVolumes, type ExpandOutcome } from './steps/expand.js';
import type { RollObserverFactory, RollStep } from '../roll/types.js';
import { volumesCondition } from './volumes.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';

export interface ReconcilerDeps {
  kube: KubeClient;
  redis: RedisOrchestrator;
  topics: TopicManager;
  producers: ProducerProbe;
  /** Operator-driven rolls of the StatefulSets: the servers' observers and one pass of a roll. */
  rolls: { observers: RollObserverFactory; step: RollStep };
  recorder: Recorder;
  /** Defaults to renderAll; tests inject their own renderer. */
  render?: (tier: ResolvedCacheTier, opts: RenderOptions) => KubeObject[];
  /** Render options fixed for this operator process (its namespace and pod labels). */
  renderOptions?: Omit<RenderOptions, 'redisStatefulSetReplicas'>;
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

type Emit = (type: 'Normal' | 'Warning', reason: string, message: string) => void;

/** One active reconcile pass: its inputs, and the failures that make it fail (and retry). */
interface Pass {
  tier: CacheTier;
  resolved: ResolvedCacheTier;
  now: string;
  key: string;
  log: Logger;
  emit: Emit;
  errors: string[];
}

/** Why Redis pods and volumes must not be touched now (undefined: the orchestration converged). */
function redisBusyReason(redis: RedisStepOutcome): string | undefined {
  if (!redis.result) return redis.problem?.message ?? 'the orchestration did not run this pass';
  return redis.result.converged ? undefined : 'members joining or slots moving';
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
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
      forgetTier(namespace, name);
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
      return await this.reconcileActive({ tier, resolved, now, key, log, emit, errors: [] });
    } finally {
      await Promise.allSettled(pendingEvents);
    }
  }

  /** The pipeline: each step is one method below, in the order they run. */
  private async reconcileActive(pass: Pass): Promise<ReconcileOutcome> {
    const observed = await this.observe(pass);
    const redis = await this.orchestrateRedis(pass, observed);
    let objects: KubeObject[];
    try {
      objects = this.render(pass.resolved, { ...this.deps.renderOptions, redisStatefulSetReplicas: redis.replicas, redisCredentials: observed.credentials });
    } catch (err) {
      return this.renderFailed(pass.tier, describeError(err), pass.now);
    }
    const applied = await this.applyChildren(pass, objects, observed);
    const pruned = await this.pruneChildren(pass);
    const roll = await this.driveRolls(pass, applied, observed, redis);
    const expanded = await this.expandVolumes(pass, applied, redis, roll);
    const updates = this.componentAndOrchestrationConditions(pass, applied, observed, redis, expanded);
    const topics = await this.reconcileTopics(pass, applied, updates);
    updates.push(topics.condition);
    updates.push(await this.checkChangesFlowing(pass, updates));
    const { ready, conditions, transitions } = this.mergeConditions(pass, updates);
    const statusWritten = await this.writeActiveStatus(pass, conditions, observed, redis, topics, roll);
    this.emitEvents(pass, transitions, [...redis.events, ...topics.events, ...this.rollEvents(pass, roll)]);
    if (pass.errors.length > 0) {
      this.backoff.delete(pass.key);
      throw new Error(`reconcile ${pass.key}: ${pass.errors.join('; ')}`);
    }
    const rolling = roll.progress !== undefined;
    const converged = ready.status === 'True' && (redis.result?.converged ?? false) && !rolling;
    // A roll in progress is looked at again soon, without backing off: it waits on servers.
    const changed = applied.applied.length > 0 || pruned.deleted.length > 0 || statusWritten || rolling;
    return this.requeue(pass.key, converged, changed, { applied: applied.applied, statusWritten });
  }

  /** observe: the Redis StatefulSet, pods and password, before anything is applied. */
  private async observe(pass: Pass): Promise<RedisObservation> {
    const observed = await observeRedis(this.deps.kube, pass.resolved);
    pass.errors.push(...observed.errors);
    return observed;
  }

  /**
   * orchestrate Redis: one call behind orchestration/types.ts; decides the StatefulSet's replicas.
   * While slots move, status.redis.migration is written as they go (and kept in the pass's copy of
   * the status, so the pass's own status write removes it once the moves are over).
   */
  private async orchestrateRedis(pass: Pass, observed: RedisObservation): Promise<RedisStepOutcome> {
    const { namespace, name } = pass.tier.metadata;
    const migration = migrationStatusWriter(async (m) => {
      await this.deps.kube.patchCacheTierStatus(namespace, name, { redis: { migration: m } });
      pass.tier.status = { ...pass.tier.status, redis: { readyMasters: 0, ...pass.tier.status?.redis, migration: m } };
    }, this.now, pass.log);
    try {
      return await orchestrateRedis(this.deps.redis, pass.resolved, observed, pass.log, migration.onProgress);
    } finally {
      await migration.flush();
    }
  }

  /** apply children: write what differs; Created/Updated/ApplyFailed events as they happen. */
  private async applyChildren(pass: Pass, objects: KubeObject[], observed: RedisObservation): Promise<ApplyOutcome> {
    const known = { kind: 'StatefulSet', name: childName(pass.resolved, 'redis'), live: observed.statefulSet, readError: observed.statefulSetError };
    const out = await applyChildren(this.deps.kube, pass.tier.metadata.namespace, objects, known, pass.log);
    pass.errors.push(...out.errors);
    for (const e of out.events) pass.emit(e.type, e.reason, e.message);
    return out;
  }

  /** prune: children the spec switched off (NetworkPolicies, PodMonitors; see steps/prune.ts). */
  private async pruneChildren(pass: Pass): Promise<PruneOutcome> {
    const out = await pruneSwitchedOff(this.deps.kube, pass.resolved, this.deps.renderOptions);
    pass.errors.push(...out.errors);
    for (const e of out.events) pass.emit(e.type, e.reason, e.message);
    return out;
  }

  /** roll: one pass of the first stateful component with a pod on an older revision. */
  private async driveRolls(pass: Pass, applied: ApplyOutcome, observed: RedisObservation, redis: RedisStepOutcome): Promise<RollOutcome> {
    const live = (c: Component) => applied.children.get(`StatefulSet/${childName(pass.resolved, c)}`)?.live;
    const observer = this.deps.rolls.observers.forTier({ redisUsername: observed.username, redisPassword: observed.password });
    const redisBusy = redisBusyReason(redis);
    const out = await driveRolls(
      this.deps.kube,
      pass.resolved,
      {
        statefulSets: { zookeeper: live('zookeeper'), kafka: live('kafka'), redis: live('redis') },
        ...(redisBusy ? { redisBusy } : {}),
        // The observe step listed the Redis pods this pass (unless that failed): not again.
        ...(observed.podsListed ? { listed: { redis: observed.pods } } : {}),
      },
      observer,
      this.deps.rolls.step,
    );
    pass.errors.push(...out.errors);
    return out;
  }

  /** expand volumes: grow-only storage changes where the StorageClass allows it (steps/expand.ts). */
  private async expandVolumes(pass: Pass, applied: ApplyOutcome, redis: RedisStepOutcome, roll: RollOutcome): Promise<ExpandOutcome> {
    if (!applied.volumeChanges.some((c) => c.growOnly)) return { expanded: [], notes: new Map(), events: [], errors: [] };
    const out = await expandVolumes(this.deps.kube, pass.resolved, {
      changes: applied.volumeChanges,
      children: applied.children,
      ...(redisBusyReason(redis) ? { redisBusy: redisBusyReason(redis) } : {}),
      ...(roll.progress ? { rolling: roll.progress.component } : {}),
    });
    pass.errors.push(...out.errors);
    for (const e of out.events) pass.emit(e.type, e.reason, e.message);
    return out;
  }

  /** Roll events: each restart, and a new reason to wait (not every pass that waits). */
  private rollEvents(pass: Pass, roll: RollOutcome): OrchestrationEvent[] {
    const events: OrchestrationEvent[] = [...roll.events];
    const p = roll.progress;
    const prev = pass.tier.status?.roll;
    if (p?.phase === 'Waiting' && (prev?.reason !== p.reason || prev?.component !== p.component)) {
      events.push({ type: 'Normal', reason: 'RollWaiting', message: `${p.component}: ${p.reason ?? ''}`.slice(0, 1000) });
    }
    if (!p && prev) events.push({ type: 'Normal', reason: 'RollDone', message: `${prev.component}: every pod runs the current revision` });
    return events;
  }

  /** conditions: one per component, then whatever the Redis orchestrator reported. */
  private componentAndOrchestrationConditions(
    pass: Pass,
    applied: ApplyOutcome,
    observed: RedisObservation,
    redis: RedisStepOutcome,
    expanded: ExpandOutcome,
  ): ConditionUpdate[] {
    const child = (kind: string, component: Component): ChildState => applied.children.get(`${kind}/${childName(pass.resolved, component)}`) ?? {};
    return [
      ...componentConditions(pass.resolved, child, {
        running: observed.members.length,
        replicas: redis.replicas,
        passwordProblem: observed.passwordProblem,
      }),
      volumesCondition(applied.volumeChanges, pass.tier.metadata.namespace, expanded),
      ...orchestrationConditions(redis.result, redis.problem, pass.tier.status?.conditions),
    ];
  }

  /** topics: once KafkaReady is True, through the topic manager. */
  private reconcileTopics(pass: Pass, applied: ApplyOutcome, updates: ConditionUpdate[]): Promise<TopicsStepOutcome> {
    const kafkaReady = updates.find((c) => c.type === 'KafkaReady')?.status === 'True';
    const kafka = applied.children.get(`StatefulSet/${childName(pass.resolved, 'kafka')}`)?.live;
    const kafkaReplicas = num((kafka?.spec as { replicas?: unknown } | undefined)?.replicas);
    return reconcileTopics(this.deps.topics, pass.resolved, kafkaReady, kafkaReplicas);
  }

  /** changes flowing: once the producer and the topics are ready, from the producer pods. */
  private checkChangesFlowing(pass: Pass, updates: ConditionUpdate[]): Promise<ConditionUpdate> {
    const isTrue = (type: string) => updates.find((c) => c.type === type)?.status === 'True';
    return checkChangesFlowing(this.deps.kube, this.deps.producers, pass.resolved, { producer: isTrue('ProducerReady'), topics: isTrue('TopicsReady') });
  }

  /** Ready from all the others, merged with the previous conditions (transition times kept). */
  private mergeConditions(pass: Pass, updates: ConditionUpdate[]) {
    const ready = readyCondition(updates);
    return { ready, ...mergeConditions(pass.tier.status?.conditions, [ready, ...updates], pass.now, pass.tier.metadata.generation) };
  }

  /** status: assembled in status.ts, written only when it changed. */
  private writeActiveStatus(
    pass: Pass,
    conditions: Condition[],
    observed: RedisObservation,
    redis: RedisStepOutcome,
    topics: TopicsStepOutcome,
    roll: RollOutcome,
  ): Promise<boolean> {
    recordTierConditions(pass.tier.metadata.namespace, pass.tier.metadata.name, conditions);
    const patch = activeStatusPatch({
      tier: pass.tier,
      resolved: pass.resolved,
      conditions,
      redis: redisStatus(pass.tier.status?.redis, redis.result, redis.problem, observed.pods),
      topics: topics.result,
      roll: roll.progress ? { ...roll.progress, progress: rollSummary(roll.progress) } : undefined,
    });
    return this.writeStatus(pass.tier, patch, pass.errors);
  }

  /** events: condition transitions, leaving pause, then what the orchestration reported. */
  private emitEvents(pass: Pass, transitions: { update: ConditionUpdate; from?: Condition['status'] }[], orchestration: OrchestrationEvent[]): void {
    for (const t of transitions) {
      if (t.from === undefined && t.update.status === 'Unknown') continue;
      const type = t.update.status === 'False' ? 'Warning' : 'Normal';
      pass.emit(type, `${t.update.type}${t.update.status}`, `${t.update.type} ${t.from ?? 'unset'} -> ${t.update.status} (${t.update.reason}): ${t.update.message}`);
    }
    if (pass.tier.status?.conditions?.some((c) => c.type === PAUSED)) {
      pass.emit('Normal', 'Resumed', 'spec.paused is false: reconciling again');
    }
    for (const e of orchestration) pass.emit(e.type, e.reason, e.message);
  }

  /**
   * requeue: none once converged. Otherwise look again soon, backing off while nothing changes
   * (e.g. pods that never start) — informer events on children still wake us at once.
   */
  private requeue(key: string, converged: boolean, changed: boolean, outcome: ReconcileOutcome): ReconcileOutcome {
    if (converged) {
      this.backoff.delete(key);
      return outcome;
    }
    const prev = this.backoff.get(key);
    const delay = changed || prev === undefined ? this.requeueMs : Math.min(this.maxRequeueMs, prev * 2);
    this.backoff.set(key, delay);
    return { ...outcome, requeueAfterMs: delay };
  }

  /** Merge-patch the status when it differs from the live one; true when written. */
  private async writeStatus(tier: CacheTier, patch: Record<string, unknown>, errors: string[]): Promise<boolean> {
    if (!statusChanges(tier.status, patch)) return false;
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
