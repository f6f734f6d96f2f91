// The seam between the reconciler (Kubernetes) and orchestration that needs the network:
// forming and reshaping the Redis Cluster, and creating Kafka topics. Implementations are
// driven by tests against real servers without Kubernetes.
import type { RedisMemberStatus, TopicSpec, TopicStatus } from '../api/types.js';

export interface ConditionUpdate {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface OrchestrationEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** One Redis pod as the reconciler sees it. */
export interface RedisMember {
  /** Pod name, e.g. "shop-redis-4". */
  pod: string;
  ordinal: number;
  /** Pod IP (or 127.0.x.y in tests). */
  host: string;
  port: number;
  /** Kubernetes node the pod runs on (a simulated name in tests). */
  node: string;
}

export interface RedisDesiredShape {
  masters: number;
  replicasPerMaster: number;
  /**
   * A roll of the Redis pods is in progress (some run an older revision): the roll hands masters
   * over to their replicas one by one, so master placement is left as it is until it is done
   * (spreading masters now would hand them straight back, and the roll would start over).
   */
  holdMasterPlacement?: boolean;
  /** The admin ACL user the orchestrator authenticates as (absent: the `default` user). */
  username?: string;
  password?: string;
}

export interface RedisReconcileResult {
  /** Every member with its role, master, slots and node. */
  members: RedisMemberStatus[];
  /** Masters that own slots. */
  readyMasters: number;
  /**
   * SlotsCovered, SlotsBalanced, MembershipHealthy, ReplicaPlacement, KeyspaceIntact (NotReported
   * when missing),
   * plus any other type: each goes into status as reported, and stands in as Unknown with the
   * reason while the orchestrator cannot run. Ready is True only when every condition is, so a
   * new type must mean "good" when True.
   */
  conditions: ConditionUpdate[];
  events: OrchestrationEvent[];
  /**
   * Replicas the Redis StatefulSet may have now: the full shape when growing; the current count
   * until a drain is complete and verified when shrinking.
   */
  statefulSetReplicas: number;
  /** false: work remains (pods not up yet, migration in progress); reconcile again soon. */
  converged: boolean;
}

/** How far a reshard is: reported while slots move (the moves of one pass can take minutes). */
export interface MigrationProgress {
  slotsTotal: number;
  slotsMoved: number;
  slotsFailed: number;
  keysMoved: number;
  /** Source and target pods with the slots each pair moves. */
  moves: { from: string; to: string; slots: number }[];
}

export interface RedisOrchestrator {
  reconcile(
    desired: RedisDesiredShape,
    members: RedisMember[],
    currentStatefulSetReplicas: number,
    onProgress?: (p: MigrationProgress) => void,
  ): Promise<RedisReconcileResult>;
}

export interface TopicReconcileResult {
  topics: TopicStatus[];
  /** One condition: Topics True/False with what is wrong (e.g. a refused shrink). */
  condition: ConditionUpdate;
  events: OrchestrationEvent[];
}

export interface TopicManager {
  reconcile(brokers: string[], topics: TopicSpec[]): Promise<TopicReconcileResult>;
}

/** What one producer pod says about its Kafka consumers (its /readyz detail). */
export interface ProducerPodHealth {
  pod: string;
  /** The cache-message consumer is in its group and heartbeating. */
  changes?: boolean;
  /** The access-log consumer (hot products) likewise. */
  accessLog?: boolean;
  /** Set when the pod could not be asked (no answer, not JSON). */
  error?: string;
}

/** Asks producer pods how their Kafka consumers are doing. */
export interface ProducerProbe {
  health(pods: { pod: string; host: string; port: number }[]): Promise<ProducerPodHealth[]>;
}
