// Step 3, apply children: compare each rendered child with the live one and write only what
// differs — a missing child is created (POST), a drifted one server-side applied. Children don't
// depend on each other, so they are read and applied APPLY_CONCURRENCY at a time; results land in
// render order, whatever order the requests finish in.
import type { KObject, KubeClient } from '../../runtime/kube.js';
import { describeError, isConflict } from '../../runtime/kube.js';
import type { KubeObject } from '../../render/object.js';
import { firstDifference, formatPath } from '../diff.js';
import { claimTemplateChange, withLiveClaimTemplates, type ClaimTemplateChange } from '../volumes.js';
import type { Logger } from '../../log.js';

/** Children read/applied at once in one reconcile (a tier has ~30). */
export const APPLY_CONCURRENCY = 8;

/** One child after the apply step: what was rendered, what is live now, or why it is unknown. */
export interface ChildState {
  rendered?: KubeObject;
  live?: KObject;
  readError?: string;
}

export interface ChildEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface ApplyOutcome {
  /** By "Kind/name". */
  children: Map<string, ChildState>;
  /** "Kind/name" of each child written, in render order. */
  applied: string[];
  errors: string[];
  /** Created / Updated / ApplyFailed, in render order. */
  events: ChildEvent[];
  /** StatefulSets applied with their live claim templates: what the spec asks that they cannot take. */
  volumeChanges: ClaimTemplateChange[];
}

/**
 * A child whose live state was already read (the Redis StatefulSet, by the observe step), or
 * whose read failed: it is not read again, and left alone when unreadable.
 */
export interface KnownChild {
  kind: string;
  name: string;
  live?: KObject;
  readError?: string;
}

interface ChildOutcome {
  id: string;
  volumeChange?: ClaimTemplateChange;
  applied?: boolean;
  error?: string;
  event?: ChildEvent;
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

/**
 * A missing child is created with POST (the `create` verb RBAC grants and audit shows); if it
 * appeared meanwhile (409), it is applied instead.
 */
async function createOrApply(kube: KubeClient, body: KObject): Promise<KObject> {
  try {
    return await kube.create(body);
  } catch (err) {
    if (!isConflict(err)) throw err;
    return kube.apply(body);
  }
}

export async function applyChildren(
  kube: KubeClient,
  namespace: string,
  objects: readonly KubeObject[],
  known: KnownChild,
  log: Logger,
): Promise<ApplyOutcome> {
  const children = new Map<string, ChildState>();
  const outcomes = await mapBounded(objects, APPLY_CONCURRENCY, async (obj): Promise<ChildOutcome> => {
    const ref = { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace ?? namespace, name: obj.metadata.name };
    const id = `${ref.kind}/${ref.name}`;
    const st: ChildState = { rendered: obj };
    children.set(id, st);
    const isKnown = ref.kind === known.kind && ref.name === known.name;
    if (isKnown && known.readError) {
      // Without the live state we can't tell a grow from a shrink: leave it alone.
      st.readError = known.readError;
      return { id, error: `${id}: ${known.readError}` };
    }
    try {
      const live = isKnown ? known.live : await kube.get(ref);
      st.live = live;
      // Immutable claim templates: apply everything else, report the volume change.
      const volumeChange = live && ref.kind === 'StatefulSet' ? claimTemplateChange(obj, live) : undefined;
      const want = volumeChange && live ? withLiveClaimTemplates(obj, live) : obj;
      const diff = live ? firstDifference(want, live) : [];
      if (!diff) return { id, volumeChange };
      const body = { ...want, metadata: { ...want.metadata, namespace: ref.namespace } } as KObject;
      st.live = live ? await kube.apply(body) : await createOrApply(kube, body);
      const verb = live ? 'Updated' : 'Created';
      const msg = live ? `updated ${ref.kind} ${ref.name} (${formatPath(diff)} differed)` : `created ${ref.kind} ${ref.name}`;
      log.info({ child: id }, msg);
      return { id, applied: true, volumeChange, event: { type: 'Normal', reason: verb, message: msg } };
    } catch (err) {
      const msg = describeError(err);
      st.readError = msg;
      log.warn({ child: id, err: msg }, 'apply failed');
      return { id, error: `${id}: ${msg}`, event: { type: 'Warning', reason: 'ApplyFailed', message: `${ref.kind} ${ref.name}: ${msg}` } };
    }
  });
  const out: ApplyOutcome = { children, applied: [], errors: [], events: [], volumeChanges: [] };
  for (const o of outcomes) {
    if (o.volumeChange) out.volumeChanges.push(o.volumeChange);
    if (o.applied) out.applied.push(o.id);
    if (o.error) out.errors.push(o.error);
    if (o.event) out.events.push(o.event);
  }
  return out;
}
