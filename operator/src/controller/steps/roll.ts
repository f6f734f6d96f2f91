// Step: rolls. The stateful components' StatefulSets are OnDelete (render/builders.ts): a changed
// pod template only gives the StatefulSet a new updateRevision. Here, after apply, the first of
// ZooKeeper, Kafka, Redis (in that order) with a pod on an older revision gets one pass of its roll
// (roll/driver.ts): observe its servers, decide, delete at most one pod. One component at a time:
// Kafka's roll waits for ZooKeeper's, Redis's for Kafka's. Everything the roll needs is in the
// cluster (pod revisions, what the servers say), so a new operator leader simply carries on.
import type { KObject, KubeClient, PodInfo } from '../../runtime/kube.js';
import { describeError } from '../../runtime/kube.js';
import type { ResolvedCacheTier } from '../../api/types.js';
import { selectorLabels } from '../../render/common.js';
import type { RollComponent, RollObserver, RollPod, RollProgress, RollStep, RollTarget } from '../../roll/types.js';
import { podOrdinal } from './observe.js';
import { field } from '../conditions.js';

export const ROLL_ORDER: readonly RollComponent[] = ['zookeeper', 'kafka', 'redis'];
const REVISION_LABEL = 'controller-revision-hash';

export interface RollInputs {
  /** Live StatefulSets (after apply) by component. */
  statefulSets: Partial<Record<RollComponent, KObject>>;
  /** Set while the Redis orchestration has work (members joining, slots moving): Redis waits. */
  redisBusy?: string;
  /** Pods this pass already listed (the observe step's Redis pods): not listed again. */
  listed?: Partial<Record<RollComponent, PodInfo[]>>;
}

export interface RollOutcome {
  /** The component being rolled this pass (undefined: no pod anywhere is stale). */
  progress?: RollProgress;
  events: { type: 'Normal' | 'Warning'; reason: string; message: string }[];
  errors: string[];
}

interface RevisionView {
  updateRevision?: string;
  /** The StatefulSet controller has seen the latest spec (its updateRevision is for it). */
  observed: boolean;
  replicas: number;
}

export function revisionView(sts: KObject): RevisionView {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const rev = field(sts, 'status', 'updateRevision');
  return {
    updateRevision: typeof rev === 'string' && rev ? rev : undefined,
    observed: n(field(sts, 'status', 'observedGeneration')) >= n(sts.metadata.generation),
    replicas: field(sts, 'spec', 'replicas') === undefined ? 1 : n(field(sts, 'spec', 'replicas')),
  };
}

/** The pods as the planners see them, in ordinal order. */
export function rollPods(pods: PodInfo[], updateRevision: string): RollPod[] {
  return pods
    .filter((p) => podOrdinal(p.name) >= 0)
    .map((p) => ({
      pod: p.name,
      ordinal: podOrdinal(p.name),
      ...(p.podIP ? { host: p.podIP } : {}),
      current: p.labels[REVISION_LABEL] === updateRevision,
      ready: p.ready && p.phase === 'Running',
      terminating: p.deleting,
    }))
    .sort((a, b) => a.ordinal - b.ordinal);
}

/** "kafka 1/3 pods updated": the printer column. */
export function rollSummary(p: RollProgress): string {
  return `${p.component} ${p.updated}/${p.total} pods updated`;
}

/**
 * One pass over the components in ROLL_ORDER. A stale pod that cannot come up by itself
 * (CrashLoopBackOff, an image that cannot be pulled, unschedulable) is replaced first, without
 * asking the servers: it serves nothing, and its new revision may be the fix.
 */
export async function driveRolls(
  kube: KubeClient,
  tier: ResolvedCacheTier,
  inputs: RollInputs,
  observer: RollObserver,
  step: RollStep,
): Promise<RollOutcome> {
  const out: RollOutcome = { events: [], errors: [] };
  const { namespace } = tier.metadata;
  const target: RollTarget = {
    restart: async (_component, pod) => {
      await kube.delete({ apiVersion: 'v1', kind: 'Pod', namespace, name: pod });
    },
  };
  for (const component of ROLL_ORDER) {
    const sts = inputs.statefulSets[component];
    if (!sts) continue;
    const rev = revisionView(sts);
    let pods: PodInfo[];
    try {
      pods = inputs.listed?.[component] ?? (await kube.listPods(namespace, selectorLabels(tier, component)));
    } catch (err) {
      out.errors.push(`list ${component} pods: ${describeError(err)}`);
      return out;
    }
    if (!rev.observed || !rev.updateRevision) {
      // The new revision is not known yet (a replicas change looks the same for a moment, so this
      // is not reported as a roll): hold this and every later component until it is; the
      // StatefulSet's status update wakes the reconcile.
      if (pods.length > 0) return out;
      continue;
    }
    const view = rollPods(pods, rev.updateRevision);
    const stale = view.filter((p) => !p.current);
    if (stale.length === 0) continue;
    const updated = view.length - stale.length;
    const stuck = pods.find((p) => p.stuck && !p.deleting && stale.some((s) => s.pod === p.name));
    if (stuck) {
      const reason = `${stuck.name} is ${stuck.stuck} on the old revision: replaced without waiting`;
      try {
        await target.restart(component, stuck.name);
        out.events.push({ type: 'Normal', reason: 'RollRestart', message: `${component}: restarting ${stuck.name}: ${reason}` });
        out.progress = { component, updated, total: rev.replicas, phase: 'Rolling', pod: stuck.name, reason };
      } catch (err) {
        out.errors.push(`delete pod ${stuck.name}: ${describeError(err)}`);
      }
      return out;
    }
    if (component === 'redis' && inputs.redisBusy) {
      out.progress = { component, updated, total: rev.replicas, phase: 'Waiting', reason: `the Redis orchestration is busy: ${inputs.redisBusy}` };
      return out;
    }
    try {
      out.progress = await step(component, view, rev.replicas, observer, target);
    } catch (err) {
      out.errors.push(`roll ${component}: ${describeError(err)}`);
      return out;
    }
    if (out.progress.phase === 'Rolling') {
      out.events.push({ type: 'Normal', reason: 'RollRestart', message: `${component}: ${out.progress.pod ?? ''}: ${out.progress.reason ?? ''}`.slice(0, 1000) });
    }
    return out;
  }
  return out;
}
