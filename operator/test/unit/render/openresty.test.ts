import { nginxCommand, nginxConfigInput, renderOpenResty } from '../../../src/render/openresty.js';
import { renderContext, type RenderOptions } from '../../../src/render/index.js';
import { CONFIG_HASH_ANNOTATION, configHash } from '../../../src/render/common.js';
import { renderNginxConf } from '../../../src/render/config/nginx.js';
import { find, makeTier, NS, type J } from './helpers.js';

const AUTH = { passwordSecretRef: { name: 'redis-auth', key: 'password' } };
const render = (spec: Parameters<typeof makeTier>[0] = {}, opts: RenderOptions = {}) =>
  renderOpenResty(makeTier(spec), renderContext(opts));
const files = (objs: J[], name: string) => find(objs, 'ConfigMap', `${name}-config`).data as Record<string, string>;
const LAYERS = [
  ['distribution', 'shop-openresty-distribution'],
  ['app', 'shop-openresty-app'],
] as const;

describe('OpenResty renderer', () => {
  test('distribution layer: app members from the app headless Service FQDN on 8080, cluster DNS resolver', () => {
    const input = nginxConfigInput(makeTier(), 'distribution', renderContext());
    expect(input.layer).toBe('distribution');
    expect(input.appUpstream).toEqual({
      kind: 'dns',
      name: `shop-openresty-app-headless.${NS}.svc.cluster.local`,
      port: 8080,
    });
    expect(input.resolver).toBe('kube-dns.kube-system.svc.cluster.local');
    expect(input.luaDir).toBe('/opt/cachetier/lua');
    expect(input.runDir).toBe('/tmp/nginx');
    expect(input.port).toBe(8080);
  });

  test('app layer: Redis seeds, producer URL and Kafka brokers as FQDNs (nginx ignores search paths); no upstream', () => {
    const input = nginxConfigInput(makeTier(), 'app', renderContext());
    expect(input.appUpstream).toBeUndefined();
    expect(input.redisSeeds).toEqual([0, 1, 2].map((i) => `shop-redis-${i}.shop-redis-headless.${NS}.svc.cluster.local:6379`));
    expect(input.producerUrl).toBe(`http://shop-producer.${NS}.svc.cluster.local:8080`);
    expect(input.kafkaBrokers).toEqual([0, 1, 2].map((i) => `shop-kafka-${i}.shop-kafka-headless.${NS}.svc.cluster.local:9092`));
    expect(input.redisAuth).toEqual({ username: 'openresty-app', passwordFile: '/etc/cachetier/redis-auth/password' });
  });

  test('resolver and cluster domain are options', () => {
    const input = nginxConfigInput(makeTier(), 'distribution', renderContext({ dnsResolver: '10.96.0.10', clusterDomain: 'corp.example' }));
    expect(input.resolver).toBe('10.96.0.10');
    expect(input.appUpstream).toMatchObject({ name: `shop-openresty-app-headless.${NS}.svc.corp.example` });
    expect(input.producerUrl).toBe(`http://shop-producer.${NS}.svc.corp.example:8080`);
  });

  test.each(LAYERS)('%s: ConfigMap holds renderNginxConf(input) and the pod template carries its hash', (layer, name) => {
    const tier = makeTier();
    const objs = renderOpenResty(tier, renderContext());
    const conf = renderNginxConf(tier, nginxConfigInput(tier, layer, renderContext()));
    const data = find(objs, 'ConfigMap', `${name}-config`).data;
    expect(data).toEqual({ 'nginx.conf': conf });
    const d = find(objs, 'Deployment', name);
    expect(d.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION]).toBe(configHash(data));
  });

  test.each(LAYERS)('%s: its own Redis ACL user, the password a file from the passwords Secret, not in env or the ConfigMap', (layer, name) => {
    const tier = makeTier({ redis: { auth: AUTH } });
    expect(nginxConfigInput(tier, layer, renderContext()).redisAuth).toEqual({ username: `openresty-${layer}`, passwordFile: '/etc/cachetier/redis-auth/password' });
    const objs = renderOpenResty(tier, renderContext());
    const pod = find(objs, 'Deployment', name).spec.template.spec;
    expect(pod.containers[0].env).toEqual([{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]);
    expect(pod.volumes).toContainEqual({ name: 'redis-auth', secret: { secretName: 'shop-redis-passwords', defaultMode: 0o440, items: [{ key: layer, path: 'password' }] } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'redis-auth', mountPath: '/etc/cachetier/redis-auth', readOnly: true });
    const conf = files(objs, name)['nginx.conf'];
    expect(conf).not.toMatch(/env REDIS_PASSWORD|password"\s*:/);
    expect(conf).toContain('/etc/cachetier/redis-auth/password');
  });

  test.each(LAYERS)('%s Deployment: nginx in the foreground with the mounted config, run dir on an emptyDir', (layer, name) => {
    const objs = render({ openresty: { distribution: { replicas: 4 }, app: { replicas: 5 } } });
    const d = find(objs, 'Deployment', name);
    expect(d.spec.replicas).toBe(layer === 'distribution' ? 4 : 5);
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).toMatch(/openresty:/);
    expect(pod.securityContext.runAsUser).toBe(10001);
    const cmd: string[] = c.command;
    expect(cmd[0]).toBe('nginx');
    expect(cmd[cmd.indexOf('-c') + 1]).toBe(`/etc/cachetier/${name.replace('shop-', '')}/nginx.conf`);
    expect(cmd[cmd.indexOf('-p') + 1]).toBe('/tmp/nginx/');
    const runMount = c.volumeMounts.find((m: J) => m.mountPath === '/tmp/nginx');
    expect(pod.volumes.find((v: J) => v.name === runMount.name).emptyDir).toEqual({});
    // The public port `http`, and /metrics on a port of its own named `metrics` (the rendered
    // nginx.conf listens on both).
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9145, protocol: 'TCP' },
    ]);
    expect(files(objs, name)['nginx.conf']).toContain('listen 0.0.0.0:9145;');
    // The rendered nginx.conf serves /healthz; both probes use it.
    expect(c.readinessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.port).toBe('http');
    expect(files(objs, name)['nginx.conf']).toMatch(/location = \/healthz/);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(find(objs, 'PodDisruptionBudget', name).spec.maxUnavailable).toBe(1);
    // Graceful stop: the same prefix and config, so `-s quit` finds the master's pid file.
    const quit: string = c.lifecycle.preStop.exec.command.join(' ');
    expect(quit).toContain(`-p /tmp/nginx/ -c ${cmd[cmd.indexOf('-c') + 1]} -s quit`);
  });

  test('nginxCommand adds `daemon off` only when the config does not set daemon itself', () => {
    expect(nginxCommand('worker_processes 1;\n', 'openresty-app')).toEqual(expect.arrayContaining(['-g', 'daemon off;']));
    expect(nginxCommand('daemon off;\nworker_processes 1;\n', 'openresty-app')).not.toContain('-g');
  });

  test('Services: the distribution Service is the entry point; the app headless Service lists ready pods only', () => {
    const objs = render();
    const entry = find(objs, 'Service', 'shop-openresty-distribution');
    expect(entry.spec.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(entry.spec.selector).toEqual(find(objs, 'Deployment', 'shop-openresty-distribution').spec.selector.matchLabels);
    const appHeadless = find(objs, 'Service', 'shop-openresty-app-headless');
    expect(appHeadless.spec.clusterIP).toBe('None');
    expect(appHeadless.spec.publishNotReadyAddresses).toBeUndefined();
    expect(appHeadless.spec.selector).toEqual(find(objs, 'Deployment', 'shop-openresty-app').spec.selector.matchLabels);
    // The two layers never select each other's pods.
    expect(entry.spec.selector).not.toEqual(appHeadless.spec.selector);
  });
});
