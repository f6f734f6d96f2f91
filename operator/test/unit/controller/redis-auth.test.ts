// The observe step's Redis passwords: the operator-owned Secret is created once, never regenerated,
// completed when a key is missing; the admin password comes from spec.redis.auth when set.
import { resolve } from '../../../src/api/defaults.js';
import { observeRedisAuth } from '../../../src/controller/steps/redis-auth.js';
import { observeRedis } from '../../../src/controller/steps/observe.js';
import { FakeKube } from '../runtime/fake-kube.js';
import { makeTier, NS } from './helpers.js';

const SECRET = 'shop-redis-passwords';
const ROLES = ['operator', 'replication', 'producer', 'app', 'distribution', 'monitoring', 'member'];

function fresh(): FakeKube {
  const kube = new FakeKube();
  kube.secrets.clear();
  return kube;
}

describe('Redis passwords (observe)', () => {
  test('no Secret yet: one POST of an owned Secret with a random password per role; the next pass reads it back', async () => {
    const kube = fresh();
    const tier = resolve(makeTier());
    const first = await observeRedisAuth(kube, tier);
    expect(first.problem).toBeUndefined();
    const creds = first.credentials!;
    expect(Object.keys(creds).sort()).toEqual([...ROLES].sort());
    for (const pw of Object.values(creds)) expect(pw).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(Object.values(creds)).size).toBe(ROLES.length);
    const creates = kube.writes.filter((w) => w.kind === 'Secret');
    expect(creates.map((w) => [w.verb, w.name])).toEqual([['create', SECRET]]);
    const body = creates[0].body as { metadata: { ownerReferences: Array<{ kind: string; controller: boolean }> } };
    expect(body.metadata.ownerReferences[0]).toMatchObject({ kind: 'CacheTier', controller: true });
    // Never regenerated: the same passwords, no write.
    kube.writes = [];
    expect((await observeRedisAuth(kube, tier)).credentials).toEqual(creds);
    expect(kube.writes).toEqual([]);
  });

  test('a missing key is added; the others are kept', async () => {
    const kube = fresh();
    const tier = resolve(makeTier());
    const creds = (await observeRedisAuth(kube, tier)).credentials!;
    const live = kube.find('Secret', SECRET)!;
    delete (live.data as Record<string, string>).app;
    kube.writes = [];
    const again = (await observeRedisAuth(kube, tier)).credentials!;
    expect(again.app).not.toBe(creds.app);
    expect({ ...again, app: creds.app }).toEqual(creds);
    expect(kube.writes.map((w) => w.verb)).toEqual(['apply']);
  });

  test('spec.redis.auth: the admin password from that Secret, the other roles generated', async () => {
    const kube = fresh();
    kube.secrets.set(`${NS}/redis-admin`, { pw: 'admin-from-user' });
    const tier = resolve(makeTier({ redis: { auth: { passwordSecretRef: { name: 'redis-admin', key: 'pw' } } } }));
    const obs = await observeRedis(kube, tier);
    expect(obs.passwordProblem).toBeUndefined();
    expect(obs.username).toBe('operator');
    expect(obs.password).toBe('admin-from-user');
    expect(obs.credentials?.operator).toBe('admin-from-user');
    const generated = kube.find('Secret', SECRET)!.data as Record<string, string>;
    expect(Object.keys(generated).sort()).toEqual(ROLES.filter((r) => r !== 'operator').sort());
  });

  test('a missing or failing Secret is a problem naming it, never a value', async () => {
    const kube = fresh();
    const tier = resolve(makeTier({ redis: { auth: { passwordSecretRef: { name: 'nope', key: 'pw' } } } }));
    expect(await observeRedisAuth(kube, tier)).toEqual({ problem: 'Secret nope not found' });
    const k2 = fresh();
    k2.failOn = (verb, kind) => (verb === 'create' && kind === 'Secret' ? new Error('forbidden') : undefined);
    const r = await observeRedisAuth(k2, resolve(makeTier()));
    expect(r.credentials).toBeUndefined();
    expect(r.problem).toMatch(/^Secret shop-redis-passwords: .*forbidden/);
  });
});
