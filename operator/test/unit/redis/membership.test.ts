// Who may join, and how a member is emptied: the decisions from recorded member states, and the
// wipe's command order and checks against a fake connection.
import { describe, expect, test } from '@jest/globals';
import type { Arg, RedisConn } from '../../../src/redis/client.js';
import { classifyMember, establishedCluster, isEmptyMember, persistenceEmpty, wipeMember, wipeSteps } from '../../../src/redis/membership.js';

// A 3+3 cluster as its members list each other.
const cluster = ['A', 'B', 'C', 'D', 'E', 'F'];
const coreMembers = cluster.map((id, i) => ({ id, slots: i < 3 ? 5461 : 0, peers: cluster.filter((x) => x !== id) }));

describe('establishedCluster', () => {
  test('the members that list each other and own slots', () => {
    const c = establishedCluster(coreMembers)!;
    expect([...c.core].sort()).toEqual(cluster);
  });

  test('a lone member (first back after a full restart) is no established cluster', () => {
    expect(establishedCluster([{ id: 'A', slots: 5461, peers: ['B', 'C'] }])).toBeUndefined();
  });

  test('fresh members that know nobody are no cluster', () => {
    expect(establishedCluster([{ id: 'A', slots: 0, peers: [] }, { id: 'B', slots: 0, peers: [] }])).toBeUndefined();
  });

  test('a one-sided listing does not join a group; the group claiming the most slots wins', () => {
    const stale = { id: 'S', slots: 16384, peers: ['A', 'B'] }; // lists A, B; they forgot it
    const c = establishedCluster([...coreMembers, stale])!;
    expect(c.core.has('S')).toBe(false);
    expect(c.known.has('S')).toBe(false);
  });

  test('members the group still lists while they are away count as known', () => {
    const members = coreMembers.slice(0, 5); // F is away, still listed by the rest
    const c = establishedCluster(members)!;
    expect(c.known.has('F')).toBe(true);
  });
});

describe('classifyMember', () => {
  const c = establishedCluster(coreMembers)!;

  test('stale returning member: unknown here, loaded keys and claimed their slots', () => {
    const v = classifyMember({ id: 'NEW1', slots: 4096, peers: [], keys: 41_000 }, c);
    expect(v.kind).toBe('stale');
    expect(v.kind === 'stale' && v.why).toMatch(/41000 key\(s\).*4096 slot\(s\)/);
  });

  test('stale member with an old view but no keys (forgotten while down) is still emptied', () => {
    const v = classifyMember({ id: 'OLD', slots: 0, peers: ['A', 'B', 'Z'], keys: 0 }, c);
    expect(v.kind).toBe('stale');
    expect(v.kind === 'stale' && v.why).toMatch(/cluster view of its own \(3 node\(s\), 1 unknown here\)/);
  });

  test('known member returning (same node ID, maybe a new IP) is handled as itself, keys and all', () => {
    expect(classifyMember({ id: 'F', slots: 0, peers: ['A', 'B'], keys: 30_000 }, c)).toEqual({ kind: 'member' });
    expect(classifyMember({ id: 'A', slots: 5461, peers: cluster.slice(1), keys: 30_000 }, c)).toEqual({ kind: 'member' });
  });

  test('slot claims that contest the owners are stale even without keys', () => {
    const v = classifyMember({ id: 'S', slots: 5461, contested: 5461, peers: [], keys: 0 }, c);
    expect(v.kind === 'stale' && v.why).toBe('claims 5461 slot(s) (5461 owned here)');
  });

  test('claims on slots nobody holds, with no keys (a bootstrap stopped before MEET), may join as they are', () => {
    expect(classifyMember({ id: 'X', slots: 5461, contested: 0, peers: [], keys: 0 }, c)).toEqual({ kind: 'newcomer' });
  });

  test('an empty, lone member is a newcomer', () => {
    expect(classifyMember({ id: 'N', slots: 0, peers: [], keys: 0 }, c)).toEqual({ kind: 'newcomer' });
  });

  test('before the cluster exists nothing is judged stale', () => {
    expect(classifyMember({ id: 'A', slots: 5461, peers: ['B'], keys: 10 }, undefined)).toEqual({ kind: 'newcomer' });
  });
});

describe('wipeSteps', () => {
  test('leaving replica: reset first (it refuses FLUSHALL), then flush, rewrite the AOF, save the RDB', () => {
    expect(wipeSteps('replica').map((a) => a.join(' '))).toEqual(['CLUSTER RESET HARD', 'FLUSHALL', 'FLUSHALL', 'BGREWRITEAOF', 'SAVE']);
  });

  test('leaving master: flush first (a master with keys refuses RESET), then reset, rewrite, save', () => {
    expect(wipeSteps('master').map((a) => a.join(' '))).toEqual(['FLUSHALL', 'CLUSTER RESET HARD', 'FLUSHALL', 'BGREWRITEAOF', 'SAVE']);
  });
});

describe('persistenceEmpty', () => {
  test('a fresh volume, one rewrite of an empty dataset, AOF off: empty', () => {
    expect(persistenceEmpty({ aof_enabled: '1', aof_current_size: '0', aof_base_size: '0' })).toBe(true);
    expect(persistenceEmpty({ aof_enabled: '1', aof_current_size: '89', aof_base_size: '89' })).toBe(true);
    expect(persistenceEmpty({ aof_enabled: '0' })).toBe(true);
  });

  test('writes after the rewrite (a replication stream), or a big base: not empty', () => {
    expect(persistenceEmpty({ aof_enabled: '1', aof_current_size: '5000089', aof_base_size: '89' })).toBe(false);
    expect(persistenceEmpty({ aof_enabled: '1', aof_current_size: '3000000', aof_base_size: '3000000' })).toBe(false);
    expect(persistenceEmpty({ aof_enabled: '1' })).toBe(false);
  });

  test('a replica reset in memory only (the old removal) is not an empty member', () => {
    expect(isEmptyMember({ id: 'X', slots: 0, peers: [], keys: 0 }, { aof_enabled: '1', aof_current_size: '4100000', aof_base_size: '89' })).toBe(false);
  });
});

/** A fake member: replies to the wipe's commands and records them. */
function member(opts: { role: 'master' | 'slave'; keys: number; failOn?: string; aofAfter?: string }) {
  const log: string[] = [];
  let keys = opts.keys;
  let rewrites = 0;
  let role = opts.role;
  const conn: RedisConn = {
    async call(...args: Arg[]) {
      const cmd = args.map(String).join(' ');
      log.push(cmd);
      if (opts.failOn && cmd === opts.failOn) throw new Error('ERR boom');
      switch (cmd) {
        case 'ROLE':
          return [role];
        case 'DBSIZE':
          return keys;
        case 'FLUSHALL':
          if (role === 'slave') throw new Error("READONLY You can't write against a read only replica.");
          keys = 0;
          return 'OK';
        case 'CLUSTER RESET HARD':
          if (role === 'master' && keys > 0) throw new Error("ERR CLUSTER RESET can't be called with master nodes containing keys");
          role = 'master';
          keys = 0; // a replica's reset empties memory only
          return 'OK';
        case 'BGREWRITEAOF':
          rewrites++;
          return 'Background append only file rewriting started';
        case 'SAVE':
          return 'OK';
        case 'INFO persistence': {
          const size = rewrites > 0 ? (opts.aofAfter ?? '89') : '4000000';
          return `aof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_rewrites:${rewrites}\r\naof_last_bgrewrite_status:ok\r\nrdb_last_bgsave_status:ok\r\naof_current_size:${size}\r\naof_base_size:${rewrites > 0 ? '89' : '1000'}\r\n`;
        }
        case 'CLUSTER NODES':
          return 'abc 127.0.0.1:7000@17000 myself,master - 0 0 0 connected\n';
        default:
          return 'OK';
      }
    },
    close() {},
  };
  return { conn, log };
}

describe('wipeMember', () => {
  test('a leaving replica holding its master keyspace is reset, flushed, rewritten and saved', async () => {
    const m = member({ role: 'slave', keys: 41_000 });
    expect(await wipeMember(m.conn)).toEqual({ keysDiscarded: 41_000, role: 'replica' });
    const acts = m.log.filter((c) => !['ROLE', 'DBSIZE', 'INFO persistence', 'CLUSTER NODES'].includes(c));
    expect(acts).toEqual(['CLUSTER RESET HARD', 'FLUSHALL', 'FLUSHALL', 'BGREWRITEAOF', 'SAVE']);
  });

  test('a leaving master is flushed before its reset', async () => {
    const m = member({ role: 'master', keys: 12 });
    expect(await wipeMember(m.conn)).toEqual({ keysDiscarded: 12, role: 'master' });
    expect(m.log.indexOf('FLUSHALL')).toBeLessThan(m.log.indexOf('CLUSTER RESET HARD'));
  });

  test('any failing step fails the wipe, naming the step', async () => {
    await expect(wipeMember(member({ role: 'master', keys: 1, failOn: 'SAVE' }).conn)).rejects.toThrow(/SAVE failed: ERR boom/);
  });

  test('an AOF that is not empty after the rewrite fails the check', async () => {
    await expect(wipeMember(member({ role: 'master', keys: 1, aofAfter: '900000' }).conn)).rejects.toThrow(/AOF not empty/);
  });
});
