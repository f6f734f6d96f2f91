// Step 3b, prune switched-off children: with spec.networkPolicy.enabled false nothing renders the
// NetworkPolicies, so the ones this tier's operator made earlier are deleted here. Only objects
// with this CacheTier as their controller are touched; a missing one costs one GET, no write.
import type { ResolvedCacheTier } from '../../api/types.js';
import type { KubeClient } from '../../runtime/kube.js';
import { describeError } from '../../runtime/kube.js';
import { childName, COMPONENTS } from '../../render/names.js';
import type { ChildEvent } from './apply.js';

export interface PruneOutcome {
  /** "Kind/name" of each child deleted. */
  deleted: string[];
  errors: string[];
  events: ChildEvent[];
}

export async function pruneNetworkPolicies(kube: KubeClient, tier: ResolvedCacheTier): Promise<PruneOutcome> {
  const out: PruneOutcome = { deleted: [], errors: [], events: [] };
  if (tier.spec.networkPolicy.enabled) return out;
  for (const c of COMPONENTS) {
    const ref = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: tier.metadata.namespace, name: childName(tier, c) };
    const id = `${ref.kind}/${ref.name}`;
    try {
      const live = await kube.get(ref);
      const owners = (live?.metadata.ownerReferences ?? []) as Array<{ uid?: string; controller?: boolean }>;
      if (!live || !owners.some((o) => o.controller && o.uid === tier.metadata.uid)) continue;
      if (await kube.delete(ref)) {
        out.deleted.push(id);
        out.events.push({ type: 'Normal', reason: 'Deleted', message: `deleted ${ref.kind} ${ref.name} (spec.networkPolicy.enabled is false)` });
      }
    } catch (err) {
      const msg = describeError(err);
      out.errors.push(`${id}: ${msg}`);
      out.events.push({ type: 'Warning', reason: 'DeleteFailed', message: `${ref.kind} ${ref.name}: ${msg}` });
    }
  }
  return out;
}
