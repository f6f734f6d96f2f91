// The orchestrator's next action, decided from hand-built cluster states: every member's
// CLUSTER NODES text is generated from a small model, folded by the real foldView, and decided
// by the real decide(). No server: each rule and the order of the rules is checked here; the
// integration tier checks that carrying the actions out on real servers loses nothing.
import { describe as group, expect, test } from '@jest/globals';
import type { RedisConn } from '../../../src/redis/client.js';
import { decide, type Action } from '../../../src/redis/decide.js';
import { parseClusterNodes, SLOT_COUNT } from '../../../src/redis/parse.js';
import { foldView, type Observed, type View } from '../../../src/redis/view.js';

interface Spec {
  id: string;
  ordinal: number;
  node: string;
  /** Master ID for a replica; absent for a master. */
  of?: string;
  slots?: Array<[number, number]>;
  keys?: number;
  /** Replication link of a replica (default up). */
  link?: 'up' | 'down';
  /** Unreachable (a pod not running). */
  down?: boolean;
  /** IDs this member lists besides itself (default: every other member that is not alone). */
  knows?: string[];
  /** Extra raw CLUSTER NODES lines (a gone node's gossip, say). */
  extraLines?: string[];
  /** Migration markers on this member's own line, e.g. "[100->-B]". */
  markers?: string[];
  epoch?: number;
}

const host = (s: Spec) => `10.0.0.${s.ordinal + 1}`;
const noConn = { call: () => Promise.reject(new Error('no connection in a unit test')) } as unknown as RedisConn;

function line(s: Spec, self: boolean): string {
  const flags = [self ? 'myself' : '', s.of ? 'slave' : 'master'].filter(Boolean).join(',');
  const slots = (s.slots ?? []).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  return [s.id, `${host(s)}:6379@16379`, flags, s.of ?? '-', '0', '0', String(s.epoch ?? s.ordinal + 1), 'connected', ...slots, ...(self ? (s.markers ?? []) : [])].join(' ');
}

/** A view of `specs` as a StatefulSet of `want` members would show it. */
function view(specs: Spec[], want: number): View {
  const byId = new Map(specs.map((s) => [s.id, s]));
  const all: Observed[] = specs.map((s) => {
    const member = { pod: `redis-${s.ordinal}`, ordinal: s.ordinal, host: host(s), port: 6379, node: s.node };
    if (s.down) return { member, conn: noConn, ok: false, nodes: [], info: {}, repl: {}, persistence: {}, dbsize: 0, error: 'connection refused' };
    const knows = s.knows ?? specs.filter((o) => o !== s && !isAlone(o)).map((o) => o.id);
    const text = [line(s, true), ...knows.map((id) => line(byId.get(id)!, false)), ...(s.extraLines ?? [])].join('\n');
    const o: Observed = {
      member,
      conn: noConn,
      ok: true,
      nodes: [],
      info: { cluster_state: 'ok' },
      repl: s.of ? { role: 'slave', master_link_status: s.link ?? 'up' } : { role: 'master' },
      persistence: { aof_enabled: '1', aof_current_size: '88', aof_base_size: '88' },
      dbsize: s.keys ?? 0,
    };
    // The real parser, as observe() uses it.
    o.nodes = parseClusterNodes(text);
    o.self = o.nodes.find((n) => n.flags.has('myself'));
    o.id = o.self?.id;
    return o;
  });
  return foldView(all, want);
}

function isAlone(s: Spec): boolean {
  return !!s.knows && s.knows.length === 0;
}


const third = Math.floor(SLOT_COUNT / 3);
const R: Array<[number, number]> = [
  [0, third - 1],
  [third, 2 * third - 1],
  [2 * third, SLOT_COUNT - 1],
];

/** A settled 3 masters + 3 replicas over nodes n1..n3, each replica on another node than its master. */
function settled(): Spec[] {
  return [
    { id: 'A', ordinal: 0, node: 'n1', slots: [R[0]], keys: 100 },
    { id: 'B', ordinal: 1, node: 'n2', slots: [R[1]], keys: 100 },
    { id: 'C', ordinal: 2, node: 'n3', slots: [R[2]], keys: 100 },
    { id: 'D', ordinal: 3, node: 'n2', of: 'A', keys: 100 },
    { id: 'E', ordinal: 4, node: 'n3', of: 'B', keys: 100 },
    { id: 'F', ordinal: 5, node: 'n1', of: 'C', keys: 100 },
  ];
}

const shape = (masters: number, replicasPerMaster = 1) => ({ masters, replicasPerMaster });
const kind = (a: Action | undefined) => a?.kind;

group('decide', () => {
  test('a settled cluster at its shape: no action, nothing waits', () => {
    const d = decide(view(settled(), 6), shape(3));
    expect(d.action).toBeUndefined();
    expect(d.notes).toEqual([]);
  });

  test('fresh members: bootstrap only once every member the shape needs is there', () => {
    const fresh = (n: number): Spec[] => Array.from({ length: n }, (_, i) => ({ id: `N${i}`, ordinal: i, node: `n${(i % 3) + 1}`, knows: [] }));
    const early = decide(view(fresh(4), 6), shape(3));
    expect(early.action).toBeUndefined();
    expect(early.notes).toEqual(['waiting for 2 more member(s) before forming the cluster']);
    expect(kind(decide(view(fresh(6), 6), shape(3)).action)).toBe('bootstrap');
  });

  test('a member back on a volume the cluster forgot is emptied before anything else', () => {
    const specs = [...settled(), { id: 'OLD', ordinal: 6, node: 'n1', slots: [R[0]] as Array<[number, number]>, keys: 4000, knows: [] }];
    const d = decide(view(specs, 7), shape(3));
    expect(d.action).toEqual({ kind: 'clean-joiner', stale: [{ id: 'OLD', why: expect.stringMatching(/4000 key/) }] });
  });

  test('a member at a new address is met before slots are touched', () => {
    const specs = settled();
    // A restarted pod: D has a new IP that A still lists at the old one.
    const a = specs[0];
    a.knows = ['B', 'C', 'E', 'F'];
    a.extraLines = [`D 10.9.9.9:6379@16379 slave A 0 0 4 connected`];
    const d = decide(view(specs, 6), shape(3));
    expect(d.action).toEqual({ kind: 'meet', pairs: [{ from: 'A', to: 'D' }] });
  });

  test('an open slot is finished before any new plan', () => {
    const specs = settled();
    specs[0].markers = ['[5->-B]'];
    expect(kind(decide(view(specs, 6), shape(4)).action)).toBe('resume');
  });

  test('a gone node is forgotten; when every member refused, the next rule gets its turn', () => {
    const specs = settled();
    const gone = 'GONE 10.0.0.99:6379@16379 slave,fail A 0 0 9 disconnected';
    for (const s of specs) s.extraLines = [gone];
    expect(decide(view(specs, 6), shape(3)).action).toEqual({ kind: 'forget', nodes: ['GONE'] });
    expect(decide(view(specs, 6), shape(3), new Set(['forget'])).action).toBeUndefined();
  });

  test('a failed master that still owns slots is waited for, never forgotten or re-covered', () => {
    const specs = settled().filter((s) => s.id !== 'C');
    const failedC = `C 10.0.0.3:6379@16379 master,fail - 0 0 3 disconnected ${R[2][0]}-${R[2][1]}`;
    for (const s of specs) {
      s.knows = specs.filter((o) => o !== s).map((o) => o.id);
      s.extraLines = [failedC];
    }
    const d = decide(view(specs, 5), shape(3));
    expect(d.action).toBeUndefined();
    expect(d.notes).toEqual(['a master is failing; waiting for the cluster to fail over']);
  });

  test('slots nobody claims any more go to the emptiest master, empty (a lost shard)', () => {
    const specs = settled().filter((s) => s.id !== 'C' && s.id !== 'F');
    const d = decide(view(specs, 4), shape(2));
    expect(d.action).toMatchObject({ kind: 'cover', to: 'A' });
    expect(d.action?.kind === 'cover' && d.action.slots.length).toBe(R[2][1] - R[2][0] + 1);
  });

  test('grow to 4 masters: the new master gets a replica on another node before any slot moves', () => {
    const specs: Spec[] = [...settled(), { id: 'G', ordinal: 6, node: 'n1' }, { id: 'H', ordinal: 7, node: 'n2' }];
    const d = decide(view(specs, 8), shape(4));
    expect(d.action?.kind).toBe('replicate');
    if (d.action?.kind !== 'replicate') return;
    expect(d.action.assign).toHaveLength(1);
    const [{ replica, master }] = d.action.assign;
    expect(['G', 'H']).toContain(master);
    const nodeOf = (id: string) => specs.find((s) => s.id === id)!.node;
    expect(nodeOf(replica)).not.toBe(nodeOf(master));
  });

  test('grow to 4 masters, replica attached: slots move to the new master only', () => {
    const specs: Spec[] = [...settled(), { id: 'G', ordinal: 6, node: 'n1' }, { id: 'H', ordinal: 7, node: 'n2', of: 'G' }];
    const d = decide(view(specs, 8), shape(4));
    expect(d.action?.kind).toBe('rebalance');
    if (d.action?.kind !== 'rebalance') return;
    expect(new Set(d.action.moves.map((m) => m.to))).toEqual(new Set(['G']));
    expect(d.action.moves.length).toBe(Math.floor(SLOT_COUNT / 4));
  });

  test('the new master waits for the StatefulSet: no replica is taken while new members are missing', () => {
    const d = decide(view(settled(), 8), shape(4));
    expect(d.action).toBeUndefined();
    expect(d.notes).toEqual(['waiting for 2 new member(s) before adding masters']);
  });

  test('shrink: a leaving master is drained onto the staying ones, then removed with its replica', () => {
    const specs: Spec[] = [
      { id: 'A', ordinal: 0, node: 'n1', slots: [[0, 4095]] },
      { id: 'B', ordinal: 1, node: 'n2', slots: [[4096, 8191]] },
      { id: 'C', ordinal: 2, node: 'n3', slots: [[8192, 12287]] },
      { id: 'D', ordinal: 3, node: 'n2', of: 'A' },
      { id: 'E', ordinal: 4, node: 'n3', of: 'B' },
      { id: 'F', ordinal: 5, node: 'n1', of: 'C' },
      { id: 'G', ordinal: 6, node: 'n1', slots: [[12288, 16383]] },
      { id: 'H', ordinal: 7, node: 'n2', of: 'G' },
    ];
    const d = decide(view(specs, 6), shape(3));
    expect(d.action?.kind).toBe('rebalance');
    if (d.action?.kind === 'rebalance') expect(new Set(d.action.moves.map((m) => m.from))).toEqual(new Set(['G']));

    // Drained: G owns nothing; both leaving members are forgotten by all six and emptied.
    const drained = specs.map((s) => ({ ...s }));
    drained[0].slots = [[0, 5461]];
    drained[1].slots = [[5462, 10922]];
    drained[2].slots = [[10923, 16383]];
    drained[6].slots = [];
    const r = decide(view(drained, 6), shape(3));
    expect(r.action?.kind).toBe('remove-leaving');
    if (r.action?.kind !== 'remove-leaving') return;
    expect(r.action.members.map((m) => m.id).sort()).toEqual(['G', 'H']);
    for (const m of r.action.members) expect(m.forgetOn.sort()).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
  });

  test('a leaving master hands over to its staying replica when that saves a drain', () => {
    // C (the highest ordinal) leaves with slots; its replica F stays.
    const reordered: Spec[] = [
      { id: 'A', ordinal: 0, node: 'n1', slots: [R[0]] },
      { id: 'B', ordinal: 1, node: 'n2', slots: [R[1]] },
      { id: 'F', ordinal: 2, node: 'n1', of: 'C' },
      { id: 'D', ordinal: 3, node: 'n2', of: 'A' },
      { id: 'E', ordinal: 4, node: 'n3', of: 'B' },
      { id: 'C', ordinal: 5, node: 'n3', slots: [R[2]] },
    ];
    const d = decide(view(reordered, 5), shape(3));
    expect(d.action).toEqual({ kind: 'failover-leaving', replica: 'F', why: 'redis-5 is leaving' });
  });

  test("a replica is never taken from a master whose only in-sync copy it is", () => {
    // 4 masters wanted over the same 6 members: converting a replica would leave a shard bare.
    const d = decide(view(settled(), 6), shape(4));
    expect(d.action).toBeUndefined();
    expect(d.notes).toEqual([expect.stringMatching(/^shape: only 3 of 4 masters possible/)]);

    // With a second in-sync replica for A, that one may become the fourth master.
    const specs: Spec[] = [...settled(), { id: 'X', ordinal: 6, node: 'n3', of: 'A' }];
    const r = decide(view(specs, 7), shape(4));
    expect(r.action).toEqual({ kind: 'convert-replica', replica: 'X' });

    // While D is still syncing, X is A's only in-sync copy: D is the one taken.
    specs[3].link = 'down';
    expect(decide(view(specs, 7), shape(4)).action).toEqual({ kind: 'convert-replica', replica: 'D' });

    // Neither in sync: neither is taken.
    specs[6].link = 'down';
    expect(decide(view(specs, 7), shape(4)).action?.kind).not.toBe('convert-replica');
  });

  test('two masters on one node while another has none: fail over to the replica there', () => {
    const specs: Spec[] = [
      { id: 'A', ordinal: 0, node: 'n1', slots: [R[0]] },
      { id: 'B', ordinal: 1, node: 'n1', slots: [R[1]] },
      { id: 'C', ordinal: 2, node: 'n2', slots: [R[2]] },
      { id: 'D', ordinal: 3, node: 'n2', of: 'A' },
      { id: 'E', ordinal: 4, node: 'n3', of: 'B' },
      { id: 'F', ordinal: 5, node: 'n3', of: 'C' },
    ];
    const d = decide(view(specs, 6), shape(3));
    expect(d.action).toEqual({ kind: 'spread-masters', replica: 'E', why: 'spread masters: node n1 holds 2 masters' });
    // During a roll the hand-overs crowd nodes on purpose: placement waits until it is done.
    expect(decide(view(specs, 6), { ...shape(3), holdMasterPlacement: true }).action).toBeUndefined();
  });

  test('an unreachable staying member stops every reshaping action', () => {
    const specs = settled();
    specs[4].down = true;
    const d = decide(view(specs, 6), shape(4));
    expect(d.action).toBeUndefined();
    expect(d.notes).toEqual(['waiting for all members to be reachable']);
  });
});
