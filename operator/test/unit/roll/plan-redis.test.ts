// The Redis roll planner, decided from recorded states (pods as the StatefulSet shows them, members
// as observer.redis reports them): every wait rule, replicas before masters, failover before a
// master's restart, the replicasPerMaster 0 case.
import { describe, expect, test } from '@jest/globals';
import { planRedisRoll, REDIS_ROLL_MAX_LAG_BYTES } from '../../../src/roll/plan-redis.js';
import type { RedisRollMember, RedisRollState, RollPod } from '../../../src/roll/types.js';

/** 3 masters (0,1,2) + 3 replicas (3 of 0, 4 of 1, 5 of 2), as the orchestrator forms them. */
function pods(current: number[] = [], over: Partial<Record<number, Partial<RollPod>>> = {}, n = 6): RollPod[] {
  return Array.from({ length: n }, (_, i) => ({
    pod: `r-${i}`,
    ordinal: i,
    host: `127.0.8.${10 + i}`,
    current: current.includes(i),
    ready: true,
    terminating: false,
    ...(over[i] ?? {}),
  }));
}

function master(i: number, slots = 5461): RedisRollMember {
  return { pod: `r-${i}`, role: 'master', slots, clusterOk: true, linksUp: true, loading: false };
}
function replica(i: number, of: number, extra: Partial<RedisRollMember> = {}): RedisRollMember {
  return { pod: `r-${i}`, role: 'replica', masterPod: `r-${of}`, linkUp: true, lagBytes: 0, clusterOk: true, linksUp: true, loading: false, ...extra };
}
function state(members: RedisRollMember[], slotsCovered = true): RedisRollState {
  return { members, slotsCovered };
}
const healthy = () => [master(0), master(1), master(2), replica(3, 0), replica(4, 1), replica(5, 2)];
const withMember = (ms: RedisRollMember[], m: RedisRollMember) => ms.map((x) => (x.pod === m.pod ? m : x));

describe('planRedisRoll', () => {
  test('all current and healthy: done', () => {
    expect(planRedisRoll(pods([0, 1, 2, 3, 4, 5]), 6, state(healthy()))).toEqual({ action: 'done' });
  });

  test('all current but unhealthy: waits (a roll ends only on a healthy cluster)', () => {
    const d = planRedisRoll(pods([0, 1, 2, 3, 4, 5]), 6, state(withMember(healthy(), replica(4, 1, { linkUp: false }))));
    expect(d).toMatchObject({ action: 'wait', reason: expect.stringMatching(/r-4.*master link down/) });
  });

  test('stale replicas first, lowest ordinal first', () => {
    expect(planRedisRoll(pods(), 6, state(healthy()))).toMatchObject({ action: 'restart', pod: 'r-3' });
    expect(planRedisRoll(pods([3]), 6, state(healthy()))).toMatchObject({ action: 'restart', pod: 'r-4' });
    expect(planRedisRoll(pods([3, 4]), 6, state(healthy()))).toMatchObject({ action: 'restart', pod: 'r-5' });
  });

  test('a stale master fails over to its in-sync replica before it restarts', () => {
    expect(planRedisRoll(pods([3, 4, 5]), 6, state(healthy()))).toEqual({
      action: 'failover',
      pod: 'r-0',
      to: 'r-3',
      reason: expect.stringContaining('CLUSTER FAILOVER'),
    });
  });

  test('after the failover the old master is a stale replica: restarted like any replica', () => {
    const after = [replica(0, 3), master(1), master(2), master(3), replica(4, 1), replica(5, 2)];
    expect(planRedisRoll(pods([3, 4, 5]), 6, state(after))).toMatchObject({ action: 'restart', pod: 'r-0', reason: expect.stringContaining('r-3') });
    // Then the next stale master.
    expect(planRedisRoll(pods([0, 3, 4, 5]), 6, state(after))).toMatchObject({ action: 'failover', pod: 'r-1', to: 'r-4' });
  });

  test('prefers a current in-sync replica, then the lowest ordinal', () => {
    const ms = [master(0), master(1), master(2), replica(3, 0), replica(4, 1), replica(5, 2), replica(6, 0), replica(7, 0)];
    // Stale replicas were restarted first, so every replica is current here: the lowest ordinal wins.
    expect(planRedisRoll(pods([3, 4, 5, 6, 7], {}, 8), 8, state(ms))).toMatchObject({ action: 'failover', pod: 'r-0', to: 'r-3' });
    // A replica past the lag threshold holds the whole roll (the next one may need it).
    const lagging = withMember(ms, replica(3, 0, { lagBytes: REDIS_ROLL_MAX_LAG_BYTES + 1 }));
    expect(planRedisRoll(pods([3, 4, 5, 6, 7], {}, 8), 8, state(lagging))).toMatchObject({ action: 'wait' });
    expect(planRedisRoll(pods([3, 4, 5, 6, 7], {}, 8), 8, state(lagging), { maxLagBytes: Number.MAX_SAFE_INTEGER })).toMatchObject({
      action: 'failover',
      to: 'r-3',
    });
  });

  test('a small lag (offsets read at different instants under writes) counts as in sync', () => {
    const ms = withMember(healthy(), replica(3, 0, { lagBytes: 4096 }));
    expect(planRedisRoll(pods([3, 4, 5]), 6, state(ms))).toMatchObject({ action: 'failover', pod: 'r-0', to: 'r-3' });
  });

  test('a master with slots but without an in-sync replica waits (never restarted with slots)', () => {
    // r-3 replicates r-1 (two replicas there), r-0 has none while others do.
    const ms = [master(0), master(1), master(2), replica(3, 1), replica(4, 1), replica(5, 2)];
    const d = planRedisRoll(pods([3, 4, 5]), 6, state(ms));
    expect(d).toMatchObject({ action: 'wait', pod: 'r-0', reason: expect.stringMatching(/no replica to hand its 5461 slot/) });
  });

  test('a stale master that owns no slot restarts directly', () => {
    const ms = [master(0), master(1), master(2), replica(3, 0), replica(4, 1), replica(5, 2), master(6, 0)];
    expect(planRedisRoll(pods([0, 1, 2, 3, 4, 5], {}, 7), 7, state(ms))).toMatchObject({ action: 'restart', pod: 'r-6' });
  });

  test('replicasPerMaster 0: masters restart in place, one at a time, saying their slots go offline', () => {
    const ms = [master(0), master(1), master(2)];
    expect(planRedisRoll(pods([], {}, 3), 3, state(ms))).toMatchObject({ action: 'restart', pod: 'r-0', reason: expect.stringMatching(/offline/) });
    // While r-0 is down its slots are uncovered: wait.
    expect(planRedisRoll(pods([0], { 0: { ready: false } }, 3), 3, state(ms, false))).toMatchObject({ action: 'wait' });
    expect(planRedisRoll(pods([0], {}, 3), 3, state(ms, false))).toMatchObject({ action: 'wait', reason: expect.stringMatching(/slot/) });
    expect(planRedisRoll(pods([0], {}, 3), 3, state(ms))).toMatchObject({ action: 'restart', pod: 'r-1' });
    expect(planRedisRoll(pods([0, 1, 2], {}, 3), 3, state(ms))).toEqual({ action: 'done' });
  });

  describe('waits', () => {
    const cases: Array<[string, RollPod[], number, RedisRollState, RegExp]> = [
      ['a pod is missing', pods().slice(0, 5), 6, state(healthy().slice(0, 5)), /5\/6 Redis pods/],
      ['a pod is terminating', pods([], { 2: { terminating: true } }), 6, state(healthy()), /r-2 terminating/],
      ['a pod is not ready', pods([3], { 3: { ready: false } }), 6, state(healthy()), /r-3 not ready/],
      ['a pod has no IP', pods([], { 1: { host: undefined } }), 6, state(healthy()), /r-1 not ready/],
      ['a member did not answer', pods(), 6, state(healthy().slice(1)), /r-0 did not answer/],
      ['a member is loading', pods(), 6, state(withMember(healthy(), { ...master(1), loading: true })), /r-1 loading/],
      ['a member is not cluster_state:ok', pods(), 6, state(withMember(healthy(), { ...replica(5, 2), clusterOk: false })), /r-5 not cluster_state:ok/],
      ['a member sees a link down', pods(), 6, state(withMember(healthy(), { ...master(2), linksUp: false })), /r-2 see a cluster link down/],
      ['slots not covered', pods(), 6, state(healthy(), false), /not every slot/],
      ['a replica link down', pods(), 6, state(withMember(healthy(), replica(4, 1, { linkUp: false }))), /r-4 \(master link down\)/],
      ['a replica far behind', pods(), 6, state(withMember(healthy(), replica(4, 1, { lagBytes: 50_000_000 }))), /r-4 \(50000000 bytes behind\)/],
      ['a replica of no member', pods(), 6, state(withMember(healthy(), replica(4, 9))), /r-4 replicate no member/],
    ];
    test.each(cases)('%s', (_name, ps, expected, st, reason) => {
      const d = planRedisRoll(ps, expected, st);
      expect(d.action).toBe('wait');
      expect(d).toMatchObject({ reason: expect.stringMatching(reason) });
    });

    test('a wait names the next stale pod', () => {
      expect(planRedisRoll(pods([0, 1]), 6, state(healthy(), false))).toMatchObject({ action: 'wait', pod: 'r-2' });
    });
  });
});
