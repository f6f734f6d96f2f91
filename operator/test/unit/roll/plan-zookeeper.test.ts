import { planZooKeeperRoll } from '../../../src/roll/plan-zookeeper.js';
import type { ZooKeeperServerState } from '../../../src/roll/types.js';
import { pods } from './pods.js';

const Z = 'shop-zookeeper';
/** Server 1 leads with both followers synced (what mntr reports in a whole ensemble). */
const whole = (leader = 1, synced = 2): ZooKeeperServerState[] =>
  [0, 1, 2].map((i) => (i === leader ? { pod: `${Z}-${i}`, mode: 'leader', syncedFollowers: synced } : { pod: `${Z}-${i}`, mode: 'follower' }));

describe('planZooKeeperRoll', () => {
  test('every pod current and the ensemble whole: done', () => {
    expect(planZooKeeperRoll(pods(Z, 3), 3, whole())).toEqual({ action: 'done' });
  });

  test('every pod current but a follower out of sync: wait, not done', () => {
    const d = planZooKeeperRoll(pods(Z, 3), 3, whole(1, 1));
    expect(d).toEqual({ action: 'wait', reason: `leader ${Z}-1 has 1 of 2 followers in sync` });
  });

  test('stale followers first, lowest ordinal first', () => {
    const d = planZooKeeperRoll(pods(Z, 3, [0, 1, 2]), 3, whole(1));
    expect(d).toMatchObject({ action: 'restart', pod: `${Z}-0` });
    expect(d.action === 'restart' && d.reason).toMatch(/runs an old revision; the ensemble is whole \(leader shop-zookeeper-1, 2 of 2 followers in sync\)/);
    expect(planZooKeeperRoll(pods(Z, 3, [1, 2]), 3, whole(1))).toMatchObject({ action: 'restart', pod: `${Z}-2` });
  });

  test('the leader last, only once every follower is current', () => {
    expect(planZooKeeperRoll(pods(Z, 3, [0, 2]), 3, whole(0))).toMatchObject({ action: 'restart', pod: `${Z}-2` });
    const d = planZooKeeperRoll(pods(Z, 3, [0]), 3, whole(0));
    expect(d).toEqual({ action: 'restart', pod: `${Z}-0`, reason: `leader ${Z}-0 goes last: every follower runs the new revision and is in sync` });
  });

  test('a follower just restarted and not yet synced: wait for it', () => {
    // shop-zookeeper-0 came back (Ready: the port answers) but the leader has not synced it yet.
    const d = planZooKeeperRoll(pods(Z, 3, [2]), 3, whole(1, 1));
    expect(d).toMatchObject({ action: 'wait', reason: `leader ${Z}-1 has 1 of 2 followers in sync` });
  });

  test('leader reports no zk_synced_followers: wait', () => {
    const s = whole(1);
    delete s[1].syncedFollowers;
    expect(planZooKeeperRoll(pods(Z, 3, [0]), 3, s)).toMatchObject({ action: 'wait', reason: `leader ${Z}-1 has an unknown number of 2 followers in sync` });
  });

  test('no leader (election under way): wait', () => {
    const s: ZooKeeperServerState[] = [0, 1, 2].map((i) => ({ pod: `${Z}-${i}`, mode: 'follower' }));
    expect(planZooKeeperRoll(pods(Z, 3, [0]), 3, s)).toEqual({ action: 'wait', reason: 'the ZooKeeper ensemble has no leader' });
  });

  test('two servers claim to lead: wait', () => {
    const s = whole(1);
    s[0] = { pod: `${Z}-0`, mode: 'leader', syncedFollowers: 0 };
    expect(planZooKeeperRoll(pods(Z, 3, [2]), 3, s)).toMatchObject({ action: 'wait', reason: expect.stringMatching(/more than one server says it leads/) });
  });

  test('a server not serving (no answer): wait, naming it', () => {
    const s = whole(1);
    s[2] = { pod: `${Z}-2`, mode: null };
    expect(planZooKeeperRoll(pods(Z, 3, [0]), 3, s)).toEqual({ action: 'wait', pod: `${Z}-2`, reason: `${Z}-2 is not serving requests (not in a quorum)` });
    // A pod the observer said nothing about counts as not serving.
    expect(planZooKeeperRoll(pods(Z, 3, [0]), 3, whole(1).slice(0, 2))).toMatchObject({ action: 'wait', pod: `${Z}-2` });
  });

  test('a pod missing (deleted, not yet re-created): wait, naming it', () => {
    const p = pods(Z, 3, [2]).filter((x) => x.ordinal !== 0);
    expect(planZooKeeperRoll(p, 3, whole(1))).toEqual({ action: 'wait', pod: `${Z}-0`, reason: `2 of 3 pods exist; waiting for ${Z}-0 to be created` });
  });

  test('a pod terminating: wait', () => {
    const d = planZooKeeperRoll(pods(Z, 3, [0, 2], { 0: { terminating: true } }), 3, whole(1));
    expect(d).toEqual({ action: 'wait', pod: `${Z}-0`, reason: `${Z}-0 is terminating` });
  });

  test('a pod not ready: wait, even when it is current', () => {
    const d = planZooKeeperRoll(pods(Z, 3, [2], { 0: { ready: false } }), 3, whole(1));
    expect(d).toEqual({ action: 'wait', pod: `${Z}-0`, reason: `${Z}-0 is not ready` });
  });

  test('one server: it is its own leader, restarted once (an unavoidable outage), then done', () => {
    expect(planZooKeeperRoll(pods(Z, 1, [0]), 1, [{ pod: `${Z}-0`, mode: 'leader', syncedFollowers: 0 }])).toMatchObject({ action: 'restart', pod: `${Z}-0` });
    expect(planZooKeeperRoll(pods(Z, 1, [0]), 1, [{ pod: `${Z}-0`, mode: 'standalone' }])).toMatchObject({ action: 'restart', pod: `${Z}-0` });
    expect(planZooKeeperRoll(pods(Z, 1), 1, [{ pod: `${Z}-0`, mode: 'leader', syncedFollowers: 0 }])).toEqual({ action: 'done' });
  });

  test('a standalone server in a three-server ensemble is not a leader', () => {
    const s: ZooKeeperServerState[] = [{ pod: `${Z}-0`, mode: 'standalone' }, { pod: `${Z}-1`, mode: 'follower' }, { pod: `${Z}-2`, mode: 'follower' }];
    expect(planZooKeeperRoll(pods(Z, 3, [1]), 3, s)).toEqual({ action: 'wait', reason: 'the ZooKeeper ensemble has no leader' });
  });
});
