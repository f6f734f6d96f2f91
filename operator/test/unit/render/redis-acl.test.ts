import { createHash } from 'node:crypto';
import { REDIS_ACL_RULES, REDIS_ROLES, renderExporterPasswordFile, renderRedisAclFile, renderRedisAuthConf, type RedisCredentials } from '../../../src/render/config/redis-acl.js';

const CREDS: RedisCredentials = { operator: 'pw-operator', replication: 'pw-replication', producer: 'pw-producer', app: 'pw-app', distribution: 'pw-distribution', monitoring: 'pw-monitoring', member: 'pw-member' };
const acl = renderRedisAclFile(CREDS);
const lines = acl.trim().split('\n');
const userLine = (name: string) => {
  const l = lines.find((x) => x.startsWith(`user ${name} `));
  if (!l) throw new Error(`no user ${name}`);
  return l.split(' ');
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('Redis ACL file', () => {
  test('default user off, without password, keys, channels or commands', () => {
    expect(lines[0]).toBe('user default off resetpass resetkeys resetchannels -@all');
    expect(acl).not.toMatch(/nopass/);
  });

  test('one user per role, on, with the sha256 of its password (never the password)', () => {
    expect(lines).toHaveLength(1 + REDIS_ROLES.length);
    const names = { operator: 'operator', replication: 'replication', producer: 'cache-producer', app: 'openresty-app', distribution: 'openresty-distribution', monitoring: 'monitoring', member: 'member' };
    for (const role of REDIS_ROLES) {
      const l = userLine(names[role]);
      expect(l[2]).toBe('on');
      expect(l[3]).toBe(`#${sha(CREDS[role])}`);
      expect(l.slice(4)).toEqual(REDIS_ACL_RULES[role]);
      expect(acl).not.toContain(CREDS[role]);
    }
  });

  test('operator: everything', () => {
    expect(userLine('operator').slice(4)).toEqual(['~*', '&*', '+@all']);
  });

  test('replication: what a replica sends its master, no keys', () => {
    const r = userLine('replication');
    expect(r).toEqual(expect.arrayContaining(['-@all', '+psync', '+replconf', '+ping']));
    expect(r.some((x) => x.startsWith('~') || x.startsWith('%'))).toBe(false);
  });

  test('producer: its keys and channel; reads, writes and scripts, minus @dangerous', () => {
    const p = userLine('cache-producer');
    expect(p).toEqual(expect.arrayContaining(['~product_info_*', '~shop_info_*', '~cachetier:fill:*', '~cachetier:hot', 'resetchannels', '&cachetier:invalidate']));
    expect(p).toEqual(expect.arrayContaining(['+eval', '+evalsha', '+publish', '+wait', '+cluster|slots', '+asking']));
    expect(p.indexOf('-@dangerous')).toBeGreaterThan(p.indexOf('+@write'));
    expect(p.some((x) => x === '~*' || x === '&*' || x === '+@all' || /flush|config|\+cluster$|\+@admin/i.test(x))).toBe(false);
  });

  test('app: read-only entries (%R~), GET/PTTL, the invalidation channel, cluster topology', () => {
    const a = userLine('openresty-app');
    expect(a.slice(4)).toEqual([
      '%R~product_info_*',
      '%R~shop_info_*',
      'resetchannels',
      '&cachetier:invalidate',
      '-@all',
      '+get',
      '+pttl',
      '+subscribe',
      '+unsubscribe',
      '+ping',
      '+cluster|slots',
      '+asking',
    ]);
  });

  test('distribution: the hot set, read-only', () => {
    expect(userLine('openresty-distribution').slice(4)).toEqual(['%R~cachetier:hot', 'resetchannels', '-@all', '+zrangebyscore', '+ping', '+cluster|slots', '+asking']);
  });

  test('auth.conf: masteruser + masterauth; refuses a password that would break the line', () => {
    expect(renderRedisAuthConf(CREDS)).toBe('masteruser replication\nmasterauth pw-replication\n');
    expect(() => renderRedisAuthConf({ replication: 'a b' })).toThrow();
    expect(() => renderRedisAuthConf({ replication: 'a\nrequirepass x' })).toThrow();
  });
});

describe('the monitoring user (redis_exporter)', () => {
  test('reads server statistics only: no key, no channel, nothing that writes', () => {
    const line = renderRedisAclFile(CREDS).split('\n').find((l) => l.startsWith('user monitoring '))!;
    expect(line).toContain(' -@all ');
    expect(line).toMatch(/ \+info( |$)/);
    expect(line).not.toMatch(/ ~| %R~| &|\+@/);
  });
  test("its password file maps the exporter's one target to its password", () => {
    expect(JSON.parse(renderExporterPasswordFile('redis://127.0.0.1:6379', CREDS))).toEqual({ 'redis://127.0.0.1:6379': 'pw-monitoring' });
  });
});
