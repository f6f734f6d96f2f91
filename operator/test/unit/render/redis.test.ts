import { renderRedis } from '../../../src/render/redis.js';
import { redisSeedAddresses } from '../../../src/render/names.js';
import { renderAll, renderContext, type RenderOptions } from '../../../src/render/index.js';
import { find, makeTier, NS, ofKind, type J } from './helpers.js';

const AUTH = { passwordSecretRef: { name: 'redis-auth', key: 'password' } };
const render = (spec: Parameters<typeof makeTier>[0] = {}, opts: RenderOptions = {}) =>
  renderRedis(makeTier(spec), renderContext(opts));
const conf = (objs: J[]) => find(objs, 'ConfigMap', 'shop-redis-config').data['redis.conf'] as string;
const directive = (text: string, key: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${key} `));
  return line === undefined ? undefined : line.slice(key.length + 1);
};
const sts = (objs: J[]) => find(objs, 'StatefulSet', 'shop-redis');
const redisContainer = (objs: J[]) => sts(objs).spec.template.spec.containers[0];

describe('Redis renderer', () => {
  test('redis.conf: cluster mode, nodes.conf and AOF on the data volume', () => {
    const objs = render();
    const text = conf(objs);
    expect(directive(text, 'cluster-enabled')).toBe('yes');
    expect(directive(text, 'cluster-config-file')).toBe('nodes.conf');
    expect(directive(text, 'dir')).toBe('/data');
    expect(directive(text, 'appendonly')).toBe('yes');
    expect(directive(text, 'port')).toBe('6379');
    const dataMount = redisContainer(objs).volumeMounts.find((m: J) => m.name === 'data');
    expect(dataMount.mountPath).toBe('/data');
  });

  test('redis.conf carries maxmemory and spec.redis.config; never an announce IP or a password', () => {
    const text = conf(render({ redis: { maxmemory: '1gb', maxmemoryPolicy: 'volatile-lru', config: { hz: '20' }, auth: AUTH } }));
    expect(directive(text, 'maxmemory')).toBe('1gb');
    expect(directive(text, 'maxmemory-policy')).toBe('volatile-lru');
    expect(directive(text, 'hz')).toBe('20');
    expect(directive(text, 'cluster-announce-ip')).toBeUndefined();
    expect(directive(text, 'requirepass')).toBeUndefined();
    expect(directive(text, 'masterauth')).toBeUndefined();
  });

  test('a scaled-down member loses its claim (it returns empty); deletion keeps data unless told', () => {
    expect(sts(render()).spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenScaled: 'Delete', whenDeleted: 'Retain' });
    const del = render({ redis: { storage: { size: '1Gi', persistent: true, whenDeleted: 'Delete' } } });
    expect(sts(del).spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenScaled: 'Delete', whenDeleted: 'Delete' });
    // Without claims there is no policy to render.
    expect(sts(render({ redis: { storage: { size: '1Gi', persistent: false, whenDeleted: 'Retain' } } })).spec.persistentVolumeClaimRetentionPolicy).toBeUndefined();
  });

  test('announces the pod IP from the downward API', () => {
    const c = redisContainer(render());
    expect(c.command).toEqual(['redis-server']);
    expect(c.args).toEqual(['/etc/cachetier/redis/redis.conf', '--cluster-announce-ip', '$(POD_IP)']);
    expect(c.env.find((e: J) => e.name === 'POD_IP').valueFrom).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
    // $(POD_IP) only expands if POD_IP is declared in env.
    expect(c.env.findIndex((e: J) => e.name === 'POD_IP')).toBeGreaterThanOrEqual(0);
  });

  test('without auth: no password args, env or REDISCLI_AUTH', () => {
    const c = redisContainer(render());
    expect(c.args.join(' ')).not.toMatch(/requirepass|masterauth/);
    expect(c.env.map((e: J) => e.name)).toEqual(['POD_IP']);
  });

  test('with auth: REDIS_PASSWORD from the Secret key, passed as --requirepass/--masterauth $(REDIS_PASSWORD)', () => {
    const c = redisContainer(render({ redis: { auth: AUTH } }));
    const ref = { secretKeyRef: { name: 'redis-auth', key: 'password' } };
    expect(c.env.find((e: J) => e.name === 'REDIS_PASSWORD').valueFrom).toEqual(ref);
    expect(c.env.find((e: J) => e.name === 'REDISCLI_AUTH').valueFrom).toEqual(ref);
    const args: string[] = c.args;
    expect(args[args.indexOf('--requirepass') + 1]).toBe('$(REDIS_PASSWORD)');
    expect(args[args.indexOf('--masterauth') + 1]).toBe('$(REDIS_PASSWORD)');
    // The password reaches the pod only through secretKeyRef: no literal env values.
    for (const e of c.env) expect(e.value).toBeUndefined();
  });

  test('readiness: redis-cli PING (read-only), authenticated through REDISCLI_AUTH, never a password on the command line', () => {
    const c = redisContainer(render({ redis: { auth: AUTH } }));
    const cmd: string = c.readinessProbe.exec.command.join(' ');
    expect(cmd).toMatch(/redis-cli .*ping/i);
    expect(cmd).not.toMatch(/-a |--pass|--user|REDIS_PASSWORD/);
    expect(cmd).not.toMatch(/\b(set|del|flush\w*|cluster|config|shutdown)\b/i);
    expect(c.env.some((e: J) => e.name === 'REDISCLI_AUTH')).toBe(true);
    expect(c.livenessProbe.tcpSocket.port).toBe(6379);
  });

  test('Services expose 6379 and the cluster bus 16379; headless publishes not-ready addresses', () => {
    const objs = render();
    const headless = find(objs, 'Service', 'shop-redis-headless');
    expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    for (const svc of ofKind(objs, 'Service')) expect(svc.spec.ports.map((p: J) => p.port)).toEqual([6379, 16379]);
    expect(redisContainer(objs).ports.map((p: J) => p.containerPort)).toEqual([6379, 16379]);
  });

  test.each([
    [{}, {}, 6],
    [{ redis: { masters: 4 } }, {}, 8],
    [{ redis: { masters: 3, replicasPerMaster: 2 } }, {}, 9],
    [{ redis: { masters: 3, replicasPerMaster: 0 } }, {}, 3],
    // The orchestration grows the StatefulSet before new masters join and shrinks it after a drain.
    [{ redis: { masters: 4 } }, { redisStatefulSetReplicas: 6 }, 6],
    [{ redis: { masters: 3 } }, { redisStatefulSetReplicas: 8 }, 8],
  ])('spec %j with opts %j -> %i StatefulSet replicas', (spec, opts, want) => {
    expect(sts(render(spec, opts)).spec.replicas).toBe(want);
    expect(sts(renderAll(makeTier(spec), opts)).spec.replicas).toBe(want);
  });

  test('StatefulSet: redis 7.0 image, uid 999, Parallel, read-only root', () => {
    const s = sts(render());
    expect(s.spec.podManagementPolicy).toBe('Parallel');
    expect(s.spec.serviceName).toBe('shop-redis-headless');
    const pod = s.spec.template.spec;
    expect(pod.containers[0].image).toMatch(/^redis:7\.0\./);
    expect(pod.securityContext.runAsUser).toBe(999);
    expect(pod.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
  });

  test('seeds: a fixed few pods by stable DNS name, independent of the master count', () => {
    expect(redisSeedAddresses(makeTier())).toEqual([0, 1, 2].map((i) => `shop-redis-${i}.shop-redis-headless.${NS}.svc:6379`));
    expect(redisSeedAddresses(makeTier({ redis: { masters: 5 } }))).toEqual(redisSeedAddresses(makeTier()));
    expect(redisSeedAddresses(makeTier({ redis: { masters: 1, replicasPerMaster: 1 } }))).toHaveLength(2);
  });

  test('PDB: maxUnavailable 1', () => {
    expect(find(render(), 'PodDisruptionBudget', 'shop-redis').spec.maxUnavailable).toBe(1);
  });
});
