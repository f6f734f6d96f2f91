import { writeFileSync } from 'node:fs';
import { renderKafka } from '../../../src/render/kafka.js';
import { kafkaBrokerAddresses } from '../../../src/render/names.js';
import { renderContext } from '../../../src/render/index.js';
import { BROKER_ID_PLACEHOLDER, POD_HOST_PLACEHOLDER } from '../../../src/render/config/kafka.js';
import { find, makeTier, NS, runStartScript, type J } from './helpers.js';

const render = (spec: Parameters<typeof makeTier>[0] = {}, clusterDomain?: string) =>
  renderKafka(makeTier(spec), renderContext({ clusterDomain }));
const files = (objs: J[]) => find(objs, 'ConfigMap', 'shop-kafka-config').data as Record<string, string>;
const prop = (text: string, key: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${key}=`));
  return line === undefined ? undefined : line.slice(key.length + 1);
};

/** Runs the rendered start script as pod `hostname` would; the fake broker prints its config. */
function startAs(objs: J[], hostname: string) {
  const f = files(objs);
  return runStartScript(f['start.sh'], { HOSTNAME: hostname }, 'echo "ARG:$1"; cat "$1"', (dir, fake) => {
    const src = `${dir}/server.properties.template`;
    writeFileSync(src, f['server.properties']);
    // No agent at this path: the broker starts without metrics (tested in metrics.test.ts).
    return { CACHETIER_KAFKA_CONFIG: src, CACHETIER_KAFKA_RUNTIME_DIR: dir, CACHETIER_KAFKA_START: fake, CACHETIER_KAFKA_JMX_AGENT: `${dir}/none.jar` };
  });
}

describe('Kafka renderer', () => {
  test('the ConfigMap holds one server.properties for all brokers, with identity placeholders', () => {
    const props = files(render())['server.properties'];
    expect(prop(props, 'broker.id')).toBe(BROKER_ID_PLACEHOLDER);
    expect(prop(props, 'advertised.listeners')).toBe(`PLAINTEXT://${POD_HOST_PLACEHOLDER}:9092`);
    expect(prop(props, 'listeners')).toBe('PLAINTEXT://0.0.0.0:9092');
    expect(prop(props, 'log.dirs')).toBe('/var/lib/kafka/data');
  });

  test.each([1, 3, 5])('zookeeper.connect names all %i ZooKeeper pods by stable DNS name, under the /kafka chroot', (n) => {
    const props = files(render({ zookeeper: { replicas: n } }))['server.properties'];
    const hosts = Array.from({ length: n }, (_, i) => `shop-zookeeper-${i}.shop-zookeeper-headless.${NS}.svc:2181`);
    expect(prop(props, 'zookeeper.connect')).toBe(`${hosts.join(',')}/kafka`);
  });

  test.each([0, 1, 2, 7])('the start script gives pod ordinal %i broker.id = ordinal and its own FQDN as advertised host', (ordinal) => {
    const r = startAs(render(), `shop-kafka-${ordinal}`);
    try {
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const [argLine, ...rest] = r.stdout.split('\n');
      // The broker gets the writable copy, not the read-only ConfigMap file.
      expect(argLine).toBe(`ARG:${r.dir}/server.properties`);
      const props = rest.join('\n');
      expect(prop(props, 'broker.id')).toBe(String(ordinal));
      expect(prop(props, 'advertised.listeners')).toBe(
        `PLAINTEXT://shop-kafka-${ordinal}.shop-kafka-headless.${NS}.svc.cluster.local:9092`,
      );
      expect(props).not.toContain(BROKER_ID_PLACEHOLDER);
      expect(props).not.toContain(POD_HOST_PLACEHOLDER);
    } finally {
      r.cleanup();
    }
  });

  test('the advertised FQDN follows the clusterDomain option', () => {
    const r = startAs(render({}, 'corp.example'), 'shop-kafka-1');
    try {
      expect(r.stdout).toContain(`PLAINTEXT://shop-kafka-1.shop-kafka-headless.${NS}.svc.corp.example:9092`);
    } finally {
      r.cleanup();
    }
  });

  test('the start script refuses a hostname without an ordinal', () => {
    const r = startAs(render(), 'kafka');
    try {
      expect(r.status).not.toBe(0);
    } finally {
      r.cleanup();
    }
  });

  test('spec.kafka.config reaches server.properties; identity keys cannot be overridden', () => {
    const props = files(render({ kafka: { config: { 'log.retention.hours': '24', 'broker.id': '99' } } }))['server.properties'];
    expect(prop(props, 'log.retention.hours')).toBe('24');
    expect(prop(props, 'broker.id')).toBe(BROKER_ID_PLACEHOLDER);
  });

  test('StatefulSet: apache/kafka 3.9 image, kafka-server-start.sh via the script, uid 1000, writable LOG_DIR', () => {
    const objs = render({ kafka: { replicas: 4 } });
    const sts = find(objs, 'StatefulSet', 'shop-kafka');
    expect(sts.spec.replicas).toBe(4);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    expect(sts.spec.serviceName).toBe('shop-kafka-headless');
    const pod = sts.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).toMatch(/^apache\/kafka:3\.9\./);
    expect(c.command).toEqual(['sh', '/etc/cachetier/kafka/start.sh']);
    expect(files(objs)['start.sh']).toContain('/opt/kafka/bin/kafka-server-start.sh');
    expect(pod.securityContext.runAsUser).toBe(1000);
    const mount = (path: string) => c.volumeMounts.find((m: J) => m.mountPath === path);
    const vol = (name: string) => pod.volumes.find((v: J) => v.name === name);
    const logDir = c.env.find((e: J) => e.name === 'LOG_DIR').value;
    expect(vol(mount(logDir).name).emptyDir).toEqual({});
    expect(vol(mount('/opt/kafka/config-runtime').name).emptyDir).toEqual({});
    expect(vol(mount('/tmp').name).emptyDir).toEqual({});
    // log.dirs is below the volume's root (never the lost+found directory itself).
    expect(mount('/var/lib/kafka').name).toBe('data');
    expect(c.env.find((e: J) => e.name === 'KAFKA_HEAP_OPTS').value).toBe('-Xms1024m -Xmx1024m');
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
  });

  test('readiness asks the broker (ApiVersions on 9092), liveness is TCP; Services: headless with not-ready addresses, client on 9092', () => {
    const objs = render();
    const c = find(objs, 'StatefulSet', 'shop-kafka').spec.template.spec.containers[0];
    expect(c.readinessProbe.exec.command.slice(0, 2)).toEqual(['bash', '-c']);
    expect(c.readinessProbe.exec.command[2]).toContain('/dev/tcp/127.0.0.1/9092');
    expect(c.readinessProbe.timeoutSeconds).toBeGreaterThan(4); // the script's own read timeout
    expect(c.livenessProbe.tcpSocket.port).toBe(9092);
    const headless = find(objs, 'Service', 'shop-kafka-headless');
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(find(objs, 'Service', 'shop-kafka').spec.ports).toEqual([{ name: 'kafka', port: 9092, protocol: 'TCP' }]);
  });

  test('broker addresses for clients are the pods’ DNS names', () => {
    expect(kafkaBrokerAddresses(makeTier())).toEqual([0, 1, 2].map((i) => `shop-kafka-${i}.shop-kafka-headless.${NS}.svc:9092`));
  });

  test('PDB: maxUnavailable 1, never below min.insync.replicas with RF 3', () => {
    const objs = render();
    expect(find(objs, 'PodDisruptionBudget', 'shop-kafka').spec.maxUnavailable).toBe(1);
    const props = files(objs)['server.properties'];
    const rf = Number(prop(props, 'default.replication.factor'));
    const isr = Number(prop(props, 'min.insync.replicas'));
    expect(rf - 1).toBeGreaterThanOrEqual(isr);
  });
});
