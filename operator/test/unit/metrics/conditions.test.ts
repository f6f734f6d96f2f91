import { forgetTier, recordTierConditions, registry } from '../../../src/metrics.js';

async function conditionLines(): Promise<string[]> {
  const text = await registry.getSingleMetricAsString('cachetier_tier_condition');
  return text.split('\n').filter((l) => l.startsWith('cachetier_tier_condition{')).sort();
}

describe('cachetier_tier_condition', () => {
  afterEach(() => forgetTier('shop', 'a'));

  it('exports each condition as 1 True, 0 False, -1 Unknown', async () => {
    recordTierConditions('shop', 'a', [
      { type: 'Ready', status: 'True' },
      { type: 'SlotsBalanced', status: 'False' },
      { type: 'KeyspaceIntact', status: 'Unknown' },
    ]);
    expect(await conditionLines()).toEqual([
      'cachetier_tier_condition{namespace="shop",name="a",type="KeyspaceIntact"} -1',
      'cachetier_tier_condition{namespace="shop",name="a",type="Ready"} 1',
      'cachetier_tier_condition{namespace="shop",name="a",type="SlotsBalanced"} 0',
    ]);
  });

  it('replaces the previous set and forgets a deleted tier', async () => {
    recordTierConditions('shop', 'a', [{ type: 'Ready', status: 'False' }, { type: 'Paused', status: 'True' }]);
    recordTierConditions('shop', 'a', [{ type: 'Ready', status: 'True' }]);
    expect(await conditionLines()).toEqual(['cachetier_tier_condition{namespace="shop",name="a",type="Ready"} 1']);
    forgetTier('shop', 'a');
    expect(await conditionLines()).toEqual([]);
  });
});
