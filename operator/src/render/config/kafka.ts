// server.properties for a Kafka 3.9 broker in ZooKeeper mode.
import type { KafkaSpec } from '../../api/types.js';
import { assertSingleLineConfig } from './lines.js';

export interface KafkaConfigInput {
  /** A number in the integration tier; a placeholder (BROKER_ID_PLACEHOLDER) in the pod template. */
  brokerId: number | string;
  listenHost: string;
  advertisedHost: string;
  port: number;
  /** host:port list; the renderer appends the chroot. */
  zookeeperServers: string[];
  logDir: string;
}

/** Kafka's metadata lives under this znode so the producer's locks never collide with it. */
export const KAFKA_ZK_CHROOT = '/kafka';
export const BROKER_ID_PLACEHOLDER = '@BROKER_ID@';
export const POD_HOST_PLACEHOLDER = '@POD_HOST@';

/** Keys that are the broker's identity and wiring: the operator owns them. */
export const KAFKA_RESERVED_KEYS = [
  'broker.id',
  'listeners',
  'advertised.listeners',
  'zookeeper.connect',
  'log.dirs',
  'process.roles',
  'node.id',
];

export function renderServerProperties(spec: KafkaSpec, input: KafkaConfigInput): string {
  const rf = Math.min(3, spec.replicas);
  const isr = Math.min(spec.minInsyncReplicas, rf);
  const base: Record<string, string> = {
    'num.network.threads': '3',
    'num.io.threads': '8',
    'num.partitions': String(spec.topics.cacheMessage.partitions),
    'default.replication.factor': String(rf),
    'min.insync.replicas': String(isr),
    'offsets.topic.replication.factor': String(rf),
    'transaction.state.log.replication.factor': String(rf),
    'transaction.state.log.min.isr': String(isr),
    // The operator creates topics; a typo in a client must not create one.
    'auto.create.topics.enable': 'false',
    'unclean.leader.election.enable': 'false',
    'controlled.shutdown.enable': 'true',
    'zookeeper.session.timeout.ms': '18000',
    'zookeeper.connection.timeout.ms': '18000',
    'log.retention.hours': '168',
    'group.initial.rebalance.delay.ms': '3000',
  };
  assertSingleLineConfig('spec.kafka.config', spec.config);
  for (const [k, v] of Object.entries(spec.config)) {
    if (!KAFKA_RESERVED_KEYS.includes(k)) base[k] = v;
  }
  const lines = [
    '# Rendered by the CacheTier operator; edit spec.kafka.config instead.',
    `broker.id=${input.brokerId}`,
    `listeners=PLAINTEXT://${input.listenHost}:${input.port}`,
    `advertised.listeners=PLAINTEXT://${input.advertisedHost}:${input.port}`,
    `zookeeper.connect=${input.zookeeperServers.join(',')}${KAFKA_ZK_CHROOT}`,
    `log.dirs=${input.logDir}`,
  ];
  for (const k of Object.keys(base).sort()) lines.push(`${k}=${base[k]}`);
  return lines.join('\n') + '\n';
}
