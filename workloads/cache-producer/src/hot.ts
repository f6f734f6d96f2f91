// Hot products: sliding-window counts that decay (a ring of buckets per window), top-N per window,
// and the course's rule: a product counting more than FACTOR x the average of the bottom 95% is
// hot, guarded against small samples. Pure logic (the clock is a parameter) so it is unit-tested.

export class SlidingWindowCounter {
  private readonly bucketMs: number;
  private readonly buckets: Map<number, number>[];
  private readonly totals = new Map<number, number>();
  private head: number; // absolute index of the current bucket

  constructor(
    readonly windowMs: number,
    readonly bucketCount: number,
    now: number,
  ) {
    if (bucketCount < 1 || windowMs < bucketCount) throw new Error('bad window/bucket sizes');
    this.bucketMs = windowMs / bucketCount;
    this.buckets = Array.from({ length: bucketCount }, () => new Map());
    this.head = Math.floor(now / this.bucketMs);
  }

  /** Moves the window to `now`, dropping buckets that fell out of it (their counts decay away). */
  advance(now: number): void {
    const idx = Math.floor(now / this.bucketMs);
    if (idx <= this.head) return;
    const steps = Math.min(idx - this.head, this.bucketCount);
    for (let s = 1; s <= steps; s++) {
      const b = this.buckets[(this.head + s) % this.bucketCount];
      for (const [id, n] of b) {
        const left = (this.totals.get(id) ?? 0) - n;
        if (left > 0) this.totals.set(id, left);
        else this.totals.delete(id);
      }
      b.clear();
    }
    this.head = idx;
  }

  add(id: number, now: number, n = 1): void {
    this.advance(now);
    const b = this.buckets[this.head % this.bucketCount];
    b.set(id, (b.get(id) ?? 0) + n);
    this.totals.set(id, (this.totals.get(id) ?? 0) + n);
  }

  /** Counts over the last window (read-only view). */
  counts(now: number): ReadonlyMap<number, number> {
    this.advance(now);
    return this.totals;
  }
}

export interface HotRule {
  /** Hot when count > factor x average of the bottom fraction (the course: 10x, 95%). */
  factor: number;
  bottomFraction: number;
  /** Small-sample guards: fewer distinct ids or a smaller count never flags anything. */
  minDistinct: number;
  minCount: number;
}
export const DEFAULT_HOT_RULE: HotRule = { factor: 10, bottomFraction: 0.95, minDistinct: 20, minCount: 20 };

/** Ids whose window count exceeds factor x the average count of the bottom 95% of ids. */
export function detectHot(counts: ReadonlyMap<number, number>, rule: HotRule = DEFAULT_HOT_RULE): number[] {
  if (counts.size < rule.minDistinct) return [];
  const sorted = [...counts.values()].sort((a, b) => a - b);
  const k = Math.max(1, Math.floor(sorted.length * rule.bottomFraction));
  let sum = 0;
  for (let i = 0; i < k; i++) sum += sorted[i];
  const avg = sum / k;
  const threshold = Math.max(rule.factor * avg, rule.minCount - 1);
  const hot: number[] = [];
  for (const [id, n] of counts) if (n > threshold) hot.push(id);
  return hot.sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || a - b);
}

/** The N most-counted ids (ties by id), for pre-warming. */
export function topN(counts: ReadonlyMap<number, number>, n: number): number[] {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, n)
    .map(([id]) => id);
}

export interface HotTick {
  hot: number[];
  newlyHot: number[];
  cooled: number[];
  top: number[];
  newTop: number[];
}

/** Tracks the hot set across ticks: what became hot, what cooled, which top ids are new. */
export class HotTracker {
  readonly counter: SlidingWindowCounter;
  private hot = new Set<number>();
  private top = new Set<number>();

  constructor(
    windowMs: number,
    private readonly n: number,
    now: number,
    private readonly rule: HotRule = DEFAULT_HOT_RULE,
    buckets = 10,
  ) {
    this.counter = new SlidingWindowCounter(windowMs, buckets, now);
  }

  record(id: number, now: number): void {
    this.counter.add(id, now);
  }

  tick(now: number): HotTick {
    const counts = this.counter.counts(now);
    const hot = detectHot(counts, this.rule);
    const top = topN(counts, this.n);
    const hotSet = new Set(hot);
    const newlyHot = hot.filter((id) => !this.hot.has(id));
    const cooled = [...this.hot].filter((id) => !hotSet.has(id));
    const newTop = top.filter((id) => !this.top.has(id));
    this.hot = hotSet;
    this.top = new Set(top);
    return { hot, newlyHot, cooled, top, newTop };
  }

  isHot(id: number): boolean {
    return this.hot.has(id);
  }
}

/** Parses an access-log record; returns the productId or undefined. */
export function parseAccessLog(value: Buffer | null | undefined): { productId: number; ts: number } | undefined {
  if (!value || value.length === 0 || value.length > 16 * 1024) return undefined;
  try {
    const o = JSON.parse(value.toString('utf8')) as Record<string, unknown>;
    const id = typeof o.productId === 'string' ? Number(o.productId) : o.productId;
    if (typeof id !== 'number' || !Number.isInteger(id) || id <= 0 || id > 2 ** 31 - 1) return undefined;
    const ts = typeof o.ts === 'number' && Number.isFinite(o.ts) ? o.ts : Date.now();
    return { productId: id, ts };
  } catch {
    return undefined;
  }
}
