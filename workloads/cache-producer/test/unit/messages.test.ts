import { coalesce, parseChangeMessage, parseId, redisKey, MAX_MESSAGE_BYTES, type ChangeMessage } from '../../src/messages.js';
import { formatModifiedTime, parseModifiedTime, recordVersion } from '../../../../packages/contract/src/index.js';

const ok = (v: string | Buffer, fb?: number): ChangeMessage => {
  const r = parseChangeMessage(typeof v === 'string' ? Buffer.from(v) : v, fb);
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.detail}`);
  return r.msg;
};
const bad = (v: string | Buffer | null) => {
  const r = parseChangeMessage(v);
  if (r.ok) throw new Error(`expected rejection of ${String(v).slice(0, 80)}`);
  return r.reason;
};

describe('version parsing', () => {
  it('reads modifiedTime as UTC ms, with optional millis', () => {
    expect(parseModifiedTime('2026-01-01 10:00:00')).toBe(Date.UTC(2026, 0, 1, 10, 0, 0));
    expect(parseModifiedTime('2026-01-01T10:00:00.5')).toBe(Date.UTC(2026, 0, 1, 10, 0, 0, 500));
    expect(formatModifiedTime(Date.UTC(2026, 0, 1, 10, 0, 0))).toBe('2026-01-01 10:00:00');
  });
  it('rejects malformed and impossible dates', () => {
    for (const s of ['2026-02-31 10:00:00', '2026-01-01 25:00:00', '2026/01/01 10:00:00', '', 'yesterday', '2026-01-01']) {
      expect(parseModifiedTime(s)).toBeUndefined();
    }
    expect(parseModifiedTime(12345)).toBeUndefined();
  });
  it('prefers an explicit integer version', () => {
    expect(recordVersion({ version: 42, modifiedTime: '2026-01-01 10:00:00' })).toBe(42);
    expect(recordVersion({ version: '43' })).toBe(43);
    expect(recordVersion({ version: 1.5, modifiedTime: '2026-01-01 10:00:00' })).toBe(Date.UTC(2026, 0, 1, 10));
    expect(recordVersion({})).toBeUndefined();
  });
});

describe('change message parsing (the pull and push shapes)', () => {
  it('pull, product service', () => {
    const m = ok('{"serviceId":"productInfoService","productId":1,"shopId":1}');
    expect(m).toEqual({ type: 'pull', serviceId: 'productInfoService', entity: { kind: 'product', id: 1 }, productId: 1 });
    expect(redisKey(m.entity)).toBe('product_info_1');
  });
  it('pull, shop service targets the shop', () => {
    const m = ok('{"serviceId":"shopInfoService","productId":1,"shopId":7}');
    expect(m.entity).toEqual({ kind: 'shop', id: 7 });
    expect(redisKey(m.entity)).toBe('shop_info_7');
  });
  it('push with modifiedTime (the architecture example)', () => {
    const m = ok(
      '{"serviceId":"productInfoService","id":200,"name":"iphone7","price":5599,"pictureList":"a.jpg,b.jpg","specification":"iphone7","service":"iphone7","color":"red","size":"5.5","shopId":300,"modifiedTime":"2026-01-01 10:00:00"}',
    );
    if (m.type !== 'push') throw new Error('push expected');
    expect(m.entity).toEqual({ kind: 'product', id: 200 });
    expect(m.version).toBe(Date.UTC(2026, 0, 1, 10));
    expect(m.record.serviceId).toBeUndefined();
    expect(m.record.name).toBe('iphone7');
  });
  it('push without any version takes the message timestamp', () => {
    const m = ok('{ "serviceId":"productInfoService","id": 200,  "name":  "iphone7",  "price": 5599, "shopId": 300}', 1_700_000_000_123);
    expect(m.type === 'push' && m.version).toBe(1_700_000_000_123);
  });
  it.each([
    ['{not json', 'bad_json'],
    ['[1,2]', 'not_object'],
    ['"x"', 'not_object'],
    ['{"productId":1}', 'bad_service_id'],
    ['{"serviceId":5,"productId":1}', 'bad_service_id'],
    ['{"serviceId":"orderService","productId":1}', 'unknown_service_id'],
    ['{"serviceId":"__proto__","productId":1}', 'unknown_service_id'],
    ['{"serviceId":"productInfoService","productId":"one"}', 'bad_type'],
    ['{"serviceId":"productInfoService","productId":-3}', 'bad_type'],
    ['{"serviceId":"productInfoService","productId":1.5}', 'bad_type'],
    ['{"serviceId":"productInfoService","productId":1000000000000000}', 'bad_type'],
    ['{"serviceId":"productInfoService","productId":"0999"}', 'bad_type'],
    ['{"serviceId":"shopInfoService","productId":1}', 'bad_type'],
    ['{"serviceId":"productInfoService","id":"x"}', 'bad_type'],
    ['{"serviceId":"productInfoService","id":1,"modifiedTime":"garbage"}', 'bad_version'],
    ['{"serviceId":"productInfoService","id":1,"modifiedTime":17}', 'bad_type'],
    ['', 'empty'],
  ])('rejects %s as %s', (v, reason) => {
    expect(bad(v)).toBe(reason);
  });
  it('rejects null and huge payloads', () => {
    expect(bad(null)).toBe('empty');
    const huge = JSON.stringify({ serviceId: 'productInfoService', id: 1, blob: 'x'.repeat(MAX_MESSAGE_BYTES) });
    expect(bad(huge)).toBe('too_large');
  });
  it('parseId follows the contract: 1 to 10^15-1, no sign, no leading zero', () => {
    expect(parseId('12')).toBe(12);
    expect(parseId('012')).toBeUndefined();
    expect(parseId('1e3')).toBeUndefined();
    expect(parseId(2 ** 31)).toBe(2 ** 31);
    expect(parseId('999999999999999')).toBe(999_999_999_999_999);
    expect(parseId('1000000000000000')).toBeUndefined();
    expect(parseId(10 ** 15)).toBeUndefined();
    expect(parseId('-1')).toBeUndefined();
    expect(parseId(0)).toBeUndefined();
    expect(parseId('１２')).toBeUndefined(); // full-width digits
  });
  it('refuses a version more than the allowed skew ahead of the clock (a forged version would pin the record)', () => {
    const now = Date.UTC(2026, 11, 7);
    const bound = { now, maxFutureSkewMs: 300_000 };
    const msg = (v: unknown) => JSON.stringify({ serviceId: 'productInfoService', id: 7, version: v });
    const forged = parseChangeMessage(msg(9007199254740991), undefined, bound);
    expect(forged.ok).toBe(false);
    expect(!forged.ok && forged.reason).toBe('version_in_future');
    expect(!forged.ok && forged.detail).toMatch(/ahead of this producer's clock \(at most 300 s allowed\)/);
    expect(parseChangeMessage(msg(now + 299_000), undefined, bound).ok).toBe(true);
    expect(parseChangeMessage(msg(now + 301_000), undefined, bound).ok).toBe(false);
    // Counters stay far below any clock in ms.
    expect(parseChangeMessage(msg(42), undefined, bound).ok).toBe(true);
    // modifiedTime and the Kafka timestamp fallback are bounded too.
    const mt = JSON.stringify({ serviceId: 'productInfoService', id: 7, modifiedTime: '2099-01-01 00:00:00' });
    expect(parseChangeMessage(mt, undefined, bound).ok).toBe(false);
    const bare = JSON.stringify({ serviceId: 'productInfoService', id: 7, name: 'x' });
    expect(parseChangeMessage(bare, now + 86_400_000, bound).ok).toBe(false);
  });
});

describe('coalescing a batch', () => {
  const pull = (id: number): ChangeMessage => ({ type: 'pull', serviceId: 'productInfoService', entity: { kind: 'product', id }, productId: id });
  const push = (id: number, version: number): ChangeMessage => ({
    type: 'push',
    serviceId: 'productInfoService',
    entity: { kind: 'product', id },
    productId: id,
    record: { id, v: version },
    version,
  });
  it('folds updates of one product into the newest, keeps products apart, preserves first-seen order', () => {
    const jobs = coalesce([
      { msg: push(1, 10), timestamp: 100 },
      { msg: push(2, 5), timestamp: 101 },
      { msg: push(1, 30), timestamp: 102 },
      { msg: push(1, 20), timestamp: 103 }, // reordered older one: not chosen
      { msg: pull(3), timestamp: 104 },
      { msg: pull(3), timestamp: 105 },
    ]);
    expect(jobs.map((j) => j.entity.id)).toEqual([1, 2, 3]);
    expect(jobs[0]).toMatchObject({ pull: false, push: { version: 30 }, count: 3, firstTimestamp: 100 });
    expect(jobs[1]).toMatchObject({ push: { version: 5 }, count: 1 });
    expect(jobs[2]).toMatchObject({ pull: true, count: 2 });
    expect(jobs[2].push).toBeUndefined();
  });
  it('a product and a shop with the same id are different entities', () => {
    const shop: ChangeMessage = { type: 'pull', serviceId: 'shopInfoService', entity: { kind: 'shop', id: 1 }, productId: 1 };
    expect(coalesce([{ msg: pull(1), timestamp: 1 }, { msg: shop, timestamp: 2 }])).toHaveLength(2);
  });
  it('mixed pull and push keeps both (push newest + fetch latest)', () => {
    const [j] = coalesce([
      { msg: push(1, 7), timestamp: 1 },
      { msg: pull(1), timestamp: 2 },
      { msg: push(1, 9), timestamp: 3 },
    ]);
    expect(j).toMatchObject({ pull: true, push: { version: 9 }, count: 3 });
  });
});
