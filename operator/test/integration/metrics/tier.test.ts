// The tier's alerts and dashboard against a real Prometheus (Debian's `prometheus`): the whole tier
// runs as local processes on 127.0.7.x (ZooKeeper x3 with its metrics provider, Kafka x3 with the
// JMX exporter agent and the operator's rules, Redis Cluster 3+3 each with a redis_exporter, the
// cache-producer, the source service, OpenResty app + distribution), exactly as the renderers
// configure them with spec.metrics on. Prometheus scrapes them with the jobs docs/runbook.md names
// and loads the shipped rule file with only its `for:` durations shortened, so the expressions
// under test are the shipped ones.
//
// Checked: promtool accepts the rule file; after a short load every dashboard query returns data
// and every metric an alert reads exists, except the ones listed in KNOWN_EMPTY (empty in a
// healthy tier, with the reason); no alert is pending or firing on the healthy tier; a change
// message with a version far in the future fires CacheTierProducerDeadLettering; stopping a Redis
// replica fires CacheTierRedisMasterWithoutReplica; stopping every Kafka broker fires
// CacheTierAccessLogDrops.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import YAML from 'yaml';
import { DEFAULT_SPEC } from '../../../src/api/defaults.js';
import { createTopicManager } from '../../../src/kafka/index.js';
import { producerEnv } from '../../../src/render/config/producer.js';
import { startKafkaCluster, type KafkaCluster } from '../../../../hack/local/kafka.js';
import { localTier, startOpenResty, type OpenRestyHandle } from '../../../../hack/local/nginx.js';
import { makeRootDir, repoRoot, sleep, startProcess, waitFor, waitForPort, type ManagedProcess } from '../../../../hack/local/procs.js';
import { startProducer, type ProducerHandle } from '../../../../hack/local/producer.js';
import { startRedisCluster, TEST_REDIS_CREDENTIALS, type LocalRedisCluster } from '../../../../hack/local/redis.js';
import { renderExporterPasswordFile } from '../../../src/render/config/redis-acl.js';
import { startSourceService, type SourceHandle } from '../../../../hack/local/source.js';
import { startZooKeeperEnsemble, type ZooKeeperEnsemble } from '../../../../hack/local/zookeeper.js';
import { METRICS_PORTS, REDIS_USERS } from '../../../../packages/contract/src/index.js';

jest.setTimeout(15 * 60_000);

const REPO = repoRoot();
const IP = '127.0.7';
const PROM = `${IP}.90:9090`;
const RULES = path.join(REPO, 'charts', 'cachetier-operator', 'files', 'prometheus-rules.yaml');
const DASHBOARDS = path.join(REPO, 'charts', 'cachetier-operator', 'files', 'dashboards');

/**
 * Queries and metrics that are empty on a healthy tier, and why. Anything not listed must return
 * data after the load.
 */
const KNOWN_EMPTY: Record<string, string> = {
  cachetier_upstream_errors_total: 'no Redis or producer call fails on a healthy tier',
  cachetier_producer_job_errors_total: 'no job fails on a healthy tier',
  cachetier_accesslog_dropped_total: 'Kafka takes every access-log record',
  cachetier_accesslog_failed_total: 'Kafka takes every access-log record',
  cachetier_tier_condition: 'exported by the operator, which the local tier does not run (its orchestration code forms Redis directly)',
  cachetier_reconcile_errors_total: 'exported by the operator, which the local tier does not run',
  cachetier_producer_dead_lettered_total: 'nothing is dead-lettered until the fault below',
  'code="5xx"': 'no request fails on a healthy tier',
};

function knownEmpty(query: string): string | undefined {
  const k = Object.keys(KNOWN_EMPTY).find((key) => query.includes(key));
  return k ? KNOWN_EMPTY[k] : undefined;
}

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
}
const ruleFile = YAML.parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const alerts = ruleFile.groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => Boolean(r.alert));
const dashboards = readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, ...(JSON.parse(readFileSync(path.join(DASHBOARDS, f), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] }) }));

/** Metric names an expression reads (the tier's and the exporters' prefixes, plus `up`). */
function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/\b((?:cachetier|redis|kafka)_[a-z0-9_]+|up)\b(?=\s*[{[)\s])/g)) names.add(m[1]);
  return [...names];
}

async function query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await fetch(`http://${PROM}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await r.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`query ${q}: ${body.error}`);
  return body.data.result;
}

async function activeAlerts(): Promise<{ labels: Record<string, string>; state: string }[]> {
  const r = await fetch(`http://${PROM}/api/v1/alerts`, { signal: AbortSignal.timeout(10_000) });
  const body = (await r.json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
  return body.data.alerts;
}

let rootDir = '';
let zk: ZooKeeperEnsemble | undefined;
let kafka: KafkaCluster | undefined;
let redis: LocalRedisCluster | undefined;
let source: SourceHandle | undefined;
let producer: ProducerHandle | undefined;
const nginx: OpenRestyHandle[] = [];
const exporters: ManagedProcess[] = [];
let prometheus: ManagedProcess | undefined;
// ACL users exactly as the operator renders them; the exporters read theirs from a file, as the sidecar does.
const creds = TEST_REDIS_CREDENTIALS;

async function stopAll(): Promise<void> {
  await prometheus?.kill('SIGTERM', 10_000);
  for (const h of nginx) await h.stop().catch(() => undefined);
  await producer?.stop().catch(() => undefined);
  await source?.stop().catch(() => undefined);
  for (const e of exporters) await e.kill('SIGTERM', 5000).catch(() => undefined);
  await redis?.stop().catch(() => undefined);
  await kafka?.stop().catch(() => undefined);
  await zk?.stop().catch(() => undefined);
}

beforeAll(async () => {
  // Fail loudly, never skip: the tier's monitoring is only proven against the real thing.
  for (const bin of ['prometheus', 'promtool', 'prometheus-redis-exporter']) {
    try {
      execFileSync(bin, ['--version'], { stdio: 'ignore' });
    } catch (e) {
      throw new Error(`${bin} cannot run (${String(e)}): run hack/deps-apt.sh (Debian packages prometheus, prometheus-redis-exporter)`);
    }
  }
  rootDir = await makeRootDir('metrics');
  const tier = localTier();
  const s = tier.spec;
  zk = await startZooKeeperEnsemble({ ipPrefix: IP, rootDir, firstHost: 31, spec: s.zookeeper, metricsPort: METRICS_PORTS.zookeeper });
  kafka = await startKafkaCluster({
    ipPrefix: IP,
    rootDir,
    firstHost: 41,
    zookeeperConnect: zk.connectString,
    spec: s.kafka,
    configOverrides: { 'group.initial.rebalance.delay.ms': '0' },
    metricsPort: METRICS_PORTS.kafka,
  });
  const t = s.kafka.topics;
  const topics = await createTopicManager().reconcile(kafka.brokers, [t.cacheMessage, t.accessLog, t.deadLetter]);
  if (topics.condition.status !== 'True') throw new Error(`topics: ${topics.condition.message}`);
  redis = await startRedisCluster({ masters: 3, replicasPerMaster: 1, ipPrefix: IP, acl: creds, rootDir, spec: s.redis });
  for (const n of redis.nodes) {
    const addr = `redis://${n.host}:${n.port}`;
    const passwordFile = path.join(rootDir, `exporter-${n.ordinal}.json`);
    writeFileSync(passwordFile, renderExporterPasswordFile(addr, creds), { mode: 0o600 });
    // The sidecar's settings (operator/src/render/redis.ts), with the member's local address.
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
    exporters.push(proc);
    await waitForPort(n.host, METRICS_PORTS.redisExporter, 20_000, proc);
  }
  source = await startSourceService({ host: `${IP}.61`, port: 8080, kafkaBrokers: kafka.brokers, rootDir, topic: t.cacheMessage.name });
  const env = {
    ...producerEnv(
      { ...tier, spec: { ...s, producer: { ...s.producer, sources: { productInfoService: source.url, shopInfoService: source.url } } } },
      { kafkaBrokers: kafka.brokers, zookeeperConnect: zk.connectString, redisSeeds: redis.seeds },
    ),
  };
  producer = await startProducer({ env, host: `${IP}.62`, port: 8080, rootDir });
  const common = { redisSeeds: redis.seeds, producerUrl: producer.url, kafkaBrokers: kafka.brokers };
  const app = await startOpenResty({
    layer: 'app',
    host: `${IP}.71`,
    port: 8080,
    rootDir,
    tier,
    input: { ...common, memberName: `app@${IP}.71`, testEndpoints: false },
  });
  nginx.push(app);
  nginx.push(
    await startOpenResty({
      layer: 'distribution',
      host: `${IP}.70`,
      port: 8080,
      rootDir,
      tier,
      input: { ...common, appUpstream: { kind: 'static', servers: [`${app.host}:${app.port}`] }, testEndpoints: false },
    }),
  );

  // The shipped rules, `for:` shortened so a fault shows within seconds; expressions untouched.
  const testRules = {
    groups: ruleFile.groups.map((g) => ({ ...g, rules: g.rules.map((r) => (r.for ? { ...r, for: '4s' } : r)) })),
  };
  writeFileSync(path.join(rootDir, 'rules.yaml'), YAML.stringify(testRules));
  const job = (name: string, targets: string[], labels: Record<string, string> = {}) => ({
    job_name: name,
    static_configs: [{ targets, labels: { namespace: 'local', ...labels } }],
  });
  const config = {
    // Scrapes of the JMX agent took up to 2.5 s on a loaded 2-core machine: 5 s leaves room.
    global: { scrape_interval: '5s', scrape_timeout: '5s', evaluation_interval: '2s' },
    rule_files: [path.join(rootDir, 'rules.yaml')],
    scrape_configs: [
      job('cachetier-zookeeper', zk.servers.map((x) => `${x.host}:${METRICS_PORTS.zookeeper}`)),
      job('cachetier-kafka', kafka.nodes.map((x) => `${x.host}:${METRICS_PORTS.kafka}`)),
      job('cachetier-redis', redis.nodes.map((x) => `${x.host}:${METRICS_PORTS.redisExporter}`)),
      job('cachetier-producer', [`${producer.host}:${producer.metricsPort}`]),
      job('cachetier-openresty', nginx.map((h) => `${h.host}:${h.metricsPort}`)),
    ],
  };
  writeFileSync(path.join(rootDir, 'prometheus.yml'), YAML.stringify(config));
  prometheus = startProcess(
    'prometheus',
    'prometheus',
    [
      `--config.file=${path.join(rootDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(rootDir, 'prometheus-data')}`,
      `--web.listen-address=${PROM}`,
      '--storage.tsdb.retention.time=1h',
    ],
    { logDir: path.join(rootDir, 'logs') },
  );
  await waitForPort(`${IP}.90`, 9090, 60_000, prometheus);
  await waitFor('Prometheus ready', async () => (await fetch(`http://${PROM}/-/ready`).catch(() => null))?.status === 200, 60_000, 500);
});

afterAll(async () => {
  await stopAll();
  if (rootDir) rmSync(rootDir, { recursive: true, force: true });
});

test('promtool check rules accepts the shipped rule file', () => {
  const out = execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  expect(out).toContain(`SUCCESS: ${alerts.length} rules found`);
});

test('every target the scrape config names is up', async () => {
  await waitFor(
    'all targets up',
    async () => {
      const r = await query('up == 0 or absent(up)');
      return r.length === 0 && (await query('count(up)'))[0]?.value[1] === String(3 + 3 + 6 + 1 + 2);
    },
    90_000,
    1000,
  );
});

test('after a short load every dashboard query returns data, every alert metric exists, no alert fires', async () => {
  const dist = nginx[1];
  // Reads over a few products (cold and warm), and changes flowing through Kafka.
  const deadline = Date.now() + 25_000;
  let i = 0;
  while (Date.now() < deadline) {
    const id = 1 + (i % 20);
    await fetch(`${dist.url}/product?productId=${id}&shopId=1`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text());
    if (i % 40 === 0) {
      await fetch(`${source!.url}/product/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ price: 100 + i }),
      }).then((r) => r.text());
    }
    i++;
    await sleep(20);
  }
  await sleep(12_000); // two more scrapes and several rule evaluations

  const problems: string[] = (await query('up == 0')).map((r) => `target down: ${r.metric.job} ${r.metric.instance}`);
  expect(dashboards.map((d) => d.file)).toContain('cachetier-overview.json');
  for (const d of dashboards) {
    for (const p of d.panels) {
      for (const t of p.targets) {
        const r = await query(t.expr);
        const why = knownEmpty(t.expr);
        if (r.length === 0 && !why) problems.push(`${d.file} panel "${p.title}": no data for ${t.expr}`);
      }
    }
  }
  for (const a of alerts) {
    await query(a.expr); // evaluates (throws on an error)
    for (const name of metricNames(a.expr)) {
      if ((await query(`count({__name__="${name}"})`)).length === 0 && !knownEmpty(name)) {
        problems.push(`alert ${a.alert}: no series named ${name}`);
      }
    }
  }
  expect(problems).toEqual([]);
  expect((await activeAlerts()).map((a) => `${a.labels.alertname} ${a.state}`)).toEqual([]);
});

test('a change message dated far in the future fires CacheTierProducerDeadLettering', async () => {
  const k = new Kafka({ clientId: 'metrics-test', brokers: kafka!.brokers, logLevel: logLevel.NOTHING });
  const p = k.producer();
  await p.connect();
  try {
    const msg = { serviceId: 'productInfoService', id: 777, name: 'x', price: 1, shopId: 1, modifiedTime: '2999-01-01 10:00:00' };
    await p.send({ topic: DEFAULT_SPEC.kafka.topics.cacheMessage.name, messages: [{ key: '777', value: JSON.stringify(msg) }] });
  } finally {
    await p.disconnect();
  }
  await waitFor(
    'CacheTierProducerDeadLettering firing',
    async () => (await activeAlerts()).some((a) => a.labels.alertname === 'CacheTierProducerDeadLettering' && a.state === 'firing'),
    60_000,
    1000,
  );
  const fired = (await activeAlerts()).find((a) => a.labels.alertname === 'CacheTierProducerDeadLettering');
  expect(fired?.labels.reason).toBe('version_in_future');
});

test('stopping a Redis replica fires CacheTierRedisMasterWithoutReplica for its master', async () => {
  const roles = await query('redis_instance_info');
  const replica = roles.find((r) => r.metric.role === 'slave');
  expect(replica).toBeDefined();
  const node = redis!.nodes.find((n) => `${n.host}:${METRICS_PORTS.redisExporter}` === replica!.metric.instance)!;
  const masterHost = (await query(`redis_slave_info{instance="${replica!.metric.instance}"}`))[0]?.metric.master_host;
  await node.kill('SIGKILL');
  await waitFor(
    'CacheTierRedisMasterWithoutReplica firing',
    async () =>
      (await activeAlerts()).some(
        (a) => a.labels.alertname === 'CacheTierRedisMasterWithoutReplica' && a.state === 'firing' && (!masterHost || a.labels.instance.startsWith(`${masterHost}:`)),
      ),
    60_000,
    1000,
  );
});

test('with every Kafka broker down, OpenResty drops access-log records and CacheTierAccessLogDrops fires', async () => {
  const dist = nginx[1];
  for (let i = 0; i < kafka!.nodes.length; i++) await kafka!.kill(i);
  // Requests keep being answered (the access log never fails a request); their records cannot go anywhere.
  let stop = false;
  const load = (async () => {
    let i = 0;
    while (!stop) {
      const r = await fetch(`${dist.url}/product?productId=${1 + (i++ % 20)}&shopId=1`, { signal: AbortSignal.timeout(5000) });
      await r.text();
      expect(r.status).toBe(200);
      await sleep(20);
    }
  })();
  try {
    await waitFor(
      'CacheTierAccessLogDrops firing',
      async () => (await activeAlerts()).some((a) => a.labels.alertname === 'CacheTierAccessLogDrops' && a.state === 'firing'),
      120_000,
      1000,
    );
  } finally {
    stop = true;
    await load;
  }
});
