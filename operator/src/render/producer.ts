// cache-producer: env ConfigMap (producerEnv), Service, Deployment (this repo's image), PDB.
// /metrics is served on its own port (`metrics`), not on the L3 API's port.
import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import type { ResolvedCacheTier } from '../api/types.js';
import { configHash, podDisruptionBudget } from './common.js';
import { childName, configMapName, kafkaBrokerAddresses, redisPasswordsSecretName, redisSeedAddresses, zookeeperClientAddresses } from './names.js';
import { producerEnv, type ProducerEndpoints } from './config/producer.js';
import {
  TMP_VOLUME,
  type RenderContext,
  configMap,
  containerPorts,
  deployment,
  emptyDirVolume,
  nodeHeapOptions,
  resources,
  secretVolume,
  service,
} from './builders.js';
import type { KubeObject } from './object.js';
import { HTTP_METRICS_PORTS, PRODUCER_HTTP_PORT, REDIS_PASSWORD_FILE, type RedisRole } from '../../../packages/contract/src/index.js';
import path from 'node:path';

const C = 'producer' as const;

/** This repo's images run as uid 10001. */
export const PRODUCER_UID = 10001;

export const REDIS_AUTH_VOLUME = 'redis-auth';

/** The passwords Secret's key for `role` only, as the file REDIS_PASSWORD_FILE names. */
export function redisPasswordVolume(tier: ResolvedCacheTier, role: RedisRole) {
  return secretVolume(REDIS_AUTH_VOLUME, redisPasswordsSecretName(tier), [{ key: role, path: path.posix.basename(REDIS_PASSWORD_FILE) }]);
}

/** `http`: the L3 API and the probes; `metrics`: /metrics alone (only monitoring peers reach it). */
const PORTS = [{ name: 'http', port: PRODUCER_HTTP_PORT }];
/** The container's ports; the Service carries `http` only (Prometheus scrapes pods). */
const CONTAINER_PORTS = [...PORTS, { name: 'metrics', port: HTTP_METRICS_PORTS.producer }];

export function producerEndpoints(tier: ResolvedCacheTier): ProducerEndpoints {
  return {
    kafkaBrokers: kafkaBrokerAddresses(tier),
    zookeeperConnect: zookeeperClientAddresses(tier).join(','),
    redisSeeds: redisSeedAddresses(tier),
  };
}

/** The env ConfigMap's data; its hash is the producer's config hash. */
export function producerConfigFiles(tier: ResolvedCacheTier): Record<string, string> {
  return producerEnv(tier, producerEndpoints(tier));
}

export function renderProducer(tier: ResolvedCacheTier, _ctx: RenderContext): KubeObject[] {
  const p = tier.spec.producer;
  const data = producerConfigFiles(tier);
  const env: V1EnvVar[] = [];
  // Not in the ConfigMap: it is the runtime's setting, not the producer's configuration contract.
  const nodeOptions = nodeHeapOptions(p.resources);
  if (nodeOptions) env.push({ name: 'NODE_OPTIONS', value: nodeOptions });
  const container: V1Container = {
    name: 'cache-producer',
    image: p.image,
    envFrom: [{ configMapRef: { name: configMapName(tier, C) } }],
  };
  if (env.length > 0) container.env = env;
  Object.assign(container, {
    ports: containerPorts(CONTAINER_PORTS),
    resources: resources(p.resources),
    readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 3 },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      initialDelaySeconds: 15,
      periodSeconds: 10,
      timeoutSeconds: 3,
      failureThreshold: 6,
    },
    volumeMounts: [
      { name: TMP_VOLUME, mountPath: '/tmp' },
      { name: REDIS_AUTH_VOLUME, mountPath: path.posix.dirname(REDIS_PASSWORD_FILE), readOnly: true },
    ],
  });
  return [
    configMap(tier, C, data),
    service(tier, C, { name: childName(tier, C), ports: PORTS }),
    deployment(tier, C, configHash(data), {
      uid: PRODUCER_UID,
      replicas: p.replicas,
      containers: [container],
      volumes: [emptyDirVolume(TMP_VOLUME), redisPasswordVolume(tier, 'producer')],
    }),
    // Always rendered (the operator has no delete verb on PDBs): with one replica,
    // maxUnavailable 1 blocks nothing; with more it keeps all but one serving.
    podDisruptionBudget(tier, C, 1),
  ];
}
