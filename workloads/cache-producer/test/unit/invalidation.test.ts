import { parseInvalidation } from '../../../../packages/contract/src/index.js';

describe('invalidation messages', () => {
  it('"<key> <version>" names the version written', () => {
    expect(parseInvalidation('product_info_7 1767261600123')).toEqual({ key: 'product_info_7', version: 1767261600123 });
    expect(parseInvalidation('shop_info_1 999999999999999')).toEqual({ key: 'shop_info_1', version: 999999999999999 });
  });
  it('a bare key, or anything else, is a key with no version (every copy goes)', () => {
    expect(parseInvalidation('product_info_7')).toEqual({ key: 'product_info_7' });
    expect(parseInvalidation('product_info_7 12x')).toEqual({ key: 'product_info_7 12x' });
    expect(parseInvalidation('product_info_7 -1')).toEqual({ key: 'product_info_7 -1' });
  });
});
