import { describe, expect, test } from '@jest/globals';
import { formatSlots, parseClusterNodes, toRanges } from '../../../src/redis/parse.js';
import {
  bootstrapSlotRanges,
  chooseBootstrapMasters,
  chooseKeepMasters,
  evenSlotCounts,
  isBalanced,
  planRebalance,
  planReplicas,
} from '../../../src/redis/plan.js';

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

function apply(owners: Map<string, number[]>, moves: Array<{ slot: number; from: string; to: string }>) {
  const out = new Map([...owners].map(([k, v]) => [k, new Set(v)]));
  for (const m of moves) {
    expect(out.get(m.from)!.has(m.slot)).toBe(true);
    out.get(m.from)!.delete(m.slot);
    if (!out.has(m.to)) out.set(m.to, new Set());
    out.get(m.to)!.add(m.slot);
  }
  return new Map([...out].map(([k, v]) => [k, [...v]]));
}

describe('slot assignment', () => {
  test('even split covers 16384 slots once', () => {
    for (const n of [1, 3, 4, 5, 6, 7]) {
      const c = evenSlotCounts(n);
      expect(c.reduce((a, b) => a + b, 0)).toBe(16384);
      expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
      const r = bootstrapSlotRanges(n);
      expect(r[0][0]).toBe(0);
      expect(r[r.length - 1][1]).toBe(16383);
      for (let i = 1; i < r.length; i++) expect(r[i][0]).toBe(r[i - 1][1] + 1);
    }
    expect(bootstrapSlotRanges(3)).toEqual([[0, 5461], [5462, 10922], [10923, 16383]]);
  });
});

describe('planRebalance', () => {
  const three = new Map([
    ['a', range(0, 5461)],
    ['b', range(5462, 10922)],
    ['c', range(10923, 16383)],
  ]);

  test('3 -> 4: the new master takes slots from every existing master, result balanced', () => {
    const moves = planRebalance(new Map([...three, ['d', []]]), ['a', 'b', 'c', 'd']);
    expect(new Set(moves.map((m) => m.to))).toEqual(new Set(['d']));
    expect(new Set(moves.map((m) => m.from))).toEqual(new Set(['a', 'b', 'c']));
    expect(moves).toHaveLength(4096);
    const after = apply(three, moves);
    expect(isBalanced(after, ['a', 'b', 'c', 'd'])).toBe(true);
  });

  test('6 -> 3: each leaving master spreads its slots over ALL remaining masters', () => {
    const six = new Map(bootstrapSlotRanges(6).map(([a, b], i) => [`m${i}`, range(a, b)]));
    const keep = ['m0', 'm1', 'm2'];
    const moves = planRebalance(six, keep);
    for (const leaving of ['m3', 'm4', 'm5']) {
      const targets = new Set(moves.filter((m) => m.from === leaving).map((m) => m.to));
      expect(targets).toEqual(new Set(keep));
    }
    const after = apply(six, moves);
    expect(isBalanced(after, keep)).toBe(true);
    for (const l of ['m3', 'm4', 'm5']) expect(after.get(l)).toEqual([]);
  });

  test('balanced cluster: no moves; already-even 4 -> 6 moves only what is needed', () => {
    expect(planRebalance(three, ['a', 'b', 'c'])).toEqual([]);
    const four = new Map(bootstrapSlotRanges(4).map(([a, b], i) => [`m${i}`, range(a, b)]));
    const moves = planRebalance(new Map([...four, ['m4', []], ['m5', []]]), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    const after = apply(four, moves);
    expect(isBalanced(after, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'])).toBe(true);
    expect(new Set(moves.map((m) => m.slot)).size).toBe(moves.length);
  });

  test('uneven leftovers are fixed without moving more than the excess', () => {
    const owners = new Map([
      ['a', range(0, 9999)],
      ['b', range(10000, 16383)],
    ]);
    const moves = planRebalance(owners, ['a', 'b']);
    expect(moves).toHaveLength(10000 - 8192);
    expect(isBalanced(apply(owners, moves), ['a', 'b'])).toBe(true);
  });
});

describe('master choice', () => {
  test('bootstrap masters spread over nodes, nothing depends on pod 0', () => {
    const members = [1, 2, 3, 4, 5].map((o) => ({ id: `n${o}`, ordinal: o, node: `k${o % 3}` }));
    const m = chooseBootstrapMasters(members, 3);
    expect(new Set(m.map((id) => members.find((x) => x.id === id)!.node)).size).toBe(3);
  });
  test('keep masters prefer distinct nodes and more slots', () => {
    const k = chooseKeepMasters(
      [
        { id: 'a', ordinal: 0, node: 'k0', slots: 100 },
        { id: 'b', ordinal: 1, node: 'k0', slots: 90 },
        { id: 'c', ordinal: 2, node: 'k1', slots: 10 },
      ],
      2,
    );
    expect(k).toEqual(['a', 'c']);
  });
});

describe('planReplicas', () => {
  const masters = [
    { id: 'A', ordinal: 0, node: 'k0' },
    { id: 'B', ordinal: 1, node: 'k1' },
    { id: 'C', ordinal: 2, node: 'k2' },
  ];
  test('pairs every master with a replica on another node', () => {
    const cands = [3, 4, 5].map((o) => ({ id: `r${o}`, ordinal: o, node: `k${o % 3}` }));
    const p = planReplicas(masters, cands, 1);
    expect(p.problems).toEqual([]);
    for (const [cid, mid] of p.assign) {
      expect(cands.find((c) => c.id === cid)!.node).not.toBe(masters.find((m) => m.id === mid)!.node);
    }
    expect(new Set(p.assign.values()).size).toBe(3);
  });
  test('keeps a valid existing pairing, fixes a same-node one', () => {
    const cands = [
      { id: 'r3', ordinal: 3, node: 'k1', currentMaster: 'A' }, // valid, kept
      { id: 'r4', ordinal: 4, node: 'k1', currentMaster: 'B' }, // same node as B: must move
      { id: 'r5', ordinal: 5, node: 'k0', currentMaster: 'C' },
    ];
    const p = planReplicas(masters, cands, 1);
    expect(p.problems).toEqual([]);
    expect(p.assign.get('r3')).toBe('A');
    expect(p.assign.get('r4')).toBe('C');
    expect(p.assign.get('r5')).toBe('B');
  });
  test('needs augmenting: greedy choice would strand a master', () => {
    const ms = [
      { id: 'A', ordinal: 0, node: 'k0' },
      { id: 'B', ordinal: 1, node: 'k1' },
    ];
    // r2 can serve both; r3 only A (it's on k1). Greedy A<-r2 would leave B without one.
    const p = planReplicas(ms, [{ id: 'r2', ordinal: 2, node: 'k2' }, { id: 'r3', ordinal: 3, node: 'k1' }], 1);
    expect(p.problems).toEqual([]);
    expect(p.assign.get('r3')).toBe('A');
    expect(p.assign.get('r2')).toBe('B');
  });
  test('single node: impossible, reported, replicas still assigned', () => {
    const ms = masters.map((m) => ({ ...m, node: 'k0' }));
    const cands = [3, 4, 5].map((o) => ({ id: `r${o}`, ordinal: o, node: 'k0' }));
    const p = planReplicas(ms, cands, 1);
    expect(p.problems).toHaveLength(3);
    expect(p.problems[0]).toMatch(/no replica on another node/);
    expect(p.assign.size).toBe(3);
  });
});

describe('parse', () => {
  test('CLUSTER NODES with migrating/importing, replicas and failed nodes', () => {
    const text = [
      'aaa 127.0.1.10:7000@17000 myself,master - 0 0 1 connected 0-100 200 [101->-bbb]',
      'bbb 127.0.1.11:7000@17000 master - 0 1 2 connected 5000-5001 [101-<-aaa]',
      'ccc 127.0.1.12:7000@17000,host slave aaa 0 1 1 connected',
      'ddd :0@0 master,fail,noaddr - 0 1 3 disconnected',
    ].join('\n');
    const n = parseClusterNodes(text);
    expect(n).toHaveLength(4);
    expect(n[0].slots).toHaveLength(102);
    expect(n[0].migrating.get(101)).toBe('bbb');
    expect(n[1].importing.get(101)).toBe('aaa');
    expect(n[2].masterId).toBe('aaa');
    expect(n[2].host).toBe('127.0.1.12');
    expect(n[3].flags.has('fail')).toBe(true);
    expect(n[3].connected).toBe(false);
  });
  test('ranges', () => {
    expect(toRanges([5, 1, 2, 3, 7])).toEqual([[1, 3], [5, 5], [7, 7]]);
    expect(formatSlots([0, 1, 2, 9])).toBe('0-2,9');
  });
});
