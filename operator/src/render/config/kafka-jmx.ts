// The Prometheus JMX exporter agent in each Kafka broker: its rules file (broker, topic, partition,
// request and ZooKeeper-client metrics) and the -javaagent argument. The same text runs in the pods
// (ConfigMap) and in the integration tier (hack/local/kafka.ts), whose Prometheus checks that the
// names the alerts and dashboards use come out of these rules.

/** Where the broker image holds the agent (cachetier.local/kafka does; upstream apache/kafka does not). */
export const KAFKA_JMX_AGENT_PATH = '/opt/jmx-exporter/jmx_prometheus_javaagent.jar';
export const KAFKA_JMX_CONFIG_FILE = 'jmx-exporter.yaml';

/**
 * Metric names are the MBean's domain, type and name, lowercased: e.g.
 * kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions -> kafka_server_replicamanager_underreplicatedpartitions.
 * Meters (…PerSec) become counters with _total; timers and histograms their percentiles as a
 * `quantile` label. Only Kafka's own domains are exported (no JVM-wide MBeans beyond the agent's).
 */
export const KAFKA_JMX_RULES = `# Rendered by the CacheTier operator: Prometheus JMX exporter rules for a Kafka broker.
lowercaseOutputName: true
lowercaseOutputLabelNames: true
# Only the MBeans the rules below export: every other MBean would still be read on each scrape.
includeObjectNames:
  - "kafka.server:type=ReplicaManager,*"
  - "kafka.server:type=BrokerTopicMetrics,*"
  - "kafka.server:type=SessionExpireListener,*"
  - "kafka.server:type=ZooKeeperClientMetrics,*"
  - "kafka.server:type=KafkaRequestHandlerPool,*"
  - "kafka.controller:type=KafkaController,*"
  - "kafka.controller:type=ControllerStats,*"
  - "kafka.network:type=RequestMetrics,name=TotalTimeMs,*"
  - "kafka.network:type=RequestMetrics,name=RequestsPerSec,*"
  - "kafka.network:type=SocketServer,*"
  - "kafka.cluster:type=Partition,*"
rules:
  # Per partition: kafka.cluster<type=Partition, name=UnderReplicated, topic=t, partition=0><>Value
  - pattern: 'kafka.cluster<type=(.+), name=(.+), topic=(.+), partition=(.+)><>Value'
    name: kafka_cluster_$1_$2
    type: GAUGE
    labels:
      topic: "$3"
      partition: "$4"
  # Per topic meters: kafka.server<type=BrokerTopicMetrics, name=MessagesInPerSec, topic=t><>Count
  - pattern: 'kafka.server<type=(.+), name=(.+)PerSec, topic=(.+)><>Count'
    name: kafka_server_$1_$2_total
    type: COUNTER
    labels:
      topic: "$3"
  # Broker-wide meters, ZooKeeper client session events included:
  # kafka.server<type=SessionExpireListener, name=ZooKeeperExpiresPerSec><>Count
  - pattern: 'kafka.server<type=(.+), name=(.+)PerSec><>Count'
    name: kafka_server_$1_$2_total
    type: COUNTER
  # ZooKeeper client request latency: kafka.server<type=ZooKeeperClientMetrics, name=ZooKeeperRequestLatencyMs><>99thPercentile
  - pattern: 'kafka.server<type=ZooKeeperClientMetrics, name=(.+)><>(50|99)thPercentile'
    name: kafka_server_zookeeperclientmetrics_$1
    type: GAUGE
    labels:
      quantile: "0.$2"
  # Gauges: kafka.server<type=ReplicaManager, name=UnderReplicatedPartitions><>Value,
  # kafka.controller<type=KafkaController, name=OfflinePartitionsCount><>Value
  - pattern: 'kafka.(server|controller)<type=(.+), name=(.+)><>Value'
    name: kafka_$1_$2_$3
    type: GAUGE
  # Request rates: kafka.network<type=RequestMetrics, name=RequestsPerSec, request=Produce, version=9><>Count
  - pattern: 'kafka.network<type=RequestMetrics, name=RequestsPerSec, request=(.+), version=(.+)><>Count'
    name: kafka_network_requestmetrics_requests_total
    type: COUNTER
    labels:
      request: "$1"
      version: "$2"
  # Request latency median and 99th percentile: kafka.network<type=RequestMetrics, name=TotalTimeMs, request=Produce><>99thPercentile
  - pattern: 'kafka.network<type=RequestMetrics, name=(.+)TimeMs, request=(.+)><>(50|99)thPercentile'
    name: kafka_network_requestmetrics_$1timems
    type: GAUGE
    labels:
      request: "$2"
      quantile: "0.$3"
  - pattern: 'kafka.network<type=RequestMetrics, name=(.+)TimeMs, request=(.+)><>Count'
    name: kafka_network_requestmetrics_$1timems_count
    type: COUNTER
    labels:
      request: "$2"
  # Network processor and request handler idle ratios.
  - pattern: 'kafka.network<type=(SocketServer), name=(.+)><>Value'
    name: kafka_network_$1_$2
    type: GAUGE
  - pattern: 'kafka.server<type=KafkaRequestHandlerPool, name=RequestHandlerAvgIdlePercent><>OneMinuteRate'
    name: kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent
    type: GAUGE
`;

/** The JVM argument that loads the agent: serves /metrics on [host:]port with the rules file. */
export function kafkaJmxAgentArg(agentJar: string, port: number, configFile: string, host?: string): string {
  return `-javaagent:${agentJar}=${host ? `${host}:` : ''}${port}:${configFile}`;
}
