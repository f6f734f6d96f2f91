// The source-call budget: a token bucket per producer process. Change messages wait for a token
// (their partition slows down instead of the source being flooded); HTTP read-throughs that find
// the bucket empty are refused at once with a 429, so a flood of unknown ids costs the source at
// most the configured rate.

export class RateLimited extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`source call budget exhausted; retry in ${retryAfterMs} ms`);
    this.name = 'RateLimited';
  }
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst = perSecond,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.perSecond) / 1000);
    this.last = t;
  }

  /** Takes a token if there is one; otherwise says how long until there is. */
  tryTake(): { ok: true } | { ok: false; waitMs: number } {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, waitMs: Math.ceil(((1 - this.tokens) * 1000) / this.perSecond) };
  }

  /** Waits for a token. */
  async take(): Promise<void> {
    for (;;) {
      const r = this.tryTake();
      if (r.ok) return;
      await new Promise((res) => setTimeout(res, r.waitMs));
    }
  }

  /** Takes a token or throws RateLimited. */
  takeNow(): void {
    const r = this.tryTake();
    if (!r.ok) throw new RateLimited(r.waitMs);
  }
}
