/**
 * The Kinesis port: the narrow service through which the library talks to Kinesis Data Streams.
 *
 * Every operation is an `Effect` with its typed error union (see `KinesisError`). `Kinesis.layer`
 * implements the port over the AWS SDK v3 `KinesisClient`; `KinesisTest.layer` implements the same
 * port in memory, so the same program runs against AWS, a local server or a test engine.
 *
 * @example
 * ```ts
 * import { Kinesis, StreamAddress } from "@effect-kinesis/core"
 * import { Effect } from "effect"
 *
 * const stream = StreamAddress.unsafeMake("orders")
 *
 * const program = Effect.gen(function*() {
 *   yield* Kinesis.createStream({ streamName: "orders", shardCount: 2, waitUntilActive: true })
 *   const put = yield* Kinesis.putRecords({
 *     stream,
 *     records: [{ data: new TextEncoder().encode("hello"), partitionKey: "order-1" }]
 *   })
 *   const shards = yield* Kinesis.listShards({ stream })
 *   return { put, shards }
 * }).pipe(
 *   Effect.catchTag("ProvisionedThroughputExceeded", (e) => Effect.logWarning(`throttled: ${e.message}`))
 * )
 *
 * // against a local server; `Kinesis.layerConfig(Kinesis.config)` reads AWS_REGION / KINESIS_ENDPOINT instead
 * program.pipe(Effect.provide(Kinesis.layer({ endpoint: "http://127.0.0.1:4567", region: "us-east-1" })))
 * ```
 *
 * @since 0.1.0
 */
import type { KinesisClient, KinesisClientConfig } from "@aws-sdk/client-kinesis"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/kinesis.js"
import type {
  AccessDenied,
  ExpiredIterator,
  ExpiredNextToken,
  InvalidArgument,
  InvalidOption,
  KinesisConfigError,
  KinesisUnknownError,
  KmsError,
  LimitExceeded,
  ProvisionedThroughputExceeded,
  ResourceInUse,
  ResourceNotFound
} from "./KinesisError.js"
import type { StreamAddress } from "./StreamAddress.js"

// ---------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------

/**
 * One record to put. `data` plus the UTF-8 bytes of `partitionKey` count toward the record size limit.
 *
 * @since 0.1.0
 * @category models
 */
export interface PutRecordsEntry {
  readonly data: Uint8Array
  readonly partitionKey: string
  /** Decimal 128-bit hash key that overrides MD5(partitionKey) for shard choice. */
  readonly explicitHashKey?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PutRecordsRequest {
  readonly stream: StreamAddress
  readonly records: ReadonlyArray<PutRecordsEntry>
}

/**
 * The result for one record of a PutRecords request, in request order.
 *
 * @since 0.1.0
 * @category models
 */
export type PutRecordsResultEntry =
  | {
    readonly _tag: "Success"
    readonly shardId: string
    readonly sequenceNumber: string
  }
  | {
    readonly _tag: "Failure"
    /** e.g. `ProvisionedThroughputExceededException`, `InternalFailure`, `KMSThrottlingException`. */
    readonly errorCode: string
    readonly errorMessage: string
  }

/**
 * @since 0.1.0
 * @category models
 */
export interface PutRecordsResponse {
  readonly failedRecordCount: number
  readonly records: ReadonlyArray<PutRecordsResultEntry>
  readonly encryptionType?: EncryptionType | undefined
}

/**
 * One record put on its own (PutRecord). Prefer `putRecords` (or the `Producer`) for throughput: a
 * PutRecord request carries one record and costs a signature and a round trip.
 *
 * @since 0.1.0
 * @category models
 */
export interface PutRecordRequest extends PutRecordsEntry {
  readonly stream: StreamAddress
  /**
   * The sequence number of the previous record put with the same partition key: Kinesis then gives
   * this record a strictly greater sequence number, even when the two were sent concurrently. Without
   * it, records are ordered by arrival. PutRecords has no such field.
   */
  readonly sequenceNumberForOrdering?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PutRecordResponse {
  readonly shardId: string
  readonly sequenceNumber: string
  readonly encryptionType?: EncryptionType | undefined
}

/**
 * Where a shard iterator starts.
 *
 * @since 0.1.0
 * @category models
 */
export type StartingPosition =
  | { readonly type: "TRIM_HORIZON" }
  | { readonly type: "LATEST" }
  | { readonly type: "AT_SEQUENCE_NUMBER"; readonly sequenceNumber: string }
  | { readonly type: "AFTER_SEQUENCE_NUMBER"; readonly sequenceNumber: string }
  | { readonly type: "AT_TIMESTAMP"; readonly timestamp: Date }

/**
 * @since 0.1.0
 * @category models
 */
export interface GetShardIteratorRequest {
  readonly stream: StreamAddress
  readonly shardId: string
  readonly position: StartingPosition
}

/**
 * @since 0.1.0
 * @category models
 */
export interface GetRecordsRequest {
  readonly shardIterator: string
  /** At most 10,000. */
  readonly limit?: number | undefined
  /** Sent as StreamARN when it is an ARN (needed for cross-account reads); optional otherwise. */
  readonly stream?: StreamAddress | undefined
}

/**
 * A record as stored in a shard.
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesisRecord {
  readonly sequenceNumber: string
  readonly approximateArrivalTimestamp: Date
  readonly data: Uint8Array
  readonly partitionKey: string
  readonly encryptionType?: EncryptionType | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface HashKeyRange {
  /** Decimal 128-bit integer, inclusive. */
  readonly startingHashKey: string
  /** Decimal 128-bit integer, inclusive. */
  readonly endingHashKey: string
}

/**
 * A child of a closed shard, as GetRecords reports it once the shard is drained.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildShard {
  readonly shardId: string
  readonly parentShards: ReadonlyArray<string>
  readonly hashKeyRange: HashKeyRange
}

/**
 * @since 0.1.0
 * @category models
 */
export interface GetRecordsResponse {
  readonly records: ReadonlyArray<KinesisRecord>
  /** `undefined` once a closed shard has been read to its end. */
  readonly nextShardIterator: string | undefined
  readonly millisBehindLatest: number | undefined
  /** Present when the shard is closed and drained (not every server reports it). */
  readonly childShards: ReadonlyArray<ChildShard> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Shard {
  readonly shardId: string
  readonly parentShardId?: string | undefined
  readonly adjacentParentShardId?: string | undefined
  readonly hashKeyRange: HashKeyRange
  readonly sequenceNumberRange: {
    readonly startingSequenceNumber: string
    /** Set once the shard is closed. */
    readonly endingSequenceNumber?: string | undefined
  }
}

/**
 * Which shards ListShards returns.
 *
 * @since 0.1.0
 * @category models
 */
export type ShardFilter =
  | { readonly type: "AFTER_SHARD_ID"; readonly shardId: string }
  | { readonly type: "AT_TRIM_HORIZON" }
  | { readonly type: "FROM_TRIM_HORIZON" }
  | { readonly type: "AT_LATEST" }
  | { readonly type: "AT_TIMESTAMP"; readonly timestamp: Date }
  | { readonly type: "FROM_TIMESTAMP"; readonly timestamp: Date }

/**
 * @since 0.1.0
 * @category models
 */
export interface ListShardsRequest {
  readonly stream: StreamAddress
  readonly shardFilter?: ShardFilter | undefined
  /** List the shards after this one (first page only). */
  readonly exclusiveStartShardId?: string | undefined
  /** Shards per page (MaxResults, 1–10,000); every page is fetched whatever the size. */
  readonly pageSize?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type StreamStatus = "CREATING" | "DELETING" | "ACTIVE" | "UPDATING"

/**
 * @since 0.1.0
 * @category models
 */
export type StreamMode = "PROVISIONED" | "ON_DEMAND"

/**
 * @since 0.1.0
 * @category models
 */
export type EncryptionType = "NONE" | "KMS"

/**
 * @since 0.1.0
 * @category models
 */
export interface StreamSummary {
  readonly streamName: string
  readonly streamARN: string
  readonly streamStatus: StreamStatus
  readonly streamMode: StreamMode
  readonly retentionPeriodHours: number
  readonly openShardCount: number
  readonly encryptionType: EncryptionType
  readonly keyId?: string | undefined
  readonly streamCreationTimestamp: Date
  readonly consumerCount?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StreamListing {
  readonly streamName: string
  readonly streamARN?: string | undefined
  readonly streamStatus?: StreamStatus | undefined
  readonly streamMode?: StreamMode | undefined
  readonly streamCreationTimestamp?: Date | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CreateStreamRequest {
  readonly streamName: string
  /** Required for PROVISIONED streams; not allowed for ON_DEMAND. */
  readonly shardCount?: number | undefined
  /** Default PROVISIONED. */
  readonly streamMode?: StreamMode | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DeleteStreamRequest {
  readonly stream: StreamAddress
  readonly enforceConsumerDeletion?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SplitShardRequest {
  readonly stream: StreamAddress
  readonly shardToSplit: string
  /** Decimal hash key, strictly inside the parent's range: the first key of the upper child. */
  readonly newStartingHashKey: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MergeShardsRequest {
  readonly stream: StreamAddress
  readonly shardToMerge: string
  readonly adjacentShardToMerge: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface UpdateShardCountRequest {
  readonly stream: StreamAddress
  readonly targetShardCount: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface UpdateShardCountResponse {
  readonly currentShardCount: number
  readonly targetShardCount: number
}

// ---------------------------------------------------------------------------------------------
// error unions
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category errors
 */
export type PutRecordsError =
  | ProvisionedThroughputExceeded
  | LimitExceeded
  | ResourceNotFound
  | InvalidArgument
  | AccessDenied
  | KmsError
  | KinesisConfigError
  | KinesisUnknownError

/**
 * A PutRecord fails as a whole: a throttled record is a `ProvisionedThroughputExceeded` (a PutRecords
 * entry would carry it as its `errorCode` instead).
 *
 * @since 0.1.0
 * @category errors
 */
export type PutRecordError = PutRecordsError

/**
 * @since 0.1.0
 * @category errors
 */
export type GetRecordsError =
  | ProvisionedThroughputExceeded
  | LimitExceeded
  | ExpiredIterator
  | ResourceNotFound
  | InvalidArgument
  | AccessDenied
  | KmsError
  | KinesisConfigError
  | KinesisUnknownError

/**
 * @since 0.1.0
 * @category errors
 */
export type GetShardIteratorError =
  | ProvisionedThroughputExceeded
  | ResourceNotFound
  | InvalidArgument
  | AccessDenied
  | KinesisConfigError
  | KinesisUnknownError

/**
 * @since 0.1.0
 * @category errors
 */
export type ListShardsError =
  | ResourceNotFound
  | ResourceInUse
  | InvalidArgument
  | ExpiredNextToken
  | LimitExceeded
  | AccessDenied
  | KinesisConfigError
  | KinesisUnknownError

/**
 * @since 0.1.0
 * @category errors
 */
export type DescribeStreamSummaryError =
  | ResourceNotFound
  | InvalidArgument
  | LimitExceeded
  | AccessDenied
  | KinesisConfigError
  | KinesisUnknownError

/**
 * @since 0.1.0
 * @category errors
 */
export type CreateStreamError =
  | ResourceInUse
  | InvalidArgument
  | LimitExceeded
  | KinesisConfigError
  | KinesisUnknownError

/**
 * @since 0.1.0
 * @category errors
 */
export type DeleteStreamError =
  | ResourceNotFound
  | ResourceInUse
  | LimitExceeded
  | AccessDenied
  | KinesisConfigError
  | KinesisUnknownError

/**
 * The errors of SplitShard, MergeShards and UpdateShardCount.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReshardError =
  | ResourceNotFound
  | ResourceInUse
  | InvalidArgument
  | LimitExceeded
  | AccessDenied
  | KinesisConfigError
  | KinesisUnknownError

/**
 * @since 0.1.0
 * @category errors
 */
export type ListStreamsError =
  | ExpiredNextToken
  | InvalidArgument
  | LimitExceeded
  | KinesisConfigError
  | KinesisUnknownError

// ---------------------------------------------------------------------------------------------
// enhanced fan-out
// ---------------------------------------------------------------------------------------------

/**
 * A consumer registered on a stream for enhanced fan-out (its own 2 MiB/s per shard, pushed).
 *
 * @since 0.3.0
 * @category models
 */
export interface StreamConsumer {
  readonly consumerName: string
  readonly consumerARN: string
  readonly consumerStatus: "CREATING" | "DELETING" | "ACTIVE"
  readonly consumerCreationTimestamp: Date
  readonly streamARN: string
}

/**
 * A registered consumer, by its ARN or by its stream's ARN and its name.
 *
 * @since 0.3.0
 * @category models
 */
export type StreamConsumerAddress =
  | { readonly consumerARN: string }
  | { readonly streamARN: string; readonly consumerName: string }

/**
 * @since 0.3.0
 * @category models
 */
export interface RegisterStreamConsumerRequest {
  readonly streamARN: string
  readonly consumerName: string
}

/**
 * @since 0.3.0
 * @category models
 */
export interface SubscribeToShardRequest {
  readonly consumerARN: string
  readonly shardId: string
  /** Where the subscription starts (`AT_TIMESTAMP`, `TRIM_HORIZON`, `LATEST`, `AT_`/`AFTER_SEQUENCE_NUMBER`). */
  readonly position: StartingPosition
}

/**
 * One event of a subscription: the records pushed since the last one. The subscription ends after at
 * most 5 minutes; subscribe again `AFTER_SEQUENCE_NUMBER` of the last event's
 * `continuationSequenceNumber`. At the end of a closed shard, the last event has no
 * `continuationSequenceNumber` and names the child shards.
 *
 * @since 0.3.0
 * @category models
 */
export interface SubscribeToShardEvent {
  readonly records: ReadonlyArray<KinesisRecord>
  readonly continuationSequenceNumber: string | undefined
  readonly millisBehindLatest: number
  readonly childShards: ReadonlyArray<ChildShard> | undefined
}

/**
 * @since 0.3.0
 * @category errors
 */
export type StreamConsumerError =
  | ResourceNotFound
  | ResourceInUse
  | InvalidArgument
  | LimitExceeded
  | AccessDenied
  | KinesisConfigError
  | KinesisUnknownError

/**
 * @since 0.3.0
 * @category errors
 */
export type SubscribeToShardError =
  | ResourceNotFound
  | ResourceInUse
  | InvalidArgument
  | LimitExceeded
  | AccessDenied
  | KmsError
  | KinesisConfigError
  | KinesisUnknownError

// ---------------------------------------------------------------------------------------------
// the port
// ---------------------------------------------------------------------------------------------

/**
 * The operations the library needs. Implementations: `Kinesis.layer` (AWS SDK) and
 * `KinesisTest.layer` (in memory). Interrupting a call aborts it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly putRecords: (request: PutRecordsRequest) => Effect.Effect<PutRecordsResponse, PutRecordsError>
  readonly putRecord: (request: PutRecordRequest) => Effect.Effect<PutRecordResponse, PutRecordError>
  readonly getRecords: (request: GetRecordsRequest) => Effect.Effect<GetRecordsResponse, GetRecordsError>
  readonly getShardIterator: (request: GetShardIteratorRequest) => Effect.Effect<string, GetShardIteratorError>
  /** Every page, following NextToken. */
  readonly listShards: (request: ListShardsRequest) => Effect.Effect<ReadonlyArray<Shard>, ListShardsError>
  readonly describeStreamSummary: (
    stream: StreamAddress
  ) => Effect.Effect<StreamSummary, DescribeStreamSummaryError>
  readonly createStream: (request: CreateStreamRequest) => Effect.Effect<void, CreateStreamError>
  readonly deleteStream: (request: DeleteStreamRequest) => Effect.Effect<void, DeleteStreamError>
  readonly splitShard: (request: SplitShardRequest) => Effect.Effect<void, ReshardError>
  readonly mergeShards: (request: MergeShardsRequest) => Effect.Effect<void, ReshardError>
  readonly updateShardCount: (request: UpdateShardCountRequest) => Effect.Effect<UpdateShardCountResponse, ReshardError>
  /** Every page. */
  readonly listStreams: () => Effect.Effect<ReadonlyArray<StreamListing>, ListStreamsError>
  /** Registers an enhanced fan-out consumer (CREATING at first; `ResourceInUse` if the name is taken). */
  readonly registerStreamConsumer: (
    request: RegisterStreamConsumerRequest
  ) => Effect.Effect<StreamConsumer, StreamConsumerError>
  readonly describeStreamConsumer: (
    consumer: StreamConsumerAddress
  ) => Effect.Effect<StreamConsumer, StreamConsumerError>
  /** Every page. */
  readonly listStreamConsumers: (
    streamARN: string
  ) => Effect.Effect<ReadonlyArray<StreamConsumer>, StreamConsumerError>
  readonly deregisterStreamConsumer: (consumer: StreamConsumerAddress) => Effect.Effect<void, StreamConsumerError>
  /**
   * A subscription to one shard as a `Stream` of events: it ends when the service ends the subscription
   * (after at most 5 minutes, or at the end of a closed shard); interrupting it cancels the subscription.
   */
  readonly subscribeToShard: (
    request: SubscribeToShardRequest
  ) => Stream.Stream<SubscribeToShardEvent, SubscribeToShardError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Kinesis extends Context.Tag("@effect-kinesis/core/Kinesis")<Kinesis, Service>() {}

// ---------------------------------------------------------------------------------------------
// layers
// ---------------------------------------------------------------------------------------------

/**
 * Options of the AWS SDK implementation.
 *
 * @since 0.1.0
 * @category models
 */
export interface KinesisOptions {
  /** AWS region; the SDK's default chain (AWS_REGION, profile) when absent. */
  readonly region?: string | undefined
  /**
   * Endpoint URL, e.g. `http://127.0.0.1:4567` for a local server. An `http://` endpoint gets the
   * HTTP/1.1 `NodeHttpHandler` (local servers do not speak the SDK's default HTTP/2).
   */
  readonly endpoint?: string | undefined
  /** Credentials or a provider; the SDK's default chain when absent. */
  readonly credentials?: KinesisClientConfig["credentials"] | undefined
  /**
   * Attempts the AWS SDK makes per call of its commands. Default **1**: the SDK does not retry, so
   * throttling and transient errors reach the library's retry `Schedule`s (which know about shards and
   * order) and your `Effect.catchTag`. Raise it only for calls you make yourself through the port. The
   * `cbor` and `json` data planes (PutRecords, PutRecord, GetRecords) always make one attempt.
   */
  readonly maxAttempts?: number | undefined
  /** Per-request socket timeout (HTTP/1.1 handler). Default 30 seconds. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** Connection timeout (HTTP/1.1 handler). Default 5 seconds. */
  readonly connectionTimeout?: Duration.DurationInput | undefined
  /** Max sockets per host (HTTP/1.1 handler). Default 50. */
  readonly maxSockets?: number | undefined
  /** A request handler to use instead of the default one (for any endpoint). */
  readonly requestHandler?: KinesisClientConfig["requestHandler"] | undefined
  /** Any other `KinesisClient` configuration; the options above win. */
  readonly clientConfig?: KinesisClientConfig | undefined
  /**
   * How PutRecords, PutRecord and GetRecords travel (every other operation uses the SDK's commands). Default
   * `"cbor"`. See `DataPlane`.
   */
  readonly dataPlane?: DataPlane | undefined
}

/**
 * The wire of the data plane (PutRecords, PutRecord, GetRecords):
 * - `"cbor"`: CBOR (`application/x-amz-cbor-1.1`), as the AWS SDK for Java and the KCL send it — record
 *   data as raw bytes, no base64, a body written in one pass; GetRecords data are views into the
 *   response. Signed with SigV4 and sent through the client's own handler, credentials and endpoint.
 * - `"json"`: the same path with JSON bodies built directly (base64 by Node), for an endpoint that
 *   refuses CBOR.
 * - `"sdk"`: the SDK's own `PutRecordsCommand` / `PutRecordCommand` / `GetRecordsCommand` (JSON through its generic
 *   serializer: the slowest).
 *
 * @since 0.1.0
 * @category models
 */
export type DataPlane = "cbor" | "json" | "sdk"

/**
 * @since 0.1.0
 * @category defaults
 */
export const defaults: {
  readonly maxAttempts: number
  readonly requestTimeout: Duration.DurationInput
  readonly connectionTimeout: Duration.DurationInput
  readonly maxSockets: number
  readonly dataPlane: DataPlane
} = internal.defaults

/**
 * Implements the port over an SDK client. The client is not destroyed by this function. `dataPlane`
 * chooses how PutRecords, PutRecord and GetRecords travel (default `"cbor"`; see `DataPlane`). Throws
 * `InvalidOption` for a `dataPlane` that is none of them (`layerClient` fails with it instead).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClient: (client: KinesisClient, options?: { readonly dataPlane?: DataPlane | undefined }) => Service =
  internal.fromClient

/**
 * Builds a `KinesisClient` from the options, scoped: the client is destroyed (sockets closed) when
 * the scope closes. Fails with `InvalidOption` (naming the option, the value and what is allowed) for an
 * option of the wrong type or out of range, e.g. from JavaScript.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClient: (options?: KinesisOptions) => Effect.Effect<KinesisClient, InvalidOption, Scope.Scope> =
  internal.makeClient

/**
 * The port over a new SDK client, destroyed when the layer is released. Fails with `InvalidOption` for
 * an option of the wrong type or out of range.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (options?: KinesisOptions) => Layer.Layer<Kinesis, InvalidOption> = internal.layer

/**
 * The port over a client you own (it is not destroyed by the layer). Fails with `InvalidOption` for an
 * unknown `dataPlane`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient: (
  client: KinesisClient,
  options?: { readonly dataPlane?: DataPlane | undefined }
) => Layer.Layer<Kinesis, InvalidOption> = internal.layerClient

/**
 * The options from the standard environment variables: `AWS_REGION`, `KINESIS_ENDPOINT`,
 * `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) as `Redacted`,
 * `KINESIS_MAX_ATTEMPTS`, `KINESIS_REQUEST_TIMEOUT`. Every variable is optional; absent ones fall
 * back to the SDK's chain or to `defaults`. Pass it to `layerConfig`.
 *
 * @since 0.1.0
 * @category Config
 */
export const config: Config.Config<KinesisOptions> = internal.config

/**
 * The port over a new SDK client (as `layer`), with the options read from `Config`: either one
 * `Config<KinesisOptions>` (such as `config`, which reads the standard environment variables) or an
 * object of one `Config` per option. Fails with a `ConfigError` when the config cannot be read or holds a
 * value of the wrong kind.
 *
 * @example
 * ```ts
 * import { Kinesis } from "@effect-kinesis/core"
 * import { Config } from "effect"
 *
 * // the standard environment variables: AWS_REGION, KINESIS_ENDPOINT, AWS_ACCESS_KEY_ID, …
 * const fromEnv = Kinesis.layerConfig(Kinesis.config)
 *
 * // or one Config per option (the others keep their defaults)
 * const perField = Kinesis.layerConfig({
 *   region: Config.string("AWS_REGION"),
 *   endpoint: Config.string("MY_KINESIS_URL"),
 *   maxAttempts: Config.integer("MY_KINESIS_ATTEMPTS").pipe(Config.withDefault(3))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  config: Config.Config.Wrap<KinesisOptions>
) => Layer.Layer<Kinesis, ConfigError.ConfigError> = internal.layerConfig

// ---------------------------------------------------------------------------------------------
// accessors
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category accessors
 */
export const putRecords = (request: PutRecordsRequest): Effect.Effect<PutRecordsResponse, PutRecordsError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => k.putRecords(request))

/**
 * @since 0.1.0
 * @category accessors
 */
export const putRecord = (request: PutRecordRequest): Effect.Effect<PutRecordResponse, PutRecordError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => k.putRecord(request))

/**
 * @since 0.1.0
 * @category accessors
 */
export const getRecords = (request: GetRecordsRequest): Effect.Effect<GetRecordsResponse, GetRecordsError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => k.getRecords(request))

/**
 * @since 0.1.0
 * @category accessors
 */
export const getShardIterator = (
  request: GetShardIteratorRequest
): Effect.Effect<string, GetShardIteratorError, Kinesis> => Effect.flatMap(Kinesis, (k) => k.getShardIterator(request))

/**
 * @since 0.1.0
 * @category accessors
 */
export const listShards = (
  request: ListShardsRequest
): Effect.Effect<ReadonlyArray<Shard>, ListShardsError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => k.listShards(request))

/**
 * @since 0.1.0
 * @category accessors
 */
export const describeStreamSummary = (
  stream: StreamAddress
): Effect.Effect<StreamSummary, DescribeStreamSummaryError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => k.describeStreamSummary(stream))

/**
 * Options for waiting until a stream is ACTIVE after a control-plane call.
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /** Wait until the stream is ACTIVE again before returning. Default false. */
  readonly waitUntilActive?: boolean | undefined
  /** How to poll DescribeStreamSummary while waiting. Default `defaultWaitSchedule`. */
  readonly waitSchedule?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * Polls every 100 ms at first, backing off to 2 s, for up to 5 minutes.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultWaitSchedule: Schedule.Schedule<unknown, unknown> = internal.defaultWaitSchedule

/**
 * Waits until the stream is ACTIVE, polling DescribeStreamSummary with the schedule. Fails with
 * `ResourceInUse` if the schedule ends first, and with `ResourceNotFound` if the stream is gone.
 *
 * @since 0.1.0
 * @category combinators
 */
export const waitUntilActive: (
  stream: StreamAddress,
  schedule?: Schedule.Schedule<unknown, unknown>
) => Effect.Effect<StreamSummary, DescribeStreamSummaryError | ResourceInUse, Kinesis> = internal.waitUntilActive

/**
 * Creates a stream (provisioned with `shardCount`, or `streamMode: "ON_DEMAND"`), optionally
 * waiting until it is ACTIVE.
 *
 * @since 0.1.0
 * @category accessors
 */
export const createStream = (
  request: CreateStreamRequest & WaitOptions
): Effect.Effect<void, CreateStreamError | DescribeStreamSummaryError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => k.createStream(request)).pipe(
    internal.thenWait({ _tag: "StreamName", name: request.streamName }, request)
  )

/**
 * @since 0.1.0
 * @category accessors
 */
export const deleteStream = (request: DeleteStreamRequest): Effect.Effect<void, DeleteStreamError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => k.deleteStream(request))

/**
 * @since 0.1.0
 * @category accessors
 */
export const splitShard = (
  request: SplitShardRequest & WaitOptions
): Effect.Effect<void, ReshardError | DescribeStreamSummaryError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => k.splitShard(request)).pipe(internal.thenWait(request.stream, request))

/**
 * @since 0.1.0
 * @category accessors
 */
export const mergeShards = (
  request: MergeShardsRequest & WaitOptions
): Effect.Effect<void, ReshardError | DescribeStreamSummaryError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => k.mergeShards(request)).pipe(internal.thenWait(request.stream, request))

/**
 * @since 0.1.0
 * @category accessors
 */
export const updateShardCount = (
  request: UpdateShardCountRequest & WaitOptions
): Effect.Effect<UpdateShardCountResponse, ReshardError | DescribeStreamSummaryError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => k.updateShardCount(request)).pipe(internal.thenWait(request.stream, request))

/**
 * @since 0.1.0
 * @category accessors
 */
export const listStreams: Effect.Effect<ReadonlyArray<StreamListing>, ListStreamsError, Kinesis> = Effect.flatMap(
  Kinesis,
  (k) => k.listStreams()
)

/**
 * The stream consumers registered for enhanced fan-out on a stream (by name or ARN).
 *
 * @since 0.3.0
 * @category accessors
 */
export const listStreamConsumers = (
  stream: StreamAddress
): Effect.Effect<ReadonlyArray<StreamConsumer>, StreamConsumerError | DescribeStreamSummaryError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) => Effect.flatMap(streamArnOf(k, stream), (arn) => k.listStreamConsumers(arn)))

/**
 * Registers an enhanced fan-out consumer on a stream (by name or ARN). A consumer of that name that
 * exists already is returned as it is (registration is idempotent, as a group of workers needs it).
 * `Consumer`'s `fanOut` option does this itself.
 *
 * @since 0.3.0
 * @category accessors
 */
export const registerStreamConsumer = (
  request: { readonly stream: StreamAddress; readonly consumerName: string }
): Effect.Effect<StreamConsumer, StreamConsumerError | DescribeStreamSummaryError, Kinesis> =>
  Effect.flatMap(
    Kinesis,
    (k) =>
      Effect.flatMap(streamArnOf(k, request.stream), (streamARN) =>
        k.registerStreamConsumer({ streamARN, consumerName: request.consumerName }).pipe(
          Effect.catchTag("ResourceInUse", () =>
            k.describeStreamConsumer({ streamARN, consumerName: request.consumerName }))
        ))
  )

/**
 * Deregisters an enhanced fan-out consumer of a stream (by name or ARN): its subscriptions end, and it
 * stops costing money. Fails with `ResourceNotFound` if there is none of that name.
 *
 * @since 0.3.0
 * @category accessors
 */
export const deregisterStreamConsumer = (
  request: { readonly stream: StreamAddress; readonly consumerName: string }
): Effect.Effect<void, StreamConsumerError | DescribeStreamSummaryError, Kinesis> =>
  Effect.flatMap(Kinesis, (k) =>
    Effect.flatMap(
      streamArnOf(k, request.stream),
      (streamARN) => k.deregisterStreamConsumer({ streamARN, consumerName: request.consumerName })
    ))

const streamArnOf = (k: Service, stream: StreamAddress): Effect.Effect<string, DescribeStreamSummaryError> =>
  stream._tag === "StreamArn"
    ? Effect.succeed(stream.arn)
    : Effect.map(k.describeStreamSummary(stream), (summary) => summary.streamARN)
