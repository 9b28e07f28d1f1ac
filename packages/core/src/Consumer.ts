/**
 * Consuming a Kinesis stream as an Effect `Stream` of typed records that survives resharding, restarts
 * and lease moves.
 *
 * One polling fiber per shard this worker holds the lease of, merged into one bounded buffer; each
 * shard is paced by `shardFetchRate`, idles when caught up, and backs off alone on throttling. A child
 * shard is read only after every listed parent has been read to its end and checkpointed, so records
 * of one partition key arrive in order across splits and merges. Checkpoints go through the
 * `Checkpointer` service (memory, Redis, DynamoDB) and are at-least-once: a record is checkpointed only
 * after the downstream has finished with it.
 *
 * @example
 * ```ts
 * import { Checkpointer, Consumer, Kinesis, Processor } from "@effect-kinesis/core"
 * import { Effect, Layer, Schema, Stream } from "effect"
 *
 * const Order = Schema.Struct({ id: Schema.String, customer: Schema.String, total: Schema.Number })
 *
 * const program = Consumer.stream({ stream: "orders", processor: Processor.schemaJson(Order) }).pipe(
 *   Stream.runForEach((record) => Effect.log(`${record.shardId} ${record.sequenceNumber}: ${record.value.id}`)),
 *   Effect.provide(Layer.merge(Kinesis.layerConfig(Kinesis.config), Checkpointer.layerMemory()))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import type { Checkpointer } from "./Checkpointer.js"
import * as internal from "./internal/consumer/consumer.js"
import * as Options from "./internal/options.js"
import type { Kinesis } from "./Kinesis.js"
import { InvalidOption, type ServiceError } from "./KinesisError.js"
import * as Processor from "./Processor.js"
import type { StreamAddress } from "./StreamAddress.js"

/**
 * A decoded user record with where it came from. For a KPL aggregate each user record is one
 * `ConsumerRecord`, with the aggregate's sequence number and its own sub-sequence number.
 *
 * `checkpoint` stores a checkpoint at this record now (fenced by the lease): the way to checkpoint in
 * `checkpoint: "manual"` mode, and a way to force one in auto mode.
 *
 * One object per user record, built as it is decoded; the Kinesis record's own fields (sequence
 * number, arrival time) are getters over it, not copies: `JSON.stringify(record)` shows every field,
 * but `{ ...record }` does not — read the fields you need.
 *
 * @since 0.1.0
 * @category models
 */
export type ConsumerRecord<A> = internal.ConsumerRecord<A>

/**
 * Every failure the consumer stream can end with: service errors of Kinesis (after the retry schedule
 * for retryable ones), `DecodeError` under the `fail` policy, `CheckpointerError` from the store, an
 * invalid stream address, and `InvalidOption` for an option of the wrong type or out of range (from
 * JavaScript), before anything runs.
 *
 * @since 0.1.0
 * @category errors
 */
export type ConsumerError = internal.ConsumerError | InvalidOption

/**
 * @since 0.1.0
 * @category models
 */
export type IteratorType = internal.IteratorType

/**
 * What a dead-letter sink receives for a record that could not be decoded.
 *
 * @since 0.1.0
 * @category models
 */
export type DeadLetter = internal.DeadLetter

/**
 * What happens to a record that fails to decode: `"fail"` the stream with `DecodeError` (naming shard
 * and sequence number), `"skip"` it (logged, counted in `kinesis_consumer_decode_errors_total`,
 * checkpointed past), or send it to a dead-letter `Sink` and go on.
 *
 * @since 0.1.0
 * @category models
 */
export type DecodeErrorPolicy<E, R> = internal.DecodeErrorPolicy<E, R>

/**
 * A shard as this worker sees it: `reading` (it holds the lease and its reads succeed), `retrying` (it
 * holds the lease and its last reads failed with a retryable error: they are retried with
 * `retrySchedule`; see `failures` and `lastError`), `waiting-for-parent` (a parent is not read to its
 * end yet), `ended` (read to its end and checkpointed), `owned-elsewhere` (another live worker holds
 * the lease), `unowned`.
 *
 * @since 0.1.0
 * @category models
 */
export type ShardState = internal.ShardState

/**
 * One shard in the status: its state, parents and children, lease owner, `millisBehindLatest`, iterator
 * age, checkpoint, the user records this consumer delivered from it (an ended shard keeps its count),
 * and, while `retrying`, the failed reads in a row and the last typed error.
 *
 * @since 0.1.0
 * @category models
 */
export type ShardStatus = internal.ShardStatus

/**
 * A snapshot of every listed shard as this worker sees it, with totals and the parent → children map.
 *
 * @since 0.1.0
 * @category models
 */
export type ConsumerStatus = internal.ConsumerStatus

/**
 * One shard's records, for `shards`: the stream ends when the shard has been read to its end (after a
 * reshard) or when this worker loses the shard's lease.
 *
 * @since 0.1.0
 * @category models
 */
export type ShardStream<A, E = never> = internal.ShardStream<A, E>

/**
 * Options of `stream`, `shards` and `make` (defaults in `defaults`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerOptions<A, E = never, R = never> {
  /** The stream, by name or ARN. */
  readonly stream: string | StreamAddress
  /** How Kinesis records become values. Default `Processor.json` (KPL aggregates are not expected). */
  readonly processor?: Processor.Processor<A> | undefined
  /**
   * Where a shard without checkpoint starts. Default `"TRIM_HORIZON"` (nothing in retention is missed).
   * With `"LATEST"`, closed shards never read by this group are skipped, and a child of a shard this
   * group read starts at its beginning (nothing between parent and child is lost). A LATEST iterator
   * that expires before any record was read is renewed AT_TIMESTAMP of when it was asked for, less 1 s
   * for clock skew: records of that second may be delivered, none after it is lost.
   */
  readonly iteratorType?: IteratorType | undefined
  /** For `iteratorType: "AT_TIMESTAMP"`. */
  readonly timestamp?: Date | undefined
  /** Records per GetRecords, ≤ 10,000. Default 10,000. */
  readonly recordLimit?: number | undefined
  /** GetRecords calls per second per shard (AWS allows 5 per shard, shared by every consumer). Default 5. */
  readonly shardFetchRate?: number | undefined
  /** Pause before polling a shard again when it is caught up. Default 1 s. */
  readonly idleDelay?: Duration.DurationInput | undefined
  /** How often shards are listed (also at once when a shard ends). Default 30 s. */
  readonly shardRefreshInterval?: Duration.DurationInput | undefined
  /** Shards this worker reads at most. Default unlimited. */
  readonly maxShards?: number | undefined
  /**
   * Kinesis records read and not yet taken by the downstream before polling pauses (an aggregate counts
   * once). They wait as read, undecoded: records are decoded when the downstream takes them, so decoded
   * values live only as long as the downstream keeps them. Default 2,000.
   */
  readonly maxBufferRecords?: number | undefined
  /** Bytes (record data) read and not yet taken by the downstream before polling pauses. Default 16 MiB. */
  readonly maxBufferBytes?: number | undefined
  /** User records per emitted chunk (the auto-checkpoint granularity). Default 1,000. */
  readonly chunkSize?: number | undefined
  /**
   * Retry policy for retryable Kinesis errors (throttling, internal failures, transport), per shard.
   * Default: exponential from 200 ms, jittered, capped at 10 s, without end (a consumer outlives outages).
   */
  readonly retrySchedule?: Schedule.Schedule<unknown, ServiceError> | undefined
  /** Default `"fail"`. */
  readonly onDecodeError?: DecodeErrorPolicy<E, R> | undefined
  /**
   * `"auto"` (default): a chunk is processed once the downstream pulls the next one, and processed
   * positions are written every `checkpointInterval` or `checkpointEvery` records, and on shutdown.
   * `"manual"`: only `record.checkpoint` moves the checkpoint (a closed shard's children wait until its
   * last record is checkpointed).
   */
  readonly checkpoint?: "auto" | "manual" | undefined
  /** Default 5 s. */
  readonly checkpointInterval?: Duration.DurationInput | undefined
  /** Default 10,000 records. */
  readonly checkpointEvery?: number | undefined
  /** Update `KinesisMetrics`. Default true. */
  readonly metrics?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category defaults
 */
export const defaults = internal.defaults

/**
 * A running consumer (scoped): its records, and its status.
 *
 * @since 0.1.0
 * @category models
 */
export interface Consumer<A, E = never> {
  /** The records of every shard this worker reads, merged (run it once). */
  readonly records: Stream.Stream<ConsumerRecord<A>, ConsumerError | E>
  /** A snapshot of every shard. */
  readonly status: Effect.Effect<ConsumerStatus>
  /** The status, updated on every lease renewal and shard change. */
  readonly changes: SubscriptionRef.SubscriptionRef<ConsumerStatus>
}

/** The options' kinds: what a JavaScript caller's values are checked against, before anything runs. */
const OPTIONS = {
  processor: Options.custom(Processor.isProcessor, "a Processor (Processor.json, Processor.bytes, …)"),
  iteratorType: Options.oneOf("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"),
  timestamp: Options.date,
  recordLimit: Options.int(1, 10_000),
  shardFetchRate: Options.number(0, undefined, true),
  idleDelay: Options.duration,
  shardRefreshInterval: Options.positiveDuration,
  maxShards: Options.int(1),
  maxBufferRecords: Options.int(1),
  maxBufferBytes: Options.int(1),
  chunkSize: Options.int(1),
  retrySchedule: Options.custom(Schedule.isSchedule, "a Schedule"),
  onDecodeError: Options.custom(
    (u) =>
      u === "fail" || u === "skip" ||
      (Predicate.hasProperty(u, "deadLetter") && Predicate.hasProperty(u.deadLetter, Sink.SinkTypeId)),
    "\"fail\", \"skip\" or { deadLetter: Sink }"
  ),
  checkpoint: Options.oneOf("auto", "manual"),
  checkpointInterval: Options.positiveDuration,
  checkpointEvery: Options.int(1),
  metrics: Options.boolean
}

const invalidOptions = (
  options: { readonly iteratorType?: unknown; readonly timestamp?: unknown }
): InvalidOption | undefined =>
  Options.notAnObject(options, "options") ?? Options.validate(options, OPTIONS) ??
    (options.iteratorType === "AT_TIMESTAMP" && options.timestamp === undefined
      ? new InvalidOption({ option: "timestamp", value: undefined, expected: "a Date with iteratorType AT_TIMESTAMP" })
      : undefined)

const jsonAny = <A>(): Processor.Processor<A> =>
  // the default processor decodes JSON as unknown; typing it is the caller's choice of `A`
  Processor.json as Processor.Processor<A>

/**
 * Starts a consumer for the scope: polling starts at once; closing the scope stops it, writes the final
 * checkpoints and releases the leases.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A = unknown, E = never, R = never>(
  options: ConsumerOptions<A, E, R>
): Effect.Effect<Consumer<A, E>, ConsumerError | E, Kinesis | Checkpointer | Scope.Scope | R> => {
  const invalid = invalidOptions(options)
  return invalid !== undefined ? Effect.fail(invalid) : Effect.map(
    internal.make(options, jsonAny<A>(), "stream"),
    (engine): Consumer<A, E> => ({
      records: engine.records,
      status: engine.status,
      changes: engine.changes
    })
  )
}

/**
 * The records of every shard this worker reads, as one stream (see the module doc).
 *
 * @since 0.1.0
 * @category constructors
 */
export const stream = <A = unknown, E = never, R = never>(
  options: ConsumerOptions<A, E, R>
): Stream.Stream<ConsumerRecord<A>, ConsumerError | E, Kinesis | Checkpointer | R> =>
  Stream.unwrapScoped(Effect.map(make(options), (consumer) => consumer.records))

/**
 * The per-shard form: a stream of shards as this worker starts reading them, each with its own stream
 * of records (checkpointed like `stream`'s). A child shard appears only after its parents ended.
 *
 * @since 0.1.0
 * @category constructors
 */
export const shards = <A = unknown, E = never, R = never>(
  options: ConsumerOptions<A, E, R>
): Stream.Stream<ShardStream<A, E>, ConsumerError | E, Kinesis | Checkpointer | R> => {
  const invalid = invalidOptions(options)
  return invalid !== undefined
    ? Stream.fail(invalid)
    : Stream.unwrapScoped(Effect.map(internal.make(options, jsonAny<A>(), "shards"), (engine) => engine.shards))
}

/**
 * The status of a running consumer.
 *
 * @since 0.1.0
 * @category getters
 */
export const status = <A, E>(self: Consumer<A, E>): Effect.Effect<ConsumerStatus> => self.status
