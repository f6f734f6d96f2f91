import { groupByKey } from '../../src/batch.js';

test('one group per key, in arrival order within a key', () => {
  const batch = [
    { key: '1', v: 'a' },
    { key: '2', v: 'b' },
    { key: '1', v: 'c' },
    { key: '3', v: 'd' },
    { key: '2', v: 'e' },
  ];
  expect(groupByKey(batch).map((g) => g.map((x) => x.v).join(''))).toEqual(['ac', 'be', 'd']);
  expect(groupByKey([])).toEqual([]);
});
