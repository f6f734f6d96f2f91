// Every name and address derived from a CacheTier, in one place: child object names, DNS names,
// and the addresses one component is given to reach another. The renderers and the reconciler
// (status.endpoints) ask here instead of formatting names themselves, so a rename is one edit.
import type { ResolvedCacheTier } from '../api/types.js';
import { KAFKA_PORT, OPENRESTY_PORT, PRODUCER_HTTP_PORT, REDIS_PORT, ZK_PORTS } from '../../../packages/contract/src/index.js';

export type Component = 'zookeeper' | 'kafka' | 'redis' | 'producer' | 'openresty-distribution' | 'openresty-app';

export const COMPONENTS: readonly Component[] = [
  'zookeeper',
  'kafka',
  'redis',
  'producer',
  'openresty-distribution',
  'openresty-app',
];

/**
 * Client seeds are the first few Redis members only: any one reachable member hands out the whole
 * slot map, and a fixed list means scaling Redis does not roll the producer and OpenResty.
 */
export const REDIS_SEED_COUNT = 3;

// ---- object names -------------------------------------------------------------------------

/** Child object name: "<tier>-<component>", e.g. "shop-redis". */
export function childName(tier: ResolvedCacheTier, component: Component): string {
  return `${tier.metadata.name}-${component}`;
}

export function headlessName(tier: ResolvedCacheTier, component: Component): string {
  return `${childName(tier, component)}-headless`;
}

export function configMapName(tier: ResolvedCacheTier, component: Component): string {
  return `${tier.metadata.name}-${component}-config`;
}

/** The operator-owned Secret with one generated Redis password per role (created once, kept). */
export function redisPasswordsSecretName(tier: ResolvedCacheTier): string {
  return `${childName(tier, 'redis')}-passwords`;
}

/** The rendered Secret Redis members mount: the ACL file (hashes) and the replica's credentials. */
export function redisAclSecretName(tier: ResolvedCacheTier): string {
  return `${childName(tier, 'redis')}-acl`;
}

// ---- DNS names ----------------------------------------------------------------------------

/** Stable DNS name of StatefulSet pod `ordinal` behind its headless Service. */
export function podDnsName(tier: ResolvedCacheTier, component: Component, ordinal: number): string {
  return `${childName(tier, component)}-${ordinal}.${headlessName(tier, component)}.${tier.metadata.namespace}.svc`;
}

/** `<pod>.<headless>.<ns>.svc.<clusterDomain>`: resolvable without resolv.conf search paths. */
export function podFqdn(tier: ResolvedCacheTier, component: Component, ordinal: number, clusterDomain: string): string {
  return `${podDnsName(tier, component, ordinal)}.${clusterDomain}`;
}

export function serviceDnsName(tier: ResolvedCacheTier, component: Component): string {
  return `${childName(tier, component)}.${tier.metadata.namespace}.svc`;
}

export function headlessFqdn(tier: ResolvedCacheTier, component: Component, clusterDomain: string): string {
  return `${headlessName(tier, component)}.${tier.metadata.namespace}.svc.${clusterDomain}`;
}

// ---- addresses one component is given to reach another -------------------------------------

function ordinals(n: number): number[] {
  return Array.from({ length: Math.max(0, n) }, (_, i) => i);
}

/** masters * (1 + replicasPerMaster): the spec's Redis shape. */
export function redisSpecMembers(tier: ResolvedCacheTier): number {
  return tier.spec.redis.masters * (1 + tier.spec.redis.replicasPerMaster);
}

/** host:2181 of every ensemble member (no chroot). */
export function zookeeperClientAddresses(tier: ResolvedCacheTier): string[] {
  return ordinals(tier.spec.zookeeper.replicas).map((i) => `${podDnsName(tier, 'zookeeper', i)}:${ZK_PORTS.client}`);
}

/** Kafka pod DNS names (`.svc`, resolved through the pod's search path) with the port. */
export function kafkaBrokerAddresses(tier: ResolvedCacheTier, replicas = tier.spec.kafka.replicas): string[] {
  return ordinals(replicas).map((i) => `${podDnsName(tier, 'kafka', i)}:${KAFKA_PORT}`);
}

/** Fully qualified broker addresses, for clients without search paths (nginx's resolver). */
export function kafkaBrokerFqdns(tier: ResolvedCacheTier, clusterDomain: string): string[] {
  return ordinals(tier.spec.kafka.replicas).map((i) => `${podFqdn(tier, 'kafka', i, clusterDomain)}:${KAFKA_PORT}`);
}

function redisSeedOrdinals(tier: ResolvedCacheTier): number[] {
  return ordinals(Math.min(REDIS_SEED_COUNT, redisSpecMembers(tier)));
}

/** Seed addresses (pod DNS `.svc` names, resolved through the search path) for the producer. */
export function redisSeedAddresses(tier: ResolvedCacheTier): string[] {
  return redisSeedOrdinals(tier).map((i) => `${podDnsName(tier, 'redis', i)}:${REDIS_PORT}`);
}

/** Fully qualified seeds for nginx (its resolver ignores search paths). */
export function redisSeedFqdns(tier: ResolvedCacheTier, clusterDomain: string): string[] {
  return redisSeedOrdinals(tier).map((i) => `${podFqdn(tier, 'redis', i, clusterDomain)}:${REDIS_PORT}`);
}

/** Every member of the spec's Redis shape, by pod DNS name. */
export function redisMemberAddresses(tier: ResolvedCacheTier): string[] {
  return ordinals(redisSpecMembers(tier)).map((i) => `${podDnsName(tier, 'redis', i)}:${REDIS_PORT}`);
}

/** The producer's HTTP API; fully qualified when a cluster domain is given (for nginx). */
export function producerUrl(tier: ResolvedCacheTier, clusterDomain?: string): string {
  const host = serviceDnsName(tier, 'producer');
  return `http://${clusterDomain ? `${host}.${clusterDomain}` : host}:${PRODUCER_HTTP_PORT}`;
}

/** The tier's entry point: the OpenResty distribution layer's Service. */
export function distributionUrl(tier: ResolvedCacheTier): string {
  return `http://${serviceDnsName(tier, 'openresty-distribution')}:${OPENRESTY_PORT}`;
}

/** status.endpoints: where clients reach each part of the tier, by in-cluster DNS. */
export function tierEndpoints(tier: ResolvedCacheTier): Record<string, string> {
  return {
    distribution: distributionUrl(tier),
    producer: producerUrl(tier),
    redisSeeds: redisMemberAddresses(tier).join(','),
    zookeeper: zookeeperClientAddresses(tier).join(','),
    kafkaBootstrap: kafkaBrokerAddresses(tier).join(','),
  };
}
