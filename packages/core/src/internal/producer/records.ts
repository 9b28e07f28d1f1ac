/**
 * What waits in the producer: a user record (`Item`), the Kinesis record it travels in (`Pending`: the
 * item itself, or a processor's aggregate of items), the retry state a failed record carries, and the
 * checks a record's keys must pass. No state of its own; used by every part of the producer.
 *
 * @internal
 */
import type * as Deferred from "effect/Deferred"
import * as Option from "effect/Option"
import type * as Kinesis from "../../Kinesis.js"
import { InvalidPartitionKey } from "../../KinesisError.js"
import type * as Processor from "../../Processor.js"
import * as ShardMap from "../../ShardMap.js"
import type { Delivery, ProducerError } from "./shapes.js"

const NO_DATA = new Uint8Array(0)

/**
 * A user record. When the processor does not aggregate (one user record per Kinesis record, as
 * `Processor.json`), it is also its own Kinesis record and PutRecords entry: `data` and `size` are
 * set when it is encoded, and no `Aggregate` is made for it (one object per record, not three).
 */
export class Item<A> implements Processor.Entry<A>, Kinesis.PutRecordsEntry {
  data: Uint8Array = NO_DATA
  size = 0
  constructor(
    readonly value: A,
    readonly partitionKey: string,
    public explicitHashKey: string | undefined,
    readonly deferred: Deferred.Deferred<Delivery, ProducerError> | undefined,
    /**
     * The producer made the partition key up (the default: one key of its own for all such records),
     * so no ordering rule applies, and the record is routed to a shard chosen by weight instead of by
     * MD5 of the key (an explicit hash key inside that shard says so to Kinesis, unless the aggregate
     * carries the shard's own).
     */
    readonly generated: boolean
  ) {}

  /** Known for made-up keys (ASCII), so the accumulator need not measure them. */
  get partitionKeyBytes(): number | undefined {
    return this.generated ? this.partitionKey.length : undefined
  }
}

/** A Kinesis record waiting in a lane (it is also the PutRecords entry sent for it). */
export type Pending<A> = Processor.Aggregate<A, Item<A>> | Item<A>

/** The user records a Kinesis record carries. */
export const itemsOf = <A>(p: Pending<A>): ReadonlyArray<Item<A>> => p instanceof Item ? [p] : p.records

/** Whether a user record of `p` has a key in `a` or `b` (a loop over the pump's hot path: no array per record). */
export const holdsKey = <A>(p: Pending<A>, a: ReadonlySet<string>, b: ReadonlySet<string>): boolean => {
  if (p instanceof Item) return !p.generated && (a.has(p.partitionKey) || (b.size > 0 && b.has(p.partitionKey)))
  for (const r of p.records) {
    if (!r.generated && (a.has(r.partitionKey) || (b.size > 0 && b.has(r.partitionKey)))) return true
  }
  return false
}

/** Adds the keys of `p`'s user records (not made-up ones) to `set`. */
export const addKeys = <A>(p: Pending<A>, set: Set<string>): void => {
  if (p instanceof Item) {
    if (!p.generated) set.add(p.partitionKey)
    return
  }
  for (const r of p.records) if (!r.generated) set.add(r.partitionKey)
}

export const countOf = <A>(p: Pending<A>): number => (p instanceof Item ? 1 : p.records.length)

/** Why the records of a request still in flight at the shutdown deadline fail. */
export const IN_FLIGHT_AT_CLOSE = {
  errorCode: "ProducerClosed",
  errorMessage: "the producer's shutdown deadline passed while this record's PutRecords was in flight: " +
    "it may or may not have been written"
} as const

/** What a record that failed at least once carries (records that never failed carry nothing). */
export interface RetryInfo {
  /** This record's retry schedule state. */
  retryState: unknown
  /** Clock ms before which it may not be sent again. */
  notBefore: number
  attempts: number
  lastCode: string
  lastMessage: string
}

const MAX_PARTITION_KEY = 256

export const checkKey = (partitionKey: unknown, explicitHashKey: unknown, value: unknown) => {
  // JavaScript callers have no compiler to stop a number or an object: a typed error, not a defect
  if (typeof partitionKey !== "string") {
    return new InvalidPartitionKey({
      partitionKey: String(partitionKey),
      reason: `a partition key is a string; got ${describe(partitionKey)}`,
      record: value
    })
  }
  if (explicitHashKey !== undefined && typeof explicitHashKey !== "string") {
    return new InvalidPartitionKey({
      partitionKey,
      reason: `an explicit hash key is a decimal string; got ${describe(explicitHashKey)}`,
      record: value
    })
  }
  // Kinesis counts Unicode characters (code points): 1–256
  let length = partitionKey.length
  if (length > MAX_PARTITION_KEY) {
    // more UTF-16 units than allowed characters: count code points (surrogate pairs are one)
    length = 0
    for (const _ of partitionKey) {
      length++
      if (length > MAX_PARTITION_KEY) break
    }
  }
  if (length === 0) {
    return new InvalidPartitionKey({
      partitionKey,
      reason: "a partition key is 1–256 characters; it is empty",
      record: value
    })
  }
  if (length > MAX_PARTITION_KEY) {
    return new InvalidPartitionKey({
      partitionKey,
      reason: "a partition key is 1–256 characters; it is longer",
      record: value
    })
  }
  if (explicitHashKey !== undefined && Option.isNone(ShardMap.parseHashKey(explicitHashKey))) {
    return new InvalidPartitionKey({
      partitionKey,
      reason: `explicit hash key ${JSON.stringify(explicitHashKey)} is not a decimal integer in 0 … 2^128 − 1`,
      record: value
    })
  }
  return undefined
}

const describe = (u: unknown): string =>
  u === null ? "null" : Array.isArray(u) ? "an array" : `a value of type ${typeof u}`

/** Error codes of a PutRecords result entry that are worth retrying. */
export const RETRYABLE_CODES = new Set([
  "ProvisionedThroughputExceededException",
  "InternalFailure",
  "InternalFailureException",
  "ServiceUnavailable",
  "KMSThrottlingException"
])
