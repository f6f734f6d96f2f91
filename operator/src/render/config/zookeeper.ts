// zoo.cfg, rendered from the spec. The same text runs in the pods (servers = stable pod DNS names)
// and in the integration tier (servers = 127.0.0.x), so tests prove the config the operator ships.
import type { ZooKeeperSpec } from '../../api/types.js';
import { assertSingleLineConfig } from './lines.js';

export interface ZooKeeperServer {
  /** myid: 1-based, ordinal + 1. */
  id: number;
  host: string;
}

export interface ZooKeeperConfigInput {
  servers: ZooKeeperServer[];
  dataDir: string;
  clientPort: number;
  peerPort: number;
  electionPort: number;
  /** Bind the client port to one address (integration tier); omitted = all addresses. */
  clientPortAddress?: string;
  /** In pods a server's own DNS name is not yet resolvable at start: listen on all IPs. */
  quorumListenOnAllIPs: boolean;
  /** ZooKeeper's Prometheus metrics provider on this port (/metrics); omitted = none. */
  metrics?: { port: number; /** Bind to one address (integration tier); omitted = all. */ host?: string };
}

/** ZooKeeper's built-in provider (zookeeper-prometheus-metrics, in the zookeeper:3.8.x image's lib/). */
export const ZK_METRICS_PROVIDER = 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider';

/** Keys the user may not override: they are the ensemble's identity and wiring. */
export const ZK_RESERVED_KEYS = ['dataDir', 'clientPort', 'clientPortAddress'];

export function zkMyId(ordinal: number): number {
  return ordinal + 1;
}

export function renderZooCfg(spec: ZooKeeperSpec, input: ZooKeeperConfigInput): string {
  const base: Record<string, string> = {
    tickTime: '2000',
    initLimit: '10',
    syncLimit: '5',
    maxClientCnxns: '120',
    'autopurge.snapRetainCount': '3',
    'autopurge.purgeInterval': '1',
    // Probes use `ruok`/`srvr` (read-only); nothing else is exposed.
    '4lw.commands.whitelist': 'ruok,srvr,mntr',
    'admin.enableServer': 'false',
    quorumListenOnAllIPs: String(input.quorumListenOnAllIPs),
    // A 3-server ensemble must never fall back to standalone mode.
    standaloneEnabled: 'false',
    reconfigEnabled: 'false',
  };
  assertSingleLineConfig('spec.zookeeper.config', spec.config);
  for (const [k, v] of Object.entries(spec.config)) {
    // With spec.metrics on, the operator's provider settings win over the user's.
    if (input.metrics && k.startsWith('metricsProvider.')) continue;
    if (!ZK_RESERVED_KEYS.includes(k) && !k.startsWith('server.')) base[k] = v;
  }
  const lines = [
    '# Rendered by the CacheTier operator; edit spec.zookeeper.config instead.',
    `dataDir=${input.dataDir}`,
    `clientPort=${input.clientPort}`,
  ];
  if (input.clientPortAddress) lines.push(`clientPortAddress=${input.clientPortAddress}`);
  if (input.metrics) {
    lines.push(`metricsProvider.className=${ZK_METRICS_PROVIDER}`, `metricsProvider.httpPort=${input.metrics.port}`);
    if (input.metrics.host) lines.push(`metricsProvider.httpHost=${input.metrics.host}`);
  }
  for (const k of Object.keys(base).sort()) lines.push(`${k}=${base[k]}`);
  for (const s of input.servers) {
    lines.push(`server.${s.id}=${s.host}:${input.peerPort}:${input.electionPort}`);
  }
  return lines.join('\n') + '\n';
}
