// Which ZooKeeper pod to restart next, if any. Followers first (lowest ordinal), the leader last,
// and only while the ensemble is whole: a leader with every follower synced. Restarting one
// follower of three leaves a quorum of two; restarting the leader costs one election, once.
import { byOrdinal, podsNotSettled } from './pods.js';
import type { RollDecision, RollPod, ZooKeeperServerState } from './types.js';

export function planZooKeeperRoll(pods: RollPod[], expected: number, servers: ZooKeeperServerState[]): RollDecision {
  const gate = podsNotSettled(pods, expected);
  if (gate) return gate;
  const sorted = [...pods].sort(byOrdinal);
  const state = new Map(servers.map((s) => [s.pod, s]));

  const notServing = sorted.find((p) => !state.get(p.pod)?.mode);
  if (notServing) return { action: 'wait', pod: notServing.pod, reason: `${notServing.pod} is not serving requests (not in a quorum)` };
  // A one-server ensemble leads itself (standaloneEnabled=false); 'standalone' counts the same.
  const leads = (m: ZooKeeperServerState['mode'] | undefined) => m === 'leader' || (m === 'standalone' && expected === 1);
  const leaders = sorted.filter((p) => leads(state.get(p.pod)?.mode));
  if (leaders.length === 0) return { action: 'wait', reason: 'the ZooKeeper ensemble has no leader' };
  if (leaders.length > 1) return { action: 'wait', reason: `more than one server says it leads (${leaders.map((p) => p.pod).join(', ')})` };
  const leader = leaders[0];
  const synced = state.get(leader.pod)?.syncedFollowers ?? (expected === 1 ? 0 : undefined);
  const want = expected - 1;
  if (synced === undefined || synced < want) {
    return {
      action: 'wait',
      reason: `leader ${leader.pod} has ${synced ?? 'an unknown number'} of ${want} followers in sync`,
    };
  }

  const stale = sorted.filter((p) => !p.current);
  if (!stale.length) return { action: 'done' };
  const follower = stale.find((p) => p.pod !== leader.pod);
  if (follower) {
    return {
      action: 'restart',
      pod: follower.pod,
      reason: `${follower.pod} runs an old revision; the ensemble is whole (leader ${leader.pod}, ${synced} of ${want} followers in sync)`,
    };
  }
  return {
    action: 'restart',
    pod: leader.pod,
    reason: `leader ${leader.pod} goes last: every follower runs the new revision and is in sync`,
  };
}
