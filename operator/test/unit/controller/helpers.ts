// Shared pieces of the controller unit tests: a small renderer standing in for renderAll (so
// these tests don't depend on the real renderers' details), fake orchestration seams, a tier.
import type { CacheTier, ResolvedCacheTier } from '../../../src/api/types.js';
import { API_VERSION, KIND } from '../../../src/api/types.js';
import type { KubeObject, RenderOptions } from '../../../src/render/index.js';
import { configHash, labels, objectMeta, selectorLabels } from '../../../src/render/common.js';
import { childName, headlessName, type Component } from '../../../src/render/names.js';
import type {
  MigrationProgress,
  ProducerPodHealth,
  ProducerProbe,
  RedisDesiredShape,
  RedisMember,
  RedisOrchestrator,
  RedisReconcileResult,
  TopicManager,
  TopicReconcileResult,
} from '../../../src/orchestration/types.js';
import type { TopicSpec } from '../../../src/api/types.js';
import type { PodInfo } from '../../../src/runtime/kube.js';
import { FAKE_REVISION } from '../runtime/fake-kube.js';
import type { RollComponent, RollObserverFactory, RollPod, RollProgress, RollStep, RollTarget } from '../../../src/roll/types.js';

export const NS = 'shop-ns';
export const NAME = 'shop';

export function makeTier(spec: Record<string, unknown> = {}): CacheTier {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: NAME, namespace: NS, uid: 'tier-uid-1', generation: 1 },
    spec: spec as CacheTier['spec'],
  };
}

function workload(tier: ResolvedCacheTier, kind: 'StatefulSet' | 'Deployment', c: Component, replicas: number, config: Record<string, string>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: objectMeta(tier, c),
    spec: {
      replicas,
      ...(kind === 'StatefulSet' ? { serviceName: headlessName(tier, c) } : {}),
      selector: { matchLabels: selectorLabels(tier, c) },
      template: {
        metadata: { labels: labels(tier, c), annotations: { 'cachetier.io/config-hash': configHash(config) } },
        spec: {
          containers: [
            {
              name: c,
              image: 'img:1',
              resources: { requests: { cpu: '0.5', memory: '256Mi' } },
              env: [{ name: 'EMPTY', value: '' }],
            },
          ],
        },
      },
    },
  };
}

/** A stand-in for renderAll: a ConfigMap, a Service, three StatefulSets, three Deployments. */
export function testRender(tier: ResolvedCacheTier, opts: RenderOptions): KubeObject[] {
  const s = tier.spec;
  const redisConf = { 'redis.conf': `maxmemory ${s.redis.maxmemory}\n${Object.entries(s.redis.config).map(([k, v]) => `${k} ${v}`).join('\n')}` };
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: objectMeta(tier, 'redis'), data: redisConf },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: objectMeta(tier, 'redis', headlessName(tier, 'redis')),
      spec: { clusterIP: 'None', selector: selectorLabels(tier, 'redis'), ports: [{ name: 'redis', port: 6379 }] },
    },
    workload(tier, 'StatefulSet', 'zookeeper', s.zookeeper.replicas, s.zookeeper.config),
    workload(tier, 'StatefulSet', 'kafka', s.kafka.replicas, s.kafka.config),
    workload(tier, 'StatefulSet', 'redis', opts.redisStatefulSetReplicas ?? s.redis.masters * (1 + s.redis.replicasPerMaster), redisConf),
    workload(tier, 'Deployment', 'producer', s.producer.replicas, {}),
    workload(tier, 'Deployment', 'openresty-distribution', s.openresty.distribution.replicas, {}),
    workload(tier, 'Deployment', 'openresty-app', s.openresty.app.replicas, {}),
  ];
}

export const WORKLOADS: [string, Component][] = [
  ['StatefulSet', 'zookeeper'],
  ['StatefulSet', 'kafka'],
  ['StatefulSet', 'redis'],
  ['Deployment', 'producer'],
  ['Deployment', 'openresty-distribution'],
  ['Deployment', 'openresty-app'],
];

export function name(c: Component): string {
  return `${NAME}-${c}`;
}

export function redisPods(count: number, running = true): PodInfo[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${NAME}-redis-${i}`,
    namespace: NS,
    labels: { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/instance': NAME, 'controller-revision-hash': FAKE_REVISION },
    phase: running ? 'Running' : 'Pending',
    podIP: running ? `10.0.0.${10 + i}` : undefined,
    nodeName: running ? `node-${i % 3}` : undefined,
    ready: running,
    deleting: false,
  }));
}

export function producerPods(count: number): PodInfo[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${NAME}-producer-abc-${i}`,
    namespace: NS,
    labels: { 'app.kubernetes.io/name': 'producer', 'app.kubernetes.io/instance': NAME },
    phase: 'Running',
    podIP: `10.0.1.${10 + i}`,
    nodeName: `node-${i % 3}`,
    ready: true,
    deleting: false,
  }));
}

/** Every producer pod asked says both consumers are up, unless `answer` says otherwise. */
export class FakeProducers implements ProducerProbe {
  calls: { pod: string; host: string; port: number }[][] = [];
  answer?: (pod: string) => Omit<ProducerPodHealth, 'pod'>;
  async health(pods: { pod: string; host: string; port: number }[]): Promise<ProducerPodHealth[]> {
    this.calls.push(pods);
    return pods.map((p) => ({ pod: p.pod, ...(this.answer?.(p.pod) ?? { changes: true, accessLog: true }) }));
  }
}

export class FakeRedis implements RedisOrchestrator {
  calls: { desired: RedisDesiredShape; members: RedisMember[]; current: number }[] = [];
  /** Override to shape the result; default: converged, all conditions True, full shape. */
  result?: (desired: RedisDesiredShape, members: RedisMember[], current: number) => Partial<RedisReconcileResult>;

  /** Reported through onProgress during the next reconcile (then cleared), with `beforeEach` run first. */
  progress: MigrationProgress[] = [];
  beforeEach?: () => void;

  async reconcile(desired: RedisDesiredShape, members: RedisMember[], current: number, onProgress?: (p: MigrationProgress) => void): Promise<RedisReconcileResult> {
    this.calls.push({ desired, members, current });
    for (const p of this.progress.splice(0)) {
      this.beforeEach?.();
      onProgress?.(p);
      await new Promise((r) => setImmediate(r));
    }
    const base: RedisReconcileResult = {
      members: members.map((m, i) => ({ pod: m.pod, role: i < desired.masters ? 'master' : 'replica', kubernetesNode: m.node })),
      readyMasters: desired.masters,
      conditions: ['SlotsCovered', 'SlotsBalanced', 'MembershipHealthy', 'ReplicaPlacement', 'KeyspaceIntact'].map((type) => ({
        type,
        status: 'True' as const,
        reason: 'OK',
        message: 'ok',
      })),
      events: [],
      statefulSetReplicas: desired.masters * (1 + desired.replicasPerMaster),
      converged: true,
    };
    return { ...base, ...(this.result?.(desired, members, current) ?? {}) };
  }
}

export class FakeTopics implements TopicManager {
  calls: { brokers: string[]; topics: TopicSpec[] }[] = [];
  async reconcile(brokers: string[], topics: TopicSpec[]): Promise<TopicReconcileResult> {
    this.calls.push({ brokers, topics });
    return {
      topics: topics.map((t) => ({ name: t.name, partitions: t.partitions, replicationFactor: t.replicationFactor, ready: true })),
      condition: { type: 'TopicsReady', status: 'True', reason: 'TopicsReady', message: `${topics.length} topics ready` },
      events: [],
    };
  }
}

/** Rolls: every pass asks `answer` (default: Done); records the pods each call saw. */
export class FakeRolls {
  calls: { component: RollComponent; pods: RollPod[]; expected: number }[] = [];
  answer?: (component: RollComponent, pods: RollPod[], target: RollTarget) => Promise<RollProgress> | RollProgress;
  observers: RollObserverFactory = {
    forTier: () => ({
      zookeeper: async () => [],
      kafka: async () => ({ controller: null, brokers: [], partitions: [] }),
      redis: async () => ({ members: [], slotsCovered: true }),
      redisFailover: async () => undefined,
    }),
  };
  step: RollStep = async (component, pods, expected, _observer, target) => {
    this.calls.push({ component, pods, expected });
    if (this.answer) return this.answer(component, pods, target);
    return { component, updated: pods.filter((p) => p.current).length, total: expected, phase: 'Done' };
  };
}

export { childName };
