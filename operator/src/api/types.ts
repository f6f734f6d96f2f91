// The CacheTier API as TypeScript. crds/cachetier.yaml is the schema the API server enforces;
// this file is what the operator's code reads. A unit test keeps the two (and their defaults)
// in step.

export const GROUP = 'cachetier.io';
export const VERSION = 'v1alpha1';
export const KIND = 'CacheTier';
export const PLURAL = 'cachetiers';
export const API_VERSION = `${GROUP}/${VERSION}`;

export type AntiAffinity = 'soft' | 'hard';

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export interface StorageSpec {
  /** PVC size, a Kubernetes quantity ("1Gi"). */
  size: string;
  /** Storage class; omitted = the cluster default. */
  storageClassName?: string;
  /** false = emptyDir (data lost with the pod; for demos and tests only). */
  persistent: boolean;
  /** The claims' fate when the CacheTier is deleted (persistentVolumeClaimRetentionPolicy.whenDeleted). */
  whenDeleted: 'Retain' | 'Delete';
}

export interface ZooKeeperSpec {
  replicas: number;
  image: string;
  storage: StorageSpec;
  resources: ResourceRequirements;
  /** Extra zoo.cfg keys. */
  config: Record<string, string>;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** Topic-level config, e.g. retention.ms. */
  config: Record<string, string>;
}

export interface KafkaTopics {
  cacheMessage: TopicSpec;
  accessLog: TopicSpec;
  deadLetter: TopicSpec;
}

export interface KafkaSpec {
  replicas: number;
  image: string;
  /** Kafka version the image runs; must be 3.x (ZooKeeper mode was removed in 4.0). */
  version: string;
  storage: StorageSpec;
  resources: ResourceRequirements;
  minInsyncReplicas: number;
  /** Extra server.properties keys; win over the rendered ones except identity keys. */
  config: Record<string, string>;
  topics: KafkaTopics;
}

export interface SecretKeyRef {
  name: string;
  key: string;
}

export interface RedisSpec {
  masters: number;
  replicasPerMaster: number;
  image: string;
  storage: StorageSpec;
  resources: ResourceRequirements;
  /** Redis maxmemory, e.g. "256mb". */
  maxmemory: string;
  maxmemoryPolicy: string;
  /** The admin (operator ACL user) password from this Secret key; omitted = generated. Auth is always on. */
  auth?: { passwordSecretRef: SecretKeyRef };
  /** Extra redis.conf keys. */
  config: Record<string, string>;
}

export interface ProducerSpec {
  replicas: number;
  image: string;
  resources: ResourceRequirements;
  /** Base URLs of the source services, by the serviceId used in change messages. */
  sources: { productInfoService: string; shopInfoService: string };
  lock: { enabled: boolean; timeoutMs: number; sessionTimeoutMs: number };
  localCache: { maxEntries: number; ttlSeconds: number };
  hotProducts: { windowSeconds: number; topN: number; hotTtlSeconds: number };
  dataPath: ProducerDataPath;
}

/** Bounds on what the producer writes and how hard it tries (see the README's data-path bounds). */
export interface ProducerDataPath {
  /** A version more than this far ahead of the producer's clock (epoch ms) is dead-lettered. */
  maxFutureSkewSeconds: number;
  /** Every record's TTL in Redis, with +-10% jitter. */
  recordTtlSeconds: number;
  /** TTL of a tombstone written by a read-through (an id the source does not know). */
  readThroughTombstoneTtlSeconds: number;
  /** Source calls per second per producer replica; reads beyond it get a 429. */
  sourceRequestsPerSecond: number;
  /** Attempts per change message while its source fails, before it is dead-lettered. */
  sourceAttempts: number;
}

/**
 * Flood protection on one layer's /product endpoints, per client address (nginx limit_req and
 * limit_conn keyed by $binary_remote_addr); a request over either limit is answered 429. At the
 * app layer the client address is usually a distribution pod, so its defaults are far higher.
 */
export interface OpenRestyLimits {
  /** Sustained requests per second per client address; 0 = no rate limit. */
  requestsPerSecond: number;
  /** Requests over the rate still answered at once (limit_req burst, nodelay) before 429s start. */
  burst: number;
  /** Requests in progress at once per client address; 0 = no limit. */
  connections: number;
}

export interface OpenRestySpec {
  image: string;
  resources: ResourceRequirements;
  distribution: { replicas: number; limits: OpenRestyLimits };
  app: { replicas: number; limits: OpenRestyLimits };
  l1: {
    /** Entries in each worker's lua-resty-lrucache. */
    lruSize: number;
    /** lua_shared_dict size, e.g. "64m". */
    sharedDictSize: string;
    ttlSeconds: number;
    /** Random +-percent added to each TTL so keys written together don't expire together. */
    jitterPercent: number;
    negativeTtlSeconds: number;
    /** How long past expiry an entry may be served when L2 and L3 both fail. */
    staleTtlSeconds: number;
  };
  upstreamTimeoutMs: number;
}

/** A Kubernetes label selector (matchLabels and/or matchExpressions). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

/**
 * A NetworkPolicyPeer as Kubernetes defines it: pods selected by podSelector in the namespaces
 * selected by namespaceSelector (podSelector alone = the tier's own namespace), or an ipBlock.
 */
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

/**
 * Ingress NetworkPolicies, one per component. Each component accepts only the tier's components
 * that call it, the operator, and the peers named here.
 */
export interface NetworkPolicySpec {
  /** false = no NetworkPolicy is rendered (and the operator deletes the ones it made). */
  enabled: boolean;
  /** Who may reach the distribution layer (the tier's entry point); empty = anyone. */
  clients: NetworkPolicyPeer[];
  /** The source services: may reach Kafka (they write cache-message). */
  sources: NetworkPolicyPeer[];
  /** Extra clients of Redis's client port (debug tools, backup jobs); none by default. */
  redisClients: NetworkPolicyPeer[];
  /**
   * May scrape /metrics: the metrics ports of the producer and both OpenResty layers, and the
   * exporter ports. The only peers those ports admit: empty = no one.
   */
  monitoring: NetworkPolicyPeer[];
}

/** PodMonitors (Prometheus Operator) for the tier's components, one per component that exports metrics. */
export interface PodMonitorSpec {
  /**
   * Absent = rendered whenever the cluster serves monitoring.coreos.com/v1 PodMonitor (checked
   * once at operator startup); false = none (and the operator deletes the ones it made); true =
   * the same as absent (nothing can be rendered without the CRD).
   */
  enabled?: boolean;
  /** Extra labels on every PodMonitor, so a Prometheus's podMonitorSelector picks them. */
  labels: Record<string, string>;
}

export interface MetricsSpec {
  /** Exporters on every component: ZooKeeper's provider, Kafka's JMX agent, a redis_exporter sidecar. */
  enabled: boolean;
  /** Image of the redis_exporter sidecar (runs /redis_exporter). */
  redisExporterImage: string;
  podMonitor: PodMonitorSpec;
}

export interface CacheTierSpec {
  paused: boolean;
  podAntiAffinity: AntiAffinity;
  networkPolicy: NetworkPolicySpec;
  metrics: MetricsSpec;
  zookeeper: ZooKeeperSpec;
  kafka: KafkaSpec;
  redis: RedisSpec;
  producer: ProducerSpec;
  openresty: OpenRestySpec;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface RedisMemberStatus {
  pod: string;
  nodeId?: string;
  address?: string;
  role: 'master' | 'replica' | 'unknown';
  masterOf?: string;
  replicaOf?: string;
  slots?: string;
  kubernetesNode?: string;
}

export interface TopicStatus {
  name: string;
  partitions: number;
  replicationFactor: number;
  ready: boolean;
  message?: string;
}

/** A reshard in progress, as the operator last wrote it. */
export interface RedisMigrationStatus {
  /** "1365/4096 slots moved" (the printer column). */
  progress: string;
  slotsTotal: number;
  slotsMoved: number;
  slotsFailed: number;
  keysMoved: number;
  /** "shop-redis-0 -> shop-redis-6: 341 slots", one per source/target pair. */
  moves: string[];
  startedAt: string;
  updatedAt: string;
}

/** A roll of a stateful component in progress (one at a time), as the operator last wrote it. */
export interface RollStatus {
  component: 'zookeeper' | 'kafka' | 'redis';
  /** "kafka 1/3 pods updated" (the printer column). */
  progress: string;
  updated: number;
  total: number;
  /** Rolling: a pod was restarted or handed over this pass; Waiting: not safe yet. */
  phase: 'Rolling' | 'Waiting' | 'Done';
  /** The pod acted on or waited for. */
  pod?: string;
  /** Why this pod, or what the roll waits for. */
  reason?: string;
}

export interface CacheTierStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  redis?: {
    /** Masters that own slots; the scale subresource's status replicas. */
    readyMasters: number;
    members?: RedisMemberStatus[];
    /** Set while slots move (scale in/out); removed when the moves are done. */
    migration?: RedisMigrationStatus | null;
  };
  topics?: TopicStatus[];
  endpoints?: Record<string, string>;
  /** Set while a ZooKeeper, Kafka or Redis roll is in progress; removed when it is done. */
  roll?: RollStatus | null;
}

export interface ObjectMetaLite {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
}

/** A CacheTier as read from the API server; spec may be partial (the API server defaults it). */
export interface CacheTier {
  apiVersion: string;
  kind: string;
  metadata: ObjectMetaLite;
  spec: DeepPartial<CacheTierSpec>;
  status?: CacheTierStatus;
}

/** A CacheTier whose spec has every default filled in: what renderers take. */
export interface ResolvedCacheTier extends Omit<CacheTier, 'spec'> {
  spec: CacheTierSpec;
}

// Recurses into interfaces too (they don't extend Record<string, unknown>); arrays stay whole.
export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K];
};
