// Watches that feed the work queue: CacheTiers, and the StatefulSets, Deployments and Pods the
// operator manages (label app.kubernetes.io/managed-by=cachetier-operator), each mapped to its
// CacheTier key. client-node informers stop for good on any error other than 410 Gone, so each
// one is restarted with backoff; a periodic resync lists the CacheTiers afresh and enqueues all.
import * as k8s from '@kubernetes/client-node';
import { GROUP, KIND, PLURAL, VERSION } from '../api/types.js';
import { MANAGED_BY } from '../render/common.js';
import { describeError } from './kube.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';

const MANAGED_SELECTOR = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
const INSTANCE_LABEL = 'app.kubernetes.io/instance';

interface Meta {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    ownerReferences?: { apiVersion?: string; kind?: string; name?: string }[];
  };
}

/** The CacheTier key a managed object belongs to: its CacheTier owner, else its instance label. */
export function ownerKey(obj: Meta): string | undefined {
  const ns = obj.metadata?.namespace;
  if (!ns) return undefined;
  const owner = (obj.metadata?.ownerReferences ?? []).find((o) => o.kind === KIND && o.apiVersion?.startsWith(`${GROUP}/`));
  if (owner?.name) return `${ns}/${owner.name}`;
  const instance = obj.metadata?.labels?.[INSTANCE_LABEL];
  return instance ? `${ns}/${instance}` : undefined;
}

export function tierKey(obj: Meta): string | undefined {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name;
  return ns && name ? `${ns}/${name}` : undefined;
}

interface Watched {
  name: string;
  informer: k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>;
  synced: boolean;
  restartTimer?: NodeJS.Timeout;
  failures: number;
}

export interface InformerSetOptions {
  kc: k8s.KubeConfig;
  /** The namespaces to watch; [] = all namespaces (one cluster-wide watch per kind). */
  namespaces: string[];
  enqueue: (key: string) => void;
  resyncSeconds: number;
  log?: Logger;
  maxRestartDelayMs?: number;
}

export class InformerSet {
  private readonly watched: Watched[] = [];
  /** The CacheTier informers (one per watched namespace): the resync's fallback cache. */
  private readonly tierInformers: Watched['informer'][] = [];
  private stopped = true;
  private resyncTimer?: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly custom: k8s.CustomObjectsApi;

  constructor(private readonly opts: InformerSetOptions) {
    this.log = opts.log ?? silentLogger;
    const { kc } = opts;
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    type ListFn = () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>;
    const sel = MANAGED_SELECTOR;
    // A namespaced install has RBAC only in its namespaces: every list and watch is namespaced.
    for (const ns of opts.namespaces.length > 0 ? opts.namespaces : ['']) {
      const nsPath = ns ? `/namespaces/${ns}` : '';
      const suffix = ns ? `@${ns}` : '';
      const listTiers: ListFn = () => this.listTiersIn(ns);
      const listSts: ListFn = () =>
        ns ? apps.listNamespacedStatefulSet({ namespace: ns, labelSelector: sel }) : apps.listStatefulSetForAllNamespaces({ labelSelector: sel });
      const listDeploy: ListFn = () =>
        ns ? apps.listNamespacedDeployment({ namespace: ns, labelSelector: sel }) : apps.listDeploymentForAllNamespaces({ labelSelector: sel });
      const listPods: ListFn = () =>
        ns ? core.listNamespacedPod({ namespace: ns, labelSelector: sel }) : core.listPodForAllNamespaces({ labelSelector: sel });
      const tiers = k8s.makeInformer(kc, `/apis/${GROUP}/${VERSION}${nsPath}/${PLURAL}`, listTiers);
      this.tierInformers.push(tiers);
      this.add(`cachetiers${suffix}`, tiers, tierKey);
      this.add(`statefulsets${suffix}`, k8s.makeInformer(kc, `/apis/apps/v1${nsPath}/statefulsets`, listSts, sel), ownerKey);
      this.add(`deployments${suffix}`, k8s.makeInformer(kc, `/apis/apps/v1${nsPath}/deployments`, listDeploy, sel), ownerKey);
      this.add(`pods${suffix}`, k8s.makeInformer(kc, `/api/v1${nsPath}/pods`, listPods, sel), ownerKey);
    }
  }

  /** The CacheTiers of one namespace ("" = all namespaces). */
  private listTiersIn(ns: string): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> {
    const p = ns
      ? this.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL })
      : this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL });
    return p as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>;
  }

  /** Every watched CacheTier, listed afresh (one list per watched namespace). */
  private async listTiers(): Promise<k8s.KubernetesObject[]> {
    const nss = this.opts.namespaces.length > 0 ? this.opts.namespaces : [''];
    const lists = await Promise.all(nss.map((ns) => this.listTiersIn(ns)));
    return lists.flatMap((l) => l.items);
  }

  private add(name: string, informer: Watched['informer'], key: (o: Meta) => string | undefined): void {
    const w: Watched = { name, informer, synced: false, failures: 0 };
    const onObject = (obj: k8s.KubernetesObject) => {
      const k = key(obj as Meta);
      if (k) this.opts.enqueue(k);
    };
    informer.on(k8s.ADD, onObject);
    informer.on(k8s.UPDATE, onObject);
    informer.on(k8s.DELETE, onObject);
    informer.on(k8s.CONNECT, () => this.log.debug({ informer: name }, 'watch connected'));
    informer.on(k8s.ERROR, (err: unknown) => this.onError(w, err));
    this.watched.push(w);
  }

  private onError(w: Watched, err: unknown): void {
    w.synced = false;
    if (this.stopped || w.restartTimer) return; // stop() aborts watches, which reports an error
    w.failures += 1;
    const delay = Math.min(this.opts.maxRestartDelayMs ?? 30_000, 1000 * 2 ** Math.min(w.failures - 1, 5));
    this.log.warn({ informer: w.name, err: describeError(err), restartInMs: delay }, 'informer stopped; restarting');
    w.restartTimer = setTimeout(() => {
      w.restartTimer = undefined;
      void this.startOne(w);
    }, delay);
  }

  private async startOne(w: Watched): Promise<void> {
    if (this.stopped) return;
    let failed = false;
    const onErr = () => {
      failed = true;
    };
    w.informer.on(k8s.ERROR, onErr);
    try {
      await w.informer.start();
    } catch (err) {
      failed = true;
      this.onError(w, err);
    } finally {
      w.informer.off(k8s.ERROR, onErr);
    }
    if (!failed && !this.stopped) {
      w.synced = true;
      w.failures = 0;
      this.log.info({ informer: w.name }, 'informer synced');
    }
  }

  /** Start every informer (resolves once each has listed or failed; failures keep retrying). */
  async start(): Promise<void> {
    this.stopped = false;
    await Promise.all(this.watched.map((w) => this.startOne(w)));
    if (this.opts.resyncSeconds > 0) {
      this.resyncTimer = setInterval(() => void this.resync(), this.opts.resyncSeconds * 1000);
      this.resyncTimer.unref();
    }
  }

  /** Enqueue every CacheTier, listed afresh from the API (a silently dead watch can't hide one). */
  async resync(): Promise<void> {
    const keys = new Set<string>();
    try {
      for (const o of await this.listTiers()) {
        const k = tierKey(o as Meta);
        if (k) keys.add(k);
      }
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'resync list failed; using the informer cache');
      for (const o of this.tierInformers.flatMap((i) => i.list())) {
        const k = tierKey(o as Meta);
        if (k) keys.add(k);
      }
    }
    this.log.debug({ tiers: keys.size }, 'resync');
    for (const k of keys) this.opts.enqueue(k);
  }

  get synced(): boolean {
    return this.watched.every((w) => w.synced);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const w of this.watched) {
      if (w.restartTimer) clearTimeout(w.restartTimer);
      w.restartTimer = undefined;
      w.synced = false;
      await w.informer.stop();
    }
  }
}
