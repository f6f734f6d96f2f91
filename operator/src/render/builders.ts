// Kubernetes object builders shared by the component renderers (zookeeper.ts, kafka.ts, ...).
// Everything here is pure and deterministic, and emits only fields the operator means to own
// under server-side apply: no status, no server-defaulted fields (imagePullPolicy, dnsPolicy,
// restartPolicy, strategy, ...), no `undefined` values.
import { parseQuantity } from '../api/quantity.js';
import type { ResolvedCacheTier, ResourceRequirements, SecretKeyRef, StorageSpec } from '../api/types.js';
import { CONFIG_HASH_ANNOTATION, containerSecurityContext, labels, objectMeta, podAntiAffinity, podSecurityContext, selectorLabels } from './common.js';
import { configMapName, type Component } from './names.js';
import type {
  V1ConfigMap,
  V1Container,
  V1ContainerPort,
  V1Deployment,
  V1EnvVar,
  V1PersistentVolumeClaim,
  V1PodSpec,
  V1PodTemplateSpec,
  V1ResourceRequirements,
  V1Service,
  V1ServicePort,
  V1ServiceSpec,
  V1StatefulSet,
  V1StatefulSetSpec,
  V1Volume,
} from '@kubernetes/client-node';
import type { Rendered } from './object.js';
import type { OperatorIdentity } from './networkpolicy.js';
import type { RedisCredentials } from './config/redis-acl.js';

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
/** nginx does not use resolv.conf, so the OpenResty layers name the cluster DNS explicitly. */
export const DEFAULT_DNS_RESOLVER = 'kube-dns.kube-system.svc.cluster.local';

/** Fully resolved render options, handed to every component renderer. */
export interface RenderContext {
  clusterDomain: string;
  dnsResolver: string;
  /** The operator's namespace and pod labels: the peer every NetworkPolicy admits. */
  operator: OperatorIdentity;
  redisStatefulSetReplicas?: number;
  /** Each Redis role's password (read by the observe step); without it no ACL Secret is rendered. */
  redisCredentials?: RedisCredentials;
  /** The cluster serves monitoring.coreos.com/v1 PodMonitor (discovered at startup); default false. */
  podMonitorApi?: boolean;
}

export const DATA_VOLUME = 'data';
export const CONFIG_VOLUME = 'config';
export const TMP_VOLUME = 'tmp';

/** Where each component's ConfigMap is mounted (read-only). */
export function configMountPath(component: Component): string {
  return `/etc/cachetier/${component}`;
}

export function ordinals(n: number): number[] {
  return Array.from({ length: Math.max(0, n) }, (_, i) => i);
}

export function sortedRecord(rec: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(rec).sort()) out[k] = rec[k];
  return out;
}

export function configMap(
  tier: ResolvedCacheTier,
  component: Component,
  data: Record<string, string>,
  name = configMapName(tier, component),
): Rendered<V1ConfigMap> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: objectMeta(tier, component, name), data: sortedRecord(data) };
}

export interface PortSpec {
  name: string;
  port: number;
}

export function servicePorts(ports: PortSpec[]): V1ServicePort[] {
  return ports.map((p) => ({ name: p.name, port: p.port, protocol: 'TCP' }));
}

export function containerPorts(ports: PortSpec[]): V1ContainerPort[] {
  return ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' }));
}

export interface ServiceOptions {
  name: string;
  ports: PortSpec[];
  /** clusterIP: None — per-pod DNS records. */
  headless?: boolean;
  /** Per-pod DNS for pods that are not Ready yet (quorum formation needs it). */
  publishNotReadyAddresses?: boolean;
}

export function service(tier: ResolvedCacheTier, component: Component, o: ServiceOptions): Rendered<V1Service> {
  const spec: V1ServiceSpec = {};
  if (o.headless) spec.clusterIP = 'None';
  if (o.publishNotReadyAddresses) spec.publishNotReadyAddresses = true;
  spec.selector = selectorLabels(tier, component);
  spec.ports = servicePorts(o.ports);
  return { apiVersion: 'v1', kind: 'Service', metadata: objectMeta(tier, component, o.name), spec };
}

/** Only the keys that are set: resources: {} is valid, `limits: undefined` is not a stable value. */
export function resources(r: ResourceRequirements): V1ResourceRequirements {
  const out: V1ResourceRequirements = {};
  if (r.requests && Object.keys(r.requests).length > 0) out.requests = sortedRecord(r.requests);
  if (r.limits && Object.keys(r.limits).length > 0) out.limits = sortedRecord(r.limits);
  return out;
}

/**
 * JVM heap (MiB) for a container: half its memory limit (else request), so heap + metaspace +
 * direct buffers stay under the limit. undefined = leave the image's default.
 */
export function jvmHeapMiB(r: ResourceRequirements): number | undefined {
  const bytes = parseQuantity(r.limits?.memory) ?? parseQuantity(r.requests?.memory);
  if (bytes === undefined) return undefined;
  return Math.max(64, Math.floor(bytes / 2 / 2 ** 20));
}

/**
 * NODE_OPTIONS for a Node.js container: V8's old space capped like a JVM heap (half the memory
 * limit, else request). Without a cap V8 grows its heap lazily toward what the host has, so a busy
 * producer reached ~290 MB RSS holding ~40 MB live and would be OOM-killed at the default 256Mi
 * limit instead of collecting. undefined = no memory set, leave V8's default.
 */
export function nodeHeapOptions(r: ResourceRequirements): string | undefined {
  const mib = jvmHeapMiB(r);
  return mib === undefined ? undefined : `--max-old-space-size=${mib}`;
}

/**
 * Worker processes for a container: its CPU limit (else request), rounded up, 1..8. Never "auto":
 * in a container that means one worker per host core, each with its own Lua VM and L1 cache.
 */
export function workerCount(r: ResourceRequirements, fallback = 2): number {
  const cores = parseQuantity(r.limits?.cpu) ?? parseQuantity(r.requests?.cpu) ?? fallback;
  return Math.min(8, Math.max(1, Math.ceil(cores)));
}

export function emptyDirVolume(name: string): V1Volume {
  return { name, emptyDir: {} };
}

export function configMapVolume(tier: ResolvedCacheTier, component: Component): V1Volume {
  return { name: CONFIG_VOLUME, configMap: { name: configMapName(tier, component) } };
}

/** A Secret as read-only files (group-readable: the pod's fsGroup), optionally only some keys. */
export function secretVolume(name: string, secretName: string, items?: { key: string; path: string }[]): V1Volume {
  return { name, secret: { secretName, defaultMode: 0o440, ...(items ? { items } : {}) } };
}

export function secretEnv(name: string, ref: SecretKeyRef): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } };
}

export function fieldEnv(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

export function plainEnv(name: string, value: string): V1EnvVar {
  return { name, value };
}

/**
 * The data volume: a PVC template when persistent, else an emptyDir in the pod. Exactly one of
 * the two fields is returned.
 */
export function dataStorage(storage: StorageSpec): {
  volumes: V1Volume[];
  volumeClaimTemplates?: V1PersistentVolumeClaim[];
} {
  if (!storage.persistent) return { volumes: [emptyDirVolume(DATA_VOLUME)] };
  const spec: V1PersistentVolumeClaim['spec'] = {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: storage.size } },
  };
  if (storage.storageClassName) spec.storageClassName = storage.storageClassName;
  return {
    volumes: [],
    volumeClaimTemplates: [{ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: DATA_VOLUME }, spec }],
  };
}

export interface PodOptions {
  uid: number;
  containers: V1Container[];
  volumes: V1Volume[];
  terminationGracePeriodSeconds?: number;
  /** Extra pod-template annotations (a change rolls the pods). */
  annotations?: Record<string, string>;
}

/**
 * A pod template with the restricted security profile, anti-affinity by hostname and the
 * component's config hash (a config change rolls exactly this component).
 */
export function podTemplate(tier: ResolvedCacheTier, component: Component, hash: string, o: PodOptions): V1PodTemplateSpec {
  const spec: V1PodSpec = {
    // Workloads never talk to the API server, and service-link env vars (e.g. <TIER>_KAFKA_PORT)
    // would leak into images that read KAFKA_*/ZOO_* variables.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: podSecurityContext(o.uid),
    affinity: podAntiAffinity(tier, component, tier.spec.podAntiAffinity),
    ...(o.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: o.terminationGracePeriodSeconds } : {}),
    containers: o.containers.map((c) => ({ ...c, securityContext: containerSecurityContext() })),
    volumes: [...o.volumes].sort((a, b) => String(a.name).localeCompare(String(b.name))),
  };
  return {
    metadata: { labels: labels(tier, component), annotations: { [CONFIG_HASH_ANNOTATION]: hash, ...o.annotations } },
    spec,
  };
}

export interface StatefulSetOptions extends PodOptions {
  replicas: number;
  serviceName: string;
  volumeClaimTemplates?: V1PersistentVolumeClaim[];
  /** persistentVolumeClaimRetentionPolicy, rendered with the claims (Kubernetes >= 1.27 honours it). */
  claimRetention?: { whenScaled: 'Retain' | 'Delete'; whenDeleted: 'Retain' | 'Delete' };
}

export function statefulSet(tier: ResolvedCacheTier, component: Component, hash: string, o: StatefulSetOptions): Rendered<V1StatefulSet> {
  const spec: V1StatefulSetSpec = {
    serviceName: o.serviceName,
    replicas: o.replicas,
    // Nothing depends on pod 0 coming up first: ensembles and the Redis Cluster form in parallel.
    podManagementPolicy: 'Parallel',
    // The operator rolls these pods itself, one at a time and only when the component says it is
    // safe (operator/src/roll): the StatefulSet controller only makes new pods at the new revision.
    updateStrategy: { type: 'OnDelete' },
    selector: { matchLabels: selectorLabels(tier, component) },
    template: podTemplate(tier, component, hash, o),
  };
  if (o.volumeClaimTemplates && o.volumeClaimTemplates.length > 0) {
    spec.volumeClaimTemplates = o.volumeClaimTemplates;
    if (o.claimRetention) spec.persistentVolumeClaimRetentionPolicy = o.claimRetention;
  }
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: objectMeta(tier, component), spec };
}

export interface DeploymentOptions extends PodOptions {
  replicas: number;
}

export function deployment(tier: ResolvedCacheTier, component: Component, hash: string, o: DeploymentOptions): Rendered<V1Deployment> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: objectMeta(tier, component),
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: selectorLabels(tier, component) },
      template: podTemplate(tier, component, hash, o),
    },
  };
}

/** POSIX sh that sets $ordinal from the pod's hostname (<statefulset>-<ordinal>) or fails. */
export const ORDINAL_FROM_HOSTNAME = [
  'host="${HOSTNAME:-$(hostname)}"',
  'ordinal="${host##*-}"',
  'case "$ordinal" in',
  `  ''|*[!0-9]*) echo "cannot derive the StatefulSet ordinal from hostname '$host'" >&2; exit 1 ;;`,
  'esac',
].join('\n');
