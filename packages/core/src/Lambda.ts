/**
 * Kinesis in AWS Lambda: a handler for Kinesis event-source-mapping events with the same decoding
 * (base64, KPL de-aggregation, `Processor`s and `Schema`), concurrency, per-key order and poison-record
 * policy as `Consumer.process`, answering with exact partial batch failures.
 *
 * Configure the event source mapping with `FunctionResponseTypes: ["ReportBatchItemFailures"]`. For each
 * shard of the batch, the response names the sequence number of its FIRST record that failed for good
 * (after `retry`, under `onFailure: "fail"`, or whose dead letter failed): Lambda retries the shard from
 * there, so nothing after a failure is lost. Records of that shard that had not started are not started;
 * records after it that had already completed run again on the retry (at-least-once, as with any Kinesis
 * consumer). With a dead letter, poison records go there and the batch succeeds.
 *
 * The layer is built once per container, on the first invocation, and released by `dispose()` or on
 * SIGTERM (which Lambda sends before shutting a container down when an extension is registered).
 *
 * @example
 * ```ts
 * import { Lambda, Processor } from "@effect-kinesis/core"
 * import { Effect, Layer, Schema } from "effect"
 *
 * const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String })
 *
 * export const handler = Lambda.handler(
 *   { layer: Layer.empty, processor: Processor.schemaJson(Order), concurrency: 32 },
 *   (record) => Effect.log(`order ${record.value.id} of ${record.value.customer}`)
 * )
 * ```
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import * as EffectApi from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { ProcessingOptions } from "./Consumer.js"
import * as internal from "./internal/lambda.js"
import * as Options from "./internal/options.js"
import * as Processing from "./internal/process/options.js"
import { type InvalidEvent, type InvalidOption } from "./KinesisError.js"
import * as Processor from "./Processor.js"

/**
 * One record of a Kinesis event, in the shape AWS documents for event-source mappings
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html).
 *
 * @since 0.2.0
 * @category models
 */
export interface KinesisEventRecord {
  readonly kinesis: {
    /** `"1.0"`. */
    readonly kinesisSchemaVersion?: string | undefined
    readonly partitionKey: string
    /** The Kinesis record's sequence number: what `itemIdentifier` names. */
    readonly sequenceNumber: string
    /** The record's bytes, base64 (for a KPL aggregate, the whole aggregate). */
    readonly data: string
    /** Epoch seconds, fractional. */
    readonly approximateArrivalTimestamp: number
  }
  /** `"aws:kinesis"` (any other value is `InvalidEvent`). */
  readonly eventSource?: string | undefined
  /** `"1.0"`. */
  readonly eventVersion?: string | undefined
  /** `shardId-…:sequenceNumber`: the records of one shard are one lane. */
  readonly eventID: string
  /** `"aws:kinesis:record"`. */
  readonly eventName?: string | undefined
  /** The function's execution role. */
  readonly invokeIdentityArn?: string | undefined
  readonly awsRegion?: string | undefined
  /** The stream's ARN (its last part names the stream in a `PoisonRecord`). */
  readonly eventSourceARN: string
}

/**
 * A Kinesis event-source-mapping event: the batch one invocation gets.
 *
 * @since 0.2.0
 * @category models
 */
export interface KinesisEvent {
  readonly Records: ReadonlyArray<KinesisEventRecord>
}

/**
 * The partial batch response for `FunctionResponseTypes: ["ReportBatchItemFailures"]`: per shard that
 * failed, the sequence number of its first failed record, which Lambda retries the shard from. Empty:
 * the whole batch succeeded.
 *
 * @since 0.2.0
 * @category models
 */
export interface BatchResponse {
  readonly batchItemFailures: Array<{ readonly itemIdentifier: string }>
}

/**
 * How each record is handled (as in `Consumer.process`): `processor` (default `Processor.json`),
 * `concurrency` (default 16), `order` (default `"partitionKey"`), `retry`, `onFailure` (default
 * `"fail"`: the record is reported), `dedupe`.
 *
 * @since 0.2.0
 * @category models
 */
export interface HandlerOptions<A, E2 = never, EL = never, RL = never, RS = never>
  extends ProcessingOptions<A, E2, EL, RL, RS>
{
  /** Default `Processor.json`. */
  readonly processor?: Processor.Processor<A> | undefined
}

/**
 * A Lambda handler function (`export const handler = Lambda.handler(…)`), with `dispose`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Handler {
  (event: unknown, context?: unknown): Promise<BatchResponse>
  /** Releases the layer (awaiting its finalizers); the next invocation builds it again. */
  readonly dispose: () => Promise<void>
}

const KINDS = {
  processor: Options.custom(Processor.isProcessor, "a Processor (Processor.json, Processor.kplJson, …)"),
  ...Processing.PROCESSING_KINDS
}

const invalidOptions = (options: unknown, handler: unknown): InvalidOption | undefined =>
  Options.notAnObject(options, "options") ?? Options.validate(options as Record<string, unknown>, KINDS) ??
    Processing.invalidHandler(handler)

/**
 * Processes one event: decodes every record, runs `handler` under the options, and returns the partial
 * batch response. A dead-letter `Sink` runs for the invocation and has taken every poison record before
 * the response is made. Fails with `InvalidEvent` for input that is not a Kinesis event, and with the
 * dead letter's error when a dead-letter `Sink` fails or ends early. The `dedupe` window spans this one
 * event (`handler` keeps one per container).
 *
 * @since 0.2.0
 * @category processing
 */
export const processEvent = <A = unknown, E2 = never, R2 = never, EL = never, RL = never, RS = never>(
  event: unknown,
  options: HandlerOptions<A, E2, EL, RL, RS>,
  handler: (record: Processor.UserRecord<A>) => Effect.Effect<void, E2, R2>
): Effect.Effect<BatchResponse, InvalidEvent | InvalidOption | EL, R2 | RL | RS> => {
  const invalid = invalidOptions(options, handler)
  return invalid !== undefined ? EffectApi.fail(invalid) : internal.processEvent(event, options, handler)
}

/**
 * The handler function for Lambda: `layer` provides what `handler` (and the dead letter, and `retry`)
 * need; it is built once per container, on the first invocation, and released by `dispose()` or on
 * SIGTERM (then the signal is raised again, so the process ends as it would have). Lambda sends SIGTERM
 * before shutting a container down only when an extension is registered; without one the container is
 * frozen and discarded without a signal.
 *
 * An invocation that fails as a whole (`InvalidEvent`, a failing dead-letter `Sink`, a layer that does
 * not build) rejects, and Lambda retries the whole batch. A layer that did not build is not kept: the
 * next invocation builds it again. The `dedupe` window lives as long as the container (it is emptied
 * when an invocation fails as a whole, as that batch comes again). Throws `InvalidOption` at once for
 * bad options.
 *
 * @since 0.2.0
 * @category constructors
 */
export const handler = <A = unknown, E2 = never, R2 = never, EL = never, RL = never, RS = never, LE = never>(
  options: HandlerOptions<A, E2, EL, RL, RS> & { readonly layer: Layer.Layer<R2 | RL | RS, LE> },
  handle: (record: Processor.UserRecord<A>) => Effect.Effect<void, E2, R2>
): Handler => {
  const invalid = invalidOptions(options, handle)
  if (invalid !== undefined) throw invalid
  return internal.handler(options, handle)
}
