// ZooKeeper ensemble: ConfigMap (zoo.cfg + start script), headless + client Services,
// StatefulSet (upstream zookeeper:3.8.x image), PodDisruptionBudget.
import type { V1Container } from '@kubernetes/client-node';
import type { ResolvedCacheTier } from '../api/types.js';
import { configHash, podDisruptionBudget } from './common.js';
import { childName, headlessName, podDnsName } from './names.js';
import { renderZooCfg, zkMyId, type ZooKeeperServer } from './config/zookeeper.js';
import {
  CONFIG_VOLUME,
  DATA_VOLUME,
  ORDINAL_FROM_HOSTNAME,
  TMP_VOLUME,
  type RenderContext,
  configMap,
  configMapVolume,
  configMountPath,
  containerPorts,
  dataStorage,
  emptyDirVolume,
  jvmHeapMiB,
  ordinals,
  plainEnv,
  resources,
  service,
  statefulSet,
} from './builders.js';
import type { KubeObject } from './object.js';
import { METRICS_PORTS, ZK_PORTS } from '../../../packages/contract/src/index.js';

const C = 'zookeeper' as const;

/** The upstream image runs as `zookeeper` (uid/gid 1000). */
export const ZK_UID = 1000;
export const ZK_DATA_DIR = '/data';
/** ZOO_LOG_DIR: an emptyDir (the root filesystem is read-only). */
export const ZK_LOG_DIR = '/logs';
export const ZK_CONFIG_FILE = 'zoo.cfg';
export const ZK_START_SCRIPT = 'start.sh';

const PORTS = [
  { name: 'client', port: ZK_PORTS.client },
  { name: 'peer', port: ZK_PORTS.peer },
  { name: 'election', port: ZK_PORTS.election },
];

/** server.N entries: N = ordinal + 1, host = the pod's stable DNS name. */
export function zookeeperServers(tier: ResolvedCacheTier): ZooKeeperServer[] {
  return ordinals(tier.spec.zookeeper.replicas).map((i) => ({ id: zkMyId(i), host: podDnsName(tier, C, i) }));
}

/**
 * Writes myid (ordinal + 1, from the hostname) into the data dir, then runs ZooKeeper in the
 * foreground. CACHETIER_ZK_* overrides exist only so unit tests can run the script for real.
 */
export function zookeeperStartScript(): string {
  return [
    '#!/bin/sh',
    '# Rendered by the CacheTier operator: myid = StatefulSet ordinal + 1, then ZooKeeper in the foreground.',
    'set -eu',
    ORDINAL_FROM_HOSTNAME,
    `data_dir="\${CACHETIER_ZK_DATA_DIR:-${ZK_DATA_DIR}}"`,
    'echo "$((ordinal + 1))" > "$data_dir/myid"',
    `exec "\${CACHETIER_ZK_SERVER:-zkServer.sh}" start-foreground "\${CACHETIER_ZK_CONFIG:-${configMountPath(C)}/${ZK_CONFIG_FILE}}"`,
    '',
  ].join('\n');
}

/** The files in the ConfigMap; their hash is the pod template's config hash. */
export function zookeeperConfigFiles(tier: ResolvedCacheTier): Record<string, string> {
  return {
    [ZK_CONFIG_FILE]: renderZooCfg(tier.spec.zookeeper, {
      servers: zookeeperServers(tier),
      dataDir: ZK_DATA_DIR,
      clientPort: ZK_PORTS.client,
      peerPort: ZK_PORTS.peer,
      electionPort: ZK_PORTS.election,
      // A pod's own DNS name may not resolve yet when it starts.
      quorumListenOnAllIPs: true,
      ...(tier.spec.metrics.enabled ? { metrics: { port: METRICS_PORTS.zookeeper } } : {}),
    }),
    [ZK_START_SCRIPT]: zookeeperStartScript(),
  };
}

/** Ready only when the server is in a quorum (`srvr` reports Mode:); a read-only 4lw command. */
export const ZK_READINESS_COMMAND = [
  'bash',
  '-c',
  `exec 3<>/dev/tcp/127.0.0.1/${ZK_PORTS.client} && printf srvr >&3 && grep -q '^Mode: ' <&3`,
];

export function renderZooKeeper(tier: ResolvedCacheTier, _ctx: RenderContext): KubeObject[] {
  const zk = tier.spec.zookeeper;
  const files = zookeeperConfigFiles(tier);
  const storage = dataStorage(zk.storage);
  const env = [plainEnv('ZOO_LOG_DIR', ZK_LOG_DIR)];
  const heap = jvmHeapMiB(zk.resources);
  if (heap !== undefined) env.push(plainEnv('ZK_SERVER_HEAP', String(heap)));
  const container: V1Container = {
    name: 'zookeeper',
    image: zk.image,
    command: ['sh', `${configMountPath(C)}/${ZK_START_SCRIPT}`],
    env,
    ports: containerPorts(tier.spec.metrics.enabled ? [...PORTS, { name: 'metrics', port: METRICS_PORTS.zookeeper }] : PORTS),
    resources: resources(zk.resources),
    readinessProbe: {
      exec: { command: ZK_READINESS_COMMAND },
      initialDelaySeconds: 5,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    livenessProbe: {
      tcpSocket: { port: ZK_PORTS.client },
      initialDelaySeconds: 30,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 6,
    },
    volumeMounts: [
      { name: CONFIG_VOLUME, mountPath: configMountPath(C), readOnly: true },
      { name: DATA_VOLUME, mountPath: ZK_DATA_DIR },
      { name: 'logs', mountPath: ZK_LOG_DIR },
      { name: TMP_VOLUME, mountPath: '/tmp' },
    ],
  };
  return [
    configMap(tier, C, files),
    service(tier, C, { name: headlessName(tier, C), ports: PORTS, headless: true, publishNotReadyAddresses: true }),
    service(tier, C, { name: childName(tier, C), ports: [PORTS[0]] }),
    statefulSet(tier, C, configHash(files), {
      uid: ZK_UID,
      replicas: zk.replicas,
      serviceName: headlessName(tier, C),
      containers: [container],
      volumes: [configMapVolume(tier, C), emptyDirVolume('logs'), emptyDirVolume(TMP_VOLUME), ...storage.volumes],
      volumeClaimTemplates: storage.volumeClaimTemplates,
      // A server's id and snapshots live on its volume: a returning ordinal rejoins with them.
      claimRetention: { whenScaled: 'Retain', whenDeleted: zk.storage.whenDeleted },
    }),
    // Quorum: a 3-member ensemble survives exactly one voluntary disruption.
    podDisruptionBudget(tier, C, 1),
  ];
}
