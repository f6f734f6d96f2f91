// Monitoring for a local tier (make demo, the metrics integration test): a redis_exporter per Redis
// member configured as the operator's sidecar is, and Debian's `prometheus` scraping every
// component with the jobs docs/runbook.md#scrape-config names (the ones the operator's PodMonitors
// produce) and, when given, the shipped alert rules.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { renderExporterPasswordFile } from '../../operator/src/render/config/redis-acl.js';
import type { RedisCredentials } from '../../operator/src/render/config/redis-acl.js';
import { METRICS_PORTS, REDIS_USERS } from '../../packages/contract/src/index.js';
import { startProcess, waitFor, waitForPort, type ManagedProcess } from './procs.js';
import type { RedisNodeHandle } from './redis.js';

/** "host:port" of each component's /metrics, per scrape job. */
export interface ScrapeTargets {
  zookeeper: string[];
  kafka: string[];
  redis: string[];
  producer: string[];
  openresty: string[];
}

/** The scrape targets of a local tier started with metrics (zookeeper/kafka metricsPort, startRedisExporters). */
export function tierTargets(t: {
  zookeeper: { host: string }[];
  kafka: { host: string }[];
  redis: { host: string }[];
  producer: { host: string; metricsPort: number }[];
  openresty: { host: string; metricsPort: number }[];
}): ScrapeTargets {
  return {
    zookeeper: t.zookeeper.map((x) => `${x.host}:${METRICS_PORTS.zookeeper}`),
    kafka: t.kafka.map((x) => `${x.host}:${METRICS_PORTS.kafka}`),
    redis: t.redis.map((x) => `${x.host}:${METRICS_PORTS.redisExporter}`),
    producer: t.producer.map((x) => `${x.host}:${x.metricsPort}`),
    openresty: t.openresty.map((x) => `${x.host}:${x.metricsPort}`),
  };
}

/** The shipped alert rules (the chart's PrometheusRule embeds the same file). */
export const RULES_FILE = path.join('charts', 'cachetier-operator', 'files', 'prometheus-rules.yaml');

/** The number of targets a scrape config over these targets has. */
export function targetCount(t: ScrapeTargets): number {
  return Object.values(t).reduce((n, xs: string[]) => n + xs.length, 0);
}

/**
 * Prometheus's configuration for a local tier: one static job per component, named as the
 * operator's PodMonitors name them, each target labelled with a namespace as in a cluster.
 */
export function scrapeConfig(t: ScrapeTargets, opts: { ruleFiles?: string[]; namespace?: string } = {}): Record<string, unknown> {
  const job = (name: string, targets: string[]) => ({
    job_name: name,
    static_configs: [{ targets, labels: { namespace: opts.namespace ?? 'local' } }],
  });
  return {
    // Scrapes of the JMX agent took up to 2.5 s on a loaded 2-core machine: 5 s leaves room.
    global: { scrape_interval: '5s', scrape_timeout: '5s', evaluation_interval: '2s' },
    rule_files: opts.ruleFiles ?? [],
    scrape_configs: [
      job('cachetier-zookeeper', t.zookeeper),
      job('cachetier-kafka', t.kafka),
      job('cachetier-redis', t.redis),
      job('cachetier-producer', t.producer),
      job('cachetier-openresty', t.openresty),
    ],
  };
}

/**
 * A redis_exporter per member with the sidecar's settings (operator/src/render/redis.ts): its own
 * member only, the monitoring ACL user, the password from a file; listening on <member host>:9121.
 */
export async function startRedisExporters(nodes: RedisNodeHandle[], creds: RedisCredentials, rootDir: string): Promise<ManagedProcess[]> {
  const out: ManagedProcess[] = [];
  for (const n of nodes) {
    const addr = `redis://${n.host}:${n.port}`;
    const passwordFile = path.join(rootDir, `exporter-${n.ordinal}.json`);
    writeFileSync(passwordFile, renderExporterPasswordFile(addr, creds), { mode: 0o600 });
    const proc = startProcess(`redis-exporter-${n.ordinal}`, 'prometheus-redis-exporter', [], {
      logDir: path.join(rootDir, 'logs'),
      env: {
        PATH: process.env.PATH,
        REDIS_ADDR: addr,
        REDIS_USER: REDIS_USERS.monitoring,
        REDIS_PASSWORD_FILE: passwordFile,
        REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `${n.host}:${METRICS_PORTS.redisExporter}`,
        REDIS_EXPORTER_INCL_SYSTEM_METRICS: 'false',
      },
    });
    out.push(proc);
    await waitForPort(n.host, METRICS_PORTS.redisExporter, 20_000, proc);
  }
  return out;
}

export interface PrometheusHandle {
  /** http://host:port */
  url: string;
  proc: ManagedProcess;
  configFile: string;
  stop(): Promise<void>;
}

/** Starts Debian's prometheus on host:port with `config` (written to <rootDir>/prometheus.yml); resolves once it is ready. */
export async function startPrometheus(opts: { host: string; port?: number; rootDir: string; config: Record<string, unknown> }): Promise<PrometheusHandle> {
  const port = opts.port ?? 9090;
  const configFile = path.join(opts.rootDir, 'prometheus.yml');
  writeFileSync(configFile, YAML.stringify(opts.config));
  const proc = startProcess(
    'prometheus',
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(opts.rootDir, 'prometheus-data')}`,
      `--web.listen-address=${opts.host}:${port}`,
      '--storage.tsdb.retention.time=1h',
    ],
    { logDir: path.join(opts.rootDir, 'logs') },
  );
  const url = `http://${opts.host}:${port}`;
  await waitForPort(opts.host, port, 60_000, proc);
  await waitFor('Prometheus ready', async () => (await fetch(`${url}/-/ready`).catch(() => null))?.status === 200, 60_000, 500);
  return { url, proc, configFile, stop: () => proc.kill('SIGTERM', 10_000) };
}

/** The scrape targets Prometheus reports, as "job instance health". */
export async function targetHealth(url: string): Promise<{ job: string; instance: string; health: string }[]> {
  const r = await fetch(`${url}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(10_000) });
  const body = (await r.json()) as { data: { activeTargets: { labels: Record<string, string>; health: string }[] } };
  return body.data.activeTargets.map((t) => ({ job: t.labels.job, instance: t.labels.instance, health: t.health }));
}
