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
 * A span is made per request, fetch or delivered batch, never per record.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

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

/** One Kinesis API call in its span (`kind: client`). */
export const call = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  operation: string,
  stream: string | undefined,
  region: string | undefined
): Effect.Effect<A, E, R> =>
  Effect.withSpan(effect, callSpanName(operation), {
    kind: "client",
    attributes: callAttributes(operation, stream, region)
  })

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
  /** One batch of a shard's records delivered to the consumer's stream. */
  deliver: "effect-kinesis.deliver",
  /** A reshard seen by the consumer (a closed shard read to its end, its children found). */
  shardEnded: "effect-kinesis.shard-ended"
} as const
