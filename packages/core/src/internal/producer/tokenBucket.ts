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

  /** Tokens available now (may be negative after an oversized take). */
  available(now: number): number {
    this.refill(now)
    return this.tokens
  }

  /** Whether `cost` may be spent now. */
  canTake(cost: number, now: number): boolean {
    this.refill(now)
    return this.tokens >= Math.min(cost, this.capacity)
  }

  take(cost: number, now: number): void {
    this.refill(now)
    this.tokens -= cost
  }

  /** Gives back tokens for work that was not done (e.g. records refused before reaching the shard). */
  refund(cost: number, now: number): void {
    this.refill(now)
    this.tokens = Math.min(this.capacity, this.tokens + cost)
  }

  /** Milliseconds until `cost` may be spent (0 if now). */
  waitFor(cost: number, now: number): number {
    this.refill(now)
    const needed = Math.min(cost, this.capacity) - this.tokens
    return needed <= 0 ? 0 : Math.ceil((needed * 1000) / this.ratePerSecond)
  }
}
