/**
 * A `Checkpointer` over Redis: shard leases, checkpoints, hand-off requests and worker heartbeats of
 * one consumer group, shared by every worker of the group through one Redis server.
 *
 * Every lease operation (`acquire`, `renew`, `release`, `checkpoint`, `markEnded`) is one Lua script
 * run with EVALSHA, so Redis applies it atomically: the owner and lease-counter check and the write
 * cannot interleave with another worker's command. `requestHandOff`, `heartbeat` (which also drops
 * expired workers) and `workers` are scripts too; `get`, `list` and `leave` are single commands. Lease and heartbeat expiry use the Redis server's
 * clock (`TIME`), never the worker's, so worker clocks need not agree.
 *
 * **Keys.** Per stream and group, two hashes that share one Redis Cluster hash tag (so they live in one
 * slot; every script touches one key only):
 * - `{keyPrefix}:{{group}:{stream}}:shards`: field shardId → the shard's JSON state;
 * - `{keyPrefix}:{{group}:{stream}}:workers`: field workerId → `{ lastSeen, expiresAt }`; the key
 *   expires with its last live worker.
 *
 * `%`, `{` and `}` in the prefix, group and stream (and `:` in the group) are percent-encoded, so user
 * input never moves the hash tag and two (group, stream) pairs never share keys. Names without those
 * characters appear as they are. See `keys`.
 *
 * **Connection loss.** A client this module creates (from `RedisOptions` or a URL) fails fast instead
 * of queueing: `enableOfflineQueue: false` rejects a command issued while disconnected at once,
 * `maxRetriesPerRequest: 0` rejects commands in flight when the connection drops (they are not resent
 * on reconnect), and `commandTimeout` (default 5 s) bounds a server that stops answering. The client
 * keeps reconnecting in the background, at most a second apart. Every failure is a
 * `Checkpointer.CheckpointerError`; the consumer retries with its own schedule. Each operation is also
 * bounded by `commandTimeout` on the Effect side, whatever client it runs on. Without persistence
 * (`appendonly`/`save`), a restarted server has lost every lease and checkpoint: the old leases'
 * writes then fail with `LeaseLost` and the shards start again from the consumer's initial position.
 *
 * @example
 * ```ts
 * import { Checkpointer } from "@effect-kinesis/core"
 * import { RedisCheckpointer } from "@effect-kinesis/checkpoint-redis"
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
 *   Effect.provide(RedisCheckpointer.layer({ group: "billing", redis: "redis://127.0.0.1:6379" }))
 * )
 * // or from KINESIS_CHECKPOINT_GROUP / REDIS_URL / REDIS_PASSWORD / REDIS_KEY_PREFIX / …:
 * program.pipe(Effect.provide(RedisCheckpointer.layerConfig(RedisCheckpointer.config)))
 * ```
 *
 * @since 0.1.0
 */
import type * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"
import * as internal from "./internal/redisCheckpointer.js"

// ---------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface RedisCheckpointerOptions extends Checkpointer.CommonOptions {
  /** The consumer group: workers of one group share leases; different groups are independent. */
  readonly group: string
  /**
   * The connection:
   * - a `redis://` / `rediss://` (TLS) URL, or ioredis `RedisOptions`: a client is created with
   *   `clientOptions` (fail fast, see the module doc; your options win) and quit with the scope;
   * - an ioredis client: used as it is and never closed by this module. Give it `clientOptions()`
   *   for the same fail-fast behaviour.
   */
  readonly redis: RedisOptions | Redis | string
  /** First part of every key. Default `"effect-kinesis"`. */
  readonly keyPrefix?: string | undefined
  /** Bound on every operation (and ioredis' `commandTimeout` of a client created here). Default 5 s. */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** Bound on the first connection of a client created here. Default 5 s. */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * What `layerConfig` reads: the options of `layer`, where the connection `redis` is a URL or ioredis
 * `RedisOptions` (a client you own is not configuration; give it to `layer`), plus a `password` kept
 * `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisCheckpointerConfig extends Omit<RedisCheckpointerOptions, "redis"> {
  /**
   * `redis://[user[:password]@]host[:port][/db]`, `rediss://…` for TLS, or ioredis `RedisOptions`: a
   * client is created (fail fast, see the module doc) and quit with the layer.
   */
  readonly redis: RedisOptions | string
  /** The password, used instead of one in the URL (or in the `RedisOptions`). */
  readonly password?: Redacted.Redacted | undefined
}

/**
 * The keys of one group's state for one stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Keys {
  /** The Redis Cluster hash tag both keys share (the text between `{` and `}`). */
  readonly hashTag: string
  /** Hash: shardId → JSON shard state. */
  readonly shards: string
  /** Hash: workerId → JSON `{ lastSeen, expiresAt }`. */
  readonly workers: string
}

// ---------------------------------------------------------------------------------------------
// defaults
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category defaults
 */
export const defaults: {
  readonly keyPrefix: string
  readonly commandTimeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
  /** The longest pause between two reconnect attempts of a client created here. */
  readonly maxReconnectDelay: Duration.Duration
} = internal.defaults

/**
 * The ioredis options a client created here starts from: `enableOfflineQueue: false`,
 * `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`, `commandTimeout`,
 * `connectTimeout`, `replyMapping: "legacy"` and a reconnect delay of at most `defaults.maxReconnectDelay`. Use them for a client
 * you pass in to get the same fail-fast behaviour: `new Redis(url, RedisCheckpointer.clientOptions())`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const clientOptions: (options?: {
  readonly commandTimeout?: Duration.DurationInput | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
}) => RedisOptions & { readonly replyMapping: "legacy" } = internal.clientOptions

// ---------------------------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------------------------

/**
 * The keys a group's state of `stream` is stored under.
 *
 * @since 0.1.0
 * @category keys
 */
export const keys: (
  options: { readonly keyPrefix?: string | undefined; readonly group: string },
  stream: string
) => Keys = internal.keys

// ---------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------

/**
 * The checkpointer, for the scope: a client it creates is connected first (a server that cannot be
 * reached within `connectTimeout` fails with a `CheckpointerError`) and quit when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: RedisCheckpointerOptions
) => Effect.Effect<Checkpointer.Service, Checkpointer.CheckpointerError, Scope.Scope> = internal.make

// ---------------------------------------------------------------------------------------------
// layers
// ---------------------------------------------------------------------------------------------

/**
 * Provides `Checkpointer.Checkpointer` over Redis.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  options: RedisCheckpointerOptions
) => Layer.Layer<Checkpointer.Checkpointer, Checkpointer.CheckpointerError> = internal.layer

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/**
 * The options from the standard environment variables: `KINESIS_CHECKPOINT_GROUP` (required; the same
 * variable as `DynamoDbCheckpointer.config`), `REDIS_URL` (required, `redis://` or `rediss://` for
 * TLS), `REDIS_PASSWORD` (optional, `Redacted`; used instead of a password in the URL),
 * `REDIS_KEY_PREFIX`, `KINESIS_CHECKPOINT_WORKER_ID`, `KINESIS_CHECKPOINT_SESSION_TIMEOUT` and
 * `KINESIS_CHECKPOINT_HEARTBEAT_INTERVAL` (durations such as `30 seconds`), all optional. Pass it to
 * `layerConfig`.
 *
 * @since 0.1.0
 * @category Config
 */
export const config: Config.Config<RedisCheckpointerConfig> = internal.config

/**
 * Provides `Checkpointer.Checkpointer` over Redis (as `layer`) with the options read from `Config`:
 * either one `Config<RedisCheckpointerConfig>` (such as `config`, which reads the standard environment
 * variables, the group included) or an object of one `Config` per option — the way to fix the group in
 * code:
 *
 * ```ts
 * RedisCheckpointer.layerConfig({
 *   group: Config.succeed("billing"),
 *   redis: Config.string("REDIS_URL"),
 *   password: Config.redacted("REDIS_PASSWORD")
 * })
 * ```
 *
 * Fails with a `ConfigError` when the config cannot be read (a missing group or URL).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  config: Config.Config.Wrap<RedisCheckpointerConfig>
) => Layer.Layer<Checkpointer.Checkpointer, Checkpointer.CheckpointerError | ConfigError.ConfigError> =
  internal.layerConfig
