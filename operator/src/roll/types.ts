// Operator-driven rolls of the stateful components (ZooKeeper, Kafka, Redis). Their StatefulSets
// use the OnDelete strategy: the StatefulSet controller makes new pods at the update revision, and
// the operator deletes one stale pod at a time, only when the component says that is safe. All
// roll state lives in the cluster (which pods run the update revision; what the servers report),
// so an operator restarted mid-roll carries on from where the old one stopped.
//
// Shape: observe (a component's servers, behind RollObserver) -> decide (pure planners, one per
// component, in plan-*.ts) -> act (RollTarget: delete the pod; in tests, stop a process and start
// it on its old data with the new config).

export type RollComponent = 'zookeeper' | 'kafka' | 'redis';

/** One pod of a StatefulSet as the roll sees it. */
export interface RollPod {
  /** Pod name, e.g. "shop-kafka-2". */
  pod: string;
  ordinal: number;
  /** Pod IP (127.0.x.y in tests); absent while the pod has none. */
  host?: string;
  /** The pod runs the StatefulSet's update revision (its controller-revision-hash label). */
  current: boolean;
  /** Kubernetes Ready (the readiness probe passes). */
  ready: boolean;
  /** deletionTimestamp set: on its way out. */
  terminating: boolean;
}

/** What a planner decides for one pass: one action at most. */
export type RollDecision =
  /** Every pod runs the update revision and the component is healthy. */
  | { action: 'done' }
  /** Not safe to touch a pod now; `pod` names the next candidate when there is one. */
  | { action: 'wait'; pod?: string; reason: string }
  /** Delete (restart) this pod now. */
  | { action: 'restart'; pod: string; reason: string }
  /** Redis only: hand `master`'s slots to its replica `to` (CLUSTER FAILOVER on `to`) first. */
  | { action: 'failover'; pod: string; to: string; reason: string };

/** One ZooKeeper server as `srvr`/`mntr` report it. */
export interface ZooKeeperServerState {
  pod: string;
  /** null: not serving (no answer, or "This ZooKeeper instance is not currently serving requests"). */
  mode: 'leader' | 'follower' | 'observer' | 'standalone' | null;
  /** Leader only: zk_synced_followers. */
  syncedFollowers?: number;
}

/** The Kafka cluster as its metadata reports it (broker id = pod ordinal). */
export interface KafkaClusterState {
  /** The active controller's broker id (null: none elected). */
  controller: number | null;
  /** Registered broker ids. */
  brokers: number[];
  /** Every partition of every topic, internal ones included. */
  partitions: KafkaPartitionState[];
}

export interface KafkaPartitionState {
  topic: string;
  partition: number;
  replicas: number[];
  isr: number[];
  /** The topic's effective min.insync.replicas. */
  minIsr: number;
}

/** One Redis Cluster member for a roll. */
export interface RedisRollMember {
  pod: string;
  role: 'master' | 'replica';
  /** Replica: the pod of its master. */
  masterPod?: string;
  /** Replica: master_link_status:up. */
  linkUp?: boolean;
  /** Replica: how far behind its master's replication offset (bytes); 0 = in sync. */
  lagBytes?: number;
  /** Master: slots it owns. */
  slots?: number;
  /** The member's own view: cluster_state:ok. */
  clusterOk: boolean;
  /** Every cluster-bus link this member sees is connected, and it flags no node fail/pfail. */
  linksUp: boolean;
  /** Loading its dataset (RDB/AOF). */
  loading: boolean;
}

export interface RedisRollState {
  members: RedisRollMember[];
  /** All 16384 slots are served by a reachable master. */
  slotsCovered: boolean;
}

/** Asks the servers what the planners need. Real in the operator and in the integration tier. */
export interface RollObserver {
  zookeeper(pods: RollPod[]): Promise<ZooKeeperServerState[]>;
  kafka(pods: RollPod[]): Promise<KafkaClusterState>;
  redis(pods: RollPod[]): Promise<RedisRollState>;
  /** CLUSTER FAILOVER on `replicaPod` (a replica of `masterPod`); resolves once it is master. */
  redisFailover(pods: RollPod[], masterPod: string, replicaPod: string): Promise<void>;
}

/** Acts on a pod: the operator deletes it; the integration tier restarts a process. */
export interface RollTarget {
  restart(component: RollComponent, pod: string): Promise<void>;
}

/** Where a component's roll is, for status.rolls and Events. */
export interface RollProgress {
  component: RollComponent;
  /** Pods on the update revision / all pods. */
  updated: number;
  total: number;
  /** Rolling: a pod was restarted or handed over this pass; Waiting: not safe yet; Done. */
  phase: 'Rolling' | 'Waiting' | 'Done';
  /** The pod acted on or waited for. */
  pod?: string;
  reason?: string;
}

/**
 * One pass of one component's roll (driver.ts): observe, decide, act at most once. `expectedPods`
 * is the StatefulSet's replicas: a pod missing from `pods` (deleted, not yet re-created) means wait.
 */
export type RollStep = (
  component: RollComponent,
  pods: RollPod[],
  expectedPods: number,
  observer: RollObserver,
  target: RollTarget,
) => Promise<RollProgress>;

/** Per-tier observers (the Redis admin user's password differs per tier). */
export interface RollObserverFactory {
  forTier(auth: { redisUsername?: string; redisPassword?: string }): RollObserver;
}
