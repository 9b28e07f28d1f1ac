/**
 * The producer engine.
 *
 * Records flow: `put`/`offer` → partition key checked → target shard predicted from the shard map
 * (MD5 → hash range) → that shard's lane: its processor `Accumulator` packs user records into Kinesis
 * records (aggregates) → the lane's `ready` FIFO → a PutRecords request built by the pump from the heads
 * of several lanes → on the response, successes resolve their user records, failures go back to the
 * head of their lane, in order, and the lane backs off with the retry `Schedule`.
 *
 * Invariants that give per-key order and bounded memory:
 * - a lane (shard) has at most one request in flight;
 * - a request never carries two Kinesis records with a common partition key from the same lane
 *   (PutRecords may fail one record and accept a later one: two records of one key in one request could
 *   be reordered), and failed records are retried before anything behind them in their lane;
 * - accepted user records and their bytes are bounded (`maxQueueRecords`, `maxQueueBytes`): `put`
 *   suspends at capacity;
 * - after a reshard, lanes of closed shards drain before the new shards' lanes may send.
 *
 * All state is mutated synchronously inside `Effect.sync` (one JS thread), so no locks are needed.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Intervals from "effect/ScheduleIntervals"
import type * as Scope from "effect/Scope"
import * as Kinesis from "../../Kinesis.js"
import {
  type EncodeError,
  type FailedRecord,
  InvalidPartitionKey,
  type InvalidStreamAddress,
  isRetryable,
  PutRecordsFailed,
  type RecordTooLarge,
  type ServiceError
} from "../../KinesisError.js"
import * as KinesisMetrics from "../../KinesisMetrics.js"
import type * as Processor from "../../Processor.js"
import type { Producer as PublicProducer, ProducerOptions } from "../../Producer.js"
import * as ShardMap from "../../ShardMap.js"
import * as StreamAddress from "../../StreamAddress.js"
import * as Metrics from "../metrics.js"
import * as Aggregators from "../processor/aggregators.js"
import { encodeEntry } from "../processor/processor.js"
import { utf8Length } from "../processor/utf8.js"
import * as Routing from "../shardMap.js"
import { ReadyQueue } from "./readyQueue.js"
import { TokenBucket } from "./tokenBucket.js"

// ---------------------------------------------------------------------------------------------
// public shapes (re-exported by Producer.ts)
// ---------------------------------------------------------------------------------------------

/** @internal */
export const RecordTypeId: unique symbol = Symbol.for("@effect-kinesis/core/Producer/ProducerRecord")

/** @internal */
export interface ProducerRecord<A> {
  readonly [RecordTypeId]: typeof RecordTypeId
  readonly value: A
  readonly partitionKey?: string | undefined
  readonly explicitHashKey?: string | undefined
}

/** @internal */
export const record = <A>(
  value: A,
  options?: { readonly partitionKey?: string | undefined; readonly explicitHashKey?: string | undefined }
): ProducerRecord<A> => ({
  [RecordTypeId]: RecordTypeId,
  value,
  partitionKey: options?.partitionKey,
  explicitHashKey: options?.explicitHashKey
})

/** @internal */
export const isProducerRecord = (u: unknown): u is ProducerRecord<unknown> =>
  typeof u === "object" && u !== null && RecordTypeId in u

/** @internal */
export interface Delivery {
  readonly shardId: string
  readonly sequenceNumber: string
}

/** @internal */
export interface ShardLimits {
  readonly recordsPerSecond?: number | undefined
  readonly bytesPerSecond?: number | undefined
  /** Multiplies both limits (e.g. 0.8 to leave room for another producer). */
  readonly fraction?: number | undefined
}

/** @internal */
export type ProducerError =
  | PutRecordsFailed
  | InvalidPartitionKey
  | EncodeError
  | RecordTooLarge
  | ServiceError
  | InvalidStreamAddress

/** What the retry schedule sees: the error of a whole request, or the per-record error codes of a lane. @internal */
export type RetryInput =
  | { readonly _tag: "RequestFailed"; readonly error: ServiceError }
  | { readonly _tag: "RecordsFailed"; readonly errorCodes: ReadonlyArray<string> }

/** @internal */
export interface FlushSummary {
  readonly delivered: number
  readonly failed: number
}

/** @internal */
export const defaults = {
  bufferTime: Duration.millis(100),
  maxBatchRecords: 500,
  maxBatchBytes: 5 * 1024 * 1024,
  maxRecordSize: 1024 * 1024,
  recordsPerSecond: 1000,
  bytesPerSecond: 1024 * 1024,
  maxQueueRecords: 10_000,
  maxQueueBytes: 32 * 1024 * 1024,
  maxInFlightRequests: 32,
  shutdownTimeout: Duration.seconds(30),
  retrySchedule: Schedule.exponential("100 millis", 2).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced("5 seconds")),
    Schedule.intersect(Schedule.recurs(20))
  ) as Schedule.Schedule<unknown, RetryInput>
} as const

/** The public producer, plus what the sink needs. @internal */
export interface Producer<A> extends PublicProducer<A> {
  /** Fails (after a flush, with every failure) once records have been given up on. */
  readonly failed: Effect.Effect<void, ProducerError>
}

/** @internal */
export interface PutOptions {
  readonly partitionKey?: string | undefined
  readonly explicitHashKey?: string | undefined
}

// ---------------------------------------------------------------------------------------------
// engine state
// ---------------------------------------------------------------------------------------------

const NO_DATA = new Uint8Array(0)

/**
 * A user record. When the processor does not aggregate (one user record per Kinesis record, as
 * `Processor.json`), it is also its own Kinesis record and PutRecords entry: `data` and `size` are
 * set when it is encoded, and no `Aggregate` is made for it (one object per record, not three).
 */
class Item<A> implements Processor.Entry<A>, Kinesis.PutRecordsEntry {
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
type Pending<A> = Processor.Aggregate<A> | Item<A>

/** The user records a Kinesis record carries. */
const itemsOf = <A>(p: Pending<A>): ReadonlyArray<Item<A>> =>
  p instanceof Item ? [p] : (p.records as ReadonlyArray<Item<A>>) // the accumulator returns the entries it was given

/** Whether a user record of `p` has a key in `a` or `b` (a loop over the pump's hot path: no array per record). */
const holdsKey = <A>(p: Pending<A>, a: ReadonlySet<string>, b: ReadonlySet<string>): boolean => {
  if (p instanceof Item) return !p.generated && (a.has(p.partitionKey) || (b.size > 0 && b.has(p.partitionKey)))
  for (const r of p.records as ReadonlyArray<Item<A>>) {
    if (!r.generated && (a.has(r.partitionKey) || (b.size > 0 && b.has(r.partitionKey)))) return true
  }
  return false
}

/** Adds the keys of `p`'s user records (not made-up ones) to `set`. */
const addKeys = <A>(p: Pending<A>, set: Set<string>): void => {
  if (p instanceof Item) {
    if (!p.generated) set.add(p.partitionKey)
    return
  }
  for (const r of p.records as ReadonlyArray<Item<A>>) if (!r.generated) set.add(r.partitionKey)
}

const countOf = <A>(p: Pending<A>): number => (p instanceof Item ? 1 : p.records.length)

/** Why the records of a request still in flight at the shutdown deadline fail. */
const IN_FLIGHT_AT_CLOSE = {
  errorCode: "ProducerClosed",
  errorMessage: "the producer's shutdown deadline passed while this record's PutRecords was in flight: " +
    "it may or may not have been written"
} as const

/** What a record that failed at least once carries (records that never failed carry nothing). */
interface RetryInfo {
  /** This record's retry schedule state. */
  retryState: unknown
  /** Clock ms before which it may not be sent again. */
  notBefore: number
  attempts: number
  lastCode: string
  lastMessage: string
}

interface Lane<A> {
  readonly id: string
  readonly shard: Kinesis.Shard | undefined
  readonly accumulator: Processor.Accumulator<A>
  /** Clock ms when the accumulator last went from empty to non-empty. */
  accumulatingSince: number
  /** Records ready to send, in order. */
  readonly ready: ReadyQueue<Pending<A>>
  readyBytes: number
  /** Clock ms since the oldest ready record waits (−∞: retries, send as soon as allowed). */
  readySince: number
  inFlight: boolean
  readonly recordBucket: TokenBucket | undefined
  readonly byteBucket: TokenBucket | undefined
  /** A lane of a closed shard: flush and send what it holds, then go away. */
  draining: boolean
  /** Explicit hash keys spread over the shard's range, for records with generated keys. */
  readonly hashKeys: ReadonlyArray<string>
  hashKeyCursor: number
}

/** Slots a lane's emptied ready queue keeps for reuse (a request's worth and some): more are let go. */
const KEEP_READY_SLOTS = 2048
/** Explicit hash keys per lane for generated keys (a power of two). */
const HASH_KEYS_PER_LANE = 16
/** Slots of the weighted round-robin table that spreads generated keys over lanes (a power of two). */
const SPREAD_SLOTS = 1024

/**
 * Explicit hash keys spread over a shard's range; for the lane of an unknown shard (no shard map),
 * over the whole hash space, so that records with the made-up key still spread over every shard.
 */
const spreadHashKeys = (shard: Kinesis.Shard | undefined): ReadonlyArray<string> => {
  const start = shard === undefined ? 0n : BigInt(shard.hashKeyRange.startingHashKey)
  const end = shard === undefined ? ShardMap.MAX_HASH_KEY : BigInt(shard.hashKeyRange.endingHashKey)
  const width = end - start + 1n
  const n = BigInt(HASH_KEYS_PER_LANE)
  return Array.from(
    { length: HASH_KEYS_PER_LANE },
    (_, i) => (start + (width * (2n * BigInt(i) + 1n)) / (2n * n)).toString()
  )
}

/** Lanes in proportion to their shard's share of the hash space (largest remainder), interleaved. */
const spreadTable = <L>(lanes: ReadonlyArray<L>, map: ShardMap.ShardMap): Array<L> => {
  if (lanes.length === 0) return []
  const space = Number(ShardMap.MAX_HASH_KEY) + 1
  const exact = lanes.map((_, i) => (Number(map.ends[i]! - map.starts[i]!) + 1) / space * SPREAD_SLOTS)
  const counts = exact.map((x) => Math.floor(x))
  let left = SPREAD_SLOTS - counts.reduce((a, b) => a + b, 0)
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0])
  for (let k = 0; left > 0 && k < byRemainder.length; k++, left--) counts[byRemainder[k]![1]]!++
  // interleave: slot j goes to the lane whose next due position (in units of its share) is earliest
  const table: Array<L> = []
  const next = counts.map((c) => (c > 0 ? SPREAD_SLOTS / c / 2 : Infinity))
  for (let j = 0; j < SPREAD_SLOTS; j++) {
    let best = 0
    for (let i = 1; i < next.length; i++) if (next[i]! < next[best]!) best = i
    table.push(lanes[best]!)
    next[best] = next[best]! + SPREAD_SLOTS / counts[best]!
  }
  return table
}

const MAX_PARTITION_KEY = 256

const checkKey = (partitionKey: string, explicitHashKey: string | undefined, value: unknown) => {
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

/** Error codes of a PutRecords result entry that are worth retrying. */
const RETRYABLE_CODES = new Set([
  "ProvisionedThroughputExceededException",
  "InternalFailure",
  "InternalFailureException",
  "ServiceUnavailable",
  "KMSThrottlingException"
])

/** @internal */
export const make = <A>(
  options: ProducerOptions<A>,
  defaultProcessor: Processor.Processor<A>
): Effect.Effect<Producer<A>, ProducerError, Kinesis.Kinesis | Scope.Scope> =>
  Effect.gen(function*() {
    const kinesis = yield* Kinesis.Kinesis
    const stream = yield* StreamAddress.make(options.stream)
    const streamLabel = StreamAddress.format(stream)
    const processor = options.processor ?? defaultProcessor
    const bufferTime = Duration.toMillis(options.bufferTime ?? defaults.bufferTime)
    const maxBatchRecords = Math.min(500, options.maxBatchRecords ?? defaults.maxBatchRecords)
    const maxBatchBytes = Math.min(5 * 1024 * 1024, options.maxBatchBytes ?? defaults.maxBatchBytes)
    const maxRecordSize = options.maxRecordSize ?? defaults.maxRecordSize
    const maxQueueRecords = options.maxQueueRecords ?? defaults.maxQueueRecords
    const maxQueueBytes = options.maxQueueBytes ?? defaults.maxQueueBytes
    const maxInFlight = options.maxInFlightRequests ?? defaults.maxInFlightRequests
    const schedule = options.retrySchedule ?? defaults.retrySchedule
    const limits = options.shardLimits === false ? undefined : {
      records: (options.shardLimits?.recordsPerSecond ?? defaults.recordsPerSecond) *
        (options.shardLimits?.fraction ?? 1),
      bytes: (options.shardLimits?.bytesPerSecond ?? defaults.bytesPerSecond) * (options.shardLimits?.fraction ?? 1)
    }
    const metricsOn = options.metrics !== false
    const preserveOrder = options.preserveOrder !== false
    const { bind } = yield* Metrics.binder(["stream", streamLabel])
    const mRecords = bind(KinesisMetrics.producerRecords)
    const mKinesisRecords = bind(KinesisMetrics.producerKinesisRecords)
    const mBytes = bind(KinesisMetrics.producerBytes)
    const mRequests = bind(KinesisMetrics.producerRequests)
    const mBatch = bind(KinesisMetrics.producerBatchSize)
    const mLatency = bind(KinesisMetrics.producerPutLatency)
    const mThrottled = bind(KinesisMetrics.producerThrottledRecords)
    const mRetries = bind(KinesisMetrics.producerRetries)
    const mFailed = bind(KinesisMetrics.producerFailedRecords)
    const mQueueRecords = bind(KinesisMetrics.producerQueueRecords)
    const mQueueBytes = bind(KinesisMetrics.producerQueueBytes)
    const scope = yield* Effect.scope
    // the clock of the fiber making the producer (its fibers are forked from it): read without an Effect
    const clock = yield* Effect.clock

    // -- stream creation and shard map ---------------------------------------------------------
    if (options.createStream !== undefined) {
      const request = "onDemand" in options.createStream
        ? { streamName: stream.name, streamMode: "ON_DEMAND" as const }
        : { streamName: stream.name, shardCount: options.createStream.shardCount }
      yield* kinesis.createStream(request).pipe(
        Effect.catchTag("ResourceInUse", () => Effect.void) // exists already (or being created): idempotent
      )
      yield* Kinesis.waitUntilActive(stream)
    }

    const now0 = yield* Clock.currentTimeMillis
    const lanes = new Map<string, Lane<A>>()
    let map: Routing.Routing | undefined
    let laneByIndex: Array<Lane<A>> = []
    /** Lanes by share of the hash space, for generated keys (see `spreadTable`). */
    let spread: Array<Lane<A>> = []
    let spreadCursor = 0
    /** Aggregates that carry their shard's explicit hash key (KPL): their user records need none. */
    const carriesHashKey = processor.aggregator.carriesPartitionKeys
    /** Lanes of closed shards still holding records: new lanes wait for them. */
    let drainingLanes = 0
    /** Shards seen in responses when the map is not listed ("skip"): scales the stream-wide limit. */
    const seenShards = new Set<string>()

    const makeLane = (id: string, shard: Kinesis.Shard | undefined, scale: number, now: number): Lane<A> => ({
      id,
      shard,
      accumulator: processor.accumulator({
        maxRecordSize,
        maxAggregateSize: options.maxAggregateSize,
        explicitHashKey: shard?.hashKeyRange.startingHashKey
      }),
      accumulatingSince: 0,
      ready: new ReadyQueue(),
      readyBytes: 0,
      readySince: Infinity,
      inFlight: false,
      recordBucket: limits ? new TokenBucket(limits.records * scale, limits.records * scale, now) : undefined,
      byteBucket: limits ? new TokenBucket(limits.bytes * scale, limits.bytes * scale, now) : undefined,
      draining: false,
      hashKeys: spreadHashKeys(shard),
      hashKeyCursor: 0
    })

    const installMap = (shards: ReadonlyArray<Kinesis.Shard>, now: number) => {
      const next = Routing.make(shards)
      const open = new Set(next.shards.map((s) => s.shardId))
      const closed: Array<Lane<A>> = []
      for (const lane of lanes.values()) {
        if (!open.has(lane.id) && !lane.draining) {
          lane.draining = true
          drainingLanes++
          closed.push(lane)
        }
      }
      laneByIndex = next.shards.map((shard) => {
        const existing = lanes.get(shard.shardId)
        if (existing !== undefined) return existing
        const lane = makeLane(shard.shardId, shard, 1, now)
        lanes.set(lane.id, lane)
        return lane
      })
      spread = spreadTable(laneByIndex, next)
      map = next
      for (const lane of closed) reroute(lane, now)
    }

    /**
     * A KPL aggregate is routed by the explicit hash key of the shard it was built for: sent after a
     * split it would land in the child holding that key, with user records whose keys belong to the
     * other child (the consumer reads both children at once: their order across them would be lost).
     * So what a closed shard's lane has not sent yet goes back through the new map, in order.
     * (A request already in flight when the reshard happened cannot be recalled.)
     */
    const reroute = (lane: Lane<A>, now: number) => {
      if (!carriesHashKey) return // other records are routed by their own keys: they find the right child
      flushAccumulator(lane, now)
      if (lane.ready.size === 0) return
      const pending = lane.ready.waiting()
      lane.ready.clear()
      lane.readyBytes = 0
      lane.readySince = Infinity
      const items: Array<Item<A>> = []
      for (const p of pending) {
        outstandingBytes -= p.size
        outstandingRecords -= countOf(p)
        retries.delete(p)
        for (const r of itemsOf(p)) items.push(r)
      }
      const groups: Array<ReadonlyArray<Item<A>>> = []
      const error = addItems(items, now, groups)
      if (error !== undefined) {
        // they were encoded once already; should one fail now (a value changed since), it is reported
        const added = new Set(groups.flat())
        const failed = items.filter((item) => !added.has(item)).map((item): Pending<A> => {
          item.size = 0
          outstandingRecords += 1
          retryInfo(item).lastCode = error._tag
          retryInfo(item).lastMessage = error.message
          return item
        })
        failAggregates(failed)
      }
    }

    const FALLBACK = "*"
    const fallbackLane = () => {
      let lane = lanes.get(FALLBACK)
      if (lane === undefined) {
        // unknown shard: one lane for the stream, limited as if it had as many shards as seen so far
        lane = makeLane(FALLBACK, undefined, Math.max(1, seenShards.size, map?.shards.length ?? 0), now0)
        lanes.set(FALLBACK, lane)
      }
      return lane
    }

    const listShards = kinesis.listShards({ stream })
    if (options.shardMap !== "skip") installMap(yield* listShards, now0)

    // -- accounting ----------------------------------------------------------------------------
    let outstandingRecords = 0 // user records accepted, not yet delivered or failed
    let outstandingBytes = 0 // their Kinesis bytes once packed (ready + in flight)
    let inFlightRequests = 0
    /** `send` calls waiting for their record's delivery (while none waits, deliveries are not resolved). */
    let sendsWaiting = 0
    /** Whether a record with a key of the user's came (until then no ordering rule can apply). */
    let userKeys = false
    let delivered = 0
    let failures: Array<FailedRecord> = []
    let failedSinceReport = 0 // for the metric, updated by the pump
    let flushing = 0 // flush calls waiting: send without waiting for bufferTime
    let refreshing = false
    const spaceWaiters: Array<Deferred.Deferred<void>> = []
    let idleWaiters: Array<Deferred.Deferred<void>> = []
    let wake = Deferred.unsafeMake<void>(yield* Effect.fiberId)

    const notify = () => {
      Deferred.unsafeDone(wake, Exit.void)
    }

    /** Retry state of records that failed at least once (dropped when they are delivered or given up). */
    const retries = new Map<Pending<A>, RetryInfo>()
    const retryInfo = (p: Pending<A>): RetryInfo => {
      let info = retries.get(p)
      if (info === undefined) {
        info = { retryState: schedule.initial, notBefore: 0, attempts: 0, lastCode: "", lastMessage: "" }
        retries.set(p, info)
      }
      return info
    }

    /**
     * One user record per Kinesis record, bytes unchanged (`Processor.json`, `bytes`, `string`, ...):
     * the producer encodes each item itself and sends it as is, with no accumulator in between. The
     * checks and errors are the accumulator's (`Processor.Accumulator.add`).
     */
    const direct = processor.aggregator === Aggregators.single
    const { dataLengthOf, validate } = processor.aggregator
    const encode = processor.serializer.encode
    const encodeItem = (item: Item<A>): EncodeError | RecordTooLarge | undefined => {
      const pkBytes = item.partitionKeyBytes ?? utf8Length(item.partitionKey)
      const data = encodeEntry(encode, validate, dataLengthOf, item, pkBytes, maxRecordSize)
      if (!(data instanceof Uint8Array)) return data
      item.data = data
      item.size = data.length + pkBytes // the single aggregator sends the bytes as they are
      return undefined
    }

    /** Encodes an item of a non-aggregating processor and queues it in its lane. */
    const addDirect = (item: Item<A>, now: number): EncodeError | RecordTooLarge | undefined => {
      const error = encodeItem(item)
      if (error !== undefined) return error
      queueDirect(item, now)
      return undefined
    }
    const queueDirect = (item: Item<A>, now: number): void => {
      const lane = laneFor(item)
      lane.ready.push(item)
      lane.readyBytes += item.size
      outstandingBytes += item.size
      outstandingRecords++
      if (now < lane.readySince) lane.readySince = now
    }

    /** Bytes held by the lanes' accumulators (kept up to date on add and flush, not recounted per put). */
    let accumulatingBytes = 0

    /** Moves a lane's accumulator contents to its ready queue. */
    const flushAccumulator = (lane: Lane<A>, since: number) => {
      accumulatingBytes -= lane.accumulator.pendingBytes
      pushReady(lane, lane.accumulator.flush(), since)
    }

    /**
     * A lane holds a whole request's worth of ready records (as much as one request may take from it):
     * more records for it could not go out any sooner.
     */
    const saturated = (lane: Lane<A>): boolean => {
      const count = lane.ready.size
      if (count >= maxBatchRecords) return true
      const bytes = lane.byteBucket === undefined ? maxBatchBytes : Math.min(maxBatchBytes, lane.byteBucket.capacity)
      return lane.readyBytes >= bytes || (lane.recordBucket !== undefined && count >= lane.recordBucket.capacity)
    }
    /** The lane last seen not saturated: checked first, so `hasRoom` is O(1) while it stays so. */
    let openLane: Lane<A> | undefined

    /**
     * Room for more records: under the queue bounds, and some lane could send more than it holds.
     * When every lane already holds a full request, accepting more would only make the queue (and
     * latency, and garbage-collection work) longer, not delivery faster.
     */
    const hasRoom = () => {
      if (outstandingRecords >= maxQueueRecords || outstandingBytes + accumulatingBytes >= maxQueueBytes) return false
      if (outstandingRecords < maxBatchRecords) return true
      if (openLane !== undefined && lanes.has(openLane.id) && !openLane.draining && !saturated(openLane)) return true
      for (const lane of lanes.values()) {
        if (!lane.draining && !saturated(lane)) {
          openLane = lane
          return true
        }
      }
      return false
    }

    const releaseSpace = () => {
      if (spaceWaiters.length > 0 && hasRoom()) {
        for (const waiter of spaceWaiters.splice(0)) Deferred.unsafeDone(waiter, Exit.void)
      }
      if (outstandingRecords === 0 && idleWaiters.length > 0) {
        const waiters = idleWaiters
        idleWaiters = []
        for (const waiter of waiters) Deferred.unsafeDone(waiter, Exit.void)
      }
    }

    const laneFor = (item: Item<A>): Lane<A> => {
      const known = map !== undefined && laneByIndex.length > 0
      if (item.generated) {
        const lane = known ? spread[spreadCursor++ & (SPREAD_SLOTS - 1)]! : fallbackLane()
        // KPL: the aggregate's own key, also on each user record: KCL drops an aggregate whose user
        // records' keys (explicit, else MD5 of the partition key) fall outside the shard it was read from
        item.explicitHashKey = carriesHashKey
          ? lane.shard?.hashKeyRange.startingHashKey
          : lane.hashKeys[lane.hashKeyCursor++ & (HASH_KEYS_PER_LANE - 1)]
        return lane
      }
      if (map === undefined || !known) return fallbackLane()
      if (item.explicitHashKey === undefined) {
        const index = Routing.shardIndexOfPartitionKey(map, item.partitionKey)
        return index < 0 ? fallbackLane() : laneByIndex[index]!
      }
      const hashKey = Option.getOrElse(ShardMap.parseHashKey(item.explicitHashKey), () => -1n)
      const index = ShardMap.shardIndex(map, hashKey)
      return index < 0 ? fallbackLane() : laneByIndex[index]!
    }

    const pushReady = (lane: Lane<A>, aggregates: ReadonlyArray<Processor.Aggregate<A>>, since: number) => {
      for (const aggregate of aggregates) {
        lane.ready.push(aggregate)
        lane.readyBytes += aggregate.size
        outstandingBytes += aggregate.size
      }
      if (aggregates.length > 0 && since < lane.readySince) lane.readySince = since
    }

    /**
     * Adds user records (already validated) to their lanes. All of `items` or none (the accumulator's
     * add is all-or-nothing); returns the error of the first item that cannot be encoded or is too large.
     */
    const addItems = (
      items: ReadonlyArray<Item<A>>,
      now: number,
      added?: Array<ReadonlyArray<Item<A>>>
    ): EncodeError | RecordTooLarge | undefined => {
      if (direct) {
        // each item is its own Kinesis record: encoded and queued one by one, so those before a bad
        // one are in and those after it are not (what the all-or-nothing groups below amount to)
        for (let i = 0; i < items.length; i++) {
          const error = addDirect(items[i]!, now)
          if (error !== undefined) {
            added?.push(items.slice(0, i))
            return error
          }
        }
        added?.push(items)
        return undefined
      }
      // group by lane, keeping order within each lane
      const groups = new Map<Lane<A>, Array<Item<A>>>()
      for (const item of items) {
        const lane = laneFor(item)
        const group = groups.get(lane)
        if (group === undefined) groups.set(lane, [item])
        else group.push(item)
      }
      for (const [lane, group] of groups) {
        const wasEmpty = lane.accumulator.pendingRecords === 0
        const pendingBefore = lane.accumulator.pendingBytes
        const result = lane.accumulator.add(group)
        if (Either.isLeft(result)) return result.left
        accumulatingBytes += lane.accumulator.pendingBytes - pendingBefore
        outstandingRecords += group.length
        added?.push(group)
        if (wasEmpty && lane.accumulator.pendingRecords > 0) lane.accumulatingSince = now
        pushReady(lane, result.right, wasEmpty ? now : lane.accumulatingSince)
        if (lane.accumulator.pendingRecords === 0) lane.accumulatingSince = 0
      }
      return undefined
    }

    // -- delivery ------------------------------------------------------------------------------
    const resolveAggregate = (pending: Pending<A>, result: Delivery) => {
      if (pending instanceof Item) {
        if (pending.deferred !== undefined) {
          Deferred.unsafeDone(
            pending.deferred,
            Exit.succeed({ shardId: result.shardId, sequenceNumber: result.sequenceNumber })
          )
        }
        return
      }
      let delivery: Exit.Exit<Delivery> | undefined // made only when a `send` waits for it
      for (const entry of pending.records) {
        const item = entry as Item<A>
        if (item.deferred !== undefined) {
          delivery ??= Exit.succeed({ shardId: result.shardId, sequenceNumber: result.sequenceNumber })
          Deferred.unsafeDone(item.deferred, delivery)
        }
      }
    }

    const failAggregates = (
      list: ReadonlyArray<Pending<A>>,
      reason?: { readonly errorCode: string; readonly errorMessage: string }
    ) => {
      if (list.length === 0) return
      const failed: Array<FailedRecord> = list.map((p) => {
        const info = retries.get(p)
        retries.delete(p)
        return {
          partitionKey: p.partitionKey,
          explicitHashKey: p.explicitHashKey,
          records: itemsOf(p).map((r) => r.value),
          errorCode: reason?.errorCode || info?.lastCode || "ProducerClosed",
          errorMessage: reason?.errorMessage || info?.lastMessage ||
            "the producer was closed before this record was delivered",
          attempts: info?.attempts ?? 0
        }
      })
      const error = new PutRecordsFailed({ stream: streamLabel, failures: failed })
      let count = 0
      for (const p of list) {
        const items = itemsOf(p)
        for (const item of items) {
          if (item.deferred !== undefined) Deferred.unsafeDone(item.deferred, Exit.fail(error))
        }
        count += items.length
        outstandingRecords -= items.length
        outstandingBytes -= p.size
      }
      for (const f of failed) failures.push(f)
      failedSinceReport += count
    }

    /**
     * Puts records back at the head of their lane, in order, before anything can yield (so nothing behind
     * them can be sent first), then steps each record's retry schedule: the lane waits for the longest
     * delay, and a record whose schedule has ended is given up on (reported in `PutRecordsFailed`).
     */
    const retryLane = (lane: Lane<A>, list: Array<Pending<A>>, input: RetryInput, now: number) =>
      Effect.suspend(() => {
        // the lane stays in flight (nothing of it is sent) until every record's schedule has decided
        lane.ready.replace(list.concat(lane.ready.waiting()))
        for (const p of list) lane.readyBytes += p.size
        lane.readySince = -Infinity
        for (const p of list) retryInfo(p).notBefore = Infinity // until its schedule has decided
        return Effect.map(
          Effect.forEach(list, (p) => schedule.step(now, input, retryInfo(p).retryState)),
          (steps) => {
            const givenUp: Array<Pending<A>> = []
            const retried: Array<Pending<A>> = []
            // records that failed together are retried together: after the longest of their delays
            let notBefore = now
            for (let i = 0; i < list.length; i++) {
              const p = list[i]!
              const [state, , decision] = steps[i]!
              if (ScheduleDecision.isDone(decision)) {
                givenUp.push(p)
              } else {
                retryInfo(p).retryState = state
                retried.push(p)
                notBefore = Math.max(notBefore, Math.ceil(Intervals.start(decision.intervals)))
              }
            }
            for (const p of retried) retryInfo(p).notBefore = notBefore
            if (givenUp.length > 0) {
              const drop = new Set(givenUp)
              lane.ready.replace(lane.ready.waiting().filter((p) => !drop.has(p)))
              for (const p of givenUp) lane.readyBytes -= p.size
              failAggregates(givenUp)
            }
          }
        )
      }).pipe(Effect.ensuring(Effect.sync(() => {
        lane.inFlight = false
        if (metricsOn) mRetries(list.length)
      })))

    /** A lane's part of a request: `entries[from, to)`, of `bytes` bytes. */
    interface Taken {
      readonly lane: Lane<A>
      readonly from: number
      readonly to: number
      readonly bytes: number
    }

    /**
     * One PutRecords request and what its response means for each record. Everything but the call
     * and the retry schedules' steps (failures only) runs synchronously: a request costs few Effect
     * steps, since there is one per 500 records.
     */
    const send = (batch: ReadonlyArray<Taken>, entries: Array<Pending<A>>) =>
      Effect.suspend(() => {
        const started = clock.unsafeCurrentTimeMillis()
        const call = Effect.either(kinesis.putRecords({ stream, records: entries })).pipe(
          // interrupted only when the producer closes past its deadline: the outcome is unknown
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              inFlightRequests--
              for (const { lane } of batch) lane.inFlight = false
              failAggregates(entries, IN_FLIGHT_AT_CLOSE)
            })
          )
        )
        return Effect.flatMap(call, (result) => {
          const now = clock.unsafeCurrentTimeMillis()
          if (metricsOn) {
            mRequests(1)
            mBatch(entries.length)
            mLatency((now - started) / 1000)
          }
          // lanes with records to retry stay in flight until their schedules have decided
          const retrying: Array<Effect.Effect<void>> = []
          let refresh = false
          if (Either.isLeft(result)) {
            const error = result.left
            for (const { from, lane, to } of batch) {
              const list = entries.slice(from, to)
              for (const p of list) {
                const info = retryInfo(p)
                info.attempts++
                info.lastCode = error._tag
                info.lastMessage = error.message
              }
              if (isRetryable(error)) retrying.push(retryLane(lane, list, { _tag: "RequestFailed", error }, now))
              else {
                failAggregates(list)
                lane.inFlight = false
              }
            }
          } else {
            const response = result.right
            let deliveredRecords = 0
            let deliveredKinesis = 0
            let deliveredBytes = 0
            let throttled = 0
            let unexpectedShard = false
            const results = response.records
            for (const { bytes, from, lane, to } of batch) {
              // The usual case, handled per lane rather than per record: every record went in, no
              // `send` waits for a delivery, no record carries retry state, and the shard is known.
              let allIn = sendsWaiting === 0 && retries.size === 0 && lane.shard !== undefined
              for (let index = from; allIn && index < to; index++) {
                const r = results[index]
                if (r === undefined || r._tag !== "Success") allIn = false
              }
              if (allIn) {
                let count = to - from
                if (!direct) {
                  count = 0
                  for (let index = from; index < to; index++) count += countOf(entries[index]!)
                }
                deliveredRecords += count
                deliveredKinesis += to - from
                deliveredBytes += bytes
                outstandingRecords -= count
                outstandingBytes -= bytes
                const last = results[to - 1]
                if (last !== undefined && last._tag === "Success" && last.shardId !== lane.id) unexpectedShard = true
                lane.inFlight = false
                continue
              }
              let lastShard: string | undefined
              let again: Array<Pending<A>> | undefined
              let hopeless: Array<Pending<A>> | undefined
              let codes: Array<string> | undefined
              for (let index = from; index < to; index++) {
                const p = entries[index]!
                const r = results[index]
                if (r !== undefined && r._tag === "Success") {
                  if (retries.size > 0) retries.delete(p)
                  resolveAggregate(p, r)
                  const count = countOf(p)
                  deliveredRecords += count
                  deliveredKinesis++
                  deliveredBytes += p.size
                  outstandingRecords -= count
                  outstandingBytes -= p.size
                  lastShard = r.shardId
                  if (lane.shard === undefined) seenShards.add(r.shardId)
                } else {
                  const info = retryInfo(p)
                  info.attempts++
                  info.lastCode = r === undefined ? "MissingResult" : r.errorCode
                  info.lastMessage = r === undefined
                    ? "PutRecords returned fewer results than records"
                    : r.errorMessage
                  if (
                    info.lastCode === "ProvisionedThroughputExceededException" ||
                    info.lastCode === "KMSThrottlingException"
                  ) {
                    throttled++
                  }
                  ;(codes ??= []).push(info.lastCode)
                  if (r === undefined || RETRYABLE_CODES.has(r.errorCode)) (again ??= []).push(p)
                  else (hopeless ??= []).push(p)
                }
              }
              // the records of a lane in one request all land on its shard, unless the stream was resharded:
              // then the later ones (at least) land elsewhere, so the last one tells
              if (lane.shard !== undefined && lastShard !== undefined && lastShard !== lane.id) unexpectedShard = true
              if (hopeless !== undefined) failAggregates(hopeless)
              if (again !== undefined) {
                retrying.push(retryLane(lane, again, { _tag: "RecordsFailed", errorCodes: codes ?? [] }, now))
              } else lane.inFlight = false
            }
            delivered += deliveredRecords
            if (metricsOn) {
              mRecords(deliveredRecords)
              mKinesisRecords(deliveredKinesis)
              mBytes(deliveredBytes)
              if (throttled > 0) mThrottled(throttled)
            }
            if (unexpectedShard && !refreshing) {
              refreshing = true
              refresh = true
            }
          }
          const done = () => {
            inFlightRequests--
            releaseSpace()
            notify()
          }
          if (retrying.length === 0 && !refresh) {
            done()
            return Effect.void
          }
          return Effect.forEach(retrying, identity, { discard: true }).pipe(
            Effect.zipRight(refresh ? refreshMap : Effect.void),
            Effect.ensuring(Effect.sync(done))
          )
        })
      })

    /** Re-lists shards after a response revealed a shard the map does not know (a reshard). */
    const refreshMap: Effect.Effect<void> = Effect.suspend(() =>
      listShards.pipe(
        Effect.flatMap((shards) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.sync(() => {
              installMap(shards, now)
            }))
        ),
        Effect.catchAll((error) =>
          Effect.logWarning("effect-kinesis producer: could not refresh the shard map", error)
        ),
        Effect.ensuring(Effect.sync(() => {
          refreshing = false
          notify()
        })),
        Effect.forkIn(scope),
        Effect.asVoid
      )
    )

    // -- the pump --------------------------------------------------------------------------------
    const requests = yield* FiberSet.make<void, never>()
    let cursor = 0

    /** Set at the shutdown deadline (or once the final flush is done): no request goes out after it. */
    let closed = false

    /** Builds as many requests as allowed now; returns them and the time of the next event (or Infinity). */
    const pumpOnce = (now: number) => {
      let nextAt = Infinity
      const started: Array<Effect.Effect<void>> = []
      if (closed) return { nextAt, started }
      const lanesNow = [...lanes.values()]
      // drained lanes of closed shards go away
      for (const lane of lanesNow) {
        if (
          lane.draining && !lane.inFlight && lane.accumulator.pendingRecords === 0 && lane.ready.size === 0
        ) {
          lanes.delete(lane.id)
          drainingLanes--
        }
      }
      const active = drainingLanes > 0 ? lanesNow.filter((l) => l.draining && lanes.has(l.id)) : [...lanes.values()]
      // Writers are waiting for room: waiting for bufferTime (or a fuller batch) gains nothing, since no
      // more records can come in until some go out. Send what can be sent now.
      const pressed = spaceWaiters.length > 0
      // accumulators due: bufferTime elapsed, or flushing / draining, or pressed with nothing else to send
      for (const lane of active) {
        if (lane.accumulator.pendingRecords === 0) continue
        const due = lane.accumulatingSince + bufferTime
        if (
          flushing > 0 || lane.draining || due <= now ||
          (pressed && !lane.inFlight && lane.ready.size === 0)
        ) {
          flushAccumulator(lane, lane.accumulatingSince)
          lane.accumulatingSince = 0
        } else if (due < nextAt) nextAt = due
      }
      const tokenWait = (lane: Lane<A>, now: number): number => {
        if (lane.recordBucket === undefined || lane.byteBucket === undefined) return 0
        const count = Math.min(lane.ready.size, maxBatchRecords)
        const bytes = Math.min(lane.readyBytes, maxBatchBytes, lane.byteBucket.capacity)
        return Math.max(lane.recordBucket.waitFor(count, now), lane.byteBucket.waitFor(bytes, now))
      }
      const eligible = (lane: Lane<A>) => !lane.inFlight && lane.ready.size > 0
      while (inFlightRequests < maxInFlight) {
        // is a request worth sending now? full, or its oldest record waited bufferTime, or flushing
        let readyRecords = 0
        let readyBytes = 0
        let oldest = Infinity
        for (const lane of active) {
          if (!eligible(lane)) continue
          readyRecords += lane.ready.size
          readyBytes += lane.readyBytes
          if (lane.readySince < oldest) oldest = lane.readySince
        }
        if (readyRecords === 0) break
        const due = oldest + bufferTime
        if (
          !(flushing > 0 || pressed || readyRecords >= maxBatchRecords || readyBytes >= maxBatchBytes || due <= now)
        ) {
          if (due < nextAt) nextAt = due
          break
        }
        // build one request from the heads of eligible lanes, round robin
        const batch: Array<Taken> = []
        // An Aggregate is a PutRecordsEntry. Made at its largest possible size and cut to what was
        // taken: growing it by pushes cost ~15 bytes and two element copies per record.
        const limit = Math.min(maxBatchRecords, readyRecords)
        const entries: Array<Pending<A>> = new Array(limit)
        let count = 0
        let bytes = 0
        const n = active.length
        for (let k = 0; k < n && count < limit; k++) {
          const lane = active[(cursor + k) % n]!
          if (!eligible(lane)) continue
          // A rate-limited lane waits until its buckets hold a whole batch of what it has ready (or a
          // full bucket), rather than trickling one record per refill: few, full requests.
          const wait = tokenWait(lane, now)
          if (wait > 0) {
            if (now + wait < nextAt) nextAt = now + wait
            continue
          }
          // Take records in lane order. A record waiting for its retry delay stays, and (preserveOrder)
          // so does every later record sharing a partition key with it or with a record already taken
          // into this request: keys never overtake each other, other keys go on.
          // (Only records with keys of the user's: made-up keys are unique.)
          const checkKeys = preserveOrder && userKeys
          const keys = checkKeys ? new Set<string>() : undefined
          const blocked = checkKeys ? new Set<string>() : undefined
          const kept: Array<Pending<A>> = []
          const from = count
          // the buckets are not refilled within this call (one `now`): their budgets are read once
          const recordBudget = lane.recordBucket === undefined ? Infinity : lane.recordBucket.budget(now)
          const byteBudget = lane.byteBucket === undefined ? Infinity : lane.byteBucket.budget(now)
          /** Nothing to skip over: no record waits for its retry delay, no key order to keep. */
          const straight = retries.size === 0 && keys === undefined
          const queue = lane.ready
          const ready = queue.items
          const end = queue.end
          let laneBytes = 0
          let i = queue.head
          for (; i < end && count < limit; i++) {
            const p = ready[i]!
            if (!straight) {
              const info = retries.size === 0 ? undefined : retries.get(p)
              let take = info === undefined || info.notBefore <= now
              if (info !== undefined && !take && info.notBefore < nextAt) nextAt = info.notBefore
              if (take && keys !== undefined && blocked !== undefined) take = !holdsKey(p, keys, blocked)
              if (!take) {
                if (blocked !== undefined) addKeys(p, blocked)
                kept.push(p)
                if (kept.length >= maxBatchRecords) {
                  i++
                  break // scanned far enough
                }
                continue
              }
            }
            const size = p.size
            if (
              bytes + size > maxBatchBytes ||
              count - from + 1 > recordBudget ||
              laneBytes + size > byteBudget
            ) break
            if (keys !== undefined) addKeys(p, keys)
            entries[count++] = p
            ready[i] = undefined
            laneBytes += size
            bytes += size
          }
          const taken = count - from
          if (taken === 0) continue
          // what was skipped goes back in front of what was not looked at
          if (kept.length === 0) {
            queue.advance(i, KEEP_READY_SLOTS)
          } else {
            queue.replace(kept.concat(ready.slice(i, end) as Array<Pending<A>>)) // not taken: all set
          }
          lane.readyBytes -= laneBytes
          lane.recordBucket?.take(taken, now)
          lane.byteBucket?.take(laneBytes, now)
          lane.inFlight = true
          if (queue.size === 0) lane.readySince = Infinity
          else if (lane.readySince === -Infinity) lane.readySince = now
          batch.push({ lane, from, to: count, bytes: laneBytes })
        }
        cursor = (cursor + 1) % Math.max(1, n)
        if (batch.length === 0) break
        inFlightRequests++
        entries.length = count
        started.push(send(batch, entries))
      }
      return { nextAt, started }
    }

    /**
     * Starts a request at once, on this thread: it runs until its call suspends (with the SDK, on the
     * network; with a port that answers at once, to its end: the response is handled before this
     * returns). The fiber is the producer's (its runtime and scope), whoever calls this.
     */
    const runRequest = yield* FiberSet.runtime(requests)<never>()
    /**
     * Sends what is due now, from the fiber that just queued records (`offer`): a full request goes
     * out before more records are encoded, rather than when the pump fiber next runs. Records then
     * wait less, and fewer are alive at a time (less garbage-collection work, warmer caches). The pump
     * fiber does the same each time it wakes. Returns when the next request may be due.
     */
    const pumpNow = (now: number): number => {
      const { nextAt, started } = pumpOnce(Math.floor(now))
      for (const request of started) runRequest(request)
      return nextAt
    }

    const pump = Effect.gen(function*() {
      while (true) {
        // whole milliseconds: jittered delays put fractional instants on the clock, and a sleep of a
        // fraction of a nanosecond would wake the pump before anything could change (a busy loop)
        const now = Math.floor(clock.unsafeCurrentTimeMillis())
        const signal = wake
        const nextAt = pumpNow(now)
        if (metricsOn) {
          if (failedSinceReport > 0) {
            mFailed(failedSinceReport)
            failedSinceReport = 0
          }
          mQueueRecords(outstandingRecords)
          mQueueBytes(outstandingBytes + accumulatingBytes)
        }
        releaseSpace()
        if (nextAt === Infinity) yield* Deferred.await(signal)
        else {
          yield* Effect.raceFirst(
            Deferred.await(signal),
            Effect.sleep(Duration.millis(Math.max(1, Math.ceil(nextAt - now))))
          )
        }
        if (signal === wake) wake = Deferred.unsafeMake<void>(yield* Effect.fiberId)
      }
    })
    yield* Effect.forkIn(pump, scope)

    // -- API -------------------------------------------------------------------------------------
    /**
     * The made-up partition key: one per producer. Records with it are routed by explicit hash key, so
     * it carries nothing, and a partition key costs: its bytes count toward the record size and the
     * shard's 1 MiB/s (a unique key per record was ~10 % of a 100-byte record), and making one per
     * record is CPU and garbage.
     */
    const madeUpKey = `p-${Math.random().toString(36).slice(2, 8)}`
    /**
     * A record routed by its own explicit hash key but given no partition key gets a unique one: one
     * key for all of them would put them under the per-key order rule (one per shard per request).
     */
    let keyCounter = 0
    const keyOf = options.partitionKey ?? (() => `${madeUpKey}-${(keyCounter++).toString(36)}`)

    const toItem = (
      input: A | ProducerRecord<A>,
      deferred: Deferred.Deferred<Delivery, ProducerError> | undefined,
      putOptions?: PutOptions
    ): Item<A> | InvalidPartitionKey => {
      let value: A
      let partitionKey: string | undefined
      let explicitHashKey: string | undefined
      if (isProducerRecord(input)) {
        value = (input as ProducerRecord<A>).value
        partitionKey = input.partitionKey
        explicitHashKey = input.explicitHashKey
      } else {
        value = input as A
        partitionKey = putOptions?.partitionKey
        explicitHashKey = putOptions?.explicitHashKey
      }
      if (partitionKey === undefined && explicitHashKey === undefined && options.partitionKey === undefined) {
        // ASCII: one byte per character
        return new Item(value, madeUpKey, undefined, deferred, true)
      }
      const key = partitionKey ?? keyOf(value)
      const invalid = checkKey(key, explicitHashKey, value)
      if (invalid !== undefined) return invalid
      userKeys = true
      return new Item(value, key, explicitHashKey, deferred, false)
    }

    const waitForRoom: Effect.Effect<void> = Effect.suspend(() => {
      if (hasRoom()) return Effect.void
      const waiter = Deferred.unsafeMake<void>(FiberId.none)
      spaceWaiters.push(waiter)
      return Effect.zipRight(Deferred.await(waiter), waitForRoom)
    })

    /**
     * Adds items (already made); on an item that cannot be added, those before it are in and its
     * error is returned. Synchronous: it notifies the pump, it does not send.
     */
    const addAll = (items: ReadonlyArray<Item<A>>, now: number): EncodeError | RecordTooLarge | undefined => {
      // groups (one per shard lane) are added one by one, each all or nothing: remember which made it
      const groups: Array<ReadonlyArray<Item<A>>> = []
      const error = addItems(items, now, groups)
      if (error === undefined) {
        notify()
        return undefined
      }
      const added = new Set(groups.flat())
      // add the rest one by one up to the bad record (never an item twice), then fail with its error.
      // Records of other lanes that came after it in the same call may already be in.
      for (const item of items) {
        if (added.has(item)) continue
        const single = addItems([item], now)
        if (single !== undefined) {
          notify()
          return single
        }
      }
      notify()
      return error
    }

    const offerItems = (items: ReadonlyArray<Item<A>>): Effect.Effect<void, ProducerError> =>
      Effect.suspend(() => {
        const error = addAll(items, clock.unsafeCurrentTimeMillis())
        return error === undefined ? Effect.void : Effect.fail(error)
      })

    /** Plain values get the made-up key (no key function): `addSlice` makes their records directly. */
    const plainValues = options.partitionKey === undefined
    /** Values `offer` turns into records before it sends what is due (about a request's worth). */
    const OFFER_SLICE = 500
    /** A slice's records between encoding and queueing (reused: no array per slice). */
    const encoded: Array<Item<A> | undefined> = []
    /**
     * Turns `inputs[from, to)` into records and adds them; returns the error of the first bad input
     * (the records before it are in). Encoding runs first, then routing and queueing.
     */
    const addSlice = (
      inputs: ReadonlyArray<A | ProducerRecord<A>>,
      from: number,
      to: number,
      now: number
    ): ProducerError | undefined => {
      let error: ProducerError | undefined
      if (direct) {
        // encoded first, then routed and queued (kept in `encoded`, cleared once queued)
        let n = 0
        for (let i = from; i < to; i++) {
          const input = inputs[i]!
          if (plainValues && !isProducerRecord(input)) {
            // The usual case: a plain value with the made-up key. Its record is made here, with no
            // key to check and nothing for the accumulator's rules to say (the single aggregator
            // sends the bytes as they are). A value this cannot take (the encoder throws, or it is
            // too large) goes the general way below, which makes its error.
            let data: Uint8Array | undefined
            try {
              data = encode(input as A)
            } catch {
              data = undefined
            }
            if (data !== undefined && data.length + madeUpKey.length <= maxRecordSize) {
              const item = new Item(input as A, madeUpKey, undefined, undefined, true)
              item.data = data
              item.size = data.length + madeUpKey.length
              encoded[n++] = item
              continue
            }
          }
          const item = toItem(input, undefined)
          error = item instanceof InvalidPartitionKey ? item : encodeItem(item)
          if (error !== undefined) break
          encoded[n++] = item as Item<A>
        }
        for (let i = 0; i < n; i++) {
          queueDirect(encoded[i]!, now)
          encoded[i] = undefined
        }
        notify()
        return error
      }
      const items: Array<Item<A>> = []
      for (let i = from; i < to; i++) {
        const item = toItem(inputs[i]!, undefined)
        if (item instanceof InvalidPartitionKey) {
          error = item
          break
        }
        items.push(item)
      }
      return addAll(items, now) ?? error
    }

    const offer = (values: Iterable<A | ProducerRecord<A>>): Effect.Effect<void, ProducerError> =>
      Effect.suspend(() => {
        // a Chunk from a Stream is usually backed by an array: index it rather than iterate
        const inputs = Chunk.isChunk(values)
          ? Chunk.toReadonlyArray(values)
          : Array.isArray(values)
          ? values as ReadonlyArray<A | ProducerRecord<A>>
          : Array.from(values)
        // Respect the queue bound: take what fits, then wait for room. What fits is added in slices
        // of about a request's worth, and after each slice the requests that are due go out at once:
        // records are sent soon after they are encoded (fewer alive at a time, warmer caches), rather
        // than once the whole input is encoded. On bad input the records before it are added, then
        // the call fails with its error.
        const loop = (from: number): Effect.Effect<void, ProducerError> => {
          if (from >= inputs.length) return Effect.void
          return Effect.zipRight(
            waitForRoom,
            Effect.suspend(() => {
              const end = Math.min(inputs.length, from + Math.max(1, maxQueueRecords - outstandingRecords))
              for (let start = from; start < end; start += OFFER_SLICE) {
                // every lane holds a full request already: wait for room rather than queue more
                if (start > from && !hasRoom()) return loop(start)
                const now = clock.unsafeCurrentTimeMillis()
                const error = addSlice(inputs, start, Math.min(end, start + OFFER_SLICE), now)
                pumpNow(now)
                if (error !== undefined) return Effect.fail(error)
              }
              return loop(end)
            })
          )
        }
        return loop(0)
      })

    const put = (value: A, putOptions?: PutOptions) =>
      Effect.suspend(() => {
        const item = toItem(value, undefined, putOptions)
        if (item instanceof InvalidPartitionKey) return Effect.fail(item)
        return Effect.zipRight(waitForRoom, offerItems([item]))
      })

    const sendOne = (value: A, putOptions?: PutOptions) =>
      Effect.suspend(() => {
        const deferred = Deferred.unsafeMake<Delivery, ProducerError>(FiberId.none)
        const item = toItem(value, deferred, putOptions)
        if (item instanceof InvalidPartitionKey) return Effect.fail(item)
        // counted from before its record can be queued until the call ends (however it ends)
        return Effect.uninterruptibleMask((restore) => {
          sendsWaiting++
          return restore(waitForRoom.pipe(
            Effect.zipRight(offerItems([item])),
            Effect.zipRight(Deferred.await(deferred))
          )).pipe(Effect.ensuring(Effect.sync(() => {
            sendsWaiting--
          })))
        })
      })

    const takeFailures = () => {
      const list = failures
      failures = []
      return list
    }

    const flush: Effect.Effect<void, ProducerError> = Effect.suspend(() => {
      flushing++
      notify()
      const waitIdle: Effect.Effect<void> = Effect.suspend(() => {
        if (outstandingRecords === 0) return Effect.void
        const waiter = Deferred.unsafeMake<void>(FiberId.none)
        idleWaiters.push(waiter)
        return Effect.zipRight(Deferred.await(waiter), waitIdle)
      })
      return waitIdle.pipe(
        Effect.ensuring(Effect.sync(() => {
          flushing--
        })),
        Effect.zipRight(Effect.suspend(() => {
          const summary = { delivered, failed: failures.length }
          return options.afterFlush === undefined ? Effect.void : options.afterFlush(summary)
        })),
        Effect.zipRight(Effect.suspend(() => {
          const failed = takeFailures()
          return failed.length === 0
            ? Effect.void
            : Effect.fail(new PutRecordsFailed({ stream: streamLabel, failures: failed }))
        }))
      )
    })

    // Closing the scope delivers what is buffered, within shutdownTimeout, and reports what was not. The
    // deadline holds even while records are being retried: the flush is made interruptible (a finalizer
    // runs uninterruptibly, and a timeout cannot cut short what it cannot interrupt), then nothing more is
    // sent, the requests in flight are interrupted and every record not delivered fails.
    const shutdownTimeout = Duration.decode(options.shutdownTimeout ?? defaults.shutdownTimeout)
    yield* Effect.addFinalizer(() =>
      (Duration.isZero(shutdownTimeout)
        ? Effect.fail("timeout" as const)
        : Effect.interruptible(flush) as Effect.Effect<void, ProducerError | "timeout">).pipe(
          Effect.timeoutFail({ duration: shutdownTimeout, onTimeout: () => "timeout" as const }),
          Effect.catchAll((error) =>
            Effect.logError(
              `effect-kinesis producer for ${streamLabel}: ${
                error === "timeout"
                  ? `${outstandingRecords} record(s) not delivered within the shutdown timeout`
                  : error.message
              }`
            )
          ),
          Effect.zipRight(Effect.sync(() => {
            closed = true
          })),
          // the records of an interrupted request fail with IN_FLIGHT_AT_CLOSE (see `send`)
          Effect.zipRight(FiberSet.clear(requests)),
          Effect.zipRight(Effect.sync(() => {
            // fail whatever is left so no `send` waits forever
            const left: Array<Pending<A>> = []
            for (const lane of lanes.values()) {
              flushAccumulator(lane, 0)
              for (const p of lane.ready.waiting()) left.push(p)
              lane.ready.clear()
            }
            failAggregates(left)
          }))
        )
    )

    const producer: Producer<A> = {
      put,
      offer,
      send: sendOne,
      flush,
      pending: Effect.sync(() => ({ records: outstandingRecords, bytes: outstandingBytes + accumulatingBytes })),
      failed: Effect.suspend(() => failures.length === 0 ? Effect.void : flush)
    }
    return producer
  })
