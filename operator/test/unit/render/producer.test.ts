import { renderProducer, producerEndpoints } from '../../../src/render/producer.js';
import { renderContext } from '../../../src/render/index.js';
import { configHash, CONFIG_HASH_ANNOTATION } from '../../../src/render/common.js';
import { producerEnv } from '../../../src/render/config/producer.js';
import { find, makeTier, NS, type J } from './helpers.js';

const AUTH = { passwordSecretRef: { name: 'redis-auth', key: 'password' } };
const render = (spec: Parameters<typeof makeTier>[0] = {}) => renderProducer(makeTier(spec), renderContext());
const deploy = (objs: J[]) => find(objs, 'Deployment', 'shop-producer');
const cm = (objs: J[]) => find(objs, 'ConfigMap', 'shop-producer-config');

describe('cache-producer renderer', () => {
  test('endpoints: Kafka pods :9092, ZooKeeper pods :2181, Redis pod seeds :6379, all by stable DNS name', () => {
    const ep = producerEndpoints(makeTier({ kafka: { replicas: 3 }, zookeeper: { replicas: 5 } }));
    expect(ep.kafkaBrokers).toEqual([0, 1, 2].map((i) => `shop-kafka-${i}.shop-kafka-headless.${NS}.svc:9092`));
    expect(ep.zookeeperConnect).toBe(
      [0, 1, 2, 3, 4].map((i) => `shop-zookeeper-${i}.shop-zookeeper-headless.${NS}.svc:2181`).join(','),
    );
    expect(ep.redisSeeds).toEqual([0, 1, 2].map((i) => `shop-redis-${i}.shop-redis-headless.${NS}.svc:6379`));
  });

  test('the env ConfigMap is exactly producerEnv(tier, endpoints), and the pod loads it with envFrom', () => {
    const tier = makeTier();
    const objs = render();
    const data = cm(objs).data;
    expect(data).toEqual(producerEnv(tier, producerEndpoints(tier)));
    expect(data.HTTP_PORT).toBe('8080');
    expect(data.METRICS_PORT).toBe('9464');
    const c = deploy(objs).spec.template.spec.containers[0];
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'shop-producer-config' } }]);
  });

  test('config hash covers the env ConfigMap', () => {
    const objs = render();
    expect(deploy(objs).spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION]).toBe(configHash(cm(objs).data));
    const other = render({ producer: { localCache: { ttlSeconds: 30 } } });
    expect(deploy(other).spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION]).not.toBe(
      deploy(objs).spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION],
    );
  });

  test('Redis: the cache-producer ACL user, its password a file from the passwords Secret (its key only), never env', () => {
    for (const spec of [{}, { redis: { auth: AUTH } }]) {
      const objs = render(spec);
      expect(cm(objs).data).toMatchObject({ REDIS_USERNAME: 'cache-producer', REDIS_PASSWORD_FILE: '/etc/cachetier/redis-auth/password' });
      expect(Object.keys(cm(objs).data)).not.toContain('REDIS_PASSWORD');
      const pod = deploy(objs).spec.template.spec;
      const c = pod.containers[0];
      expect((c.env ?? []).map((e: J) => e.name)).not.toContain('REDIS_PASSWORD');
      for (const e of c.env ?? []) expect(e.valueFrom).toBeUndefined();
      expect(pod.volumes).toContainEqual({ name: 'redis-auth', secret: { secretName: 'shop-redis-passwords', defaultMode: 0o440, items: [{ key: 'producer', path: 'password' }] } });
      expect(c.volumeMounts).toContainEqual({ name: 'redis-auth', mountPath: '/etc/cachetier/redis-auth', readOnly: true });
    }
  });

  test('V8 old space capped at half the memory limit (the default limit 256Mi -> 128 MB)', () => {
    const envOf = (objs: J[]) => (deploy(objs).spec.template.spec.containers[0].env ?? []) as J[];
    expect(envOf(render())).toEqual([{ name: 'NODE_OPTIONS', value: '--max-old-space-size=128' }]);
    expect(envOf(render({ producer: { resources: { limits: { memory: '1Gi' } } } }))).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=512' });
  });

  test('Deployment: this repo’s image, uid 10001, HTTP 8080, metrics 9464, probes on /healthz and /readyz', () => {
    const d = deploy(render({ producer: { replicas: 4 } }));
    expect(d.spec.replicas).toBe(4);
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).toMatch(/cache-producer:/);
    expect(pod.securityContext.runAsUser).toBe(10001);
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9464, protocol: 'TCP' },
    ]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'redis-auth', mountPath: '/etc/cachetier/redis-auth', readOnly: true },
    ]);
  });

  test('Service on 8080 selecting the producer pods', () => {
    const objs = render();
    const svc = find(objs, 'Service', 'shop-producer');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(svc.spec.selector).toEqual(deploy(objs).spec.selector.matchLabels);
  });

  test.each([1, 2, 5])('PDB with %i replicas: maxUnavailable 1 (blocks nothing at 1 replica)', (replicas) => {
    expect(find(render({ producer: { replicas } }), 'PodDisruptionBudget', 'shop-producer').spec.maxUnavailable).toBe(1);
  });
});
