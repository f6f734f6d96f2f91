// Step: volume expansion. A larger storage size in the spec cannot reach a StatefulSet (its
// claim templates are immutable; the apply step keeps the live ones and reports the change). When
// only sizes grow and the StorageClass allows expansion, the operator carries it out: raise each
// PVC's request (the storage driver grows the volume), then delete the StatefulSet with
// propagation Orphan (its pods keep running) and create it again with the new claim templates; the
// new StatefulSet adopts the pods, whose revision is unchanged, so nothing restarts.
// Not while the component rolls, and for Redis not while its orchestration is busy: a StatefulSet
// re-created mid-drain must never come back with fewer replicas than the pods it still needs.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { ResolvedCacheTier } from '../../api/types.js';
import { parseQuantity } from '../../api/quantity.js';
import type { ClaimInfo, KObject, KubeClient, StorageClassInfo } from '../../runtime/kube.js';
import { describeError } from '../../runtime/kube.js';
import { selectorLabels } from '../../render/common.js';
import { childName } from '../../render/names.js';
import type { KubeObject } from '../../render/object.js';
import type { RollComponent } from '../../roll/types.js';
import type { ClaimTemplateChange } from '../volumes.js';
import type { ChildState } from './apply.js';

const STATEFUL: readonly RollComponent[] = ['zookeeper', 'kafka', 'redis'];

export interface ExpandInputs {
  changes: readonly ClaimTemplateChange[];
  children: ReadonlyMap<string, ChildState>;
  /** Set while the Redis orchestration has work: Redis volumes wait. */
  redisBusy?: string;
  /** The component being rolled this pass, if any: its volumes wait. */
  rolling?: RollComponent;
  /** How long to wait for the orphaned StatefulSet to be gone before re-creating it. */
  goneTimeoutMs?: number;
}

export interface ExpandOutcome {
  /** StatefulSets re-created with their grown claim templates this pass. */
  expanded: string[];
  /** Why a grow-only change was not carried out (by StatefulSet): the condition says it. */
  notes: Map<string, string>;
  events: { type: 'Normal' | 'Warning'; reason: string; message: string }[];
  errors: string[];
}

function templatesOf(o: object): V1PersistentVolumeClaim[] {
  return ((o as { spec?: { volumeClaimTemplates?: V1PersistentVolumeClaim[] } }).spec?.volumeClaimTemplates ?? []) as V1PersistentVolumeClaim[];
}

/** The StorageClass each claim template's PVCs use: its own, the PVCs', or the cluster default. */
export function classFor(template: V1PersistentVolumeClaim, claims: ClaimInfo[], classes: StorageClassInfo[]): StorageClassInfo | undefined {
  const name = template.spec?.storageClassName ?? claims.find((c) => c.storageClassName)?.storageClassName;
  return name ? classes.find((c) => c.name === name) : classes.find((c) => c.isDefault);
}

/** PVCs of one claim template of one StatefulSet: <template>-<statefulset>-<ordinal>. */
export function claimsOf(template: string, statefulSet: string, claims: ClaimInfo[]): ClaimInfo[] {
  const prefix = `${template}-${statefulSet}-`;
  return claims.filter((c) => c.name.startsWith(prefix) && /^\d+$/.test(c.name.slice(prefix.length)));
}

async function waitGone(kube: KubeClient, ref: { apiVersion: string; kind: string; namespace: string; name: string }, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await kube.get(ref))) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function expandVolumes(kube: KubeClient, tier: ResolvedCacheTier, inputs: ExpandInputs): Promise<ExpandOutcome> {
  const out: ExpandOutcome = { expanded: [], notes: new Map(), events: [], errors: [] };
  const { namespace } = tier.metadata;
  let classes: StorageClassInfo[] | undefined;
  for (const change of inputs.changes) {
    if (!change.growOnly) continue;
    const component = STATEFUL.find((c) => childName(tier, c) === change.statefulSet);
    const child = inputs.children.get(`StatefulSet/${change.statefulSet}`);
    if (!component || !child?.rendered || !child.live) continue;
    if (component === 'redis' && inputs.redisBusy) {
      out.notes.set(change.statefulSet, `the expansion waits for the Redis orchestration (${inputs.redisBusy})`);
      continue;
    }
    if (inputs.rolling === component) {
      out.notes.set(change.statefulSet, `the expansion waits for the ${component} roll`);
      continue;
    }
    try {
      classes ??= await kube.listStorageClasses();
      const claims = await kube.listClaims(namespace, selectorLabels(tier, component));
      const templates = templatesOf(child.rendered);
      const refused = templates
        .map((t) => ({ t, sc: classFor(t, claimsOf(t.metadata?.name ?? '', change.statefulSet, claims), classes!) }))
        .find(({ sc }) => !sc?.allowVolumeExpansion);
      if (refused) {
        const name = refused.t.spec?.storageClassName ?? refused.sc?.name ?? '(no default StorageClass)';
        out.notes.set(change.statefulSet, `StorageClass ${name} does not allow volume expansion, so the operator cannot grow the volumes`);
        continue;
      }
      let grown = 0;
      for (const t of templates) {
        const want = t.spec?.resources?.requests?.storage;
        const wantBytes = parseQuantity(want === undefined ? undefined : String(want));
        if (wantBytes === undefined) continue;
        for (const c of claimsOf(t.metadata?.name ?? '', change.statefulSet, claims)) {
          const have = parseQuantity(c.request);
          if (have !== undefined && have >= wantBytes) continue;
          await kube.apply({
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            metadata: { name: c.name, namespace },
            spec: { resources: { requests: { storage: String(want) } } },
          } as KObject);
          grown++;
        }
      }
      const ref = { apiVersion: 'apps/v1', kind: 'StatefulSet', namespace, name: change.statefulSet };
      await kube.delete(ref, { orphan: true });
      if (!(await waitGone(kube, ref, inputs.goneTimeoutMs ?? 30_000))) {
        out.errors.push(`StatefulSet ${change.statefulSet} was deleted (orphan) for a volume expansion but is not gone yet; it is re-created next pass`);
        continue;
      }
      const rendered = child.rendered as KubeObject;
      await kube.create({ ...rendered, metadata: { ...rendered.metadata, namespace } } as KObject);
      out.expanded.push(change.statefulSet);
      out.events.push({
        type: 'Normal',
        reason: 'VolumesExpanded',
        message: `${change.statefulSet}: ${change.changes.join('; ')}: ${grown} PVCs raised, StatefulSet re-created with the new claim templates (pods kept running)`,
      });
    } catch (err) {
      out.errors.push(`expand volumes of ${change.statefulSet}: ${describeError(err)}`);
      out.events.push({ type: 'Warning', reason: 'VolumeExpansionFailed', message: `${change.statefulSet}: ${describeError(err)}` });
    }
  }
  return out;
}
