// spec.metrics: the exporters the operator renders for ZooKeeper, Kafka and Redis, and that
// metrics.enabled: false removes every one of them.
import { writeFileSync } from 'node:fs';
import YAML from 'yaml';
import { renderKafka } from '../../../src/render/kafka.js';
import { renderRedis } from '../../../src/render/redis.js';
import { renderZooKeeper } from '../../../src/render/zookeeper.js';
import { renderContext } from '../../../src/render/index.js';
import { KAFKA_JMX_CONFIG_FILE } from '../../../src/render/config/kafka-jmx.js';
import { find, makeTier, runStartScript, type J, type SpecPatch } from './helpers.js';

const ctx = renderContext();
const zk = (spec: SpecPatch = {}) => renderZooKeeper(makeTier(spec), ctx);
const kafka = (spec: SpecPatch = {}) => renderKafka(makeTier(spec), ctx);
const redis = (spec: SpecPatch = {}) => renderRedis(makeTier(spec), ctx);
const pod = (objs: J[], name: string) => find(objs, 'StatefulSet', name).spec.template.spec;
const ports = (c: J) => (c.ports as { name: string; containerPort: number }[]).map((p) => `${p.name}:${p.containerPort}`);
const OFF = { metrics: { enabled: false } };

describe('ZooKeeper metrics', () => {
  const cfg = (objs: J[]) => find(objs, 'ConfigMap', 'shop-zookeeper-config').data['zoo.cfg'] as string;

  test('on by default: the built-in Prometheus provider on 7000, a container port named metrics', () => {
    const objs = zk();
    expect(cfg(objs)).toMatch(/^metricsProvider\.className=org\.apache\.zookeeper\.metrics\.prometheus\.PrometheusMetricsProvider$/m);
    expect(cfg(objs)).toMatch(/^metricsProvider\.httpPort=7000$/m);
    expect(cfg(objs)).not.toMatch(/httpHost/);
    expect(ports(pod(objs, 'shop-zookeeper').containers[0])).toContain('metrics:7000');
  });

  test("the operator's provider settings win over spec.zookeeper.config", () => {
    const c = cfg(zk({ zookeeper: { config: { 'metricsProvider.httpPort': '1234', tickTime: '3000' } } }));
    expect(c.match(/^metricsProvider\.httpPort=.*$/gm)).toEqual(['metricsProvider.httpPort=7000']);
    expect(c).toMatch(/^tickTime=3000$/m);
  });

  test('metrics.enabled: false renders no provider and no metrics port', () => {
    const objs = zk(OFF);
    expect(cfg(objs)).not.toMatch(/metricsProvider/);
    expect(ports(pod(objs, 'shop-zookeeper').containers[0])).not.toContain('metrics:7000');
  });
});

describe('Kafka metrics', () => {
  const files = (objs: J[]) => find(objs, 'ConfigMap', 'shop-kafka-config').data as Record<string, string>;
  const start = (objs: J[], agentExists: boolean) => {
    const f = files(objs);
    return runStartScript(f['start.sh'], { HOSTNAME: 'shop-kafka-0' }, 'echo "OPTS:${KAFKA_OPTS:-}"', (dir, fake) => {
      const src = `${dir}/server.properties.template`;
      writeFileSync(src, f['server.properties']);
      const agent = `${dir}/agent.jar`;
      if (agentExists) writeFileSync(agent, '');
      return { CACHETIER_KAFKA_CONFIG: src, CACHETIER_KAFKA_RUNTIME_DIR: dir, CACHETIER_KAFKA_START: fake, CACHETIER_KAFKA_JMX_AGENT: agent };
    });
  };

  test('the JMX exporter rules ship in the ConfigMap (valid YAML with the rules the alerts need)', () => {
    const rules = YAML.parse(files(kafka())[KAFKA_JMX_CONFIG_FILE]) as { rules: { pattern: string; name: string }[] };
    const names = rules.rules.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['kafka_$1_$2_$3', 'kafka_server_$1_$2_total', 'kafka_network_requestmetrics_requests_total']));
    for (const r of rules.rules) expect(() => new RegExp(r.pattern)).not.toThrow();
    expect(ports(pod(kafka(), 'shop-kafka').containers[0])).toContain('metrics:9404');
  });

  test('the start script loads the agent on 9404 with the mounted rules when the image has it', () => {
    const r = start(kafka(), true);
    try {
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(`OPTS: -javaagent:${r.dir}/agent.jar=9404:/etc/cachetier/kafka/${KAFKA_JMX_CONFIG_FILE}`);
    } finally {
      r.cleanup();
    }
  });

  test('an image without the agent still starts the broker, without metrics', () => {
    const r = start(kafka(), false);
    try {
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe('OPTS:');
    } finally {
      r.cleanup();
    }
  });

  test('metrics.enabled: false: no agent, no rules file, no metrics port', () => {
    const objs = kafka(OFF);
    expect(files(objs)[KAFKA_JMX_CONFIG_FILE]).toBeUndefined();
    expect(files(objs)['start.sh']).not.toMatch(/javaagent/);
    expect(ports(pod(objs, 'shop-kafka').containers[0])).toEqual(['kafka:9092']);
  });
});

describe('Redis metrics', () => {
  test('a redis_exporter sidecar speaks to its own member and serves on 9121', () => {
    const containers = pod(redis(), 'shop-redis').containers as J[];
    expect(containers.map((c) => c.name)).toEqual(['redis', 'metrics']);
    const m = containers[1];
    expect(m.image).toBe('oliver006/redis_exporter:v1.45.0');
    expect(m.command).toEqual(['/redis_exporter']);
    expect(ports(m)).toEqual(['metrics:9121']);
    const env = Object.fromEntries((m.env as J[]).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env.REDIS_ADDR).toBe('redis://127.0.0.1:6379');
    expect(env.REDIS_EXPORTER_WEB_LISTEN_ADDRESS).toBe(':9121');
    expect(env.REDIS_PASSWORD).toBeUndefined();
    expect(m.securityContext.readOnlyRootFilesystem).toBe(true);
  });

  test('the exporter authenticates as the read-only monitoring ACL user, its password a file holding only its own key', () => {
    const spec = pod(redis({ redis: { auth: { passwordSecretRef: { name: 's', key: 'k' } } } }), 'shop-redis');
    const m = spec.containers[1];
    const env = Object.fromEntries((m.env as J[]).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env.REDIS_USER).toBe('monitoring');
    expect(env.REDIS_PASSWORD_FILE).toBe('/etc/redis-exporter/exporter-passwords.json');
    expect((m.env as J[]).some((e) => e.valueFrom?.secretKeyRef)).toBe(false);
    expect(m.volumeMounts).toEqual([{ name: 'exporter-auth', mountPath: '/etc/redis-exporter', readOnly: true }]);
    const vol = (spec.volumes as J[]).find((v) => v.name === 'exporter-auth');
    expect(vol.secret).toEqual({ secretName: 'shop-redis-acl', defaultMode: 0o440, items: [{ key: 'exporter-passwords.json', path: 'exporter-passwords.json' }] });
  });

  test('the image is spec.metrics.redisExporterImage; metrics.enabled: false removes the sidecar', () => {
    expect(pod(redis({ metrics: { redisExporterImage: 'cachetier.local/redis:7.0.15' } }), 'shop-redis').containers[1].image).toBe(
      'cachetier.local/redis:7.0.15',
    );
    expect((pod(redis(OFF), 'shop-redis').containers as J[]).map((c) => c.name)).toEqual(['redis']);
  });
});
