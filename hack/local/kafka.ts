// A real Kafka 3.9 cluster (ZooKeeper mode) on loopback addresses for the integration tier,
// configured by the operator's own server.properties renderer (operator/src/render/config/kafka.ts).
// Jars: hack/deps.d/30-kafka.sh ($CACHETIER_CACHE/kafka-3.9.1/libs).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { DEFAULT_SPEC } from '../../operator/src/api/defaults.js';
import type { KafkaSpec } from '../../operator/src/api/types.js';
import { renderServerProperties } from '../../operator/src/render/config/kafka.js';
import { KAFKA_JMX_CONFIG_FILE, KAFKA_JMX_RULES, kafkaJmxAgentArg } from '../../operator/src/render/config/kafka-jmx.js';
import { startProcess, waitFor, type ManagedProcess } from './procs.js';
import { cacheDir, kafkaHome, log4jConfig } from './zookeeper.js';
import { KAFKA_PORT } from '../../packages/contract/src/index.js';

export interface KafkaClusterOptions {
  /** e.g. "127.0.2": brokers on <ipPrefix>.<firstHost + i>:9092. */
  ipPrefix: string;
  rootDir: string;
  /** ZooKeeper "h:p,h:p" (or a list); the renderer appends the /kafka chroot. */
  zookeeperConnect: string | string[];
  /** Brokers (3). broker.id = i (the pod ordinal, as in the StatefulSet). */
  count?: number;
  /** Last octet of the first broker (21): brokers on .21, .22, .23. */
  firstHost?: number;
  port?: number;
  /** Kafka spec rendered into server.properties (DEFAULT_SPEC.kafka: RF 3, min.insync.replicas 2). */
  spec?: KafkaSpec;
  /** Extra server.properties keys, merged into spec.config (identity keys stay the operator's). */
  configOverrides?: Record<string, string>;
  /** Java heap per broker, MB (512). */
  heapMb?: number;
  /** How long to wait for all brokers to register (180 s). */
  startTimeoutMs?: number;
  /**
   * Load the Prometheus JMX exporter agent (hack/deps.d/40-metrics.sh) with the operator's rules,
   * serving on <host>:<metricsPort>, as the broker pods do with spec.metrics on.
   */
  metricsPort?: number;
}

/** The JMX exporter agent jar hack/deps.d/40-metrics.sh installs. */
export function jmxAgentJar(): string {
  return path.join(cacheDir(), 'metrics', 'jmx_prometheus_javaagent.jar');
}

export interface KafkaBrokerHandle {
  brokerId: number;
  host: string;
  port: number;
  /** "host:port" */
  address: string;
  logDir: string;
  propertiesFile: string;
  /** The rendered server.properties text. */
  properties: string;
  proc: ManagedProcess | null;
}

export interface KafkaCluster {
  /** Bootstrap list, "host:9092" per broker. */
  brokers: string[];
  nodes: KafkaBrokerHandle[];
  /** Kills broker i (0-based) — SIGKILL by default (a crash) — and waits for it to exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /**
   * (Re)starts broker i on its log dir; waits until every running broker sees it. With
   * `configOverrides`, its server.properties is rendered again with them (on top of the options'
   * overrides) first: a roll, same data, new config.
   */
  start(i: number, opts?: { configOverrides?: Record<string, string> }): Promise<void>;
  /** Waits until every running broker reports `expected` brokers (default: the running ones) in its metadata. */
  waitForBrokers(expected?: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM every broker (controlled shutdown), SIGKILL after 30 s. Stop Kafka before ZooKeeper. */
  stop(): Promise<void>;
}

export function kafkaJarsPresent(): boolean {
  return existsSync(path.join(kafkaHome(), 'libs', `kafka_2.13-3.9.1.jar`));
}

/** Broker ids the brokers at `bootstrap` report in their metadata. */
export async function registeredBrokerIds(bootstrap: string[]): Promise<number[]> {
  const admin = new Kafka({
    clientId: 'cachetier-harness',
    brokers: bootstrap,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const d = await admin.describeCluster();
    return d.brokers.map((b) => b.nodeId).sort((a, b) => a - b);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function startKafkaCluster(opts: KafkaClusterOptions): Promise<KafkaCluster> {
  const count = opts.count ?? 3;
  const firstHost = opts.firstHost ?? 21;
  const port = opts.port ?? KAFKA_PORT;
  const heapMb = opts.heapMb ?? 512;
  const startTimeoutMs = opts.startTimeoutMs ?? 180_000;
  const baseSpec = opts.spec ?? DEFAULT_SPEC.kafka;
  const spec: KafkaSpec = { ...baseSpec, replicas: count, config: { ...baseSpec.config, ...opts.configOverrides } };
  if (!kafkaJarsPresent()) {
    throw new Error(`Kafka jars not found in ${path.join(kafkaHome(), 'libs')}: run hack/deps.d/30-kafka.sh`);
  }
  const zk = Array.isArray(opts.zookeeperConnect) ? opts.zookeeperConnect : opts.zookeeperConnect.split(',');
  const base = path.join(opts.rootDir, 'kafka');
  const logs = path.join(base, 'logs');
  const jmxConfig = path.join(base, KAFKA_JMX_CONFIG_FILE);
  if (opts.metricsPort !== undefined) {
    if (!existsSync(jmxAgentJar())) throw new Error(`${jmxAgentJar()} not found: run hack/deps.d/40-metrics.sh`);
    mkdirSync(base, { recursive: true });
    writeFileSync(jmxConfig, KAFKA_JMX_RULES);
  }

  const render = (i: number, host: string, logDir: string, s: KafkaSpec) =>
    renderServerProperties(s, {
      brokerId: i,
      listenHost: host,
      advertisedHost: host,
      port,
      zookeeperServers: zk,
      logDir,
    });
  const nodes: KafkaBrokerHandle[] = Array.from({ length: count }, (_, i) => {
    const host = `${opts.ipPrefix}.${firstHost + i}`;
    const dir = path.join(base, `broker-${i}`);
    const logDir = path.join(dir, 'data');
    mkdirSync(logDir, { recursive: true });
    const properties = render(i, host, logDir, spec);
    const propertiesFile = path.join(dir, 'server.properties');
    writeFileSync(propertiesFile, properties);
    return { brokerId: i, host, port, address: `${host}:${port}`, logDir, propertiesFile, properties, proc: null };
  });
  const brokers = nodes.map((n) => n.address);

  const launch = (n: KafkaBrokerHandle) => {
    const log4j = log4jConfig();
    const args = [
      `-Xmx${heapMb}m`,
      `-Xms${Math.min(heapMb, 128)}m`,
      '-XX:+UseSerialGC',
      '-XX:-UsePerfData',
      '-Djava.awt.headless=true',
      ...(opts.metricsPort !== undefined ? [kafkaJmxAgentArg(jmxAgentJar(), opts.metricsPort, jmxConfig, n.host)] : []),
      `-Dkafka.logs.dir=${logs}`,
      ...(log4j ? [`-Dlog4j.configuration=file:${log4j}`] : []),
      '-cp',
      `${path.join(kafkaHome(), 'libs')}/*`,
      'kafka.Kafka',
      n.propertiesFile,
    ];
    n.proc = startProcess(`kafka-${n.brokerId}`, 'java', args, { logDir: logs, cwd: path.dirname(n.propertiesFile) });
  };

  const checkAlive = () => {
    for (const n of nodes) {
      if (n.proc && (n.proc.child.exitCode !== null || n.proc.child.signalCode !== null)) {
        throw new Error(`kafka-${n.brokerId} exited early; see ${n.proc.logFile}`);
      }
    }
  };

  const waitForBrokers = async (expected?: number, timeoutMs = startTimeoutMs) => {
    const running = nodes.filter((n) => n.proc);
    const want = expected ?? running.length;
    const bootstrap = running.length ? running.map((n) => n.address) : brokers;
    await waitFor(
      `${want} Kafka brokers registered via ${bootstrap.join(',')} (logs: ${logs})`,
      async () => {
        checkAlive();
        // Ask every running broker itself: a broker that has just started answers metadata
        // requests before the controller has sent it the cluster view (empty broker list).
        const views = await Promise.all(bootstrap.map((b) => registeredBrokerIds([b])));
        return views.every((v) => v.length === want);
      },
      timeoutMs,
      1000,
    );
  };

  let stopped = false;
  const cluster: KafkaCluster = {
    brokers,
    nodes,
    async kill(i, signal = 'SIGKILL') {
      const n = nodes[i];
      if (!n?.proc) return;
      await n.proc.kill(signal, 30_000);
      n.proc = null;
    },
    async start(i, startOpts) {
      const n = nodes[i];
      if (!n) throw new Error(`no Kafka broker ${i}`);
      if (startOpts?.configOverrides && !n.proc) {
        const next: KafkaSpec = { ...spec, config: { ...spec.config, ...startOpts.configOverrides } };
        n.properties = render(i, n.host, n.logDir, next);
        writeFileSync(n.propertiesFile, n.properties);
      }
      if (!n.proc) launch(n);
      await waitFor(
        `kafka-${n.brokerId} registered (log: ${n.proc?.logFile})`,
        async () => {
          checkAlive();
          return (await registeredBrokerIds([n.address])).includes(n.brokerId);
        },
        startTimeoutMs,
        1000,
      );
      await waitForBrokers(undefined, startTimeoutMs);
    },
    waitForBrokers,
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(
        nodes.map(async (n) => {
          if (n.proc) await n.proc.kill('SIGTERM', 30_000);
          n.proc = null;
        }),
      );
    },
  };

  for (const n of nodes) launch(n);
  try {
    await waitForBrokers(count);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

/**
 * Reads `topic` from the start through a fresh consumer group until `enough` says so or the
 * timeout passes, and returns the numbers `take` picked out of the messages (undefined: skip).
 */
export async function consumeFromStart(
  client: Kafka,
  o: { topic: string; groupId: string; take: (m: KafkaMessage) => number | undefined; enough: (seen: Set<number>) => boolean; timeoutMs: number },
): Promise<Set<number>> {
  const consumer = client.consumer({ groupId: o.groupId, sessionTimeout: 15_000, heartbeatInterval: 1000 });
  const seen = new Set<number>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: o.topic, fromBeginning: true });
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    await consumer.run({
      eachMessage: async ({ message }) => {
        const n = o.take(message);
        if (n === undefined) return;
        seen.add(n);
        if (o.enough(seen)) done();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, o.timeoutMs)))]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return seen;
}
