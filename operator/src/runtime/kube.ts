// The thin layer between the reconciler and the Kubernetes API. The reconciler, the event
// recorder and the leader election only see the narrow KubeClient interface, so unit tests
// drive them with an in-memory fake; RealKubeClient is that interface on
// @kubernetes/client-node 1.4 (ESM, one object parameter per call, bodies returned directly,
// ApiException with .code).
//
// Why client-node is pinned to exactly 1.4.0 (operator/package.json): 2.x (undici 8) crashes on
// Node 20, the runtime of our images; and this file reaches into 1.4 internals that a minor
// release may change:
// - RawObjectApi overrides KubernetesObjectApi's protected processResponse() (bodies stay plain
//   JSON instead of typed models) and builds requests with its configuration.baseServer,
//   specUriPath() and requestPromise();
// - KeepAliveKubeConfig overrides KubeConfig.applySecurityAuthentication() and reads the
//   per-request agent's `options` to share keep-alive agents.
// Bump it only together with the control-plane tier (make test-controlplane).
import http from 'node:http';
import https from 'node:https';
import * as k8s from '@kubernetes/client-node';
import type { CacheTier, CacheTierStatus } from '../api/types.js';
import { GROUP, PLURAL, VERSION } from '../api/types.js';
import { FIELD_MANAGER } from '../render/common.js';
import { apiWrites } from '../metrics.js';

/** Any Kubernetes object as plain JSON (what the API server sends, no client-side typing). */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
    deletionTimestamp?: string;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/** What the reconciler needs to know about a pod. */
export interface PodInfo {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  phase: string;
  podIP?: string;
  nodeName?: string;
  ready: boolean;
  deleting: boolean;
  /** Why the pod cannot come up by itself (CrashLoopBackOff, ImagePullBackOff, Unschedulable...), if so. */
  stuck?: string;
}

const STUCK_WAITING = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'CreateContainerConfigError', 'InvalidImageName']);

/** A pod that will not become ready without a change to it: a roll may replace it first. */
export function stuckReason(p: k8s.V1Pod): string | undefined {
  const unschedulable = (p.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
  if (unschedulable) return 'Unschedulable';
  for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
    const reason = c.state?.waiting?.reason;
    if (reason && STUCK_WAITING.has(reason)) return reason;
  }
  return undefined;
}

/** What volume expansion needs to know about a PersistentVolumeClaim. */
export interface ClaimInfo {
  name: string;
  storageClassName?: string;
  /** spec.resources.requests.storage */
  request?: string;
  /** status.capacity.storage (what the volume has now) */
  capacity?: string;
}

export interface StorageClassInfo {
  name: string;
  isDefault: boolean;
  allowVolumeExpansion: boolean;
}

/** A coordination.k8s.io/v1 Lease spec as plain values (times are RFC 3339 strings). */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  /** Optimistic concurrency: replace fails with 409 when the lease changed since this version. */
  resourceVersion?: string;
}

/** A core/v1 Event body (the recorder fills it). */
export interface EventBody {
  metadata: { name?: string; generateName?: string; namespace: string };
  involvedObject: { apiVersion: string; kind: string; name: string; namespace: string; uid?: string; resourceVersion?: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host?: string };
  reportingComponent: string;
  reportingInstance: string;
}

export interface KubeClient {
  /** The live object, or undefined when it does not exist (404). */
  get(ref: ObjectRef): Promise<KObject | undefined>;
  /** Server-side apply (fieldManager cachetier-operator, force); returns the live object. */
  apply(obj: KObject): Promise<KObject>;
  /** POST a new object (fieldManager cachetier-operator); 409 when it already exists. */
  create(obj: KObject): Promise<KObject>;
  /** DELETE an object; false when it was already gone (404). orphan: leave its dependents (pods). */
  delete(ref: ObjectRef, opts?: { orphan?: boolean }): Promise<boolean>;
  getCacheTier(namespace: string, name: string): Promise<CacheTier | undefined>;
  /** JSON merge patch on the status subresource. */
  patchCacheTierStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void>;
  listPods(namespace: string, labelSelector: Record<string, string>): Promise<PodInfo[]>;
  listClaims(namespace: string, labelSelector: Record<string, string>): Promise<ClaimInfo[]>;
  listStorageClasses(): Promise<StorageClassInfo[]>;
  /** Decoded Secret data, or undefined when the Secret does not exist. */
  getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Creates an event; returns its name (for later count bumps). */
  createEvent(ev: EventBody): Promise<string>;
  patchEvent(namespace: string, name: string, patch: { count: number; lastTimestamp: string; message?: string }): Promise<void>;
  getLease(namespace: string, name: string): Promise<LeaseRecord | undefined>;
  createLease(namespace: string, name: string, rec: LeaseRecord): Promise<LeaseRecord>;
  /** Replace with rec.resourceVersion as precondition; throws an error with code 409 on conflict. */
  replaceLease(namespace: string, name: string, rec: LeaseRecord): Promise<LeaseRecord>;
}

export type { CacheTierStatus };

/** HTTP status code of an API error (ApiException.code, a watch error's statusCode), if any. */
export function errorCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export const isNotFound = (err: unknown): boolean => errorCode(err) === 404;
export const isConflict = (err: unknown): boolean => errorCode(err) === 409;

/** A short, log-friendly description of an API error (ApiException bodies carry the reason). */
export function describeError(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body = err.body as unknown;
    let msg = '';
    if (typeof body === 'string') {
      try {
        msg = (JSON.parse(body) as { message?: string }).message ?? body;
      } catch {
        msg = body;
      }
    } else if (body && typeof body === 'object') {
      msg = (body as { message?: string }).message ?? JSON.stringify(body);
    }
    return `HTTP ${err.code}: ${msg}`.slice(0, 500);
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

export function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * KubernetesObjectApi that keeps bodies as plain JSON: the generic read/patch in client-node
 * run responses through the typed model (unknown fields dropped, timestamps turned into Date),
 * which would make "is the desired state a subset of the live object" unreliable. Transport,
 * auth, TLS and resource discovery are client-node's.
 */
class RawObjectApi extends k8s.KubernetesObjectApi {
  protected override async processResponse<T extends k8s.KubernetesObject>(response: k8s.ResponseContext): Promise<T> {
    const text = await response.body.text();
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) {
      return (text ? JSON.parse(text) : {}) as T;
    }
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* keep the text */
    }
    throw new k8s.ApiException(response.httpStatusCode, 'Unsuccessful HTTP Request', body, response.headers);
  }

  async readRaw(ref: ObjectRef): Promise<KObject> {
    return (await this.read({
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, namespace: ref.namespace },
    })) as unknown as KObject;
  }

  /**
   * Server-side apply with the object's JSON as the body (JSON is YAML, so apply-patch+yaml
   * takes it), fieldManager and force as query parameters.
   */
  async applyRaw(obj: KObject): Promise<KObject> {
    const path = await this.specUriPath(obj as k8s.KubernetesObject, 'patch');
    const ctx = this.configuration.baseServer.makeRequestContext(path, k8s.HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', k8s.PatchStrategy.ServerSideApply);
    ctx.setQueryParam('fieldManager', FIELD_MANAGER);
    ctx.setQueryParam('force', 'true');
    ctx.setBody(JSON.stringify(obj));
    return (await this.requestPromise(ctx)) as unknown as KObject;
  }

  /** Whether the API server serves `kind` in `apiVersion` (API discovery; an unknown group/version = false). */
  async servesKind(apiVersion: string, kind: string): Promise<boolean> {
    try {
      return (await this.resource(apiVersion, kind)) !== undefined;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async createRaw(obj: KObject): Promise<KObject> {
    const path = await this.specUriPath(obj as k8s.KubernetesObject, 'create');
    const ctx = this.configuration.baseServer.makeRequestContext(path, k8s.HttpMethod.POST);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', 'application/json');
    ctx.setQueryParam('fieldManager', FIELD_MANAGER);
    ctx.setBody(JSON.stringify(obj));
    return (await this.requestPromise(ctx)) as unknown as KObject;
  }
}

/**
 * API discovery for one kind, asked once (the operator calls it at startup and keeps the answer):
 * true when the API server serves `kind` in `apiVersion`, e.g. the Prometheus Operator's
 * monitoring.coreos.com/v1 PodMonitor. Discovery documents are readable by every authenticated
 * user (system:discovery), so this needs no RBAC.
 */
export function discoverKind(kc: k8s.KubeConfig, apiVersion: string, kind: string, timeoutMs = 15_000): Promise<boolean> {
  return withTimeout(kc.makeApiClient(RawObjectApi).servesKind(apiVersion, kind), timeoutMs, `discover ${apiVersion} ${kind}`);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from the Kubernetes API within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function toIso(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

function leaseFromApi(l: k8s.V1Lease): LeaseRecord {
  return {
    holderIdentity: l.spec?.holderIdentity ?? undefined,
    leaseDurationSeconds: l.spec?.leaseDurationSeconds ?? undefined,
    acquireTime: toIso(l.spec?.acquireTime),
    renewTime: toIso(l.spec?.renewTime),
    leaseTransitions: l.spec?.leaseTransitions ?? undefined,
    resourceVersion: l.metadata?.resourceVersion,
  };
}

function leaseToApi(namespace: string, name: string, rec: LeaseRecord): k8s.V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, resourceVersion: rec.resourceVersion },
    spec: {
      // An empty holder is how a lease is released (client-go does the same).
      holderIdentity: rec.holderIdentity ?? '',
      leaseDurationSeconds: rec.leaseDurationSeconds,
      acquireTime: rec.acquireTime ? new k8s.V1MicroTime(rec.acquireTime) : undefined,
      renewTime: rec.renewTime ? new k8s.V1MicroTime(rec.renewTime) : undefined,
      leaseTransitions: rec.leaseTransitions,
    },
  };
}

/**
 * A KubeConfig whose API clients share keep-alive agents. client-node 1.4 builds a new
 * https.Agent for every request (applySecurityAuthentication -> createAgent), so every request
 * opens a new TCP connection and TLS session: ~20 ms of client CPU per request and RSS that
 * grows with the request count. Here the per-request agent's options (CA, client cert/key,
 * rejectUnauthorized, servername: everything that identifies the connection) pick one cached
 * keep-alive agent, so requests reuse connections. Proxy agents (proxyUrl) are left as they are.
 * Watches (applyToFetchOptions) keep their own agent: they hold a connection for minutes.
 */
export class KeepAliveKubeConfig extends k8s.KubeConfig {
  private readonly agents = new Map<string, http.Agent>();

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const agent = context.getAgent();
    if (!agent || (agent.constructor !== https.Agent && agent.constructor !== http.Agent)) return;
    context.setAgent(this.shared(agent as http.Agent));
  }

  private shared(perRequest: http.Agent): http.Agent {
    const o = (perRequest as http.Agent & { options: https.AgentOptions }).options;
    const str = (v: unknown): string => (v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('base64') : Array.isArray(v) ? v.map(str).join(',') : String(v));
    const isHttps = perRequest.constructor === https.Agent;
    const key = [isHttps, o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername].map(str).join('\0');
    let agent = this.agents.get(key);
    if (!agent) {
      // Close idle connections after 30 s, well before kube-apiserver's 90 s idle timeout, so a
      // request never lands on a connection the server is closing.
      const opts: https.AgentOptions = { ...o, keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 32, maxFreeSockets: 8, timeout: 30_000 };
      agent = isHttps ? new https.Agent(opts) : new http.Agent(opts);
      this.agents.set(key, agent);
      // Certificates rotate rarely; keep the map from growing without bound if they do.
      if (this.agents.size > 4) {
        const [oldest] = this.agents.keys();
        this.agents.get(oldest)?.destroy();
        this.agents.delete(oldest);
      }
    }
    return agent;
  }
}

export interface RealKubeClientOptions {
  /** Per-request timeout (client-node sets none). */
  timeoutMs?: number;
}

export class RealKubeClient implements KubeClient {
  private readonly objects: RawObjectApi;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly coordination: k8s.CoordinationV1Api;
  private readonly storage: k8s.StorageV1Api;
  private readonly timeoutMs: number;

  constructor(kc: k8s.KubeConfig, opts: RealKubeClientOptions = {}) {
    this.objects = kc.makeApiClient(RawObjectApi);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    this.storage = kc.makeApiClient(k8s.StorageV1Api);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  private call<T>(what: string, p: Promise<T>): Promise<T> {
    return withTimeout(p, this.timeoutMs, what);
  }

  private write<T>(verb: string, kind: string, what: string, p: Promise<T>): Promise<T> {
    apiWrites.inc({ verb, kind });
    return this.call(what, p);
  }

  async get(ref: ObjectRef): Promise<KObject | undefined> {
    try {
      return await this.call(`get ${ref.kind} ${ref.namespace}/${ref.name}`, this.objects.readRaw(ref));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  apply(obj: KObject): Promise<KObject> {
    return this.write('apply', obj.kind, `apply ${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}`, this.objects.applyRaw(obj));
  }

  create(obj: KObject): Promise<KObject> {
    return this.write('create', obj.kind, `create ${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}`, this.objects.createRaw(obj));
  }

  async delete(ref: ObjectRef, opts: { orphan?: boolean } = {}): Promise<boolean> {
    const spec = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
    try {
      const call = opts.orphan ? this.objects.delete(spec, undefined, undefined, undefined, undefined, 'Orphan') : this.objects.delete(spec);
      await this.write('delete', ref.kind, `delete ${ref.kind} ${ref.namespace}/${ref.name}`, call);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async getCacheTier(namespace: string, name: string): Promise<CacheTier | undefined> {
    try {
      return (await this.call(
        `get CacheTier ${namespace}/${name}`,
        this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name }),
      )) as CacheTier;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async patchCacheTierStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
    await this.write(
      'patch',
      'CacheTier/status',
      `patch CacheTier ${namespace}/${name} status`,
      this.custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { status }, fieldManager: FIELD_MANAGER },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      ),
    );
  }

  async listPods(namespace: string, labelSelector: Record<string, string>): Promise<PodInfo[]> {
    const list = await this.call(
      `list pods in ${namespace}`,
      this.core.listNamespacedPod({ namespace, labelSelector: selectorString(labelSelector) }),
    );
    return list.items.map((p) => ({
      name: p.metadata?.name ?? '',
      namespace: p.metadata?.namespace ?? namespace,
      labels: p.metadata?.labels ?? {},
      phase: p.status?.phase ?? 'Unknown',
      podIP: p.status?.podIP || undefined,
      nodeName: p.spec?.nodeName || undefined,
      ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
      deleting: Boolean(p.metadata?.deletionTimestamp),
      ...(stuckReason(p) ? { stuck: stuckReason(p) } : {}),
    }));
  }

  async listClaims(namespace: string, labelSelector: Record<string, string>): Promise<ClaimInfo[]> {
    const list = await this.call(
      `list persistentvolumeclaims in ${namespace}`,
      this.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector: selectorString(labelSelector) }),
    );
    const q = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
    return list.items.map((c) => {
      const out: ClaimInfo = { name: c.metadata?.name ?? '' };
      if (c.spec?.storageClassName) out.storageClassName = c.spec.storageClassName;
      const request = q(c.spec?.resources?.requests?.storage);
      if (request) out.request = request;
      const capacity = q(c.status?.capacity?.storage);
      if (capacity) out.capacity = capacity;
      return out;
    });
  }

  async listStorageClasses(): Promise<StorageClassInfo[]> {
    const list = await this.call('list storageclasses', this.storage.listStorageClass());
    return list.items.map((sc) => ({
      name: sc.metadata?.name ?? '',
      isDefault: sc.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true',
      allowVolumeExpansion: sc.allowVolumeExpansion === true,
    }));
  }

  async getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    try {
      const s = await this.call(`get Secret ${namespace}/${name}`, this.core.readNamespacedSecret({ namespace, name }));
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
      for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = v;
      return out;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async createEvent(ev: EventBody): Promise<string> {
    const body: k8s.CoreV1Event = {
      ...ev,
      firstTimestamp: new Date(ev.firstTimestamp),
      lastTimestamp: new Date(ev.lastTimestamp),
    };
    const created = await this.write(
      'create',
      'Event',
      `create Event in ${ev.metadata.namespace}`,
      this.core.createNamespacedEvent({ namespace: ev.metadata.namespace, body }),
    );
    return created.metadata?.name ?? '';
  }

  async patchEvent(namespace: string, name: string, patch: { count: number; lastTimestamp: string; message?: string }): Promise<void> {
    await this.write(
      'patch',
      'Event',
      `patch Event ${namespace}/${name}`,
      this.core.patchNamespacedEvent(
        { namespace, name, body: patch },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      ),
    );
  }

  async getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    try {
      return leaseFromApi(await this.call(`get Lease ${namespace}/${name}`, this.coordination.readNamespacedLease({ namespace, name })));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async createLease(namespace: string, name: string, rec: LeaseRecord): Promise<LeaseRecord> {
    const body = leaseToApi(namespace, name, { ...rec, resourceVersion: undefined });
    return leaseFromApi(
      await this.write('create', 'Lease', `create Lease ${namespace}/${name}`, this.coordination.createNamespacedLease({ namespace, body })),
    );
  }

  async replaceLease(namespace: string, name: string, rec: LeaseRecord): Promise<LeaseRecord> {
    const body = leaseToApi(namespace, name, rec);
    return leaseFromApi(
      await this.write(
        'update',
        'Lease',
        `replace Lease ${namespace}/${name}`,
        this.coordination.replaceNamespacedLease({ namespace, name, body }),
      ),
    );
  }
}
