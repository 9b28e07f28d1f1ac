/**
 * Span names and attributes, through Effect's `Tracer` (`Effect.withSpan`): with no tracer installed
 * Effect's own records them in memory and drops them; with `@effect/opentelemetry` they are
 * OpenTelemetry spans. The names and attributes follow the OpenTelemetry semantic conventions:
 *
 * - one `client` span per Kinesis API call, named `Kinesis.<Operation>`, with `rpc.system`
 *   (`aws-api`), `rpc.service` (`Kinesis`), `rpc.method`, `cloud.region`, `aws.request_id` and
 *   `aws.kinesis.stream_name` (semconv "AWS SDK": https://opentelemetry.io/docs/specs/semconv/cloud-providers/aws-sdk/);
 * - the producer's requests (`producer` spans, `send`) and the consumer's fetches (`client`, `receive`)
 *   and deliveries (`internal`, `process`) with the messaging attributes: `messaging.system`
 *   (`aws_kinesis`, after the registry's `aws_sqs`), `messaging.destination.name` (the stream),
 *   `messaging.destination.partition.id` (the shard), `messaging.operation.type`,
 *   `messaging.batch.message_count` (semconv "Messaging": https://opentelemetry.io/docs/specs/semconv/messaging/messaging-spans/),
 *   and this library's counts under `effect_kinesis.*`.
 *
 * A span is made per request, fetch or delivered batch, never per record, and only when a tracer is
 * installed (`span`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"

/** Attributes of a span (values OpenTelemetry accepts). */
export type Attributes = Record<string, string | number | boolean>

/** `putRecords` → `PutRecords`: the API's name of a port operation. */
export const apiName = (operation: string): string => operation.charAt(0).toUpperCase() + operation.slice(1)

/** The name of a Kinesis API call's span. */
export const callSpanName = (operation: string): string => `Kinesis.${apiName(operation)}`

/** The attributes of a Kinesis API call's span. */
export const callAttributes = (
  operation: string,
  stream: string | undefined,
  region: string | undefined
): Attributes => {
  const attributes: Attributes = {
    "rpc.system": "aws-api",
    "rpc.service": "Kinesis",
    "rpc.method": apiName(operation)
  }
  if (region !== undefined) attributes["cloud.region"] = region
  if (stream !== undefined) attributes["aws.kinesis.stream_name"] = stream
  return attributes
}

/**
 * Effect's default tracer (the one in its default services): its spans go nowhere but memory. While it
 * is the fiber's tracer, `span` makes no span at all, so a program without tracing pays nothing per
 * request or batch (a span, its attributes and their annotations measured ~7 % of the consumer's
 * decode-throughput row on 100 B records); any other tracer (`@effect/opentelemetry`,
 * `Layer.setTracer`) gets every span.
 */
const defaultTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/**
 * The effect `make(traced)` in a span named `name` when a tracer is installed (see `defaultTracer`), else
 * alone: `attributes` is called only when traced, and `make(true)` may add attributes from what it
 * learns (`Effect.annotateCurrentSpan`), which `make(false)` must not (they would land on the caller's
 * span). A failure is recorded by the tracer itself, with the typed error.
 */
export const span = <A, E, R>(
  name: string,
  kind: Tracer.SpanKind,
  attributes: () => Attributes,
  make: (traced: boolean) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.tracerWith((tracer) =>
    tracer === defaultTracer
      ? make(false)
      : Effect.withSpan(make(true), name, { kind, attributes: attributes() })
  )

/** One Kinesis API call in its span (`kind: client`). */
export const call = <A, E, R>(
  operation: string,
  stream: string | undefined,
  region: () => string | undefined,
  make: (traced: boolean) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  span(callSpanName(operation), "client", () => callAttributes(operation, stream, region()), make)

/** The messaging attributes of a span about `stream` (and one of its shards). */
export const messaging = (
  operationType: "send" | "receive" | "process",
  stream: string,
  shardId: string | undefined,
  batchSize: number
): Attributes => {
  const attributes: Attributes = {
    "messaging.system": "aws_kinesis",
    "messaging.operation.type": operationType,
    "messaging.destination.name": stream,
    "messaging.batch.message_count": batchSize
  }
  if (shardId !== undefined) attributes["messaging.destination.partition.id"] = shardId
  return attributes
}

/** The span names of the producer and the consumer. */
export const SpanNames = {
  /** One PutRecords request of the producer (its retries are spans of their own, with `retry_attempt`). */
  produce: "effect-kinesis.produce",
  /** One GetRecords fetch of a shard by the consumer. */
  fetch: "effect-kinesis.fetch",
  /** One SubscribeToShard subscription of a shard by the consumer (enhanced fan-out), until it ends or is renewed. */
  subscribe: "effect-kinesis.subscribe",
  /** One batch of a shard's records delivered to the consumer's stream. */
  deliver: "effect-kinesis.deliver",
  /** A reshard seen by the consumer (a closed shard read to its end, its children found). */
  shardEnded: "effect-kinesis.shard-ended"
} as const
