// Redis Cluster members: ConfigMap (redis.conf), headless + client Services, StatefulSet
// (upstream redis:7.0.x image), PDB. The operator's orchestration forms the cluster over pod IPs;
// nothing here depends on pod 0.
import type { V1Container, V1EnvVar } from '@kubernetes/client-node';
import type { ResolvedCacheTier } from '../api/types.js';
import { configHash, podDisruptionBudget } from './common.js';
import { childName, headlessName, redisSpecMembers } from './names.js';
import { renderRedisConf } from './config/redis.js';
import {
  CONFIG_VOLUME,
  DATA_VOLUME,
  type RenderContext,
  configMap,
  configMapVolume,
  configMountPath,
  containerPorts,
  dataStorage,
  fieldEnv,
  plainEnv,
  resources,
  secretEnv,
  service,
  statefulSet,
} from './builders.js';
import type { KubeObject } from './object.js';
import { METRICS_PORTS, REDIS_PASSWORD_ENV, REDIS_PORT } from '../../../packages/contract/src/index.js';

const C = 'redis' as const;

/** The upstream image's `redis` user. */
export const REDIS_UID = 999;
export const REDIS_BUS_PORT = REDIS_PORT + 10000;
export const REDIS_DATA_DIR = '/data';
export const REDIS_CONFIG_FILE = 'redis.conf';
const PORTS = [
  { name: 'redis', port: REDIS_PORT },
  { name: 'cluster-bus', port: REDIS_BUS_PORT },
];

export function redisStatefulSetReplicas(tier: ResolvedCacheTier, ctx: Pick<RenderContext, 'redisStatefulSetReplicas'>) {
  return ctx.redisStatefulSetReplicas ?? redisSpecMembers(tier);
}

export function redisConfigFiles(tier: ResolvedCacheTier): Record<string, string> {
  // No announce IP (passed as --cluster-announce-ip $(POD_IP)) and no password (from the Secret).
  return {
    [REDIS_CONFIG_FILE]: renderRedisConf(tier.spec.redis, { port: REDIS_PORT, bind: '* -::*', dir: REDIS_DATA_DIR }),
  };
}

/** redis-server arguments; $(VAR) is expanded by the kubelet from the container's env. */
export function redisArgs(tier: ResolvedCacheTier): string[] {
  const args = [`${configMountPath(C)}/${REDIS_CONFIG_FILE}`, '--cluster-announce-ip', '$(POD_IP)'];
  if (tier.spec.redis.auth) {
    args.push('--requirepass', `$(${REDIS_PASSWORD_ENV})`, '--masterauth', `$(${REDIS_PASSWORD_ENV})`);
  }
  return args;
}

/**
 * spec.metrics: redis_exporter next to the member, speaking only to it (127.0.0.1), configured by
 * environment so the upstream image (entrypoint /redis_exporter) and cachetier.local/redis (which
 * links /redis_exporter to Debian's prometheus-redis-exporter) run the same container.
 */
export function redisExporterContainer(tier: ResolvedCacheTier): V1Container {
  const r = tier.spec.redis;
  const env: V1EnvVar[] = [
    plainEnv('REDIS_ADDR', `redis://127.0.0.1:${REDIS_PORT}`),
    plainEnv('REDIS_EXPORTER_WEB_LISTEN_ADDRESS', `:${METRICS_PORTS.redisExporter}`),
    // Per-key and per-command cardinality stays off: slots, replication, memory and clients only.
    plainEnv('REDIS_EXPORTER_INCL_SYSTEM_METRICS', 'false'),
  ];
  if (r.auth) env.push(secretEnv('REDIS_PASSWORD', r.auth.passwordSecretRef));
  return {
    name: 'metrics',
    image: tier.spec.metrics.redisExporterImage,
    command: ['/redis_exporter'],
    env,
    ports: containerPorts([{ name: 'metrics', port: METRICS_PORTS.redisExporter }]),
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
    readinessProbe: { tcpSocket: { port: METRICS_PORTS.redisExporter }, initialDelaySeconds: 2, periodSeconds: 10, timeoutSeconds: 5 },
    livenessProbe: { tcpSocket: { port: METRICS_PORTS.redisExporter }, initialDelaySeconds: 10, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
    volumeMounts: [],
  };
}

export function renderRedis(tier: ResolvedCacheTier, ctx: RenderContext): KubeObject[] {
  const r = tier.spec.redis;
  const files = redisConfigFiles(tier);
  const storage = dataStorage(r.storage);
  const env: V1EnvVar[] = [fieldEnv('POD_IP', 'status.podIP')];
  if (r.auth) {
    env.push(secretEnv(REDIS_PASSWORD_ENV, r.auth.passwordSecretRef));
    // redis-cli reads the password from here, so the probe never shows it on a command line.
    env.push(secretEnv('REDISCLI_AUTH', r.auth.passwordSecretRef));
  }
  const container: V1Container = {
    name: 'redis',
    image: r.image,
    command: ['redis-server'],
    args: redisArgs(tier),
    env,
    ports: containerPorts(PORTS),
    resources: resources(r.resources),
    // PING only: no writes, no CLUSTER commands; ready before the cluster forms (the operator
    // forms it over Ready pods' IPs).
    readinessProbe: {
      exec: { command: ['sh', '-c', `redis-cli -h 127.0.0.1 -p ${REDIS_PORT} ping | grep -q PONG`] },
      initialDelaySeconds: 5,
      periodSeconds: 10,
      timeoutSeconds: 5,
    },
    // TCP only, so a long AOF load (PING answers LOADING) never gets the pod killed.
    livenessProbe: {
      tcpSocket: { port: REDIS_PORT },
      initialDelaySeconds: 15,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 6,
    },
    volumeMounts: [
      { name: CONFIG_VOLUME, mountPath: configMountPath(C), readOnly: true },
      { name: DATA_VOLUME, mountPath: REDIS_DATA_DIR },
    ],
  };
  return [
    configMap(tier, C, files),
    service(tier, C, { name: headlessName(tier, C), ports: PORTS, headless: true, publishNotReadyAddresses: true }),
    service(tier, C, { name: childName(tier, C), ports: PORTS }),
    statefulSet(tier, C, configHash(files), {
      uid: REDIS_UID,
      replicas: redisStatefulSetReplicas(tier, ctx),
      serviceName: headlessName(tier, C),
      containers: tier.spec.metrics.enabled ? [container, redisExporterContainer(tier)] : [container],
      volumes: [configMapVolume(tier, C), ...storage.volumes],
      volumeClaimTemplates: storage.volumeClaimTemplates,
      // A removed member's volume goes with it: an ordinal that returns later starts empty (the
      // orchestrator also empties leaving members, for clusters that ignore this policy).
      claimRetention: { whenScaled: 'Delete', whenDeleted: r.storage.whenDeleted },
    }),
    // One member at a time: a master and its replica are never both evicted voluntarily.
    podDisruptionBudget(tier, C, 1),
  ];
}
