/**
 * Producing to a Kinesis stream: `Producer.sink` for `Stream.run`, and `Producer.make` for `put` /
 * `send` / `flush` from application code.
 *
 * Records are batched into PutRecords requests (≤ 500 records, ≤ 5 MiB, sent when full or after
 * `bufferTime`), spread over shards by predicting each record's shard from the shard map (MD5 of the
 * partition key → hash range) and pacing each shard with token buckets at the AWS write limits
 * (1,000 records/s and 1 MiB/s per shard, configurable). Failed records — throttled, or refused with
 * an internal error — are retried with a `Schedule`, before any later record of their shard, and a
 * shard never has two requests in flight, so records of one partition key arrive in order. Memory is
 * bounded: `put` suspends when `maxQueueRecords` / `maxQueueBytes` are reached. Nothing is dropped
 * silently: a record is delivered, or reported in a `PutRecordsFailed` that names it.
 *
 * @example
 * ```ts
 * import { Kinesis, Processor, Producer } from "@effect-kinesis/core"
 * import { Effect, Schema, Stream } from "effect"
 *
 * const Order = Schema.Struct({ id: Schema.String, customer: Schema.String, total: Schema.Number })
 *
 * const orders = Stream.range(1, 10_000).pipe(
 *   Stream.map((i) => ({ id: `order-${i}`, customer: `customer-${i % 100}`, total: i }))
 * )
 *
 * const program = orders.pipe(
 *   Stream.run(Producer.sink({
 *     stream: "orders",
 *     processor: Processor.schemaJson(Order),
 *     partitionKey: (order) => order.customer // per-customer order is kept
 *   })),
 *   Effect.catchTag("PutRecordsFailed", (e) => Effect.logError(`${e.failures.length} records not delivered`)),
 *   Effect.provide(Kinesis.layerConfig(Kinesis.config))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as internal from "./internal/producer/producer.js"
import * as shapes from "./internal/producer/shapes.js"
import type { Kinesis } from "./Kinesis.js"
import * as Processor from "./Processor.js"
import type { StreamAddress } from "./StreamAddress.js"

/**
 * @since 0.1.0
 * @category models
 */
export type ProducerRecord<A> = shapes.ProducerRecord<A>

/**
 * A value with its own partition key and/or explicit hash key, for `sink` and `offer`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const record: <A>(
  value: A,
  options?: { readonly partitionKey?: string | undefined; readonly explicitHashKey?: string | undefined }
) => ProducerRecord<A> = shapes.record

/**
 * @since 0.1.0
 * @category refinements
 */
export const isProducerRecord: (u: unknown) => u is ProducerRecord<unknown> = shapes.isProducerRecord

/**
 * Where a record was delivered.
 *
 * @since 0.1.0
 * @category models
 */
export type Delivery = shapes.Delivery

/**
 * `partitionKey` (else the `partitionKey` option, else a random key) and `explicitHashKey` of one record.
 *
 * @since 0.1.0
 * @category models
 */
export type PutOptions = shapes.PutOptions

/**
 * Every failure a producer can report: `PutRecordsFailed` (records not delivered after every retry,
 * or refused for good — each named, with its last error code), bad input (`InvalidPartitionKey`,
 * `EncodeError`, `RecordTooLarge`), an invalid stream address, an option of the wrong type or out of
 * range (`InvalidOption`, when the producer is made), and the service errors of setting up
 * (`ResourceNotFound`, `AccessDenied`, `KinesisConfigError`, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export type ProducerError = shapes.ProducerError

/**
 * What the retry schedule is given: the error of a whole request, or the error codes of the records of
 * one shard that failed inside a response.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryInput = shapes.RetryInput

/**
 * @since 0.1.0
 * @category models
 */
export type ShardLimits = shapes.ShardLimits

/**
 * @since 0.1.0
 * @category models
 */
export type FlushSummary = shapes.FlushSummary

/**
 * Options of `sink`, `make` and `layer` (defaults in `defaults`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ProducerOptions<A> {
  /** The stream, by name or ARN. */
  readonly stream: string | StreamAddress
  /** How values become Kinesis records. Default `Processor.json`. */
  readonly processor?: Processor.Processor<A> | undefined
  /**
   * The partition key of a value. Default: one short made-up key per producer (`p-` and 6 random
   * characters), and each record goes to a shard chosen in turn by its share of the hash space —
   * exactly even, no MD5 to compute — with an explicit hash key inside that shard (GetRecords does not
   * return it). A key's bytes count toward the record size and the shard's 1 MiB/s, so a key that
   * routes nothing is kept short and made once. With a KPL processor it is stored once per aggregate,
   * and each user record carries its shard's explicit hash key, which KCL checks against the shard it
   * reads (it drops an aggregate holding a record of another shard). Records with the made-up key have
   * no order to keep.
   */
  readonly partitionKey?: ((value: A) => string) | undefined
  /** How long a record may wait for its batch to fill. Default 100 ms. */
  readonly bufferTime?: Duration.DurationInput | undefined
  /** Kinesis records per PutRecords, ≤ 500. Default 500. */
  readonly maxBatchRecords?: number | undefined
  /** Bytes (data + partition keys) per PutRecords, ≤ 5 MiB. Default 5 MiB. */
  readonly maxBatchBytes?: number | undefined
  /** The stream's maximum record size (data + partition key). Default 1 MiB; up to 10 MiB. */
  readonly maxRecordSize?: number | undefined
  /** Aggregated processors: the size an aggregate is completed at. Default the processor's. */
  readonly maxAggregateSize?: number | undefined
  /** Per-shard write pacing; `false` disables it. Default the AWS limits, 1,000 records/s and 1 MiB/s. */
  readonly shardLimits?: ShardLimits | false | undefined
  /** User records accepted and not yet delivered before `put` suspends. Default 10,000. */
  readonly maxQueueRecords?: number | undefined
  /** Bytes accepted and not yet delivered before `put` suspends. Default 32 MiB. */
  readonly maxQueueBytes?: number | undefined
  /** Concurrent PutRecords requests (each shard has at most one). Default 32. */
  readonly maxInFlightRequests?: number | undefined
  /**
   * Retry policy for failed records and retryable request errors (throttling, internal failures,
   * transport errors), stepped per shard. Default: exponential from 100 ms, doubling, jittered, capped
   * at 5 s, at most 20 retries. When it ends the records fail with `PutRecordsFailed`.
   */
  readonly retrySchedule?: Schedule.Schedule<unknown, RetryInput> | undefined
  /** Create the stream if it does not exist (idempotent), and wait until it is ACTIVE. */
  readonly createStream?: { readonly shardCount: number } | { readonly onDemand: true } | undefined
  /**
   * `"listShards"` (default): learn the shards with ListShards, pace each shard, and re-list when a
   * response reveals a reshard. `"skip"`: no listing (no ListShards permission needed); the limits apply
   * to the whole stream, scaled by the number of shards responses have shown. Records without a key are
   * still spread over every shard (explicit hash keys over the whole hash space), except with a KPL
   * processor: its aggregates, all with the made-up key, then go to one shard — give such records keys.
   */
  readonly shardMap?: "listShards" | "skip" | undefined
  /** Runs after each successful `flush` (and the final one). */
  readonly afterFlush?: ((summary: FlushSummary) => Effect.Effect<void>) | undefined
  /**
   * How long closing the scope may take to deliver what is buffered. Default 30 s. The deadline holds
   * while records are being retried: then nothing more is sent, and every record not delivered fails in
   * `PutRecordsFailed` (one whose request was in flight with `ProducerClosed`: it may have been written).
   */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** Update `KinesisMetrics`. Default true. */
  readonly metrics?: boolean | undefined
  /**
   * Keep records of one partition key in order even when PutRecords fails some records and accepts
   * later ones: a request never carries two records of one key for the same shard. Default true; turn
   * it off only if order does not matter and a few hot keys carry most records.
   */
  readonly preserveOrder?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category defaults
 */
export const defaults = shapes.defaults

/**
 * A running producer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Producer<A> {
  /** Accepts a record (suspends while the producer is full). Fails at once for bad input. */
  readonly put: (value: A, options?: PutOptions) => Effect.Effect<void, ProducerError>
  /**
   * Accepts many values or `ProducerRecord`s; the valid ones before a bad one are accepted. Full
   * requests go out as the values are taken in (about every 500 values), not once all are encoded,
   * and the call suspends while the producer is full.
   */
  readonly offer: (values: Iterable<A | ProducerRecord<A>>) => Effect.Effect<void, ProducerError>
  /** Accepts a record and waits until it is delivered. */
  readonly send: (value: A, options?: PutOptions) => Effect.Effect<Delivery, ProducerError>
  /**
   * Sends everything buffered now (without waiting for `bufferTime`) and waits until the producer is
   * empty; fails with `PutRecordsFailed` listing the records given up on since the last flush.
   */
  readonly flush: Effect.Effect<void, ProducerError>
  /** User records and bytes accepted and not yet delivered. */
  readonly pending: Effect.Effect<{ readonly records: number; readonly bytes: number }>
}

const jsonAny = <A>(): Processor.Processor<A> =>
  // JSON serializes any value; decoding is not used by a producer
  Processor.json as Processor.Processor<A>

/**
 * A producer for the scope: closing the scope delivers what is buffered (within `shutdownTimeout`)
 * and fails what could not be delivered.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A = unknown>(
  options: ProducerOptions<A>
): Effect.Effect<Producer<A>, ProducerError, Kinesis | Scope.Scope> => internal.make(options, jsonAny<A>())

/**
 * A `Sink` that delivers every value it consumes and completes once all are delivered. It fails with
 * the first bad input (after delivering the valid records before it), or with `PutRecordsFailed`
 * naming every record that could not be delivered.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sink = <A = unknown>(
  options: ProducerOptions<A>
): Sink.Sink<void, A | ProducerRecord<A>, never, ProducerError, Kinesis> =>
  Sink.unwrapScoped(
    Effect.map(internal.make(options, jsonAny<A>()), (producer) =>
      Sink.forEachChunk((chunk: Iterable<A | ProducerRecord<A>>) =>
        producer.offer(chunk).pipe(
          Effect.catchAll((error) =>
            // deliver what was accepted, then fail with the input's error — and, when some of the
            // accepted records could not be delivered either, with that `PutRecordsFailed` too: both
            // stay typed in the Cause (`catchTag` sees the input's error first)
            producer.flush.pipe(
              Effect.matchCauseEffect({
                onFailure: (flushCause) =>
                  Effect.failCause(Cause.sequential(Cause.fail(error), flushCause)),
                onSuccess: () => Effect.fail(error)
              })
            )
          ),
          Effect.zipRight(producer.failed)
        )
      ).pipe(Sink.mapEffect(() => producer.flush)))
  )

/**
 * A producer as a service of your own tag (closed with the layer).
 *
 * @example
 * ```ts
 * import { Producer } from "@effect-kinesis/core"
 * import { Context } from "effect"
 *
 * class Orders extends Context.Tag("Orders")<Orders, Producer.Producer<{ id: string }>>() {}
 * const OrdersLive = Producer.layer(Orders, { stream: "orders", partitionKey: (o) => o.id })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <I, A>(
  tag: Context.Tag<I, Producer<A>>,
  options: ProducerOptions<A>
): Layer.Layer<I, ProducerError, Kinesis> => Layer.scoped(tag, make(options))
