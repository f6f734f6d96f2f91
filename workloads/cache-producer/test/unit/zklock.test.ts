import { contendersOf, predecessorOf, seqOf, shardOf, SHARDS, zkCode } from '../../src/zklock.js';
import { decodeStored, encodeRecord, encodeTombstone } from '../../src/store.js';

describe('lock recipe helpers', () => {
  it('orders by sequence suffix, not by the random prefix', () => {
    const kids = ['lock-ffff-0000000012', 'lock-aaaa-0000000010', 'lock-bbbb-0000000011'];
    expect(predecessorOf(kids, 'lock-aaaa-0000000010')).toBeUndefined();
    expect(predecessorOf(kids, 'lock-bbbb-0000000011')).toBe('lock-aaaa-0000000010');
    expect(predecessorOf(kids, 'lock-ffff-0000000012')).toBe('lock-bbbb-0000000011'); // only the predecessor
    expect(seqOf('x-0000000042')).toBe(42);
    expect(() => predecessorOf(kids, 'lock-zzzz-0000000001')).toThrow(/vanished/);
  });
  it('keeps the order across the signed 32-bit sequence wrap (serial-number arithmetic)', () => {
    // ZooKeeper formats the per-directory counter with %010d: after 2147483647 comes -2147483648.
    const kids = ['p-lock-cc-2147483647', 'p-lock-aa--2147483648', 'p-lock-bb-2147483646', 'p-lock-dd--2147483647'];
    expect(seqOf('p-lock-aa--2147483648')).toBe(-2147483648);
    expect(seqOf('p-lock-01234-0000000007')).toBe(7); // digits in the tag don't confuse it
    expect(seqOf('p-lock-ee--000000003')).toBe(-3);
    expect(predecessorOf(kids, 'p-lock-bb-2147483646')).toBeUndefined();
    expect(predecessorOf(kids, 'p-lock-cc-2147483647')).toBe('p-lock-bb-2147483646');
    expect(predecessorOf(kids, 'p-lock-aa--2147483648')).toBe('p-lock-cc-2147483647');
    expect(predecessorOf(kids, 'p-lock-dd--2147483647')).toBe('p-lock-aa--2147483648');
  });
  it('picks only the entity\'s own nodes from a shared shard directory', () => {
    const kids = ['product_1-lock-aa-0000000003', 'product_12-lock-bb-0000000001', 'shop_1-lock-cc-0000000002', 'product_1-lock-dd-0000000004'];
    expect(contendersOf(kids, 'product_1')).toEqual(['product_1-lock-aa-0000000003', 'product_1-lock-dd-0000000004']);
    expect(contendersOf(kids, 'product_12')).toEqual(['product_12-lock-bb-0000000001']);
  });
  it('spreads entities over the shard directories, stably', () => {
    expect(shardOf('product_1')).toBe(shardOf('product_1'));
    expect(shardOf('product_1')).toMatch(/^s\d{2}$/);
    const used = new Map<string, number>();
    for (let i = 0; i < 25_600; i++) used.set(shardOf(`product_${i}`), (used.get(shardOf(`product_${i}`)) ?? 0) + 1);
    expect(used.size).toBe(SHARDS);
    expect(Math.max(...used.values())).toBeLessThan(1800); // mean 1600
  });
  it('extracts ZooKeeper return codes from client errors', () => {
    expect(zkCode(Object.assign(new Error('Exception: NO_NODE[-101]'), { code: -101 }))).toBe(-101);
    expect(zkCode(new Error('-101 no node'))).toBe(-101);
    expect(zkCode(new Error('fn: "a_create" args: "x" result: "ZCONNECTIONLOSS -4"'))).toBe(-4);
    expect(zkCode(new Error('boom'))).toBeUndefined();
  });
});

describe('stored values', () => {
  it('puts _v first (the Lua fast path) and strips reserved fields', () => {
    const s = encodeRecord({ id: 1, name: 'x', _v: 1, _deleted: true }, 99);
    expect(s.startsWith('{"_v":99,')).toBe(true);
    expect(JSON.parse(s)).toEqual({ _v: 99, id: 1, name: 'x' });
    expect(decodeStored(encodeTombstone(5))).toEqual({ raw: '{"_v":5,"_deleted":true}', version: 5, deleted: true });
    expect(decodeStored('nope')).toBeUndefined();
  });
});
