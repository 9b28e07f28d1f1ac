/**
 * An in-memory Kinesis behind the `Kinesis` port, for tests and benchmarks: shards with AWS's
 * hash-key ranges and sequence numbers, split / merge / uniform UpdateShardCount with the lineage AWS
 * produces, retention, iterator expiry, AWS's write and read limits per shard (throttles like the
 * service), fault injection and inspection — all on Effect's `Clock`, so `TestClock.adjust` drives
 * expiry, retention, rate windows and UPDATING durations, and a run with a `seed` is reproducible.
 *
 * Provide `KinesisTest.layer(...)` where a program would get `Kinesis.layer(...)`; the layer also
 * provides the `KinesisTest` control service (faults, inspection, resharding on command).
 *
 * @example
 * ```ts
 * import { Kinesis, KinesisTest, StreamAddress } from "@effect-kinesis/core"
 * import { Effect } from "effect"
 *
 * const stream = StreamAddress.unsafeMake("orders")
 *
 * const program = Effect.gen(function*() {
 *   yield* KinesisTest.failNext("putRecords", { error: "ProvisionedThroughputExceeded" })
 *   const first = yield* Effect.either(
 *     Kinesis.putRecords({ stream, records: [{ data: new Uint8Array([1]), partitionKey: "a" }] })
 *   )
 *   yield* Kinesis.putRecords({ stream, records: [{ data: new Uint8Array([2]), partitionKey: "a" }] })
 *   const stored = yield* KinesisTest.records("orders")
 *   return { first, stored: stored.length } // { first: Left(ProvisionedThroughputExceeded), stored: 1 }
 * }).pipe(Effect.provide(KinesisTest.layer({ streams: { orders: { shards: 2 } } })))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/testEngine/service.js"
import * as Kinesis from "./Kinesis.js"
import type { InvalidArgument, ResourceNotFound, ServiceError } from "./KinesisError.js"
import type { StreamAddress } from "./StreamAddress.js"

// ---------------------------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------------------------

/**
 * The AWS limits the engine enforces. A number is the limit; `false` turns one off.
 *
 * The rates are per shard, each a token bucket refilled continuously from the `Clock` with a burst
 * capacity of one second (e.g. 1,000 records at once, then one more each millisecond):
 *
 * - writes: a record that finds too few record or byte tokens on its shard fails inside the
 *   PutRecords response with `ProvisionedThroughputExceededException` (the other records still go in;
 *   a failed record takes no tokens). A record larger than one second's byte budget (a stream with a
 *   raised maximum record size) goes in when the budget is whole, and overdraws it;
 * - reads: a GetRecords call on a shard with no call token, or whose byte allowance is overdrawn,
 *   fails with `ProvisionedThroughputExceeded`. A response is never cut short by the byte allowance:
 *   its bytes are taken after it is served and may overdraw it (one 10 MiB response from a rested
 *   shard blocks reads for 4 s, 5 s for a reader already at the 2 MiB/s rate);
 * - GetShardIterator: calls per second per shard.
 *
 * The sizes are checked as AWS validates requests: the whole request is rejected with
 * `InvalidArgument`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** Records per second written to one shard. AWS: 1,000. */
  readonly writeRecordsPerSecond: number | false
  /** Bytes (data + partition key) per second written to one shard. AWS: 1 MiB. */
  readonly writeBytesPerSecond: number | false
  /** GetRecords calls per second on one shard. AWS: 5. */
  readonly readCallsPerSecond: number | false
  /** Bytes per second read from one shard. AWS: 2 MiB. */
  readonly readBytesPerSecond: number | false
  /** GetShardIterator calls per second on one shard. AWS: 5. */
  readonly getShardIteratorCallsPerSecond: number | false
  /** Records in one PutRecords request. AWS: 500. */
  readonly maxRecordsPerPutRecords: number | false
  /** Bytes (data + partition keys) in one PutRecords request. AWS: 5 MiB. */
  readonly maxBytesPerPutRecords: number | false
  /** Bytes (data + partition key) of one record. AWS: 1 MiB by default (up to 10 MiB per stream). */
  readonly maxRecordSize: number | false
  /** Records one GetRecords call returns at most (and the largest `limit` accepted). AWS: 10,000. */
  readonly maxRecordsPerGetRecords: number
  /** Bytes one GetRecords call returns at most. AWS: 10 MiB. */
  readonly maxBytesPerGetRecords: number | false
  /** SubscribeToShard calls per second per shard per consumer. AWS: 1. */
  readonly subscribeToShardCallsPerSecond: number | false
  /** Bytes per second pushed to one consumer from one shard (enhanced fan-out). AWS: 2 MiB. */
  readonly fanOutBytesPerSecond: number | false
  /** Consumers registered on one stream at most. AWS: 20. */
  readonly maxConsumersPerStream: number | false
}

/**
 * A stream that exists when the layer is built (ACTIVE at once).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions {
  /** Open shards, for a PROVISIONED stream. Default 1. */
  readonly shards?: number | undefined
  /** Default PROVISIONED. An ON_DEMAND stream starts with 4 shards, as on AWS (and does not auto-scale). */
  readonly mode?: Kinesis.StreamMode | undefined
  /** Default: the layer's `retention`. */
  readonly retention?: Duration.DurationInput | undefined
  /** This stream's maximum record size (AWS lets a stream raise it to 10 MiB). Default: `limits.maxRecordSize`. */
  readonly maxRecordSize?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Streams to create, by name. More can be created through the port (`Kinesis.createStream`). */
  readonly streams?: Readonly<Record<string, StreamOptions>> | undefined
  /**
   * Override limits one by one (`{ writeRecordsPerSecond: 100 }`, `{ readCallsPerSecond: false }`), or
   * `false` to turn every rate limit off (the request-size rules stay). Default: AWS's (`defaults.limits`).
   */
  readonly limits?: Partial<Limits> | false | undefined
  /** Seed of every random choice (`throttleRecords`). Default 1. */
  readonly seed?: number | undefined
  /** Region in stream ARNs. Default `us-east-1`. */
  readonly region?: string | undefined
  /** Account id in ARNs and messages. Default `000000000000`. */
  readonly accountId?: string | undefined
  /** How long records stay readable (Clock time). Default 24 hours. */
  readonly retention?: Duration.DurationInput | undefined
  /** How long a stream created through the port stays CREATING. Default 0 (ACTIVE at once). */
  readonly createDuration?: Duration.DurationInput | undefined
  /**
   * How long a stream stays UPDATING after SplitShard / MergeShards / UpdateShardCount through the port;
   * the new shards appear when it ends, and further resharding meanwhile fails with `ResourceInUse`.
   * Default 0 (the reshard is applied at once).
   */
  readonly updateDuration?: Duration.DurationInput | undefined
  /** How long a deleted stream stays DELETING. Default 0. */
  readonly deleteDuration?: Duration.DurationInput | undefined
  /** Shards per ListShards page when the request sets no `pageSize` (AWS: 1,000, at most 1,000). */
  readonly listShardsPageSize?: number | undefined
  /** How many calls the call log keeps (the most recent ones). Default 10,000. */
  readonly callLogSize?: number | undefined
  /**
   * How long a consumer registered through the port stays CREATING (and a deregistered one DELETING).
   * Default 0 (ACTIVE at once; AWS takes a few seconds).
   */
  readonly consumerDuration?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category defaults
 */
export const defaults: {
  readonly limits: Limits
  readonly seed: number
  readonly region: string
  readonly accountId: string
  readonly retention: Duration.DurationInput
  readonly createDuration: Duration.DurationInput
  readonly updateDuration: Duration.DurationInput
  readonly deleteDuration: Duration.DurationInput
  readonly listShardsPageSize: number
  readonly callLogSize: number
  readonly iteratorLifetime: Duration.DurationInput
  readonly onDemandShards: number
  readonly consumerDuration: Duration.DurationInput
  readonly subscriptionLifetime: Duration.DurationInput
  readonly subscriptionHeartbeat: Duration.DurationInput
} = internal.defaults

// ---------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------

/**
 * An operation of the `Kinesis` port.
 *
 * @since 0.1.0
 * @category models
 */
export type Operation = keyof Kinesis.Service

/**
 * The errors an operation of the port can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type OperationError<Op extends Operation> = Kinesis.Service[Op] extends (
  ...args: Array<never>
) => Effect.Effect<unknown, infer E extends ServiceError> ? E
  : Kinesis.Service[Op] extends (...args: Array<never>) => Stream.Stream<unknown, infer E extends ServiceError> ? E
  : never

/**
 * An open SubscribeToShard subscription.
 *
 * @since 0.3.0
 * @category models
 */
export interface SubscriptionInfo {
  readonly consumerARN: string
  readonly shardId: string
  /** Clock milliseconds when it was opened. */
  readonly openedAt: number
  /** Clock milliseconds when it ends (5 minutes after it was opened). */
  readonly expiresAt: number
}

/**
 * One call made through the port, as the call log keeps it. A ListShards call is logged once per
 * page.
 *
 * @since 0.1.0
 * @category models
 */
export interface Call {
  readonly operation: Operation
  /** The stream's name, when the call addressed one. */
  readonly stream: string | undefined
  /** The shard read (GetRecords, GetShardIterator) or resharded (SplitShard; MergeShards: ShardToMerge). */
  readonly shardId: string | undefined
  /** Records sent (PutRecords) or returned (GetRecords); shards (ListShards page) or streams (ListStreams) returned. */
  readonly records: number
  /** Bytes (data + partition keys) sent or returned. */
  readonly bytes: number
  /** PutRecords: records that failed inside a successful response. */
  readonly failedRecords: number
  /** `Clock` time of the call, in milliseconds. */
  readonly time: number
  readonly outcome: "success" | "failure"
  /** The error's tag, when the call failed. */
  readonly error: string | undefined
}

/**
 * A record as stored, with its shard.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredRecord extends Kinesis.KinesisRecord {
  readonly shardId: string
}

/**
 * A shard of the current topology.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardInfo extends Kinesis.Shard {
  readonly status: "OPEN" | "CLOSED"
  readonly childShardIds: ReadonlyArray<string>
  /** Records still within retention. */
  readonly recordCount: number
  readonly createdAt: Date
  readonly closedAt: Date | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface FailNextOptions<Op extends Operation> {
  /**
   * The error: a tag (the engine builds it, with an AWS-like message) or an error value.
   */
  readonly error: OperationError<Op>["_tag"] | OperationError<Op>
  /** How many calls fail. Default 1. */
  readonly times?: number | undefined
  /** Only calls addressing this stream (by name). Default: every stream. */
  readonly stream?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface FailRecordsOptions {
  /** Which records of a request fail: their indexes, or a predicate. */
  readonly select: ReadonlyArray<number> | ((entry: Kinesis.PutRecordsEntry, index: number) => boolean)
  /** Default `InternalFailure`. */
  readonly errorCode?: string | undefined
  /** Default: a message like AWS's for the code. */
  readonly errorMessage?: string | undefined
  /** How many PutRecords (or PutRecord) calls the fault applies to. Default 1; `Infinity` for all until cleared. */
  readonly calls?: number | undefined
  /** Only calls addressing this stream (by name). Default: every stream. */
  readonly stream?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ThrottleRecordsOptions {
  /** The fraction of records (0–1) that fail, drawn from the seeded random generator. */
  readonly fraction: number
  /** Default `ProvisionedThroughputExceededException`. */
  readonly errorCode?: string | undefined
  /** Only calls addressing this stream (by name). Default: every stream. */
  readonly stream?: string | undefined
}

/**
 * The control side of the engine: faults, inspection, resharding on command. Streams are given by
 * name, ARN or address.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Every record within retention, in order: of one shard, or of the stream in arrival order. */
  readonly records: (
    stream: StreamAddress | string,
    shardId?: string
  ) => Effect.Effect<ReadonlyArray<StoredRecord>, ResourceNotFound>
  /** Every shard not yet expired out of retention (open and closed), by shard id. */
  readonly shards: (stream: StreamAddress | string) => Effect.Effect<ReadonlyArray<ShardInfo>, ResourceNotFound>
  /** The call log, oldest first (the last `callLogSize` calls). */
  readonly calls: Effect.Effect<ReadonlyArray<Call>>
  /** The SubscribeToShard subscriptions open now (enhanced fan-out). */
  readonly subscriptions: Effect.Effect<ReadonlyArray<SubscriptionInfo>>
  readonly clearCalls: Effect.Effect<void>
  /** Fail the next call(s) of an operation with the given error. */
  readonly failNext: <Op extends Operation>(operation: Op, options: FailNextOptions<Op>) => Effect.Effect<void>
  /** Fail chosen records of the next PutRecords call(s) with an error code (a partial failure). */
  readonly failRecords: (options: FailRecordsOptions) => Effect.Effect<void>
  /** Fail a fraction of all records written, at random from the seed, until `clearFaults`. */
  readonly throttleRecords: (options: ThrottleRecordsOptions) => Effect.Effect<void>
  /**
   * Delay every call (of one operation, or of all) by `latency` of Clock time (`Effect.sleep`). For
   * `subscribeToShard`, every event pushed is delayed by it too.
   */
  readonly setLatency: (latency: Duration.DurationInput, operation?: Operation) => Effect.Effect<void>
  /** Remove every fault and latency. */
  readonly clearFaults: Effect.Effect<void>
  /** Change the limits from now on (`false`: every rate limit off). */
  readonly setLimits: (limits: Partial<Limits> | false) => Effect.Effect<void>
  /**
   * Split a shard now, whatever the stream's state (default: at the middle of its range). Returns the
   * children's ids.
   */
  readonly splitShard: (
    stream: StreamAddress | string,
    shardId: string,
    newStartingHashKey?: string
  ) => Effect.Effect<ReadonlyArray<string>, ResourceNotFound | InvalidArgument>
  /** Merge two adjacent open shards now. Returns the child's id. */
  readonly mergeShards: (
    stream: StreamAddress | string,
    shardId: string,
    adjacentShardId: string
  ) => Effect.Effect<string, ResourceNotFound | InvalidArgument>
  /**
   * Reshard uniformly to `target` open shards now, with the splits and merges AWS's UNIFORM_SCALING
   * would make (no factor-of-two bound). Returns the open shards' ids.
   */
  readonly updateShardCount: (
    stream: StreamAddress | string,
    target: number
  ) => Effect.Effect<ReadonlyArray<string>, ResourceNotFound | InvalidArgument>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class KinesisTest extends Context.Tag("@effect-kinesis/core/KinesisTest")<KinesisTest, Service>() {}

// ---------------------------------------------------------------------------------------------
// constructors and layers
// ---------------------------------------------------------------------------------------------

/**
 * An engine: the port and its control service, sharing one state.
 *
 * @since 0.1.0
 * @category models
 */
export interface Engine {
  readonly kinesis: Kinesis.Service
  readonly control: Service
}

/**
 * Builds an engine (the streams of `options` are created at the `Clock`'s current time).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Engine> = internal.make

/**
 * `Kinesis` in memory, plus the `KinesisTest` control service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Kinesis.Kinesis | KinesisTest> =>
  Layer.effectContext(
    Effect.map(
      internal.make(options),
      (engine) => Context.make(Kinesis.Kinesis, engine.kinesis).pipe(Context.add(KinesisTest, engine.control))
    )
  )

// ---------------------------------------------------------------------------------------------
// accessors
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category accessors
 */
export const records = (
  stream: StreamAddress | string,
  shardId?: string
): Effect.Effect<ReadonlyArray<StoredRecord>, ResourceNotFound, KinesisTest> =>
  Effect.flatMap(KinesisTest, (t) => t.records(stream, shardId))

/**
 * @since 0.1.0
 * @category accessors
 */
export const shards = (
  stream: StreamAddress | string
): Effect.Effect<ReadonlyArray<ShardInfo>, ResourceNotFound, KinesisTest> =>
  Effect.flatMap(KinesisTest, (t) => t.shards(stream))

/**
 * @since 0.1.0
 * @category accessors
 */
export const calls: Effect.Effect<ReadonlyArray<Call>, never, KinesisTest> = Effect.flatMap(
  KinesisTest,
  (t) => t.calls
)

/**
 * The SubscribeToShard subscriptions open now.
 *
 * @since 0.3.0
 * @category accessors
 */
export const subscriptions: Effect.Effect<ReadonlyArray<SubscriptionInfo>, never, KinesisTest> = Effect.flatMap(
  KinesisTest,
  (t) => t.subscriptions
)

/**
 * @since 0.1.0
 * @category accessors
 */
export const clearCalls: Effect.Effect<void, never, KinesisTest> = Effect.flatMap(KinesisTest, (t) => t.clearCalls)

/**
 * @since 0.1.0
 * @category accessors
 */
export const failNext = <Op extends Operation>(
  operation: Op,
  options: FailNextOptions<Op>
): Effect.Effect<void, never, KinesisTest> => Effect.flatMap(KinesisTest, (t) => t.failNext(operation, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const failRecords = (options: FailRecordsOptions): Effect.Effect<void, never, KinesisTest> =>
  Effect.flatMap(KinesisTest, (t) => t.failRecords(options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const throttleRecords = (options: ThrottleRecordsOptions): Effect.Effect<void, never, KinesisTest> =>
  Effect.flatMap(KinesisTest, (t) => t.throttleRecords(options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const setLatency = (
  latency: Duration.DurationInput,
  operation?: Operation
): Effect.Effect<void, never, KinesisTest> => Effect.flatMap(KinesisTest, (t) => t.setLatency(latency, operation))

/**
 * @since 0.1.0
 * @category accessors
 */
export const clearFaults: Effect.Effect<void, never, KinesisTest> = Effect.flatMap(KinesisTest, (t) => t.clearFaults)

/**
 * @since 0.1.0
 * @category accessors
 */
export const setLimits = (limits: Partial<Limits> | false): Effect.Effect<void, never, KinesisTest> =>
  Effect.flatMap(KinesisTest, (t) => t.setLimits(limits))

/**
 * @since 0.1.0
 * @category accessors
 */
export const splitShard = (
  stream: StreamAddress | string,
  shardId: string,
  newStartingHashKey?: string
): Effect.Effect<ReadonlyArray<string>, ResourceNotFound | InvalidArgument, KinesisTest> =>
  Effect.flatMap(KinesisTest, (t) => t.splitShard(stream, shardId, newStartingHashKey))

/**
 * @since 0.1.0
 * @category accessors
 */
export const mergeShards = (
  stream: StreamAddress | string,
  shardId: string,
  adjacentShardId: string
): Effect.Effect<string, ResourceNotFound | InvalidArgument, KinesisTest> =>
  Effect.flatMap(KinesisTest, (t) => t.mergeShards(stream, shardId, adjacentShardId))

/**
 * @since 0.1.0
 * @category accessors
 */
export const updateShardCount = (
  stream: StreamAddress | string,
  target: number
): Effect.Effect<ReadonlyArray<string>, ResourceNotFound | InvalidArgument, KinesisTest> =>
  Effect.flatMap(KinesisTest, (t) => t.updateShardCount(stream, target))
