// The roll observer's fold (rollState): recorded CLUSTER NODES / CLUSTER INFO / INFO replication
// answers of a 2 + 2 cluster into what the roll planner reads.
import { describe, expect, test } from '@jest/globals';
import type { ConnFactory, RedisConn } from '../../../src/redis/client.js';
import { parseClusterNodes } from '../../../src/redis/parse.js';
import { RedisRollObserver, rollState } from '../../../src/redis/roll.js';
import type { Observed } from '../../../src/redis/view.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const D = 'd'.repeat(40);
const addr = { [A]: '127.0.8.10', [B]: '127.0.8.11', [C]: '127.0.8.12', [D]: '127.0.8.13' };

function nodesText(me: string, opts: { downLink?: string; pfail?: string } = {}): string {
  const line = (id: string, flags: string, master: string, slots: string) =>
    `${id} ${addr[id]}:7000@17000 ${id === me ? `myself,${flags}` : flags}${opts.pfail === id ? ',fail?' : ''} ${master} 0 0 1 ${opts.downLink === id ? 'disconnected' : 'connected'} ${slots}`.trim();
  return [line(A, 'master', '-', '0-8191'), line(B, 'master', '-', '8192-16383'), line(C, 'slave', A, ''), line(D, 'slave', B, '')].join('\n');
}

function ob(pod: string, id: string, o: Partial<Omit<Observed, 'nodes'>> & { nodes?: string; state?: string } = {}): Observed {
  const nodes = parseClusterNodes(o.nodes ?? nodesText(id));
  return {
    member: { pod, ordinal: Number(pod.slice(2)), host: addr[id], port: 7000, node: '' },
    conn: undefined as unknown as RedisConn,
    ok: true,
    id,
    self: nodes.find((n) => n.flags.has('myself')),
    nodes,
    info: { cluster_state: o.state ?? 'ok' },
    repl: o.repl ?? {},
    persistence: o.persistence ?? { loading: '0' },
    dbsize: 0,
  };
}

const healthy = () => [
  ob('r-0', A, { repl: { role: 'master', master_repl_offset: '5000' } }),
  ob('r-1', B, { repl: { role: 'master', master_repl_offset: '9000' } }),
  ob('r-2', C, { repl: { role: 'slave', master_link_status: 'up', slave_repl_offset: '5000', master_repl_offset: '5000' } }),
  ob('r-3', D, { repl: { role: 'slave', master_link_status: 'up', slave_repl_offset: '8000', master_repl_offset: '8000' } }),
];

describe('rollState', () => {
  test('roles, slots, master pods, lag from the master offset, coverage', () => {
    const s = rollState(healthy());
    expect(s.slotsCovered).toBe(true);
    expect(s.members).toEqual([
      { pod: 'r-0', role: 'master', slots: 8192, clusterOk: true, linksUp: true, loading: false },
      { pod: 'r-1', role: 'master', slots: 8192, clusterOk: true, linksUp: true, loading: false },
      { pod: 'r-2', role: 'replica', masterPod: 'r-0', linkUp: true, lagBytes: 0, clusterOk: true, linksUp: true, loading: false },
      { pod: 'r-3', role: 'replica', masterPod: 'r-1', linkUp: true, lagBytes: 1000, clusterOk: true, linksUp: true, loading: false },
    ]);
  });

  test('a master that does not answer: its slots are not covered, its replica has no lag figure', () => {
    const all = healthy();
    all[1] = { ...all[1], ok: false, error: 'connect ECONNREFUSED' };
    const s = rollState(all);
    expect(s.slotsCovered).toBe(false);
    expect(s.members.map((m) => m.pod)).toEqual(['r-0', 'r-2', 'r-3']);
    expect(s.members[2]).toMatchObject({ masterPod: 'r-1', lagBytes: undefined });
  });

  test('a loading member is reported as loading; links down, fail? and cluster_state fail are seen', () => {
    const all = healthy();
    all[0] = { ...all[0], ok: false, error: 'LOADING Redis is loading the dataset in memory' };
    all[2] = ob('r-2', C, { nodes: nodesText(C, { downLink: B }), state: 'fail', repl: { master_link_status: 'down', slave_repl_offset: '10' } });
    all[3] = ob('r-3', D, { nodes: nodesText(D, { pfail: A }), repl: { master_link_status: 'up', slave_repl_offset: '9000' } });
    const s = rollState(all);
    expect(s.members.find((m) => m.pod === 'r-0')).toMatchObject({ loading: true });
    expect(s.members.find((m) => m.pod === 'r-2')).toMatchObject({ clusterOk: false, linksUp: false, linkUp: false, masterPod: 'r-0', lagBytes: undefined });
    expect(s.members.find((m) => m.pod === 'r-3')).toMatchObject({ linksUp: false, linkUp: true, lagBytes: 0 });
  });
});

describe('RedisRollObserver.redisFailover (fake connections)', () => {
  const pods = [
    { pod: 'r-0', ordinal: 0, host: '127.0.8.10', current: false, ready: true, terminating: false },
    { pod: 'r-2', ordinal: 2, host: '127.0.8.12', current: true, ready: true, terminating: false },
  ];
  /** r-0 = A (master), r-2 = C (its replica); the replica takes over on the `takeOverOn`-th CLUSTER FAILOVER. */
  function fake(takeOverOn: number, replicaOf = A) {
    const calls: string[] = [];
    let failovers = 0;
    let swapped = false;
    const factory: ConnFactory = (host) => ({
      call: async (...args: Array<string | number>) => {
        const cmd = args.join(' ');
        calls.push(`${host} ${cmd}`);
        const isReplica = host === addr[C];
        if (cmd === 'CLUSTER MYID') return isReplica ? C : A;
        if (cmd === 'CLUSTER NODES') return nodesText(isReplica ? C : A).replace(`slave ${A}`, `slave ${replicaOf}`);
        if (cmd === 'CLUSTER FAILOVER') {
          failovers++;
          if (failovers >= takeOverOn) swapped = true;
          return 'OK';
        }
        if (cmd === 'ROLE') return [isReplica === swapped ? 'master' : 'slave'];
        throw new Error(`unexpected ${cmd}`);
      },
      close: () => undefined,
    });
    return { factory, calls };
  }
  const auth = { username: 'operator', password: 'pw' };

  test('CLUSTER FAILOVER (no FORCE/TAKEOVER) on the replica, resolves once the roles swapped', async () => {
    const f = fake(1);
    await new RedisRollObserver(auth, { port: 7000, connFactory: f.factory }).redisFailover(pods, 'r-0', 'r-2');
    expect(f.calls.filter((c) => c.includes('FAILOVER'))).toEqual([`${addr[C]} CLUSTER FAILOVER`]);
  });

  test('asks again when Redis dropped the first attempt', async () => {
    const f = fake(2);
    await new RedisRollObserver(auth, { port: 7000, connFactory: f.factory, failoverRetryMs: 300 }).redisFailover(pods, 'r-0', 'r-2');
    expect(f.calls.filter((c) => c.includes('FAILOVER'))).toHaveLength(2);
  });

  test('throws with both roles when nothing changes in time', async () => {
    const f = fake(99);
    await expect(
      new RedisRollObserver(auth, { port: 7000, connFactory: f.factory, failoverTimeoutMs: 600, failoverRetryMs: 10_000 }).redisFailover(pods, 'r-0', 'r-2'),
    ).rejects.toThrow('failover r-0 -> r-2 did not complete within 1 s: r-2 reports role slave, r-0 reports role master');
  });

  test('refuses when the replica does not replicate that master', async () => {
    const f = fake(1, B);
    await expect(new RedisRollObserver(auth, { port: 7000, connFactory: f.factory }).redisFailover(pods, 'r-0', 'r-2')).rejects.toThrow(/r-2 is no replica of r-0/);
    expect(f.calls.some((c) => c.includes('FAILOVER'))).toBe(false);
  });
});
