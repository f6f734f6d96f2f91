import { detectHot, HotTracker, parseAccessLog, SlidingWindowCounter, topN } from '../../src/hot.js';

// Deterministic Zipf(s) sampler over 1..n.
function zipf(n: number, s: number, seed = 1) {
  const w = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
  const total = w.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  let acc = 0;
  for (const x of w) cdf.push((acc += x / total));
  let state = seed;
  const rnd = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return () => {
    const r = rnd();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < r) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** One window of traffic: Zipf background + `spikeId` at `factor` x the bottom-95% average rate. */
function windowCounts(spikeId: number, factor: number, events = 20_000): Map<number, number> {
  const c = new Map<number, number>();
  const next = zipf(200, 0.5, 7);
  for (let i = 0; i < events; i++) {
    const id = next();
    if (id === spikeId) continue; // the spiking product's normal traffic is replaced by the spike
    c.set(id, (c.get(id) ?? 0) + 1);
  }
  const sorted = [...c.values()].sort((a, b) => a - b);
  const k = Math.floor(sorted.length * 0.95);
  const avg = sorted.slice(0, k).reduce((a, b) => a + b, 0) / k;
  c.set(spikeId, Math.round(avg * factor));
  return c;
}

describe('hot-product rule (> 10x the bottom-95% average)', () => {
  it('flags a 20x spike in a Zipf stream', () => {
    expect(detectHot(windowCounts(150, 20))).toEqual([150]);
  });
  it('does not flag a 5x spike, nor the Zipf head', () => {
    expect(detectHot(windowCounts(150, 5))).toEqual([]);
  });
  it('guards small samples', () => {
    const few = new Map([
      [1, 500],
      [2, 1],
      [3, 1],
    ]);
    expect(detectHot(few)).toEqual([]);
    const tiny = new Map(Array.from({ length: 30 }, (_, i) => [i + 1, i === 0 ? 15 : 1] as [number, number]));
    expect(detectHot(tiny)).toEqual([]); // 15 > 10x avg(1) but below the min count
  });
  it('topN orders by count then id', () => {
    expect(topN(new Map([[5, 3], [2, 9], [7, 3]]), 2)).toEqual([2, 5]);
  });
});

describe('sliding window', () => {
  it('counts decay as buckets leave the window', () => {
    const w = new SlidingWindowCounter(1000, 10, 0);
    w.add(1, 0, 5);
    w.add(1, 550, 5);
    expect(w.counts(900).get(1)).toBe(10);
    expect(w.counts(1050).get(1)).toBe(5); // first bucket expired
    expect(w.counts(1600).has(1)).toBe(false);
    w.add(2, 10_000);
    expect([...w.counts(10_000).keys()]).toEqual([2]); // a long jump clears everything
  });

  it('a spike is flagged within one window and clears after cooling', () => {
    const windowMs = 4000;
    const t = new HotTracker(windowMs, 5, 0);
    const bg = zipf(200, 0.5, 3);
    let now = 0;
    const step = 10; // ms between background events: 400 per window
    const run = (until: number, spike?: { id: number; every: number }) => {
      let k = 0;
      for (; now < until; now += step, k++) {
        t.record(bg(), now);
        if (spike && k % spike.every === 0) for (let j = 0; j < 10; j++) t.record(spike.id, now);
      }
      return t.tick(now);
    };
    expect(run(8000).hot).toEqual([]); // background only
    // 100 events/window on one id vs. ~1.5 per id in the bottom 95%: far above 10x
    const during = run(8000 + windowMs, { id: 150, every: 40 });
    expect(during.hot).toContain(150);
    expect(during.newlyHot).toContain(150);
    expect(t.isHot(150)).toBe(true);
    const after = run(8000 + 3 * windowMs);
    expect(after.hot).not.toContain(150);
    expect(t.isHot(150)).toBe(false);
  });
});

describe('access-log records', () => {
  it('parses the OpenResty record and rejects garbage', () => {
    const r = parseAccessLog(Buffer.from('{"productId":1,"shopId":1,"uri":"/product?productId=1&shopId=1","ts":1700000000000,"ua":"x","layer":"app"}'));
    expect(r).toEqual({ productId: 1, ts: 1700000000000 });
    expect(parseAccessLog(Buffer.from('{"productId":"12"}'))?.productId).toBe(12);
    expect(parseAccessLog(Buffer.from('nope'))).toBeUndefined();
    expect(parseAccessLog(Buffer.from('{"productId":-1}'))).toBeUndefined();
    expect(parseAccessLog(null)).toBeUndefined();
  });
});
