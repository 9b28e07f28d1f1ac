/**
 * How much may a shard take, and does this record (or read) fit? AWS's limits as numbers, and the
 * per-shard token buckets that enforce the rates: writes (records and bytes), GetRecords (calls and
 * bytes) and GetShardIterator (calls).
 *
 * State owned: the limits in force (`Limits.values`, replaced by `KinesisTest.setLimits`). The buckets
 * themselves live on each `ShardState` (state.ts), created here on first use.
 * Called by: engine.ts (builds it, `setLimits`), writes.ts (request sizes, `admitWrite` per record),
 * reads.ts (`admitIteratorCall`, `admitRead`, `chargeRead`, the GetRecords sizes).
 * Invariants: a rate of `Infinity` is off and never touches a bucket; a refused write or call takes
 * no tokens; a read's bytes are taken after it is served and may overdraw the allowance.
 *
 * @internal
 */
import type * as KinesisTest from "../../KinesisTest.js"
import { Bucket, type ShardState } from "./state.js"

/** Every limit as a number, `Infinity` when off. @internal */
export type ResolvedLimits = { readonly [K in keyof KinesisTest.Limits]: number }

const RATE_LIMITS = [
  "writeRecordsPerSecond",
  "writeBytesPerSecond",
  "readCallsPerSecond",
  "readBytesPerSecond",
  "getShardIteratorCallsPerSecond",
  "subscribeToShardCallsPerSecond",
  "fanOutBytesPerSecond"
] as const

/** Merges limit overrides into `base`: `false` turns every rate limit off, a `false` field turns one off. @internal */
export const resolveLimits = (
  input: Partial<KinesisTest.Limits> | false | undefined,
  base: ResolvedLimits
): ResolvedLimits => {
  const out: { -readonly [K in keyof ResolvedLimits]: number } = { ...base }
  if (input === false) {
    for (const key of RATE_LIMITS) out[key] = Number.POSITIVE_INFINITY
    return out
  }
  if (input === undefined) return out
  for (const key of Object.keys(input) as Array<keyof KinesisTest.Limits>) {
    const value = input[key]
    if (value === undefined) continue
    out[key] = value === false ? Number.POSITIVE_INFINITY : value
  }
  return out
}

/** The limits in force and their token buckets. @internal */
export class Limits {
  constructor(public values: ResolvedLimits) {}

  /** Applies `KinesisTest.setLimits` overrides. */
  set(input: Partial<KinesisTest.Limits> | false): void {
    this.values = resolveLimits(input, this.values)
  }

  /** Whether writes are rate-limited at all (checked once per call: `admitWrite` is skipped when not). */
  get writesLimited(): boolean {
    const values = this.values
    return values.writeRecordsPerSecond !== Number.POSITIVE_INFINITY ||
      values.writeBytesPerSecond !== Number.POSITIVE_INFINITY
  }

  /** Takes a record of `size` bytes from the shard's write buckets; `false` (and nothing taken) if it does not fit. */
  admitWrite(shard: ShardState, size: number, now: number): boolean {
    const recordRate = this.values.writeRecordsPerSecond
    const byteRate = this.values.writeBytesPerSecond
    const records = shard.writeRecords ??= new Bucket(recordRate, now)
    const byteBucket = shard.writeBytes ??= new Bucket(byteRate, now)
    if (recordRate !== Number.POSITIVE_INFINITY) records.refill(recordRate, now)
    if (byteRate !== Number.POSITIVE_INFINITY) byteBucket.refill(byteRate, now)
    if (
      (recordRate !== Number.POSITIVE_INFINITY && records.tokens < 1) ||
      // a record larger than a second's budget (a stream with a raised maximum record size) goes in
      // when the budget is whole, and overdraws it
      (byteRate !== Number.POSITIVE_INFINITY && byteBucket.tokens < Math.min(size, byteRate))
    ) {
      return false
    }
    records.tokens -= 1
    byteBucket.tokens -= size
    return true
  }

  /** Takes a GetShardIterator call from the shard's bucket; `false` if throttled. */
  admitIteratorCall(shard: ShardState, now: number): boolean {
    const rate = this.values.getShardIteratorCallsPerSecond
    if (rate === Number.POSITIVE_INFINITY) return true
    const bucket = shard.iteratorCalls ??= new Bucket(rate, now)
    bucket.refill(rate, now)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  /**
   * Takes a GetRecords call from the shard's bucket; `false` (and nothing taken) if there is no call
   * token or the byte allowance is overdrawn. The bytes are taken by `chargeRead` once served.
   */
  admitRead(shard: ShardState, now: number): boolean {
    const callRate = this.values.readCallsPerSecond
    const byteRate = this.values.readBytesPerSecond
    let calls: Bucket | undefined
    if (callRate !== Number.POSITIVE_INFINITY) {
      calls = shard.readCalls ??= new Bucket(callRate, now)
      calls.refill(callRate, now)
      if (calls.tokens < 1) return false
    }
    if (byteRate !== Number.POSITIVE_INFINITY) {
      const byteBucket = shard.readBytes ??= new Bucket(byteRate, now)
      byteBucket.refill(byteRate, now)
      if (byteBucket.tokens < 0) return false
    }
    if (calls !== undefined) calls.tokens -= 1
    return true
  }

  /** Takes the bytes of a served GetRecords response (after `admitRead`, which made the bucket). */
  chargeRead(shard: ShardState, bytes: number): void {
    const bucket = shard.readBytes
    if (bucket !== undefined && this.values.readBytesPerSecond !== Number.POSITIVE_INFINITY) bucket.tokens -= bytes
  }
}
