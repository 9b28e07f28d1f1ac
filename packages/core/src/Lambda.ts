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
 * One record of a Kinesis event, in the shape AWS documents for event-source mappings.
 *
 * @since 0.2.0
 * @category models
 */
export type KinesisEventRecord = internal.KinesisEventRecord

/**
 * A Kinesis event-source-mapping event.
 *
 * @since 0.2.0
 * @category models
 */
export type KinesisEvent = internal.KinesisEvent

/**
 * The partial batch response for `ReportBatchItemFailures`: per failed shard, the sequence number its
 * retry starts from.
 *
 * @since 0.2.0
 * @category models
 */
export type BatchResponse = internal.BatchResponse

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
export type Handler = internal.Handler

const KINDS = {
  processor: Options.custom(Processor.isProcessor, "a Processor (Processor.json, Processor.kplJson, …)"),
  ...Processing.PROCESSING_KINDS
}

const invalidOptions = (options: unknown, handler: unknown): InvalidOption | undefined =>
  Options.notAnObject(options, "options") ?? Options.validate(options as Record<string, unknown>, KINDS) ??
    Processing.invalidHandler(handler)

/**
 * Processes one event: decodes every record, runs `handler` under the options, and returns the partial
 * batch response. Fails with `InvalidEvent` for input that is not a Kinesis event, and with the dead
 * letter's error when a dead-letter `Sink` fails.
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
 * SIGTERM. An invocation that fails as a whole (`InvalidEvent`, a failing dead-letter `Sink`, a layer that
 * does not build) rejects, and Lambda retries the whole batch.
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
