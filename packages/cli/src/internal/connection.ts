/**
 * Where the CLI connects: the Kinesis port from `--region` / `--endpoint` (over the environment that
 * `Kinesis.config` reads), the stream address, and the checkpoint store of a consumer group.
 *
 * @internal
 */
import * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import * as Kinesis from "@effect-kinesis/core/Kinesis"
import * as KinesisError from "@effect-kinesis/core/KinesisError"
import * as StreamAddress from "@effect-kinesis/core/StreamAddress"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { retrying } from "./contact.js"
import { UsageError } from "./errors.js"

/** The options every command takes. @internal */
export interface Connection {
  readonly region: Option.Option<string>
  readonly endpoint: Option.Option<string>
}

/** Credentials for local servers, which check that requests are signed, not by whom. @internal */
export const localCredentials = { accessKeyId: "local", secretAccessKey: "local" } as const

const loopback = new Set(["localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"])

/** A plain-http or loopback endpoint: a local server (kinesalite, kinesis-local, LocalStack). @internal */
export const isLocalEndpoint = (endpoint: string): boolean => {
  try {
    const url = new URL(endpoint)
    return url.protocol === "http:" || loopback.has(url.hostname)
  } catch {
    return false
  }
}

const hasEnvCredentials = (): boolean =>
  (process.env.AWS_ACCESS_KEY_ID !== undefined && process.env.AWS_SECRET_ACCESS_KEY !== undefined) ||
  process.env.AWS_PROFILE !== undefined

/**
 * The client options: `--endpoint` / `--region` win over the environment (`KINESIS_ENDPOINT`,
 * `AWS_REGION`, ...); an ARN gives the region when none is set; a local endpoint without credentials in
 * the environment gets dummy static credentials (and `us-east-1` when no region is set).
 *
 * @internal
 */
export const resolveOptions = (
  env: Kinesis.KinesisOptions,
  connection: Connection,
  stream?: StreamAddress.StreamAddress | undefined
): Kinesis.KinesisOptions => {
  const endpoint = Option.getOrUndefined(connection.endpoint) ?? env.endpoint
  const local = endpoint !== undefined && isLocalEndpoint(endpoint)
  const region = Option.getOrUndefined(connection.region) ?? env.region ??
    (stream?._tag === "StreamArn" ? stream.region : undefined) ??
    (local ? "us-east-1" : undefined)
  const credentials = env.credentials ?? (local && !hasEnvCredentials() ? localCredentials : undefined)
  return { ...env, endpoint, region, credentials }
}

/** Checks `--endpoint` is a URL (a usage error otherwise). @internal */
export const validateEndpoint = (connection: Connection): Effect.Effect<void, UsageError> =>
  Option.match(connection.endpoint, {
    onNone: () => Effect.void,
    onSome: (endpoint) => {
      try {
        const url = new URL(endpoint)
        return url.protocol === "http:" || url.protocol === "https:"
          ? Effect.void
          : Effect.fail(new UsageError({ message: `--endpoint must be an http:// or https:// URL, got ${endpoint}` }))
      } catch {
        return Effect.fail(new UsageError({ message: `--endpoint must be a URL, got ${JSON.stringify(endpoint)}` }))
      }
    }
  })

/** The Kinesis port for a command. @internal */
export const kinesisLayer = (
  connection: Connection,
  stream?: StreamAddress.StreamAddress | undefined
): Layer.Layer<Kinesis.Kinesis, ConfigError.ConfigError | UsageError> =>
  Layer.unwrapEffect(
    Effect.as(
      validateEndpoint(connection),
      Kinesis.layerConfig(Config.map(Kinesis.config, (env) => resolveOptions(env, connection, stream)))
    )
  )

/** Parses a stream name or ARN. @internal */
export const parseStream = (
  input: string
): Effect.Effect<StreamAddress.StreamAddress, KinesisError.InvalidStreamAddress> => StreamAddress.make(input)

/**
 * Retries throttling (control-plane rates) a few times with jittered back-off; each retry is logged
 * (`--log-level info`) and recorded for `--timeout`.
 *
 * @internal
 */
export const retryThrottling = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.retry(effect, {
    schedule: Schedule.exponential("200 millis", 2).pipe(
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(6)),
      Schedule.tapInput((error: E) => KinesisError.isThrottling(error) ? retrying(error) : Effect.void)
    ),
    while: KinesisError.isThrottling
  })

// ---------------------------------------------------------------------------------------------
// consumer groups
// ---------------------------------------------------------------------------------------------

/** The options naming a consumer group and its store. @internal */
export interface GroupOptions {
  readonly group: Option.Option<string>
  readonly redis: Option.Option<string>
  readonly dynamodbTable: Option.Option<string>
  readonly dynamodbEndpoint: Option.Option<string>
}

/** @internal */
export type Store =
  | { readonly _tag: "Redis"; readonly group: string; readonly url: string }
  | {
    readonly _tag: "DynamoDb"
    readonly group: string
    readonly table: string
    readonly endpoint: string | undefined
  }

/** `--group` with exactly one of `--redis` / `--dynamodb-table`, or none of them. @internal */
export const resolveStore = (options: GroupOptions): Effect.Effect<Store | undefined, UsageError> => {
  const group = Option.getOrUndefined(options.group)
  const redis = Option.getOrUndefined(options.redis)
  const table = Option.getOrUndefined(options.dynamodbTable)
  if (redis !== undefined && table !== undefined) {
    return Effect.fail(new UsageError({ message: "give either --redis or --dynamodb-table, not both" }))
  }
  if (group === undefined) {
    return redis !== undefined || table !== undefined
      ? Effect.fail(new UsageError({ message: "--redis and --dynamodb-table need --group" }))
      : Option.isSome(options.dynamodbEndpoint)
      ? Effect.fail(new UsageError({ message: "--dynamodb-endpoint needs --group and --dynamodb-table" }))
      : Effect.succeed(undefined)
  }
  if (group.length === 0) return Effect.fail(new UsageError({ message: "--group must not be empty" }))
  if (redis !== undefined) return Effect.succeed({ _tag: "Redis", group, url: redis })
  if (table !== undefined) {
    return Effect.succeed({
      _tag: "DynamoDb",
      group,
      table,
      endpoint: Option.getOrUndefined(options.dynamodbEndpoint)
    })
  }
  return Effect.fail(
    new UsageError({ message: "--group needs a checkpoint store: --redis URL or --dynamodb-table TABLE" })
  )
}

/** A short description of the store, for output. @internal */
export const describeStore = (store: Store): string =>
  store._tag === "Redis" ? `redis ${store.url.replace(/\/\/[^@/]*@/, "//***@")}` : `dynamodb table ${store.table}`

/**
 * What a command waits for, for the `Timeout` message: `Kinesis (http://127.0.0.1:4567)`, and the
 * checkpoint store when there is one.
 *
 * @internal
 */
export const describeTarget = (connection: Connection, store?: Store | undefined): string => {
  const endpoint = Option.getOrUndefined(connection.endpoint) ?? process.env.KINESIS_ENDPOINT
  const kinesis = `Kinesis${endpoint === undefined ? "" : ` (${endpoint})`}`
  return store === undefined ? kinesis : `${kinesis} or the checkpoint store (${describeStore(store)})`
}

/**
 * The Checkpointer of a group (loaded on demand: the store clients are only imported when used).
 * DynamoDB uses `--region` and `--dynamodb-endpoint` (dummy credentials for a local endpoint).
 *
 * @internal
 */
export const checkpointerLayer = (
  store: Store,
  connection: Connection,
  options: { readonly createTable: boolean }
): Layer.Layer<Checkpointer.Checkpointer, Checkpointer.CheckpointerError | ConfigError.ConfigError> =>
  store._tag === "Redis"
    ? Layer.unwrapEffect(
      Effect.map(
        Effect.promise(() => import("@effect-kinesis/checkpoint-redis/RedisCheckpointer")),
        (RedisCheckpointer) => RedisCheckpointer.layer({ group: store.group, redis: store.url })
      )
    )
    : Layer.unwrapEffect(
      Effect.all([
        Effect.promise(() => import("@effect-kinesis/checkpoint-dynamodb/DynamoDbCheckpointer")),
        Kinesis.config
      ]).pipe(Effect.map(([DynamoDbCheckpointer, env]) => {
        const resolved = resolveOptions(env, { region: connection.region, endpoint: Option.none() })
        const local = store.endpoint !== undefined && isLocalEndpoint(store.endpoint)
        const region = resolved.region ?? (local ? "us-east-1" : undefined)
        const credentials = resolved.credentials ?? (local && !hasEnvCredentials() ? localCredentials : undefined)
        return DynamoDbCheckpointer.layer({
          group: store.group,
          table: store.table,
          endpoint: store.endpoint,
          region,
          credentials,
          createTable: options.createTable
        })
      }))
    )

/** An in-memory Checkpointer (tail without `--group`). @internal */
export const memoryCheckpointer: Layer.Layer<Checkpointer.Checkpointer> = Checkpointer.layerMemory()
