// Step 3b, prune switched-off children: with spec.networkPolicy.enabled false nothing renders the
// NetworkPolicies, and with spec.metrics.podMonitor.enabled false (or spec.metrics.enabled false,
// for the exporters' PodMonitors) nothing renders the PodMonitors, so the ones this tier's operator
// made earlier are deleted here. Only objects with this CacheTier as their controller are touched;
// a missing one costs one GET, no write. PodMonitors are only looked at when the cluster serves
// their API (without it there can be none).
import type { ResolvedCacheTier } from '../../api/types.js';
import type { KubeClient } from '../../runtime/kube.js';
import { describeError } from '../../runtime/kube.js';
import { childName, COMPONENTS, type Component } from '../../render/names.js';
import { POD_MONITOR_API_VERSION, POD_MONITOR_COMPONENTS, POD_MONITOR_KIND, podMonitorComponents } from '../../render/podmonitor.js';
import type { ChildEvent } from './apply.js';

export interface PruneOutcome {
  /** "Kind/name" of each child deleted. */
  deleted: string[];
  errors: string[];
  events: ChildEvent[];
}

interface Switched {
  apiVersion: string;
  kind: string;
  components: readonly Component[];
  /** Why they go, for the event. */
  because: string;
}

async function pruneOwned(kube: KubeClient, tier: ResolvedCacheTier, s: Switched, out: PruneOutcome): Promise<void> {
  for (const c of s.components) {
    const ref = { apiVersion: s.apiVersion, kind: s.kind, namespace: tier.metadata.namespace, name: childName(tier, c) };
    const id = `${ref.kind}/${ref.name}`;
    try {
      const live = await kube.get(ref);
      const owners = (live?.metadata.ownerReferences ?? []) as Array<{ uid?: string; controller?: boolean }>;
      if (!live || !owners.some((o) => o.controller && o.uid === tier.metadata.uid)) continue;
      if (await kube.delete(ref)) {
        out.deleted.push(id);
        out.events.push({ type: 'Normal', reason: 'Deleted', message: `deleted ${ref.kind} ${ref.name} (${s.because})` });
      }
    } catch (err) {
      const msg = describeError(err);
      out.errors.push(`${id}: ${msg}`);
      out.events.push({ type: 'Warning', reason: 'DeleteFailed', message: `${ref.kind} ${ref.name}: ${msg}` });
    }
  }
}

export async function pruneNetworkPolicies(kube: KubeClient, tier: ResolvedCacheTier, out: PruneOutcome = { deleted: [], errors: [], events: [] }): Promise<PruneOutcome> {
  if (tier.spec.networkPolicy.enabled) return out;
  await pruneOwned(kube, tier, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', components: COMPONENTS, because: 'spec.networkPolicy.enabled is false' }, out);
  return out;
}

/** The PodMonitors of components that no longer get one (none at all when the API is absent). */
export async function prunePodMonitors(
  kube: KubeClient,
  tier: ResolvedCacheTier,
  podMonitorApi: boolean,
  out: PruneOutcome = { deleted: [], errors: [], events: [] },
): Promise<PruneOutcome> {
  if (!podMonitorApi) return out;
  const wanted = new Set(podMonitorComponents(tier, true));
  const gone = POD_MONITOR_COMPONENTS.filter((c) => !wanted.has(c));
  if (gone.length === 0) return out;
  const because = tier.spec.metrics.podMonitor.enabled === false ? 'spec.metrics.podMonitor.enabled is false' : 'spec.metrics.enabled is false';
  await pruneOwned(kube, tier, { apiVersion: POD_MONITOR_API_VERSION, kind: POD_MONITOR_KIND, components: gone, because }, out);
  return out;
}

/** Every switched-off child: NetworkPolicies, then PodMonitors. */
export async function pruneSwitchedOff(kube: KubeClient, tier: ResolvedCacheTier, opts: { podMonitorApi?: boolean } = {}): Promise<PruneOutcome> {
  const out = await pruneNetworkPolicies(kube, tier);
  return prunePodMonitors(kube, tier, opts.podMonitorApi === true, out);
}
