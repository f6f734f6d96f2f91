// The Redis readiness and preStop commands as rendered (their behaviour against real redis-server
// is tested in the Redis integration tier, operator/test/integration/redis/roll.test.ts).
import { describe, expect, test } from '@jest/globals';
import { redisPreStopCommand, redisReadinessCommand, shq } from '../../../src/render/config/redis-probe.js';

const auth = { user: 'monitoring', passwordFile: '/etc/cachetier/redis-auth/probe-password' };

describe('Redis probe commands', () => {
  test('readiness: sh -c, the password read from its file into REDISCLI_AUTH, the user and port in argv', () => {
    const [sh, c, script] = redisReadinessCommand(auth);
    expect([sh, c]).toEqual(['sh', '-c']);
    expect(script).toContain(`export REDISCLI_AUTH="$(cat '/etc/cachetier/redis-auth/probe-password')"`);
    expect(script).toContain("--user 'monitoring' -h \"$h\" -p \"$p\"");
    expect(script).toContain("me() { at '127.0.0.1' 6379 \"$@\"; }");
    expect(script).not.toMatch(/-a |--pass/);
    for (const rule of ['cluster_known_nodes', 'cluster_slots_assigned', 'cluster_state', 'master_link_status']) expect(script).toContain(rule);
  });

  test('preStop: always exits 0, waits the given seconds, talks to the replica by its announced address', () => {
    const script = redisPreStopCommand({ ...auth, user: 'lifecycle', host: '10.0.0.5', port: 7000, waitSeconds: 12 })[2];
    expect(script).toContain("me() { at '10.0.0.5' 7000 \"$@\"; }");
    expect(script).toContain('-lt 12');
    expect(script).toContain('cluster failover');
    expect(script).not.toMatch(/exit [1-9]/);
  });

  test('values are single-quoted for sh', () => {
    expect(shq("a'b")).toBe(`'a'\\''b'`);
  });
});
