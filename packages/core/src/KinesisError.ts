/**
 * Typed errors of effect-kinesis.
 *
 * Every exception the Kinesis service can answer with is mapped — through one table, by the
 * exception's `name` — to a tagged error users can catch with `Effect.catchTag`:
 *
 * | AWS exception name | tag |
 * |---|---|
 * | ProvisionedThroughputExceededException | `ProvisionedThroughputExceeded` |
 * | ExpiredIteratorException | `ExpiredIterator` |
 * | ExpiredNextTokenException | `ExpiredNextToken` |
 * | ResourceNotFoundException | `ResourceNotFound` |
 * | ResourceInUseException | `ResourceInUse` |
 * | InvalidArgumentException, ValidationException | `InvalidArgument` |
 * | AccessDeniedException | `AccessDenied` |
 * | LimitExceededException | `LimitExceeded` |
 * | KMS* (AccessDenied, Disabled, InvalidState, NotFound, OptInRequired, Throttling) | `KmsError` (`kind` says which) |
 * | anything else (InternalFailure, network errors, timeouts, unknown names) | `KinesisUnknownError` |
 *
 * A client that cannot reach Kinesis as configured (no region, no credentials, an endpoint that cannot
 * be reached) fails with `KinesisConfigError`. The library's own errors (`RecordTooLarge`,
 * `InvalidPartitionKey`, `EncodeError`, `DecodeError`, `PutRecordsFailed`, `InvalidStreamAddress`,
 * `InvalidOption`, `RecordFailed`, `InvalidEvent`) live here too, so one import covers every failure.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@effect-kinesis/core/KinesisError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Fields every error answered by the Kinesis service carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceErrorFields {
  /** The port operation that failed, e.g. `"putRecords"`. */
  readonly operation: string
  /** The stream the call addressed, when it addressed one (name or ARN as given). */
  readonly stream?: string | undefined
  /** The service's message. */
  readonly message: string
  /** The AWS request id, when the service answered. */
  readonly requestId?: string | undefined
  /** The original SDK error. */
  readonly cause?: unknown
}

/**
 * The request rate or throughput of a shard (or of the stream) was exceeded. Retry with back-off.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProvisionedThroughputExceeded extends Data.TaggedError("ProvisionedThroughputExceeded")<
  ServiceErrorFields & {
    /** The shard that was throttled, when known (e.g. a throttled GetRecords). */
    readonly shardId?: string | undefined
  }
> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * A shard iterator was used more than 5 minutes after it was issued. Get a new iterator after the
 * last processed sequence number.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExpiredIterator extends Data.TaggedError("ExpiredIterator")<ServiceErrorFields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * A pagination token (ListShards, ListStreams) expired. Restart the listing.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExpiredNextToken extends Data.TaggedError("ExpiredNextToken")<ServiceErrorFields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * The stream (or shard, or consumer) does not exist, or is not ACTIVE for a data-plane call.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResourceNotFound extends Data.TaggedError("ResourceNotFound")<ServiceErrorFields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * The stream is being created, updated (resharded) or deleted, or already exists. Wait and retry.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResourceInUse extends Data.TaggedError("ResourceInUse")<ServiceErrorFields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * The request was rejected as invalid (AWS `InvalidArgumentException`, or a `ValidationException` for
 * a malformed request). Not retryable: fix the request.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<
  ServiceErrorFields & {
    /** The AWS exception name (`InvalidArgumentException` or `ValidationException`). */
    readonly awsName: string
  }
> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * The caller's credentials do not allow the operation. `action` names the IAM action to allow.
 *
 * @since 0.1.0
 * @category errors
 */
export class AccessDenied extends Data.TaggedError("AccessDenied")<
  ServiceErrorFields & {
    /** The IAM action that was denied, e.g. `kinesis:PutRecords` (from `operation`). */
    readonly action?: string | undefined
  }
> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * A control-plane rate or an account limit (shards, streams, concurrent updates) was exceeded.
 * The rate variant is throttling: retry with back-off.
 *
 * @since 0.1.0
 * @category errors
 */
export class LimitExceeded extends Data.TaggedError("LimitExceeded")<ServiceErrorFields> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * The KMS errors a server-side encrypted stream can answer with.
 *
 * @since 0.1.0
 * @category models
 */
export type KmsErrorKind =
  | "KMSAccessDeniedException"
  | "KMSDisabledException"
  | "KMSInvalidStateException"
  | "KMSNotFoundException"
  | "KMSOptInRequired"
  | "KMSThrottlingException"

/**
 * A KMS failure on an encrypted stream; `kind` says which. `KMSThrottlingException` is throttling.
 *
 * @since 0.1.0
 * @category errors
 */
export class KmsError extends Data.TaggedError("KmsError")<ServiceErrorFields & { readonly kind: KmsErrorKind }> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Any other failure: an `InternalFailureException`, a 5xx, a network error, a request timeout or an
 * exception name this version does not know. `name` is the error's name; `retryable` is true for
 * server-side and transport failures.
 *
 * @since 0.1.0
 * @category errors
 */
export class KinesisUnknownError extends Data.TaggedError("KinesisUnknownError")<
  ServiceErrorFields & {
    readonly name: string
    readonly retryable: boolean
  }
> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * What a `KinesisConfigError` says is wrong:
 * - `RegionMissing`: the client has no region (no `region` option, no `AWS_REGION` / `AWS_DEFAULT_REGION`,
 *   no region in the profile);
 * - `CredentialsNotFound`: the SDK's credential chain found nothing (see the error's message for where it
 *   looked);
 * - `EndpointUnreachable`: the endpoint's host does not resolve, refuses the connection or does not answer
 *   (`endpoint` names host and port).
 *
 * @since 0.2.0
 * @category models
 */
export type KinesisConfigErrorReason = "RegionMissing" | "CredentialsNotFound" | "EndpointUnreachable"

/**
 * The client cannot reach Kinesis as configured: no region, no credentials, or an endpoint that cannot
 * be reached. `retryable` is true for `EndpointUnreachable` only (a network outage may pass; a missing
 * setting will not).
 *
 * @since 0.2.0
 * @category errors
 */
export class KinesisConfigError extends Data.TaggedError("KinesisConfigError")<
  ServiceErrorFields & {
    readonly reason: KinesisConfigErrorReason
    /** `host:port` of the endpoint, for `EndpointUnreachable`. */
    readonly endpoint?: string | undefined
    readonly retryable: boolean
  }
> {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * An option of the wrong type or out of its range (a JavaScript caller has no compiler to stop it):
 * `option` names it, `value` is what came and `expected` what is allowed. Raised when the producer or
 * consumer is made, before anything runs.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidOption extends Data.TaggedError("InvalidOption")<{
  readonly option: string
  readonly value: unknown
  readonly expected: string
}> {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.2.0 */
  override get message(): string {
    return `option ${this.option}: expected ${this.expected}, got ${describeValue(this.value)}`
  }
}

const describeValue = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value)
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  return `a value of type ${typeof value}`
}

/**
 * A stream name or ARN that cannot address a stream.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidStreamAddress extends Data.TaggedError("InvalidStreamAddress")<{
  readonly input: string
  readonly reason: string
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return `Invalid stream address ${JSON.stringify(this.input)}: ${this.reason}`
  }
}

/**
 * A record (data plus partition key) is larger than the maximum record size.
 *
 * @since 0.1.0
 * @category errors
 */
export class RecordTooLarge extends Data.TaggedError("RecordTooLarge")<{
  /** Size in bytes of data plus partition key. */
  readonly size: number
  /** The limit that was exceeded, in bytes. */
  readonly maxSize: number
  readonly partitionKey?: string | undefined
  /** The user value that could not be sent, when known. */
  readonly record?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return `Record of ${this.size} bytes exceeds the maximum record size of ${this.maxSize} bytes`
  }
}

/**
 * A partition key outside 1–256 Unicode characters, or an explicit hash key that is not a decimal
 * 128-bit integer.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidPartitionKey extends Data.TaggedError("InvalidPartitionKey")<{
  readonly partitionKey: string
  readonly reason: string
  readonly record?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return `Invalid partition key ${JSON.stringify(this.partitionKey.slice(0, 64))}: ${this.reason}`
  }
}

/**
 * A user value could not be serialized.
 *
 * @since 0.1.0
 * @category errors
 */
export class EncodeError extends Data.TaggedError("EncodeError")<{
  /** The value that could not be encoded. */
  readonly record: unknown
  readonly cause: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return `Could not encode record: ${describeCause(this.cause)}`
  }
}

/**
 * A Kinesis record could not be decoded into user records.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly shardId: string
  readonly sequenceNumber: string
  readonly subSequenceNumber?: number | undefined
  readonly cause: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    const sub = this.subSequenceNumber === undefined ? "" : `/${this.subSequenceNumber}`
    return `Could not decode record ${this.sequenceNumber}${sub} of ${this.shardId}: ${describeCause(this.cause)}`
  }
}

/**
 * One record a producer could not deliver, with the last error the service gave for it.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailedRecord {
  readonly partitionKey: string
  readonly explicitHashKey?: string | undefined
  /** The user value (or values, for an aggregated record) that were not delivered. */
  readonly records: ReadonlyArray<unknown>
  readonly errorCode: string
  readonly errorMessage: string
  readonly attempts: number
}

/**
 * Records that were not delivered after every retry: which ones, and why.
 *
 * @since 0.1.0
 * @category errors
 */
export class PutRecordsFailed extends Data.TaggedError("PutRecordsFailed")<{
  readonly stream: string
  readonly failures: ReadonlyArray<FailedRecord>
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    const codes = [...new Set(this.failures.map((f) => f.errorCode))].join(", ")
    return `${this.failures.length} record(s) not delivered to ${this.stream} (${codes})`
  }
}

/**
 * A record the handler of `Consumer.process` (or of the Lambda handler) could not process, after its
 * retries, under the `"fail"` policy: the consumer stops, its checkpoint left just before this record
 * (every record before it completed). `cause` is the handler's last failure.
 *
 * @since 0.2.0
 * @category errors
 */
export class RecordFailed extends Data.TaggedError("RecordFailed")<{
  readonly stream: string
  readonly shardId: string
  readonly sequenceNumber: string
  readonly subSequenceNumber?: number | undefined
  readonly partitionKey: string
  /** Times the handler ran. */
  readonly attempts: number
  readonly cause: Cause.Cause<unknown>
}> {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.2.0 */
  override get message(): string {
    const sub = this.subSequenceNumber === undefined ? "" : `/${this.subSequenceNumber}`
    const first = Cause.pretty(this.cause).split("\n")[0]
    return `Record ${this.sequenceNumber}${sub} of ${this.shardId} (${this.stream}) failed after ${this.attempts} attempt(s): ${first}`
  }
}

/**
 * An AWS Lambda event that is not a Kinesis event-source-mapping event as AWS documents it (no
 * `Records` array, a record without its `kinesis` data, data that is not base64): `index` names the
 * record, when one is at fault.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidEvent extends Data.TaggedError("InvalidEvent")<{
  readonly reason: string
  readonly index?: number | undefined
}> {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId
  /** @since 0.2.0 */
  override get message(): string {
    return `Not a Kinesis event${this.index === undefined ? "" : ` (record ${this.index})`}: ${this.reason}`
  }
}

/**
 * Every error answered by the Kinesis service.
 *
 * @since 0.1.0
 * @category models
 */
export type ServiceError =
  | ProvisionedThroughputExceeded
  | ExpiredIterator
  | ExpiredNextToken
  | ResourceNotFound
  | ResourceInUse
  | InvalidArgument
  | AccessDenied
  | LimitExceeded
  | KmsError
  | KinesisConfigError
  | KinesisUnknownError

/**
 * Every error of effect-kinesis.
 *
 * @since 0.1.0
 * @category models
 */
export type KinesisError =
  | ServiceError
  | InvalidStreamAddress
  | InvalidOption
  | RecordTooLarge
  | InvalidPartitionKey
  | EncodeError
  | DecodeError
  | PutRecordsFailed
  | RecordFailed
  | InvalidEvent

/**
 * @since 0.1.0
 * @category refinements
 */
export const isKinesisError = (u: unknown): u is KinesisError => Predicate.hasProperty(u, TypeId)

/**
 * Throttling: the service asked the caller to slow down. Our retry `Schedule`s act on these; the AWS
 * SDK's own retries are off by default so that throttling always reaches them (see `Kinesis.layer`).
 *
 * @since 0.1.0
 * @category refinements
 */
export const isThrottling = (u: unknown): u is ProvisionedThroughputExceeded | LimitExceeded | KmsError =>
  isKinesisError(u) &&
  (u._tag === "ProvisionedThroughputExceeded" || u._tag === "LimitExceeded" ||
    (u._tag === "KmsError" && u.kind === "KMSThrottlingException"))

/**
 * Errors worth retrying with back-off: throttling, a stream that is being updated, and server-side or
 * transport failures.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isRetryable = (u: unknown): boolean =>
  isThrottling(u) ||
  (isKinesisError(u) &&
    (u._tag === "ResourceInUse" ||
      ((u._tag === "KinesisUnknownError" || u._tag === "KinesisConfigError") && u.retryable)))

const describeCause = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)
