// Ingress NetworkPolicies, one per component (Strimzi-style: rendered by default, one switch to
// turn them off). Each component's pods accept only the connections the tier really makes to them
// (every flow below is one a renderer or a workload's code opens), the operator's pods, and the
// peers the CacheTier names in spec.networkPolicy. Egress is not restricted.
//
// Who calls whom (see the nginx/Lua config, the producer and the operator's orchestration):
//   ZooKeeper 2181        <- Kafka brokers, the producer (locks), the operator
//   ZooKeeper 2181/2888/3888 <- its peers (quorum and leader election)
//   Kafka 9092            <- its peers (inter-broker), the producer, the app layer (access log),
//                            the operator (topics), spec.networkPolicy.sources (cache-message)
//   Redis 6379/16379      <- its peers (replication and the cluster bus)
//   Redis 6379            <- the app layer (L2, invalidations), the distribution layer (hot set),
//                            the producer, the operator (forms and heals the cluster, by pod IP),
//                            spec.networkPolicy.redisClients
//   producer 8080         <- the app layer (L3), the operator (/readyz: ChangesFlowing)
//   app layer 8080        <- the distribution layer
//   distribution 8080     <- spec.networkPolicy.clients (empty = anyone)
//   /metrics ports (producer 9464, both OpenResty layers 9145) <- spec.networkPolicy.monitoring only
//   exporters (spec.metrics: ZooKeeper 7000, Kafka 9404, redis_exporter 9121) <- monitoring only
// Probes: kubelet probes come from the node, which the CNI lets through (kube-router and the
// common CNIs allow a node to reach its own pods); exec probes never touch the network.
import type { LabelSelector, NetworkPolicyPeer, ResolvedCacheTier } from '../api/types.js';
import { objectMeta, selectorLabels } from './common.js';
import type { Component } from './names.js';
import type { RenderContext } from './builders.js';
import type { KubeObject } from './object.js';
import { HTTP_METRICS_PORTS, KAFKA_PORT, METRICS_PORTS, OPENRESTY_PORT, PRODUCER_HTTP_PORT, REDIS_PORT, ZK_PORTS } from '../../../packages/contract/src/index.js';

export const REDIS_CLUSTER_BUS_PORT = REDIS_PORT + 10000;

// The wire shape (client-node's model names `from` as `_from`, so it is not used here).
export interface PolicyPort {
  protocol: 'TCP';
  port: number;
}
export interface IngressRule {
  /** Absent = from anywhere. */
  from?: NetworkPolicyPeer[];
  ports: PolicyPort[];
}
export interface RenderedNetworkPolicy extends KubeObject {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: KubeObject['metadata'] & { namespace: string };
  spec: { podSelector: LabelSelector; policyTypes: ['Ingress']; ingress: IngressRule[] };
}

/** Where the operator runs: the peer every component admits for orchestration. */
export interface OperatorIdentity {
  namespace: string;
  podLabels: Record<string, string>;
}

/** The chart's defaults (release "cachetier" in cachetier-system). */
export const DEFAULT_OPERATOR_IDENTITY: OperatorIdentity = {
  namespace: 'cachetier-system',
  podLabels: { 'app.kubernetes.io/name': 'cachetier-operator' },
};

/** The label the API server puts on every namespace (Kubernetes >= 1.21). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

function tcp(...ports: number[]): PolicyPort[] {
  return ports.map((port) => ({ protocol: 'TCP', port }));
}

/** A component of this tier, in the tier's namespace. */
function component(tier: ResolvedCacheTier, c: Component): NetworkPolicyPeer {
  return { podSelector: { matchLabels: selectorLabels(tier, c) } };
}

export function operatorPeer(op: OperatorIdentity): NetworkPolicyPeer {
  return {
    namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: op.namespace } },
    podSelector: { matchLabels: { ...op.podLabels } },
  };
}

/** A deep copy of a CR peer, so rendered objects never alias the spec. */
function userPeers(peers: readonly NetworkPolicyPeer[]): NetworkPolicyPeer[] {
  return peers.map((p) => JSON.parse(JSON.stringify(p)) as NetworkPolicyPeer);
}

function policy(tier: ResolvedCacheTier, c: Component, ingress: IngressRule[]): RenderedNetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: objectMeta(tier, c),
    spec: {
      podSelector: { matchLabels: selectorLabels(tier, c) },
      policyTypes: ['Ingress'],
      ingress: ingress.filter((r) => r.from === undefined || r.from.length > 0),
    },
  };
}

/** The monitoring rule for a port that serves /metrics (nothing when monitoring is unset). */
function monitoringRule(tier: ResolvedCacheTier, port: number): IngressRule[] {
  const m = tier.spec.networkPolicy.monitoring;
  return m.length > 0 ? [{ from: userPeers(m), ports: tcp(port) }] : [];
}

/** The monitoring rule for a component's exporter port (spec.metrics on; nothing when monitoring is unset). */
function exporterRule(tier: ResolvedCacheTier, port: number): IngressRule[] {
  return tier.spec.metrics.enabled ? monitoringRule(tier, port) : [];
}

export function zookeeperNetworkPolicy(tier: ResolvedCacheTier, op: OperatorIdentity): RenderedNetworkPolicy {
  return policy(tier, 'zookeeper', [
    { from: [component(tier, 'zookeeper')], ports: tcp(ZK_PORTS.client, ZK_PORTS.peer, ZK_PORTS.election) },
    { from: [component(tier, 'kafka'), component(tier, 'producer'), operatorPeer(op)], ports: tcp(ZK_PORTS.client) },
    ...exporterRule(tier, METRICS_PORTS.zookeeper),
  ]);
}

export function kafkaNetworkPolicy(tier: ResolvedCacheTier, op: OperatorIdentity): RenderedNetworkPolicy {
  return policy(tier, 'kafka', [
    {
      from: [
        component(tier, 'kafka'),
        component(tier, 'producer'),
        component(tier, 'openresty-app'),
        operatorPeer(op),
        ...userPeers(tier.spec.networkPolicy.sources),
      ],
      ports: tcp(KAFKA_PORT),
    },
    ...exporterRule(tier, METRICS_PORTS.kafka),
  ]);
}

export function redisNetworkPolicy(tier: ResolvedCacheTier, op: OperatorIdentity): RenderedNetworkPolicy {
  return policy(tier, 'redis', [
    { from: [component(tier, 'redis')], ports: tcp(REDIS_PORT, REDIS_CLUSTER_BUS_PORT) },
    {
      from: [
        component(tier, 'openresty-app'),
        component(tier, 'openresty-distribution'),
        component(tier, 'producer'),
        operatorPeer(op),
        ...userPeers(tier.spec.networkPolicy.redisClients),
      ],
      ports: tcp(REDIS_PORT),
    },
    ...exporterRule(tier, METRICS_PORTS.redisExporter),
  ]);
}

export function producerNetworkPolicy(tier: ResolvedCacheTier, op: OperatorIdentity): RenderedNetworkPolicy {
  return policy(tier, 'producer', [
    // The operator asks each producer pod how its Kafka consumers are (ChangesFlowing).
    { from: [component(tier, 'openresty-app'), operatorPeer(op)], ports: tcp(PRODUCER_HTTP_PORT) },
    ...monitoringRule(tier, HTTP_METRICS_PORTS.producer),
  ]);
}

export function appNetworkPolicy(tier: ResolvedCacheTier): RenderedNetworkPolicy {
  return policy(tier, 'openresty-app', [
    { from: [component(tier, 'openresty-distribution')], ports: tcp(OPENRESTY_PORT) },
    ...monitoringRule(tier, HTTP_METRICS_PORTS.openresty),
  ]);
}

export function distributionNetworkPolicy(tier: ResolvedCacheTier): RenderedNetworkPolicy {
  const clients = tier.spec.networkPolicy.clients;
  // No `from` at all = from anywhere (an empty `from` list would be dropped by policy()); the
  // metrics port stays monitoring-only either way.
  const entry: IngressRule = clients.length === 0 ? { ports: tcp(OPENRESTY_PORT) } : { from: userPeers(clients), ports: tcp(OPENRESTY_PORT) };
  return policy(tier, 'openresty-distribution', [entry, ...monitoringRule(tier, HTTP_METRICS_PORTS.openresty)]);
}

/** One NetworkPolicy per component, in component order; none when spec.networkPolicy.enabled is false. */
export function renderNetworkPolicies(tier: ResolvedCacheTier, ctx: Pick<RenderContext, 'operator'>): RenderedNetworkPolicy[] {
  if (!tier.spec.networkPolicy.enabled) return [];
  const op = ctx.operator;
  return [
    zookeeperNetworkPolicy(tier, op),
    kafkaNetworkPolicy(tier, op),
    redisNetworkPolicy(tier, op),
    producerNetworkPolicy(tier, op),
    distributionNetworkPolicy(tier),
    appNetworkPolicy(tier),
  ];
}
