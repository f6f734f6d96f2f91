// Redis Cluster members: ConfigMap (redis.conf), headless + client Services, StatefulSet
// (upstream redis:7.0.x image), PDB. The operator's orchestration forms the cluster over pod IPs;
// nothing here depends on pod 0.
import type { V1Container, V1EnvVar, V1Secret } from '@kubernetes/client-node';
import type { ResolvedCacheTier } from '../api/types.js';
import { configHash, objectMeta, podDisruptionBudget } from './common.js';
import { childName, headlessName, redisAclSecretName, redisSpecMembers } from './names.js';
import { renderRedisConf } from './config/redis.js';
import { redisPreStopCommand, redisReadinessCommand } from './config/redis-probe.js';
import { REDIS_ACL_FILE, REDIS_AUTH_CONF_FILE, renderExporterPasswordFile, renderRedisAclFile, renderRedisAuthConf, type RedisCredentials } from './config/redis-acl.js';
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
  secretVolume,
  service,
  statefulSet,
} from './builders.js';
import type { KubeObject, Rendered } from './object.js';
import { METRICS_PORTS, REDIS_PORT, REDIS_USERS } from '../../../packages/contract/src/index.js';

const C = 'redis' as const;

/** The upstream image's `redis` user. */
export const REDIS_UID = 999;
export const REDIS_BUS_PORT = REDIS_PORT + 10000;
export const REDIS_DATA_DIR = '/data';
export const REDIS_CONFIG_FILE = 'redis.conf';
/** Where the ACL Secret (redisAclSecretName) is mounted in a Redis member. */
export const REDIS_AUTH_DIR = '/etc/cachetier/redis-auth';
/** In the ACL Secret: the `member` user's password alone, for the readiness probe and preStop hook. */
export const REDIS_MEMBER_PASSWORD_FILE = 'member-password';
const AUTH_VOLUME = 'redis-auth';
/** The exporter sees only its own password file from the ACL Secret. */
const EXPORTER_AUTH_VOLUME = 'exporter-auth';
const EXPORTER_AUTH_DIR = '/etc/redis-exporter';
export const REDIS_EXPORTER_PASSWORD_FILE = 'exporter-passwords.json';
/** The exporter's one target: its own member (the password file is keyed by this URI). */
const REDIS_EXPORTER_ADDR = `redis://127.0.0.1:${REDIS_PORT}`;
/** Pod-template annotation: hash of the ACL Secret, so a password change rolls the members. */
export const REDIS_ACL_HASH_ANNOTATION = 'cachetier.io/redis-acl-hash';
const PORTS = [
  { name: 'redis', port: REDIS_PORT },
  { name: 'cluster-bus', port: REDIS_BUS_PORT },
];

export function redisStatefulSetReplicas(tier: ResolvedCacheTier, ctx: Pick<RenderContext, 'redisStatefulSetReplicas'>) {
  return ctx.redisStatefulSetReplicas ?? redisSpecMembers(tier);
}

export function redisConfigFiles(tier: ResolvedCacheTier): Record<string, string> {
  // No announce IP (passed as --cluster-announce-ip $(POD_IP)) and no password: the ACL file and
  // the replica's credentials come from the ACL Secret's volume.
  const acl = { aclFile: `${REDIS_AUTH_DIR}/${REDIS_ACL_FILE}`, authConf: `${REDIS_AUTH_DIR}/${REDIS_AUTH_CONF_FILE}` };
  return {
    [REDIS_CONFIG_FILE]: renderRedisConf(tier.spec.redis, { port: REDIS_PORT, bind: '* -::*', dir: REDIS_DATA_DIR, acl }),
  };
}

/** redis-server arguments; $(POD_IP) is expanded by the kubelet from the container's env. */
export function redisArgs(_tier: ResolvedCacheTier): string[] {
  return [`${configMountPath(C)}/${REDIS_CONFIG_FILE}`, '--cluster-announce-ip', '$(POD_IP)'];
}

/** The ACL Secret's files: users.acl (hashes), auth.conf (masteruser/masterauth), the probe's password. */
export function redisAclFiles(creds: RedisCredentials): Record<string, string> {
  return {
    [REDIS_ACL_FILE]: renderRedisAclFile(creds),
    [REDIS_AUTH_CONF_FILE]: renderRedisAuthConf(creds),
    [REDIS_MEMBER_PASSWORD_FILE]: creds.member,
    [REDIS_EXPORTER_PASSWORD_FILE]: renderExporterPasswordFile(REDIS_EXPORTER_ADDR, creds),
  };
}

export function redisAclSecret(tier: ResolvedCacheTier, creds: RedisCredentials): Rendered<V1Secret> {
  const data: Record<string, string> = {};
  const files = redisAclFiles(creds);
  for (const k of Object.keys(files).sort()) data[k] = Buffer.from(files[k], 'utf8').toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: objectMeta(tier, C, redisAclSecretName(tier)), type: 'Opaque', data };
}

/** The member's own hooks authenticate as the `member` user, its password read from a file. */
const MEMBER_AUTH = { user: REDIS_USERS.member, passwordFile: `${REDIS_AUTH_DIR}/${REDIS_MEMBER_PASSWORD_FILE}` };
/** How long preStop waits for a replica to take the slots over (CLUSTER FAILOVER). */
export const REDIS_PRESTOP_WAIT_SECONDS = 20;

/** Readiness (render/config/redis-probe.ts): PONG, and in a formed cluster cluster_state:ok and a replica's link up. */
export function redisProbeCommand(): string[] {
  return redisReadinessCommand(MEMBER_AUTH);
}

/**
 * spec.metrics: redis_exporter next to the member, speaking only to it (127.0.0.1), configured by
 * environment so the upstream image (entrypoint /redis_exporter) and cachetier.local/redis (which
 * links /redis_exporter to Debian's prometheus-redis-exporter) run the same container.
 */
export function redisExporterContainer(tier: ResolvedCacheTier): V1Container {
  const env: V1EnvVar[] = [
    plainEnv('REDIS_ADDR', REDIS_EXPORTER_ADDR),
    plainEnv('REDIS_EXPORTER_WEB_LISTEN_ADDRESS', `:${METRICS_PORTS.redisExporter}`),
    // Per-key and per-command cardinality stays off: slots, replication, memory and clients only.
    plainEnv('REDIS_EXPORTER_INCL_SYSTEM_METRICS', 'false'),
    // As the read-only `monitoring` ACL user; its password from a file (only that key is mounted).
    plainEnv('REDIS_USER', REDIS_USERS.monitoring),
    plainEnv('REDIS_PASSWORD_FILE', `${EXPORTER_AUTH_DIR}/${REDIS_EXPORTER_PASSWORD_FILE}`),
  ];
  return {
    name: 'metrics',
    image: tier.spec.metrics.redisExporterImage,
    command: ['/redis_exporter'],
    env,
    ports: containerPorts([{ name: 'metrics', port: METRICS_PORTS.redisExporter }]),
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
    readinessProbe: { tcpSocket: { port: METRICS_PORTS.redisExporter }, initialDelaySeconds: 2, periodSeconds: 10, timeoutSeconds: 5 },
    livenessProbe: { tcpSocket: { port: METRICS_PORTS.redisExporter }, initialDelaySeconds: 10, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
    volumeMounts: [{ name: EXPORTER_AUTH_VOLUME, mountPath: EXPORTER_AUTH_DIR, readOnly: true }],
  };
}

export function renderRedis(tier: ResolvedCacheTier, ctx: RenderContext): KubeObject[] {
  const r = tier.spec.redis;
  const files = redisConfigFiles(tier);
  const storage = dataStorage(r.storage);
  const env: V1EnvVar[] = [fieldEnv('POD_IP', 'status.podIP')];
  const container: V1Container = {
    name: 'redis',
    image: r.image,
    command: ['redis-server'],
    args: redisArgs(tier),
    env,
    ports: containerPorts(PORTS),
    resources: resources(r.resources),
    // Ready = serves: PONG (not LOADING); once in a formed cluster, cluster_state:ok and, for a
    // replica, its master link up. A fresh member is ready on PONG (the operator forms the cluster
    // over running members). The operator's rolls wait for this before the next member.
    readinessProbe: {
      exec: { command: redisProbeCommand() },
      initialDelaySeconds: 5,
      periodSeconds: 5,
      timeoutSeconds: 10,
    },
    // A master that is deleted (a drain, an eviction, a manual delete) first hands its slots to an
    // in-sync replica (coordinated CLUSTER FAILOVER), so its slots are not offline until the
    // cluster notices it is gone. Always exits 0.
    lifecycle: { preStop: { exec: { command: redisPreStopCommand({ ...MEMBER_AUTH, waitSeconds: REDIS_PRESTOP_WAIT_SECONDS }) } } },
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
      { name: AUTH_VOLUME, mountPath: REDIS_AUTH_DIR, readOnly: true },
    ],
  };
  // Without the passwords (the observe step could not read them) the ACL Secret is left as it is
  // and the hash annotation is not rendered, which the subset diff does not count as drift.
  const acl = ctx.redisCredentials ? redisAclSecret(tier, ctx.redisCredentials) : undefined;
  const annotations = acl ? { [REDIS_ACL_HASH_ANNOTATION]: configHash(acl.data ?? {}) } : undefined;
  return [
    ...(acl ? [acl] : []),
    configMap(tier, C, files),
    service(tier, C, { name: headlessName(tier, C), ports: PORTS, headless: true, publishNotReadyAddresses: true }),
    service(tier, C, { name: childName(tier, C), ports: PORTS }),
    statefulSet(tier, C, configHash(files), {
      uid: REDIS_UID,
      replicas: redisStatefulSetReplicas(tier, ctx),
      serviceName: headlessName(tier, C),
      // preStop (up to its wait plus a few 5 s-bounded calls), then SIGTERM: Redis saves and exits.
      terminationGracePeriodSeconds: REDIS_PRESTOP_WAIT_SECONDS + 40,
      containers: tier.spec.metrics.enabled ? [container, redisExporterContainer(tier)] : [container],
      volumes: [
        configMapVolume(tier, C),
        secretVolume(AUTH_VOLUME, redisAclSecretName(tier)),
        ...(tier.spec.metrics.enabled
          ? [secretVolume(EXPORTER_AUTH_VOLUME, redisAclSecretName(tier), [{ key: REDIS_EXPORTER_PASSWORD_FILE, path: REDIS_EXPORTER_PASSWORD_FILE }])]
          : []),
        ...storage.volumes,
      ],
      ...(annotations ? { annotations } : {}),
      volumeClaimTemplates: storage.volumeClaimTemplates,
      // A removed member's volume goes with it: an ordinal that returns later starts empty (the
      // orchestrator also empties leaving members, for clusters that ignore this policy).
      claimRetention: { whenScaled: 'Delete', whenDeleted: r.storage.whenDeleted },
    }),
    // One member at a time: a master and its replica are never both evicted voluntarily.
    podDisruptionBudget(tier, C, 1),
  ];
}
