// The source-call budget on a fake clock.
import { describe, expect, it } from '@jest/globals';
import { RateLimited, TokenBucket } from '../../src/ratelimit.js';

describe('TokenBucket', () => {
  it('allows a burst of `perSecond`, then refuses with the wait until the next token', () => {
    let t = 0;
    const b = new TokenBucket(10, 10, () => t);
    for (let i = 0; i < 10; i++) expect(b.tryTake()).toEqual({ ok: true });
    expect(b.tryTake()).toEqual({ ok: false, waitMs: 100 });
    expect(() => b.takeNow()).toThrow(RateLimited);
    t += 100;
    expect(b.tryTake()).toEqual({ ok: true });
    expect(b.tryTake().ok).toBe(false);
  });

  it('never stores more than the burst while idle', () => {
    let t = 0;
    const b = new TokenBucket(5, 5, () => t);
    t += 60_000;
    let n = 0;
    while (b.tryTake().ok) n++;
    expect(n).toBe(5);
  });

  it('take() waits for a token instead of refusing', async () => {
    const b = new TokenBucket(50, 1);
    b.takeNow();
    const t0 = Date.now();
    await b.take();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15);
  });
});
