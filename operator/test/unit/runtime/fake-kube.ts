// An in-memory KubeClient for unit tests. It behaves like the API server where the reconciler
// cares: apply merges into the live object (other managers' fields and server defaults stay),
// generation moves only when spec changes, status is merge-patched, Lease replace is guarded by
// resourceVersion. Every write is recorded so tests can count them.
import type { CacheTier } from '../../../src/api/types.js';
import type { ClaimInfo, EventBody, KObject, KubeClient, LeaseRecord, ObjectRef, PodInfo, StorageClassInfo } from '../../../src/runtime/kube.js';

export interface Write {
  verb: 'create' | 'apply' | 'delete' | 'delete-orphan' | 'patch-status' | 'create-event' | 'patch-event' | 'create-lease' | 'replace-lease';
  kind: string;
  name: string;
  body?: unknown;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Apply-like merge: maps merge recursively, everything else replaces. */
function mergeApply(live: unknown, applied: unknown): unknown {
  if (!isObj(live) || !isObj(applied)) return clone(applied);
  const out: Record<string, unknown> = { ...live };
  for (const [k, v] of Object.entries(applied)) out[k] = k in live ? mergeApply(live[k], v) : clone(v);
  return out;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const key = (apiVersion: string, kind: string, ns: string, name: string) => `${apiVersion}|${kind}|${ns}|${name}`;

/** The revision markReady gives StatefulSets (and test pods their controller-revision-hash). */
export const FAKE_REVISION = 'rev-1';

export class FakeKube implements KubeClient {
  readonly objects = new Map<string, KObject>();
  readonly tiers = new Map<string, CacheTier>();
  pods: PodInfo[] = [];
  claims: (ClaimInfo & { namespace: string; labels: Record<string, string> })[] = [];
  storageClasses: StorageClassInfo[] = [];
  /**
   * Secrets read with getSecret. The Redis passwords Secret of the controller tests' tier
   * (shop-ns/shop) exists, so those tests see only the children's writes; the observe step's
   * tests delete it to see it created.
   */
  readonly secrets = new Map<string, Record<string, string>>([
    ['shop-ns/shop-redis-passwords', { operator: 'pw-operator', replication: 'pw-replication', producer: 'pw-producer', app: 'pw-app', distribution: 'pw-distribution', monitoring: 'pw-monitoring', member: 'pw-member' }],
  ]);
  readonly leases = new Map<string, LeaseRecord>();
  readonly events: EventBody[] = [];
  writes: Write[] = [];
  private rv = 1;
  private uid = 1;
  /** Server-side defaulting, run on create and apply (e.g. add fields the renderer omits). */
  defaulter: (obj: KObject) => void = () => undefined;
  /** Make the next matching call fail. */
  failOn?: (verb: string, kind: string, name: string) => Error | undefined;

  private nextRv(): string {
    return String(++this.rv);
  }

  private check(verb: string, kind: string, name: string): void {
    const e = this.failOn?.(verb, kind, name);
    if (e) throw e;
  }

  // ------------------------------------------------------------------ children
  async get(ref: ObjectRef): Promise<KObject | undefined> {
    this.check('get', ref.kind, ref.name);
    return clone(this.objects.get(key(ref.apiVersion, ref.kind, ref.namespace, ref.name)));
  }

  async create(obj: KObject): Promise<KObject> {
    this.check('create', obj.kind, obj.metadata.name);
    const k = key(obj.apiVersion, obj.kind, obj.metadata.namespace ?? '', obj.metadata.name);
    this.writes.push({ verb: 'create', kind: obj.kind, name: obj.metadata.name, body: clone(obj) });
    if (this.objects.has(k)) throw new HttpError(409, 'already exists');
    const live = clone(obj);
    live.metadata.uid = `uid-${this.uid++}`;
    live.metadata.generation = 1;
    live.metadata.resourceVersion = this.nextRv();
    this.defaulter(live);
    this.objects.set(k, live);
    return clone(live);
  }

  async apply(obj: KObject): Promise<KObject> {
    this.check('apply', obj.kind, obj.metadata.name);
    const k = key(obj.apiVersion, obj.kind, obj.metadata.namespace ?? '', obj.metadata.name);
    this.writes.push({ verb: 'apply', kind: obj.kind, name: obj.metadata.name, body: clone(obj) });
    const prev = this.objects.get(k);
    if (!prev) {
      this.writes.pop();
      return this.create(obj);
    }
    const live = mergeApply(prev, obj) as KObject;
    this.defaulter(live);
    if (JSON.stringify(prev.spec) !== JSON.stringify(live.spec)) live.metadata.generation = (prev.metadata.generation ?? 1) + 1;
    live.metadata.resourceVersion = this.nextRv();
    this.objects.set(k, live);
    return clone(live);
  }

  async delete(ref: ObjectRef, opts: { orphan?: boolean } = {}): Promise<boolean> {
    this.check('delete', ref.kind, ref.name);
    this.writes.push({ verb: opts.orphan ? 'delete-orphan' : 'delete', kind: ref.kind, name: ref.name });
    return this.objects.delete(key(ref.apiVersion, ref.kind, ref.namespace, ref.name));
  }

  /** Test helpers (not API calls; not recorded). */
  put(obj: KObject): void {
    this.objects.set(key(obj.apiVersion, obj.kind, obj.metadata.namespace ?? '', obj.metadata.name), clone(obj));
  }

  find(kind: string, name: string): KObject | undefined {
    for (const o of this.objects.values()) if (o.kind === kind && o.metadata.name === name) return o;
    return undefined;
  }

  remove(kind: string, name: string): void {
    for (const [k, o] of this.objects) if (o.kind === kind && o.metadata.name === name) this.objects.delete(k);
  }

  /** Mark a StatefulSet/Deployment as fully rolled out and ready at its spec.replicas. */
  markReady(kind: string, name: string): void {
    const o = this.find(kind, name);
    if (!o) throw new Error(`no ${kind} ${name}`);
    const r = (o.spec as { replicas?: number }).replicas ?? 1;
    // StatefulSets: the pods the helpers make carry this revision (controller-revision-hash).
    const revisions = kind === 'StatefulSet' ? { currentRevision: FAKE_REVISION, updateRevision: FAKE_REVISION } : {};
    o.status = { observedGeneration: o.metadata.generation, replicas: r, readyReplicas: r, updatedReplicas: r, availableReplicas: r, ...revisions };
  }

  // ------------------------------------------------------------------ CacheTier
  addTier(t: CacheTier): void {
    this.tiers.set(`${t.metadata.namespace}/${t.metadata.name}`, clone(t));
  }

  tier(ns: string, name: string): CacheTier {
    const t = this.tiers.get(`${ns}/${name}`);
    if (!t) throw new Error('no tier');
    return t;
  }

  /** Simulates a user edit: merge-patch the spec and bump the generation. */
  editSpec(ns: string, name: string, patch: Record<string, unknown>): void {
    const t = this.tier(ns, name);
    t.spec = mergePatch(t.spec, patch) as CacheTier['spec'];
    t.metadata.generation = (t.metadata.generation ?? 1) + 1;
  }

  async getCacheTier(namespace: string, name: string): Promise<CacheTier | undefined> {
    return clone(this.tiers.get(`${namespace}/${name}`));
  }

  async patchCacheTierStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
    this.check('patch-status', 'CacheTier', name);
    this.writes.push({ verb: 'patch-status', kind: 'CacheTier', name, body: clone(status) });
    const t = this.tiers.get(`${namespace}/${name}`);
    if (!t) throw new HttpError(404, 'not found');
    t.status = mergePatch(t.status ?? {}, clone(status)) as CacheTier['status'];
  }

  // ------------------------------------------------------------------ pods, claims, secrets
  async listClaims(namespace: string, labelSelector: Record<string, string>): Promise<ClaimInfo[]> {
    return clone(this.claims.filter((c) => c.namespace === namespace && Object.entries(labelSelector).every(([k, v]) => c.labels[k] === v)).map(({ namespace: _n, labels: _l, ...c }) => c));
  }

  async listStorageClasses(): Promise<StorageClassInfo[]> {
    return clone(this.storageClasses);
  }

  async listPods(namespace: string, labelSelector: Record<string, string>): Promise<PodInfo[]> {
    return clone(this.pods.filter((p) => p.namespace === namespace && Object.entries(labelSelector).every(([k, v]) => p.labels[k] === v)));
  }

  async getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const direct = this.secrets.get(`${namespace}/${name}`);
    if (direct) return clone(direct);
    // A Secret the operator created or applied: decoded like the API client does.
    const obj = this.objects.get(key('v1', 'Secret', namespace, name));
    if (!obj) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64').toString('utf8');
    return out;
  }

  // ------------------------------------------------------------------ events
  async createEvent(ev: EventBody): Promise<string> {
    this.writes.push({ verb: 'create-event', kind: 'Event', name: ev.reason, body: clone(ev) });
    this.events.push(clone(ev));
    return `${ev.involvedObject.name}.${this.events.length}`;
  }

  async patchEvent(_namespace: string, name: string, patch: { count: number; lastTimestamp: string }): Promise<void> {
    this.writes.push({ verb: 'patch-event', kind: 'Event', name, body: clone(patch) });
  }

  // ------------------------------------------------------------------ leases
  async getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    this.check('get-lease', 'Lease', name);
    return clone(this.leases.get(`${namespace}/${name}`));
  }

  async createLease(namespace: string, name: string, rec: LeaseRecord): Promise<LeaseRecord> {
    this.check('create-lease', 'Lease', name);
    this.writes.push({ verb: 'create-lease', kind: 'Lease', name, body: clone(rec) });
    const k = `${namespace}/${name}`;
    if (this.leases.has(k)) throw new HttpError(409, 'already exists');
    const stored = { ...clone(rec), resourceVersion: this.nextRv() };
    this.leases.set(k, stored);
    return clone(stored);
  }

  async replaceLease(namespace: string, name: string, rec: LeaseRecord): Promise<LeaseRecord> {
    this.check('replace-lease', 'Lease', name);
    this.writes.push({ verb: 'replace-lease', kind: 'Lease', name, body: clone(rec) });
    const k = `${namespace}/${name}`;
    const cur = this.leases.get(k);
    if (!cur) throw new HttpError(404, 'not found');
    if (rec.resourceVersion !== cur.resourceVersion) throw new HttpError(409, 'conflict');
    const stored = { ...clone(rec), resourceVersion: this.nextRv() };
    this.leases.set(k, stored);
    return clone(stored);
  }

  /** Writes other than lease traffic, e.g. to prove an idle reconcile writes nothing. */
  objectWrites(): Write[] {
    return this.writes.filter((w) => w.kind !== 'Lease');
  }
}
