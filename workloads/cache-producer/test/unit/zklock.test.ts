import { predecessorOf, seqOf, zkCode } from '../../src/zklock.js';
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
  it('extracts ZooKeeper return codes from client errors', () => {
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
