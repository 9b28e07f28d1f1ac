/**
 * A `Checkpointer` over DynamoDB: shard leases, checkpoints, shard-ended marks and worker heartbeats
 * of any number of consumer groups and streams in one table.
 *
 * Table layout (partition key `pk` S, sort key `sk` S; `createTable: true` creates it with on-demand
 * billing):
 *
 * | item | `pk` | `sk` | other attributes |
 * | --- | --- | --- | --- |
 * | a shard | `${group}#${stream}` | `shard#${shardId}` | `group`, `stream`, `shardId`, `owner` (absent when not held), `leaseCounter` N, `expiresAt` N (epoch ms), `sequenceNumber` S, `subSequenceNumber` N, `ended` BOOL, `handOffTo` S, `deleteAt` N |
 * | a worker | `${group}#${stream}` | `worker#${workerId}` | `group`, `stream`, `workerId`, `lastSeen` N, `expiresAt` N (epoch ms), `deleteAt` N |
 *
 * So `list` and `workers` are one (paginated) Query each, and groups never see each other's leases.
 * Stream names and ARNs hold no `#`, so the partition key is unambiguous whatever the group name.
 * Sequence numbers are stored as strings: they have up to 56 digits, DynamoDB numbers 38.
 *
 * Every lease write is one conditional `UpdateItem`. `acquire` increments `leaseCounter` on the
 * condition that the lease is free, expired or already ours, and returns the item it wrote
 * (`ReturnValues: ALL_NEW`); it is sent as two disjoint conditions, tried in turn, because a hand-off
 * request is cleared when the lease changes hands and kept when its owner re-acquires it. `renew`,
 * `release`, `checkpoint` and `markEnded` are conditioned on `owner` and `leaseCounter` matching the
 * lease token; when the condition fails, `LeaseLost` names the current holder, taken from the failed
 * write (DynamoDB's `ReturnValuesOnConditionCheckFailure`) or from a consistent read (dynalite). Reads
 * (`get`, `list`, `workers`) are strongly consistent.
 *
 * Time is the worker's `Clock`: `expiresAt` is written as the worker's now plus `sessionTimeout`, and a
 * lease counts as expired when its `expiresAt` is at or before the acquiring worker's now. Keep worker
 * clocks within a fraction of `sessionTimeout` of each other (NTP does).
 *
 * With `ttl`, `markEnded` sets `deleteAt` (epoch seconds) to `ttl` after the shard ended and every
 * heartbeat sets it to `ttl` after the worker's expiry, and `createTable` enables DynamoDB TTL on
 * `deleteAt`, which then deletes ended shards and gone workers. Make `ttl` longer than the stream's
 * retention period: a child shard needs its parent's `ended` mark for as long as the parent can be
 * listed. Endpoints without UpdateTimeToLive (dynalite) get one warning log line and no TTL.
 *
 * Failures of DynamoDB are `CheckpointerError`s naming the operation, stream and shard: a missing table
 * says to create it or set `createTable`, throttling (ProvisionedThroughputExceeded, Throttling,
 * RequestLimitExceeded) says so. Retry them with a `Schedule`.
 *
 * @example
 * ```ts
 * import { Checkpointer } from "@effect-kinesis/core"
 * import { DynamoDbCheckpointer } from "@effect-kinesis/checkpoint-dynamodb"
 * import { Effect, Option } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const checkpointer = yield* Checkpointer.Checkpointer
 *   const acquired = yield* checkpointer.acquire("orders", "shardId-000000000000")
 *   if (Option.isSome(acquired)) {
 *     const [lease] = acquired.value
 *     yield* checkpointer.checkpoint(lease, { sequenceNumber: "49590338271490256608559692538361571095921575989136588898" })
 *   }
 * })
 *
 * program.pipe(
 *   Effect.provide(DynamoDbCheckpointer.layer({
 *     group: "billing",
 *     table: "kinesis-checkpoints",
 *     createTable: true,
 *     ttl: "30 days"
 *   }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { DynamoDBClient, DynamoDBClientConfig } from "@aws-sdk/client-dynamodb"
import type * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/dynamoDbCheckpointer.js"

/**
 * How to build the `DynamoDBClient` when none is passed in.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** AWS region; the SDK's default chain (AWS_REGION, profile) when absent. */
  readonly region?: string | undefined
  /**
   * Endpoint URL, e.g. `http://127.0.0.1:8000` for a local server. An `http://` endpoint gets an
   * HTTP/1.1 `NodeHttpHandler` with keep-alive sockets and the timeouts below.
   */
  readonly endpoint?: string | undefined
  /** Credentials or a provider; the SDK's default chain when absent. */
  readonly credentials?: DynamoDBClientConfig["credentials"] | undefined
  /** Attempts the AWS SDK makes per call (with its backoff). Default 3. */
  readonly maxAttempts?: number | undefined
  /** Per-request socket timeout (`http://` endpoints). Default 10 seconds. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** Connection timeout (`http://` endpoints). Default 5 seconds. */
  readonly connectionTimeout?: Duration.DurationInput | undefined
  /** Max sockets per host (`http://` endpoints). Default 50. */
  readonly maxSockets?: number | undefined
  /** A request handler to use instead of the default one (for any endpoint). */
  readonly requestHandler?: DynamoDBClientConfig["requestHandler"] | undefined
  /** Any other `DynamoDBClient` configuration; the options above win. */
  readonly clientConfig?: DynamoDBClientConfig | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface EnsureTableOptions {
  readonly table: string
  /** When set, TTL is enabled on the `deleteAt` attribute. */
  readonly ttl?: Duration.DurationInput | undefined
  /** How often to look whether the table is ACTIVE. Default: 50 ms growing to 2 s, for up to 5 minutes. */
  readonly waitSchedule?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DynamoDbCheckpointerOptions extends Checkpointer.CommonOptions, ClientOptions {
  /** The consumer group: its workers share leases and checkpoints; other groups' are separate. */
  readonly group: string
  /** The table (one for any number of groups and streams). */
  readonly table: string
  /**
   * A client you own: it is used as it is (the client options are ignored) and not destroyed. Without
   * it, a client is built from the client options and destroyed when the scope closes.
   */
  readonly client?: DynamoDBClient | undefined
  /**
   * Create the table if it does not exist (on-demand billing) and wait until it is ACTIVE; with `ttl`,
   * enable TTL on `deleteAt`. Safe to run from every worker at once. Default false: the table must
   * exist (it is described once at start).
   */
  readonly createTable?: boolean | undefined
  /**
   * Ended shards and gone workers get a `deleteAt` this long after they ended or went silent, for
   * DynamoDB TTL to delete them. Default: none (items stay).
   */
  readonly ttl?: Duration.DurationInput | undefined
  /** Items per Query page for `list` and `workers` (every page is read). Default: DynamoDB's 1 MB pages. */
  readonly pageSize?: number | undefined
  /** How often to look whether the table is ACTIVE. Default: 50 ms growing to 2 s, for up to 5 minutes. */
  readonly waitSchedule?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * @since 0.1.0
 * @category defaults
 */
export const defaults: {
  readonly sessionTimeout: Duration.DurationInput
  readonly maxAttempts: number
  readonly requestTimeout: Duration.DurationInput
  readonly connectionTimeout: Duration.DurationInput
  readonly maxSockets: number
  readonly waitSchedule: Schedule.Schedule<unknown, unknown>
} = internal.defaults

/**
 * The attribute names of the table's items (see the module documentation for the layout).
 *
 * @since 0.1.0
 * @category models
 */
export const attributes: {
  readonly pk: "pk"
  readonly sk: "sk"
  readonly group: "group"
  readonly stream: "stream"
  readonly shardId: "shardId"
  readonly workerId: "workerId"
  readonly owner: "owner"
  readonly leaseCounter: "leaseCounter"
  readonly expiresAt: "expiresAt"
  readonly sequenceNumber: "sequenceNumber"
  readonly subSequenceNumber: "subSequenceNumber"
  readonly ended: "ended"
  readonly handOffTo: "handOffTo"
  readonly lastSeen: "lastSeen"
  readonly deleteAt: "deleteAt"
} = internal.attributes

/**
 * The partition key of a group's stream: `${group}#${stream}`.
 *
 * @since 0.1.0
 * @category models
 */
export const partitionKey: (group: string, stream: string) => string = internal.partitionKey

/**
 * The sort key of a shard's item: `shard#${shardId}`.
 *
 * @since 0.1.0
 * @category models
 */
export const shardSortKey: (shardId: string) => string = internal.shardSortKey

/**
 * The sort key of a worker's heartbeat item: `worker#${workerId}`.
 *
 * @since 0.1.0
 * @category models
 */
export const workerSortKey: (workerId: string) => string = internal.workerSortKey

/**
 * Creates the table if it is missing (on-demand billing), waits until it is ACTIVE, checks its key
 * schema and, with `ttl`, enables TTL on `deleteAt`. Idempotent: for provisioning scripts, or run by
 * every worker through `createTable: true`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ensureTable: (
  client: DynamoDBClient,
  options: EnsureTableOptions
) => Effect.Effect<void, Checkpointer.CheckpointerError> = internal.ensureTable

/**
 * Builds a `DynamoDBClient` from the options, scoped: it is destroyed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClient: (options?: ClientOptions) => Effect.Effect<DynamoDBClient, never, Scope.Scope> =
  internal.makeClient

/**
 * A checkpointer over the table: ensures (`createTable`) or checks the table, then serves the group.
 * A client it builds is destroyed when the scope closes; a client passed in is not.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: DynamoDbCheckpointerOptions
) => Effect.Effect<Checkpointer.Service, Checkpointer.CheckpointerError, Scope.Scope> = internal.make

/**
 * The `Checkpointer` over DynamoDB (see `make`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  options: DynamoDbCheckpointerOptions
) => Layer.Layer<Checkpointer.Checkpointer, Checkpointer.CheckpointerError> = internal.layer

/**
 * What `layerConfig` reads: every option but `client` (a client you own is not configuration; give it
 * to `layer`).
 *
 * @since 0.1.0
 * @category models
 */
export type DynamoDbCheckpointerConfig = Omit<DynamoDbCheckpointerOptions, "client">

/**
 * The options from the standard environment variables: `KINESIS_CHECKPOINT_GROUP` and
 * `KINESIS_CHECKPOINT_TABLE` (required), `KINESIS_CHECKPOINT_CREATE_TABLE` (default false),
 * `KINESIS_CHECKPOINT_TTL`, `KINESIS_CHECKPOINT_WORKER_ID`, `KINESIS_CHECKPOINT_SESSION_TIMEOUT`,
 * `KINESIS_CHECKPOINT_HEARTBEAT_INTERVAL` (durations such as `30 seconds`), `AWS_REGION`,
 * `DYNAMODB_ENDPOINT`, `DYNAMODB_MAX_ATTEMPTS`, and `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY`
 * (+ `AWS_SESSION_TOKEN`) — else the SDK's default credential chain. Pass it to `layerConfig`.
 *
 * @since 0.1.0
 * @category Config
 */
export const config: Config.Config<DynamoDbCheckpointerConfig> = internal.config

/**
 * The `Checkpointer` over DynamoDB (as `layer`) with the options read from `Config`: either one
 * `Config<DynamoDbCheckpointerConfig>` (such as `config`, which reads the standard environment
 * variables, the group included) or an object of one `Config` per option — the way to fix the group in
 * code:
 *
 * ```ts
 * DynamoDbCheckpointer.layerConfig({
 *   group: Config.succeed("billing"),
 *   table: Config.string("CHECKPOINT_TABLE"),
 *   createTable: Config.succeed(true)
 * })
 * ```
 *
 * Fails with a `ConfigError` when the config cannot be read (a missing group or table).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  config: Config.Config.Wrap<DynamoDbCheckpointerConfig>
) => Layer.Layer<Checkpointer.Checkpointer, ConfigError.ConfigError | Checkpointer.CheckpointerError> =
  internal.layerConfig
