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
 * `process` runs a handler per record instead: concurrently, in order per partition key, with each
 * shard's checkpoint at its watermark (never past an unfinished record) and a poison-record policy.
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
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import type { Checkpointer } from "./Checkpointer.js"
import * as internal from "./internal/consumer/consumer.js"
import * as processInternal from "./internal/consumer/process.js"
import * as Options from "./internal/options.js"
import * as Handling from "./internal/process/options.js"
import type * as Policy from "./internal/process/policy.js"
import type { Kinesis } from "./Kinesis.js"
import { type DecodeError, InvalidOption, type RecordFailed, type ServiceError } from "./KinesisError.js"
import * as Processor from "./Processor.js"
import type * as Producer from "./Producer.js"
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
  /**
   * Enhanced fan-out: each shard is read through SubscribeToShard as the stream consumer `consumerName`
   * (its own 2 MiB/s per shard, records pushed as they arrive) instead of GetRecords polling (shared by
   * every reader of the stream). See `FanOut`. `recordLimit`, `shardFetchRate` and `idleDelay` then do not apply.
   */
  readonly fanOut?: FanOut | undefined
}

/**
 * Enhanced fan-out settings. The consumer is registered on the stream if it is not (every worker of a
 * group uses the same name; registering is idempotent) and waited for until ACTIVE. Each shard is
 * subscribed from its checkpoint and subscribed again, from where the last event left it, when AWS ends
 * the subscription (every 5 minutes at most): nothing lost, nothing repeated. Leases, checkpoints,
 * resharding (parents before children), decoding, processing and metrics work as with polling.
 *
 * A registered consumer costs money while it exists: remove it with `Kinesis.deregisterStreamConsumer`
 * (or `effect-kinesis consumers deregister`) when the application is retired.
 *
 * @since 0.3.0
 * @category models
 */
export interface FanOut {
  /** The registered consumer's name (letters, digits, `_`, `.`, `-`; up to 128). */
  readonly consumerName: string
  /** A subscription that sends no event for this long is dropped and renewed. Default 30 s (AWS sends one every few seconds). */
  readonly watchdog?: Duration.DurationInput | undefined
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
  metrics: Options.boolean,
  fanOut: Options.custom(
    (u) =>
      Predicate.hasProperty(u, "consumerName") && typeof u.consumerName === "string" &&
      /^[a-zA-Z0-9_.-]{1,128}$/.test(u.consumerName) &&
      (!Predicate.hasProperty(u, "watchdog") || u.watchdog === undefined ||
        Duration.decodeUnknown(u.watchdog)._tag === "Some"),
    "{ consumerName: string of letters, digits, _ . - (1 to 128), watchdog?: Duration }"
  )
}

const invalidOptions = (
  options: { readonly iteratorType?: unknown; readonly timestamp?: unknown },
  kinds: Record<string, Options.Kind> = OPTIONS
): InvalidOption | undefined =>
  Options.notAnObject(options, "options") ?? Options.validate(options, kinds) ??
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

// -------------------------------------------------------------------------------------------------
// process
// -------------------------------------------------------------------------------------------------

/**
 * What the dead letter of `process` receives for a record that failed for good (after the `retry`
 * schedule) or did not decode: the user record's own bytes as read (for a KPL sub-record, its own, not
 * the aggregate's), where it came from, the handler runs and the rendered cause. `poisonRecords` is the
 * processor that writes and reads it as JSON (the bytes base64) on a Kinesis stream.
 *
 * @since 0.2.0
 * @category models
 */
export type PoisonRecord = Policy.PoisonRecord

/**
 * What `process` does with a record that still fails after `retry` (or that does not decode):
 * `"fail"` stops the consumer with `RecordFailed` (or the record's `DecodeError`), its checkpoint left
 * just before the record; `{ deadLetter }` hands a `PoisonRecord` to a `Sink`, or to an Effect per record
 * (e.g. `deadLetterTo(producer)`: the record counts as completed once the Effect succeeds, so once the
 * dead-letter stream acknowledged it), and goes on. A failing dead letter fails the consumer.
 *
 * With a `Sink`, a record counts as completed once the sink pulls again after it: for a sink that
 * handles what it pulls before pulling more (`Sink.forEach` and most others), once handled. So a
 * checkpoint never passes a poison record the sink did not take: if the sink fails (the consumer then
 * fails with its error) or the consumer stops, those records are delivered again. At most 1,024 wait
 * for the sink; on shutdown it takes what is queued, then ends, before the final checkpoints are written.
 *
 * @since 0.2.0
 * @category models
 */
export type PoisonPolicy<EL, RL> =
  | "fail"
  | {
    readonly deadLetter:
      | Sink.Sink<unknown, PoisonRecord, unknown, EL, RL>
      | ((record: PoisonRecord) => Effect.Effect<void, EL, RL>)
  }

/**
 * How records are handled, in `process` and in the Lambda handler: concurrency, order, retries, the
 * poison-record policy and de-duplication.
 *
 * @since 0.2.0
 * @category models
 */
export interface ProcessingOptions<A, E2 = never, EL = never, RL = never, RS = never> {
  /** Handlers running at once, over every shard of this worker (of the batch, in Lambda). Default 16. */
  readonly concurrency?: number | undefined
  /**
   * Which records never overlap and complete in order: those of one `"partitionKey"` in a shard
   * (default: different keys run in parallel), all of a `"shard"`, those of one key you compute, or
   * `"none"` (every record in parallel; the checkpoint still never passes an unfinished one).
   */
  readonly order?: "partitionKey" | "shard" | "none" | ((record: Processor.UserRecord<A>) => string) | undefined
  /** Runs the handler again while it fails (its failures, not defects), per record. Default: no retry. */
  readonly retry?: Schedule.Schedule<unknown, E2, RS> | undefined
  /** What happens to a record that fails after `retry`, or does not decode. Default `"fail"`. */
  readonly onFailure?: PoisonPolicy<EL, RL> | undefined
  /**
   * Skips a record whose id completed lately (a redelivery after a restart or a lease move, a producer's
   * retried write): the ids of the last `window` records that completed are kept (about `window` × the
   * id's size in memory; not persisted, so a restart starts empty). `id` returning `undefined` never
   * skips the record.
   */
  readonly dedupe?: {
    readonly id: (record: Processor.UserRecord<A>) => string | undefined
    readonly window: number
  } | undefined
}

/**
 * Options of `process`: the consumer's options (checkpoints are the watermark: no `checkpoint` mode, no
 * `chunkSize`; decode errors follow `onFailure`), and how records are handled.
 *
 * @since 0.2.0
 * @category models
 */
export interface ProcessOptions<A, E = never, R = never, E2 = never, EL = never, RL = never, RS = never>
  extends
    Omit<ConsumerOptions<A, E, R>, "checkpoint" | "chunkSize" | "onDecodeError">,
    ProcessingOptions<A, E2, EL, RL, RS>
{
  /**
   * Records of one shard taken and not yet passed by its watermark (running, waiting for their key,
   * or completed behind an unfinished one) before that shard's reading pauses. Bounds memory, and the
   * work a hand-off waits for. Default 1,000.
   */
  readonly maxInFlightPerShard?: number | undefined
}

/**
 * Every failure `process` can end with: the consumer's, a record that failed under `"fail"`
 * (`RecordFailed`, or `DecodeError` for a record that does not decode), and the dead letter's own.
 *
 * @since 0.2.0
 * @category errors
 */
export type ProcessError<EL = never> = ConsumerError | RecordFailed | DecodeError | EL

/** The options `process` adds, checked like the consumer's. */
const PROCESS_OPTIONS = { ...OPTIONS, maxInFlightPerShard: Options.int(1), ...Handling.PROCESSING_KINDS }

/**
 * Runs `handler` for every record of the stream, concurrently and safely: at most `concurrency`
 * handlers at once, records of one partition key never overlapping and completing in order (different
 * keys of a shard run in parallel), and each shard's checkpoint at its **watermark** — the position
 * below which every record completed — so a crash or a lease move never skips an unfinished record,
 * and redelivers at most what was in flight. A failing record is retried with `retry`, then goes to the
 * dead letter or stops the consumer (`onFailure`); a record that does not decode goes the same way.
 *
 * Works with every checkpointer, leases and balancing (a hand-off waits for the shard's records in
 * flight) and resharding (a child's records start only after the parent's last record completed).
 * Runs until interrupted (it then stops the handlers, writes each shard's watermark and releases the
 * leases) or until it fails.
 *
 * @example
 * ```ts
 * import { Checkpointer, Consumer, Kinesis, Processor } from "@effect-kinesis/core"
 * import { Effect, Layer, Schedule } from "effect"
 *
 * const program = Consumer.process(
 *   {
 *     stream: "orders",
 *     processor: Processor.json,
 *     concurrency: 64,
 *     retry: Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(3))),
 *     onFailure: { deadLetter: (poison) => Effect.logError(`dead letter ${poison.sequenceNumber}`) }
 *   },
 *   (record) => Effect.log(`${record.partitionKey}: ${JSON.stringify(record.value)}`)
 * ).pipe(Effect.provide(Layer.merge(Kinesis.layerConfig(Kinesis.config), Checkpointer.layerMemory())))
 * ```
 *
 * @since 0.2.0
 * @category processing
 */
export const process = <A = unknown, E = never, R = never, E2 = never, R2 = never, EL = never, RL = never, RS = never>(
  options: ProcessOptions<A, E, R, E2, EL, RL, RS>,
  handler: (record: Processor.UserRecord<A>) => Effect.Effect<void, E2, R2>
): Effect.Effect<never, ProcessError<E | EL> | InvalidOption, Kinesis | Checkpointer | R | R2 | RL | RS> =>
  Effect.scoped(Effect.flatMap(startProcess(options, handler), (processing) => processing.await))

/**
 * A running `process` (see `startProcess`): the consumer's status, and its end.
 *
 * @since 0.2.0
 * @category models
 */
export interface Processing<EL = never, E = never> {
  /** A snapshot of every shard (as `Consumer.status`). */
  readonly status: Effect.Effect<ConsumerStatus>
  /** The status, updated on every lease renewal and shard change. */
  readonly changes: SubscriptionRef.SubscriptionRef<ConsumerStatus>
  /** Waits for the end: processing only ends by failing (or when its scope closes). */
  readonly await: Effect.Effect<never, ProcessError<E | EL>>
}

/**
 * `process`, started for the scope: returns at once with the running consumer's status; closing the
 * scope stops the handlers, writes each shard's watermark and releases the leases.
 *
 * @since 0.2.0
 * @category processing
 */
export const startProcess = <
  A = unknown,
  E = never,
  R = never,
  E2 = never,
  R2 = never,
  EL = never,
  RL = never,
  RS = never
>(
  options: ProcessOptions<A, E, R, E2, EL, RL, RS>,
  handler: (record: Processor.UserRecord<A>) => Effect.Effect<void, E2, R2>
): Effect.Effect<
  Processing<EL, E>,
  ConsumerError | E | InvalidOption,
  Kinesis | Checkpointer | Scope.Scope | R | R2 | RL | RS
> => {
  const invalid = invalidOptions(options, PROCESS_OPTIONS) ?? Handling.invalidHandler(handler)
  return invalid !== undefined ? Effect.fail(invalid) : processInternal.start(options, jsonAny<A>(), handler)
}

/**
 * A dead letter (for `onFailure`) that writes each poison record to another Kinesis stream through a
 * producer made with `processor: Consumer.poisonRecords`, keyed by the original partition key; a record
 * counts as completed once Kinesis acknowledged its dead letter (`Producer.send`).
 *
 * @since 0.2.0
 * @category processing
 */
export const deadLetterTo = (
  producer: Producer.Producer<PoisonRecord>
): (record: PoisonRecord) => Effect.Effect<void, Producer.ProducerError> =>
(record) => Effect.asVoid(producer.send(record, { partitionKey: record.partitionKey }))

/**
 * The processor of dead-letter streams: a `PoisonRecord` as one JSON object per Kinesis record, its
 * bytes in base64 (`data`) and its arrival time in ISO 8601. Read a dead-letter stream back with it.
 *
 * @since 0.2.0
 * @category processing
 */
export const poisonRecords: Processor.Processor<PoisonRecord> = processInternal.poisonRecords
