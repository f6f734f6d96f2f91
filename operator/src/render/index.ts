// renderAll: the whole desired state of one CacheTier, as plain Kubernetes objects.
// Pure: same tier in, same objects out (same order, same keys),
// so the reconciler can compare desired with live and write nothing when idle.
import type { ResolvedCacheTier } from '../api/types.js';
import { DEFAULT_CLUSTER_DOMAIN, DEFAULT_DNS_RESOLVER, type RenderContext } from './builders.js';
import { renderKafka } from './kafka.js';
import { renderOpenResty } from './openresty.js';
import { renderProducer } from './producer.js';
import { renderRedis } from './redis.js';
import { renderZooKeeper } from './zookeeper.js';
import type { KubeObject } from './object.js';
import { DEFAULT_OPERATOR_IDENTITY, renderNetworkPolicies, type OperatorIdentity } from './networkpolicy.js';
import type { RedisCredentials } from './config/redis-acl.js';
import { renderPodMonitors } from './podmonitor.js';

export type { KubeObject } from './object.js';

export interface RenderOptions {
  /**
   * Replicas for the Redis StatefulSet. The orchestration decides this (it grows before new
   * masters join and shrinks only after a drain is verified); defaults to the spec's shape.
   */
  redisStatefulSetReplicas?: number;
  /**
   * Each Redis role's password (the observe step reads or generates them). Rendering stays pure:
   * the ACL Secret is a function of these; without them it is not rendered.
   */
  redisCredentials?: RedisCredentials;
  /** The cluster's DNS domain (kubelet --cluster-domain); default "cluster.local". */
  clusterDomain?: string;
  /** DNS server the OpenResty layers' nginx `resolver` uses; default kube-dns's Service name. */
  dnsResolver?: string;
  /**
   * Where the operator runs (its namespace and pod labels), admitted by every component's
   * NetworkPolicy; default: the chart's (cachetier-system, app.kubernetes.io/name=cachetier-operator).
   */
  operator?: OperatorIdentity;
  /**
   * The cluster serves monitoring.coreos.com/v1 PodMonitor (the operator asks API discovery once
   * at startup); only then are PodMonitors rendered. Default false.
   */
  podMonitorApi?: boolean;
}

export function renderContext(opts: RenderOptions = {}): RenderContext {
  const ctx: RenderContext = {
    clusterDomain: opts.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN,
    dnsResolver: opts.dnsResolver ?? DEFAULT_DNS_RESOLVER,
    operator: opts.operator ?? DEFAULT_OPERATOR_IDENTITY,
  };
  if (opts.redisStatefulSetReplicas !== undefined) ctx.redisStatefulSetReplicas = opts.redisStatefulSetReplicas;
  if (opts.redisCredentials !== undefined) ctx.redisCredentials = opts.redisCredentials;
  if (opts.podMonitorApi !== undefined) ctx.podMonitorApi = opts.podMonitorApi;
  return ctx;
}

/**
 * Every child object, in a fixed order: first the NetworkPolicies (one per component, unless
 * spec.networkPolicy.enabled is false), so pods are closed from their first moment; then per
 * component (ZooKeeper, Kafka, Redis, producer, OpenResty distribution, OpenResty app) its
 * ConfigMap, Service(s), workload, PDB; last the PodMonitors (only with the Prometheus Operator's
 * API, see podmonitor.ts).
 */
export function renderAll(tier: ResolvedCacheTier, opts: RenderOptions = {}): KubeObject[] {
  const ctx = renderContext(opts);
  return [
    ...renderNetworkPolicies(tier, ctx),
    ...renderZooKeeper(tier, ctx),
    ...renderKafka(tier, ctx),
    ...renderRedis(tier, ctx),
    ...renderProducer(tier, ctx),
    ...renderOpenResty(tier, ctx),
    ...renderPodMonitors(tier, ctx),
  ];
}

export { renderZooKeeper } from './zookeeper.js';
export { renderKafka } from './kafka.js';
export { renderRedis } from './redis.js';
export { renderProducer } from './producer.js';
export { renderOpenResty } from './openresty.js';
export { renderNetworkPolicies, DEFAULT_OPERATOR_IDENTITY, type OperatorIdentity } from './networkpolicy.js';
export { renderPodMonitors } from './podmonitor.js';
export { DEFAULT_CLUSTER_DOMAIN, DEFAULT_DNS_RESOLVER } from './builders.js';
