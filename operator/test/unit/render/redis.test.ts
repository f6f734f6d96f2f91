import { REDIS_ACL_HASH_ANNOTATION, renderRedis } from '../../../src/render/redis.js';
import { renderRedisAclFile, type RedisCredentials } from '../../../src/render/config/redis-acl.js';
import { redisSeedAddresses } from '../../../src/render/names.js';
import { renderAll, renderContext, type RenderOptions } from '../../../src/render/index.js';
import { find, makeTier, NS, ofKind, type J } from './helpers.js';

const AUTH = { passwordSecretRef: { name: 'redis-auth', key: 'password' } };
const CREDS: RedisCredentials = { operator: 'pw-operator', replication: 'pw-replication', producer: 'pw-producer', app: 'pw-app', distribution: 'pw-distribution', monitoring: 'pw-monitoring', member: 'pw-member' };
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

  test('no password in args or env, whatever the spec: only POD_IP from the downward API', () => {
    for (const spec of [{}, { redis: { auth: AUTH } }]) {
      const c = redisContainer(render(spec, { redisCredentials: CREDS }));
      expect(c.args.join(' ')).not.toMatch(/requirepass|masterauth|PASSWORD/);
      expect(c.env).toEqual([{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }]);
    }
  });

  test('redis.conf loads the ACL file and auth.conf from the ACL Secret volume', () => {
    const objs = render({}, { redisCredentials: CREDS });
    const text = conf(objs);
    expect(directive(text, 'aclfile')).toBe('/etc/cachetier/redis-auth/users.acl');
    expect(directive(text, 'include')).toBe('/etc/cachetier/redis-auth/auth.conf');
    expect(text.indexOf('aclfile')).toBeGreaterThan(text.indexOf('maxmemory'));
    const pod = sts(objs).spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'redis-auth', secret: { secretName: 'shop-redis-acl', defaultMode: 0o440 } });
    expect(redisContainer(objs).volumeMounts).toContainEqual({ name: 'redis-auth', mountPath: '/etc/cachetier/redis-auth', readOnly: true });
    // spec.redis.config cannot switch ACLs off or point them elsewhere.
    const own = conf(render({ redis: { config: { aclfile: '/tmp/x', user: 'default on nopass', masteruser: 'x', include: '/x' } } }));
    expect(own).not.toMatch(/\/tmp\/x|nopass|masteruser x|include \/x/);
  });

  test('the ACL Secret: users.acl with hashes, auth.conf with the replication user, owned by the tier', () => {
    const objs = render({}, { redisCredentials: CREDS });
    const secret = find(objs, 'Secret', 'shop-redis-acl');
    expect(secret.metadata.ownerReferences[0]).toMatchObject({ kind: 'CacheTier', name: 'shop', controller: true });
    const files = Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    expect(files['users.acl']).toBe(renderRedisAclFile(CREDS));
    expect(files['auth.conf']).toBe('masteruser replication\nmasterauth pw-replication\n');
    expect(files['member-password']).toBe('pw-member');
    for (const pw of Object.values(CREDS)) expect(files['users.acl']).not.toContain(pw);
    // A password change rolls the members (the annotation is the ACL Secret's hash).
    const a = sts(objs).spec.template.metadata.annotations[REDIS_ACL_HASH_ANNOTATION];
    const b = sts(render({}, { redisCredentials: { ...CREDS, app: 'other' } })).spec.template.metadata.annotations[REDIS_ACL_HASH_ANNOTATION];
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(b).not.toBe(a);
  });

  test('without the passwords: no ACL Secret and no hash annotation (nothing to compare, nothing rolls)', () => {
    const objs = render();
    expect(objs.some((o) => o.kind === 'Secret')).toBe(false);
    expect(sts(objs).spec.template.metadata.annotations[REDIS_ACL_HASH_ANNOTATION]).toBeUndefined();
  });

  test('readiness and preStop run as the member user, password from the mounted file via REDISCLI_AUTH', () => {
    const c = redisContainer(render({ redis: { auth: AUTH } }, { redisCredentials: CREDS }));
    for (const cmd of [c.readinessProbe.exec.command.join(' '), c.lifecycle.preStop.exec.command.join(' ')]) {
      expect(cmd).toContain(`REDISCLI_AUTH="$(cat '/etc/cachetier/redis-auth/member-password')"`);
      expect(cmd).toContain("--user 'member'");
      expect(cmd).not.toMatch(/-a |--pass|pw-/);
    }
    const ready = c.readinessProbe.exec.command.join(' ');
    expect(ready).toMatch(/ping/);
    expect(ready).toContain('cluster_state');
    expect(ready).not.toMatch(/\b(set|del|flush\w*|failover|config|shutdown)\b/i);
    expect(c.lifecycle.preStop.exec.command.join(' ')).toContain('cluster failover');
    expect(c.livenessProbe.tcpSocket.port).toBe(6379);
  });

  test('the grace period covers the preStop hand-over', () => {
    expect(sts(render()).spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(20 + 5 * 3);
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
