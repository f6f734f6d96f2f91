// Kafka brokers (ZooKeeper mode): ConfigMap (server.properties template + start script),
// headless + client Services, StatefulSet (upstream apache/kafka:3.9.x image), PDB.
import type { V1Container } from '@kubernetes/client-node';
import type { ResolvedCacheTier } from '../api/types.js';
import { configHash, podDisruptionBudget } from './common.js';
import { childName, headlessFqdn, headlessName, zookeeperClientAddresses } from './names.js';
import {
  BROKER_ID_PLACEHOLDER,
  POD_HOST_PLACEHOLDER,
  renderServerProperties,
} from './config/kafka.js';
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
  plainEnv,
  resources,
  service,
  statefulSet,
} from './builders.js';
import type { KubeObject } from './object.js';
import { KAFKA_JMX_AGENT_PATH, KAFKA_JMX_CONFIG_FILE, KAFKA_JMX_RULES, kafkaJmxAgentArg } from './config/kafka-jmx.js';
import { KAFKA_PORT, METRICS_PORTS } from '../../../packages/contract/src/index.js';

const C = 'kafka' as const;

/** The upstream image runs as `appuser` (uid 1000). */
export const KAFKA_UID = 1000;
export const KAFKA_HOME = '/opt/kafka';
/** The data volume is mounted here; log.dirs is a subdirectory so lost+found is never a log dir. */
export const KAFKA_VOLUME_DIR = '/var/lib/kafka';
export const KAFKA_LOG_DIRS = `${KAFKA_VOLUME_DIR}/data`;
/** LOG_DIR (log4j + GC logs): an emptyDir. */
export const KAFKA_APP_LOG_DIR = `${KAFKA_HOME}/logs`;
/** Writable emptyDir where the start script writes this broker's server.properties. */
export const KAFKA_RUNTIME_CONFIG_DIR = `${KAFKA_HOME}/config-runtime`;
export const KAFKA_CONFIG_FILE = 'server.properties';
export const KAFKA_START_SCRIPT = 'start.sh';

const PORTS = [{ name: 'kafka', port: KAFKA_PORT }];

/**
 * broker.id = the ordinal, advertised host = the pod's fully qualified DNS name (Kafka hands it to
 * every client, including nginx, which ignores search paths). Both are sed'ed into a writable copy
 * of server.properties, then the broker is exec'ed. CACHETIER_KAFKA_* overrides are for unit tests.
 */
export function kafkaStartScript(tier: ResolvedCacheTier, clusterDomain: string): string {
  const suffix = headlessFqdn(tier, C, clusterDomain);
  return [
    '#!/bin/sh',
    '# Rendered by the CacheTier operator: broker.id = StatefulSet ordinal; then the broker in the foreground.',
    'set -eu',
    ORDINAL_FROM_HOSTNAME,
    `pod_host="$host.${suffix}"`,
    `src="\${CACHETIER_KAFKA_CONFIG:-${configMountPath(C)}/${KAFKA_CONFIG_FILE}}"`,
    `out_dir="\${CACHETIER_KAFKA_RUNTIME_DIR:-${KAFKA_RUNTIME_CONFIG_DIR}}"`,
    `sed -e "s/${BROKER_ID_PLACEHOLDER}/$ordinal/g" -e "s/${POD_HOST_PLACEHOLDER}/$pod_host/g" "$src" > "$out_dir/${KAFKA_CONFIG_FILE}"`,
    ...(tier.spec.metrics.enabled ? jmxAgentLines() : []),
    `exec "\${CACHETIER_KAFKA_START:-${KAFKA_HOME}/bin/kafka-server-start.sh}" "$out_dir/${KAFKA_CONFIG_FILE}"`,
    '',
  ].join('\n');
}

/**
 * spec.metrics: load the JMX exporter agent when the image holds it; an image without it (upstream
 * apache/kafka) runs the broker without metrics rather than not at all, and says so in its log.
 */
function jmxAgentLines(): string[] {
  const arg = kafkaJmxAgentArg('$agent', METRICS_PORTS.kafka, `${configMountPath(C)}/${KAFKA_JMX_CONFIG_FILE}`);
  return [
    `agent="\${CACHETIER_KAFKA_JMX_AGENT:-${KAFKA_JMX_AGENT_PATH}}"`,
    'if [ -f "$agent" ]; then',
    `  KAFKA_OPTS="\${KAFKA_OPTS:-} ${arg}"; export KAFKA_OPTS`,
    'else',
    '  echo "no JMX exporter agent at $agent: this broker exports no metrics" >&2',
    'fi',
  ];
}

/**
 * Ready when the broker answers a Kafka ApiVersions (v0) request with error 0. A broker accepts TCP
 * long before it serves (the kernel queues connections while it loads logs); it starts processing
 * requests only at the end of its startup, after it registered in ZooKeeper. So an answer means
 * "speaks the protocol and is registered", which a TCP check cannot tell. bash (both images have
 * it) for /dev/tcp; `timeout` bounds the read. The reply must carry correlation id 1, error 0.
 */
export function kafkaReadinessCommand(host = '127.0.0.1', port = KAFKA_PORT): string[] {
  // size 15 | api_key 18 | api_version 0 | correlation_id 1 | client_id "ready"
  const request = String.raw`\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x00\x01\x00\x05ready`;
  return [
    'bash',
    '-c',
    [
      `exec 3<>/dev/tcp/${host}/${port} || exit 1`,
      `printf '${request}' >&3`,
      `reply=$(timeout 4 head -c 10 <&3 | od -An -tx1 | tr -d ' \\n')`,
      '[ "${#reply}" = 20 ] && [ "${reply:8:12}" = 000000010000 ]',
    ].join('\n'),
  ];
}

export function kafkaConfigFiles(tier: ResolvedCacheTier, ctx: RenderContext): Record<string, string> {
  return {
    [KAFKA_CONFIG_FILE]: renderServerProperties(tier.spec.kafka, {
      brokerId: BROKER_ID_PLACEHOLDER,
      listenHost: '0.0.0.0',
      advertisedHost: POD_HOST_PLACEHOLDER,
      port: KAFKA_PORT,
      zookeeperServers: zookeeperClientAddresses(tier),
      logDir: KAFKA_LOG_DIRS,
    }),
    [KAFKA_START_SCRIPT]: kafkaStartScript(tier, ctx.clusterDomain),
    ...(tier.spec.metrics.enabled ? { [KAFKA_JMX_CONFIG_FILE]: KAFKA_JMX_RULES } : {}),
  };
}

export function renderKafka(tier: ResolvedCacheTier, ctx: RenderContext): KubeObject[] {
  const k = tier.spec.kafka;
  const files = kafkaConfigFiles(tier, ctx);
  const storage = dataStorage(k.storage);
  const env = [plainEnv('LOG_DIR', KAFKA_APP_LOG_DIR)];
  const heap = jvmHeapMiB(k.resources);
  if (heap !== undefined) env.push(plainEnv('KAFKA_HEAP_OPTS', `-Xms${heap}m -Xmx${heap}m`));
  const container: V1Container = {
    name: 'kafka',
    image: k.image,
    command: ['sh', `${configMountPath(C)}/${KAFKA_START_SCRIPT}`],
    env,
    ports: containerPorts(tier.spec.metrics.enabled ? [...PORTS, { name: 'metrics', port: METRICS_PORTS.kafka }] : PORTS),
    resources: resources(k.resources),
    readinessProbe: { exec: { command: kafkaReadinessCommand() }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 6 },
    livenessProbe: {
      tcpSocket: { port: KAFKA_PORT },
      initialDelaySeconds: 60,
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 6,
    },
    volumeMounts: [
      { name: CONFIG_VOLUME, mountPath: configMountPath(C), readOnly: true },
      { name: DATA_VOLUME, mountPath: KAFKA_VOLUME_DIR },
      { name: 'logs', mountPath: KAFKA_APP_LOG_DIR },
      { name: 'runtime-config', mountPath: KAFKA_RUNTIME_CONFIG_DIR },
      { name: TMP_VOLUME, mountPath: '/tmp' },
    ],
  };
  return [
    configMap(tier, C, files),
    service(tier, C, { name: headlessName(tier, C), ports: PORTS, headless: true, publishNotReadyAddresses: true }),
    service(tier, C, { name: childName(tier, C), ports: PORTS }),
    statefulSet(tier, C, configHash(files), {
      uid: KAFKA_UID,
      replicas: k.replicas,
      serviceName: headlessName(tier, C),
      // Controlled shutdown moves partition leadership away before the broker exits.
      terminationGracePeriodSeconds: 120,
      containers: [container],
      volumes: [
        configMapVolume(tier, C),
        emptyDirVolume('logs'),
        emptyDirVolume('runtime-config'),
        emptyDirVolume(TMP_VOLUME),
        ...storage.volumes,
      ],
      volumeClaimTemplates: storage.volumeClaimTemplates,
      // A broker's identity and partitions live on its volume: a returning ordinal resumes them.
      claimRetention: { whenScaled: 'Retain', whenDeleted: k.storage.whenDeleted },
    }),
    // With RF 3 and min.insync.replicas 2, one broker down keeps every partition writable.
    podDisruptionBudget(tier, C, 1),
  ];
}
