// Volume changes a StatefulSet cannot take: its volumeClaimTemplates are immutable, so a changed
// storage size, class or persistence in the spec would make every apply of that StatefulSet fail
// (and with it every other change to it, config rolls included). Instead the StatefulSet is applied
// with its live claim templates (everything else still rolls) and the VolumesMatchSpec condition
// says what differs and how to carry it out. Pure functions; the apply step uses them.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { parseQuantity } from '../api/quantity.js';
import type { ConditionUpdate } from '../orchestration/types.js';
import type { KObject } from '../runtime/kube.js';
import type { KubeObject } from '../render/object.js';
import { VOLUMES_CONDITION } from './conditions.js';

export interface ClaimTemplateChange {
  statefulSet: string;
  /** "data: size 1Gi -> 2Gi", "data: storageClassName standard -> fast", "volumes: none -> PVC data". */
  changes: string[];
  /** Only sizes grew (what a StorageClass with allowVolumeExpansion can do in place). */
  growOnly: boolean;
}

type Templates = V1PersistentVolumeClaim[] | undefined;

function templatesOf(o: object): Templates {
  return ((o as { spec?: unknown }).spec as { volumeClaimTemplates?: V1PersistentVolumeClaim[] } | undefined)?.volumeClaimTemplates;
}

function describeSet(ts: Templates): string {
  return ts && ts.length > 0 ? `PVC ${ts.map((t) => t.metadata?.name).join(', ')}` : 'none (emptyDir)';
}

/** How the rendered StatefulSet's claim templates differ from the live one's; undefined when they don't. */
export function claimTemplateChange(rendered: KubeObject, live: KObject): ClaimTemplateChange | undefined {
  const want = templatesOf(rendered) ?? [];
  const have = templatesOf(live) ?? [];
  const name = rendered.metadata.name;
  const names = (ts: V1PersistentVolumeClaim[]) => ts.map((t) => t.metadata?.name ?? '').sort().join(',');
  if (names(want) !== names(have)) {
    return { statefulSet: name, changes: [`volumes: ${describeSet(have)} -> ${describeSet(want)}`], growOnly: false };
  }
  const changes: string[] = [];
  let growOnly = true;
  for (const w of want) {
    const h = have.find((x) => x.metadata?.name === w.metadata?.name)!;
    const claim = w.metadata?.name ?? '';
    const ws = w.spec?.resources?.requests?.storage;
    const hs = h.spec?.resources?.requests?.storage;
    const wv = parseQuantity(ws === undefined ? undefined : String(ws));
    const hv = parseQuantity(hs === undefined ? undefined : String(hs));
    if (wv !== hv) {
      changes.push(`${claim}: size ${hs ?? 'unset'} -> ${ws ?? 'unset'}`);
      if (wv === undefined || hv === undefined || wv < hv) growOnly = false;
    }
    const wc = w.spec?.storageClassName;
    const hc = h.spec?.storageClassName;
    if ((wc ?? '') !== (hc ?? '')) {
      changes.push(`${claim}: storageClassName ${hc ?? '(cluster default)'} -> ${wc ?? '(cluster default)'}`);
      growOnly = false;
    }
    const wm = (w.spec?.accessModes ?? []).join(',');
    const hm = (h.spec?.accessModes ?? []).join(',');
    if (wm !== hm) {
      changes.push(`${claim}: accessModes ${hm} -> ${wm}`);
      growOnly = false;
    }
  }
  return changes.length > 0 ? { statefulSet: name, changes, growOnly } : undefined;
}

/** The rendered StatefulSet with the live claim templates: what can be applied. */
export function withLiveClaimTemplates(rendered: KubeObject, live: KObject): KubeObject {
  const spec = { ...(rendered.spec as Record<string, unknown>) };
  const have = templatesOf(live);
  if (have) spec.volumeClaimTemplates = have;
  else delete spec.volumeClaimTemplates;
  return { ...rendered, spec } as KubeObject;
}

/**
 * VolumesMatchSpec: True when every StatefulSet's volumes are what the spec asks; otherwise False
 * with what differs and how it is carried out: by the operator this pass (`expanded`: reason
 * Expanding), or by hand, with the steps and why the operator could not (`notes`).
 */
export function volumesCondition(
  changes: ClaimTemplateChange[],
  namespace: string,
  expansion: { expanded: readonly string[]; notes: ReadonlyMap<string, string> } = { expanded: [], notes: new Map() },
): ConditionUpdate {
  const type = VOLUMES_CONDITION;
  if (changes.length === 0) return { type, status: 'True', reason: 'InSync', message: 'every StatefulSet has the volumes the spec asks for' };
  const parts = changes.map((c) => {
    if (expansion.expanded.includes(c.statefulSet)) {
      return `${c.statefulSet}: ${c.changes.join('; ')} (expanding: PVCs raised and the StatefulSet re-created with the new claim templates; the storage driver grows each volume)`;
    }
    const note = expansion.notes.get(c.statefulSet);
    const how = c.growOnly
      ? `${note ? `${note}; ` : ''}to grow them by hand: raise spec.resources.requests.storage of each PVC of ${c.statefulSet} ` +
        `(kubectl -n ${namespace} patch pvc <claim>-${c.statefulSet}-<n> ...), then kubectl -n ${namespace} delete statefulset ${c.statefulSet} --cascade=orphan ` +
        `(the pods keep running; the operator re-creates it with the new template)`
      : `a volume cannot shrink or change class in place: set the spec back, or move the data to a new tier`;
    return `${c.statefulSet}: ${c.changes.join('; ')} (not applied: a StatefulSet's volumeClaimTemplates cannot change; ${how})`;
  });
  const reason = changes.every((c) => expansion.expanded.includes(c.statefulSet))
    ? 'Expanding'
    : changes.every((c) => c.growOnly)
      ? 'ExpansionNeedsSteps'
      : 'ChangeNotPossibleInPlace';
  return { type, status: 'False', reason, message: parts.join(' | ').slice(0, 1500) };
}
