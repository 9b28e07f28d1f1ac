/**
 * A token bucket on caller-supplied time (milliseconds from Effect's `Clock`), refilled continuously
 * at `ratePerSecond` up to `capacity` (one second's worth by default: the burst Kinesis tolerates).
 *
 * A cost larger than the capacity (a record near the maximum record size on a bucket of 1 MiB/s) is
 * admitted when the bucket is full and drives it negative, so the following sends wait it out.
 *
 * @internal
 */
export class TokenBucket {
  private tokens: number
  private updatedAt: number

  constructor(
    readonly ratePerSecond: number,
    readonly capacity: number,
    now: number
  ) {
    this.tokens = capacity
    this.updatedAt = now
  }

  private refill(now: number): void {
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000)
      this.updatedAt = now
    }
  }

  /**
   * The largest cost that may be spent now: `cost` may be spent while `tokens >= min(cost, capacity)`,
   * so any cost once the bucket is full (a cost over the capacity drives it negative, and what follows
   * waits it out), else up to the tokens held.
   */
  budget(now: number): number {
    this.refill(now)
    return this.tokens >= this.capacity ? Infinity : this.tokens
  }

  take(cost: number, now: number): void {
    this.refill(now)
    this.tokens -= cost
  }

  /** Milliseconds until `cost` may be spent (0 if now). */
  waitFor(cost: number, now: number): number {
    this.refill(now)
    const needed = Math.min(cost, this.capacity) - this.tokens
    return needed <= 0 ? 0 : Math.ceil((needed * 1000) / this.ratePerSecond)
  }
}
