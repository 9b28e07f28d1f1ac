/** @internal */
import * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"
import * as Os from "node:os"
import type * as RedisCheckpointer from "../RedisCheckpointer.js"
import * as Lua from "./lua.js"

// ---------------------------------------------------------------------------------------------
// defaults
// ---------------------------------------------------------------------------------------------

/** @internal */
export const defaults = {
  keyPrefix: "effect-kinesis",
  commandTimeout: Duration.seconds(5),
  connectTimeout: Duration.seconds(5),
  maxReconnectDelay: Duration.seconds(1)
} as const

/** @internal */
export const clientOptions = (
  options: {
    readonly commandTimeout?: Duration.DurationInput | undefined
    readonly connectTimeout?: Duration.DurationInput | undefined
  } = {}
): RedisOptions & { readonly replyMapping: "legacy" } => {
  const maxDelay = Duration.toMillis(defaults.maxReconnectDelay)
  return {
    // fail, don't queue: a command issued while disconnected is rejected at once…
    enableOfflineQueue: false,
    // …and so is a command in flight when the connection drops (it is not resent on reconnect)
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // a server that accepts the connection but does not answer fails the command after this long
    commandTimeout: Duration.toMillis(Duration.decode(options.commandTimeout ?? defaults.commandTimeout)),
    connectTimeout: Duration.toMillis(Duration.decode(options.connectTimeout ?? defaults.connectTimeout)),
    // reconnect in the background for ever, at most a second apart, so the consumer's own retries
    // find the server soon after it is back
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
    // replies are decoded here in ioredis' default (RESP2-shaped) mapping
    replyMapping: "legacy"
  }
}

// ---------------------------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------------------------

const escapeWith = (pattern: RegExp) => (s: string): string =>
  s.replace(pattern, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)

/** `%`, `{` and `}` are percent-encoded: user input never opens or closes a hash tag. */
const escapeText = escapeWith(/[%{}]/g)
/** The group also has `:` encoded, so the first `:` of the hash tag always ends the group. */
const escapeGroup = escapeWith(/[%{}:]/g)

/** @internal */
export const keys = (
  options: { readonly keyPrefix?: string | undefined; readonly group: string },
  stream: string
): RedisCheckpointer.Keys => {
  const prefix = escapeText(options.keyPrefix ?? defaults.keyPrefix)
  const hashTag = `${escapeGroup(options.group)}:${escapeText(stream)}`
  return { hashTag, shards: `${prefix}:{${hashTag}}:shards`, workers: `${prefix}:{${hashTag}}:workers` }
}

// ---------------------------------------------------------------------------------------------
// decoding
// ---------------------------------------------------------------------------------------------

class CorruptState extends Error {}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const parseJson = (raw: string): Record<string, unknown> => {
  const value: unknown = JSON.parse(raw)
  if (!isRecord(value)) throw new CorruptState(`not a JSON object: ${raw}`)
  return value
}

const num = (o: Record<string, unknown>, field: string, raw: string): number => {
  const value = o[field]
  if (typeof value !== "number" || !Number.isFinite(value)) throw new CorruptState(`bad ${field} in ${raw}`)
  return value
}

const optionalString = (o: Record<string, unknown>, field: string, raw: string): string | undefined => {
  const value = o[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== "string") throw new CorruptState(`bad ${field} in ${raw}`)
  return value
}

/** @internal */
export const decodeState = (shardId: string, raw: string): Checkpointer.ShardState => {
  const o = parseJson(raw)
  let checkpoint: Checkpointer.Checkpoint | undefined
  if (isRecord(o.checkpoint)) {
    const c = o.checkpoint
    if (typeof c.sequenceNumber !== "string") throw new CorruptState(`bad checkpoint in ${raw}`)
    checkpoint = typeof c.subSequenceNumber === "number"
      ? { sequenceNumber: c.sequenceNumber, subSequenceNumber: c.subSequenceNumber }
      : { sequenceNumber: c.sequenceNumber }
  }
  return {
    shardId,
    owner: optionalString(o, "owner", raw),
    leaseCounter: num(o, "leaseCounter", raw),
    expiresAt: num(o, "expiresAt", raw),
    checkpoint,
    ended: o.ended === true,
    handOffTo: optionalString(o, "handOffTo", raw)
  }
}

const decodeWorker = (workerId: string, raw: string): Checkpointer.Worker => {
  const o = parseJson(raw)
  return { workerId, lastSeen: num(o, "lastSeen", raw), expiresAt: num(o, "expiresAt", raw) }
}

/** A script's `{ status, json }` reply. */
const decodeReply = (reply: unknown): readonly [string, string] => {
  if (Array.isArray(reply) && reply.length === 2 && typeof reply[0] === "string" && typeof reply[1] === "string") {
    return [reply[0], reply[1]]
  }
  throw new CorruptState(`unexpected script reply: ${JSON.stringify(reply)}`)
}

// ---------------------------------------------------------------------------------------------
// client
// ---------------------------------------------------------------------------------------------

type ScriptFn = (...args: Array<string | number>) => Promise<unknown>

const isClient = (u: RedisCheckpointer.RedisCheckpointerOptions["redis"]): u is Redis =>
  u instanceof Redis ||
  // another copy of ioredis: a client has methods, options do not
  (typeof u === "object" && "defineCommand" in u && typeof u.defineCommand === "function")

const describeCause = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** Where the client points, without credentials (for messages). */
const target = (client: Redis): string => {
  const { host, path, port } = client.options
  return path !== undefined && path !== null && path !== "" ? path : `${host ?? "localhost"}:${port ?? 6379}`
}

/** Builds the client we own: our fail-fast defaults, overridden by anything the caller set. */
const newClient = (options: RedisCheckpointer.RedisCheckpointerOptions, overrides: RedisOptions): Redis => {
  const base = clientOptions(options)
  const redis = options.redis
  const fixed = { lazyConnect: true, replyMapping: "legacy" } as const
  const client = typeof redis === "string"
    ? new Redis(redis, { ...base, ...overrides, ...fixed })
    : new Redis({ ...base, ...(redis as RedisOptions), ...overrides, ...fixed })
  // connection errors surface as failed operations (CheckpointerError); without a listener ioredis
  // would print every reconnect attempt's error to the console
  client.on("error", () => {})
  return client
}

const acquireOwnClient = (
  options: RedisCheckpointer.RedisCheckpointerOptions,
  overrides: RedisOptions
): Effect.Effect<Redis, Checkpointer.CheckpointerError, Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => newClient(options, overrides)),
      (client) =>
        Effect.tryPromise(() => client.quit()).pipe(
          Effect.timeoutOption("1 second"),
          Effect.ignore,
          Effect.ensuring(Effect.sync(() => client.disconnect()))
        )
    )
    const connectTimeout = Duration.decode(options.connectTimeout ?? defaults.connectTimeout)
    yield* Effect.tryPromise({
      try: () => client.connect(),
      catch: (cause) =>
        new Checkpointer.CheckpointerError({
          operation: "connect",
          message: `could not connect to redis at ${target(client)}: ${describeCause(cause)}`,
          cause
        })
    }).pipe(
      Effect.timeoutFail({
        duration: connectTimeout,
        onTimeout: () =>
          new Checkpointer.CheckpointerError({
            operation: "connect",
            message: `could not connect to redis at ${target(client)} within ${Duration.format(connectTimeout)}`
          })
      })
    )
    return client
  })

/**
 * A client passed in is used as it is, once ready: one created with `lazyConnect` is connected, one
 * still connecting is waited for (up to `connectTimeout`), so the first operation does not meet a
 * client without its offline queue that is not connected yet.
 */
const awaitReady = (
  client: Redis,
  options: RedisCheckpointer.RedisCheckpointerOptions
): Effect.Effect<Redis, Checkpointer.CheckpointerError> => {
  if (client.status === "ready") return Effect.succeed(client)
  const connectTimeout = Duration.decode(options.connectTimeout ?? defaults.connectTimeout)
  const fail = (message: string, cause?: unknown) =>
    new Checkpointer.CheckpointerError({
      operation: "connect",
      message: `redis client for ${target(client)} ${message}`,
      cause
    })
  return Effect.async<Redis, Checkpointer.CheckpointerError>((resume) => {
    const onReady = () => resume(Effect.succeed(client))
    const onEnd = () => resume(Effect.fail(fail("was closed")))
    client.once("ready", onReady)
    client.once("end", onEnd)
    if (client.status === "wait") client.connect().catch(() => {})
    else if (client.status === "end") onEnd()
    return Effect.sync(() => {
      client.removeListener("ready", onReady)
      client.removeListener("end", onEnd)
    })
  }).pipe(
    Effect.timeoutFail({
      duration: connectTimeout,
      onTimeout: () => fail(`was not ready within ${Duration.format(connectTimeout)} (status ${client.status})`)
    })
  )
}

// ---------------------------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------------------------

/** @internal */
export const make = (
  options: RedisCheckpointer.RedisCheckpointerOptions
): Effect.Effect<Checkpointer.Service, Checkpointer.CheckpointerError, Scope.Scope> => makeWith(options, {})

/** `overrides` win over `options.redis` for a client we create (REDIS_PASSWORD). */
const makeWith = (
  options: RedisCheckpointer.RedisCheckpointerOptions,
  overrides: RedisOptions
): Effect.Effect<Checkpointer.Service, Checkpointer.CheckpointerError, Scope.Scope> =>
  Effect.gen(function*() {
    const { heartbeatInterval, sessionTimeout, workerId } = Checkpointer.resolveOptions(
      options,
      `${Os.hostname()}-${process.pid}`
    )
    const ttl = String(Math.max(1, Math.round(Duration.toMillis(sessionTimeout))))
    const commandTimeout = Duration.decode(options.commandTimeout ?? defaults.commandTimeout)
    const client = isClient(options.redis)
      ? yield* awaitReady(options.redis, options)
      : yield* acquireOwnClient(options, overrides)

    // EVALSHA, falling back to EVAL once per connection (ioredis' defineCommand); redefining on a
    // shared client is harmless: the same names get the same scripts
    for (const script of Lua.all) {
      client.defineCommand(script.name, { lua: script.lua, numberOfKeys: script.numberOfKeys })
    }
    const scriptFn = (definition: Lua.ScriptDefinition): ScriptFn => {
      const fn = (client as unknown as Record<string, ScriptFn | undefined>)[definition.name]
      if (fn === undefined) throw new Error(`ioredis did not define ${definition.name}`)
      return fn.bind(client)
    }
    const scripts = {
      acquire: scriptFn(Lua.acquire),
      renew: scriptFn(Lua.renew),
      release: scriptFn(Lua.release),
      checkpoint: scriptFn(Lua.checkpoint),
      requestHandOff: scriptFn(Lua.requestHandOff),
      heartbeat: scriptFn(Lua.heartbeat),
      workers: scriptFn(Lua.workers)
    }
    const keysOf = (stream: string) => keys(options, stream)

    /** Runs one Redis call; any failure (connection, timeout, script, bad data) is a CheckpointerError. */
    const call = <A>(
      operation: string,
      where: { readonly stream: string; readonly shardId?: string | undefined },
      run: () => Promise<A>
    ): Effect.Effect<A, Checkpointer.CheckpointerError> => {
      const fail = (message: string, cause?: unknown) =>
        new Checkpointer.CheckpointerError({
          operation,
          stream: where.stream,
          shardId: where.shardId,
          message: `redis ${operation} on ${where.stream}${
            where.shardId === undefined ? "" : `/${where.shardId}`
          } failed: ${message} (${target(client)}, connection ${client.status})`,
          cause
        })
      return Effect.tryPromise({ try: run, catch: (cause) => fail(describeCause(cause), cause) }).pipe(
        Effect.timeoutFail({
          duration: commandTimeout,
          onTimeout: () => fail(`no reply within ${Duration.format(commandTimeout)}`)
        })
      )
    }

    /** A fenced script: `ok` → the state it wrote; `lost` → LeaseLost with the current holder. */
    const fenced = (
      operation: string,
      lease: Checkpointer.Lease,
      run: (shards: string) => Promise<unknown>
    ): Effect.Effect<Checkpointer.ShardState, Checkpointer.LeaseLost | Checkpointer.CheckpointerError> =>
      Effect.flatMap(
        call(operation, lease, async () => {
          const [status, raw] = decodeReply(await run(keysOf(lease.stream).shards))
          return { status, state: raw === "" ? undefined : decodeState(lease.shardId, raw) }
        }),
        ({ state, status }) => {
          if (status === "ok" && state !== undefined) return Effect.succeed(state)
          return Effect.fail(
            new Checkpointer.LeaseLost({
              stream: lease.stream,
              shardId: lease.shardId,
              owner: lease.owner,
              leaseCounter: lease.leaseCounter,
              currentOwner: state?.owner,
              currentLeaseCounter: state?.leaseCounter ?? 0
            })
          )
        }
      )

    const token = (lease: Checkpointer.Lease) => [lease.shardId, lease.owner, String(lease.leaseCounter)] as const
    const checkpointArgs = (checkpoint: Checkpointer.Checkpoint | undefined) =>
      checkpoint === undefined
        ? ["0", "", ""] as const
        : [
          "1",
          checkpoint.sequenceNumber,
          checkpoint.subSequenceNumber === undefined ? "" : String(checkpoint.subSequenceNumber)
        ] as const

    const service: Checkpointer.Service = {
      workerId,
      sessionTimeout,
      heartbeatInterval,
      acquire: (stream, shardId) =>
        call("acquire", { stream, shardId }, async () => {
          const [status, raw] = decodeReply(await scripts.acquire(keysOf(stream).shards, shardId, workerId, ttl))
          if (status !== "ok") return Option.none()
          const state = decodeState(shardId, raw)
          const lease: Checkpointer.Lease = { stream, shardId, owner: workerId, leaseCounter: state.leaseCounter }
          return Option.some([lease, state] as const)
        }),
      renew: (lease) => fenced("renew", lease, (shards) => scripts.renew(shards, ...token(lease), ttl)),
      release: (lease) => Effect.asVoid(fenced("release", lease, (shards) => scripts.release(shards, ...token(lease)))),
      checkpoint: (lease, checkpoint) =>
        Effect.asVoid(
          fenced(
            "checkpoint",
            lease,
            (shards) => scripts.checkpoint(shards, ...token(lease), ...checkpointArgs(checkpoint), "0")
          )
        ),
      markEnded: (lease, checkpoint) =>
        Effect.asVoid(
          fenced(
            "markEnded",
            lease,
            (shards) => scripts.checkpoint(shards, ...token(lease), ...checkpointArgs(checkpoint), "1")
          )
        ),
      requestHandOff: (stream, shardId, to) =>
        Effect.asVoid(
          call("requestHandOff", { stream, shardId }, async () => {
            decodeReply(await scripts.requestHandOff(keysOf(stream).shards, shardId, to))
          })
        ),
      get: (stream, shardId) =>
        call("get", { stream, shardId }, async () => {
          const raw = await client.hget(keysOf(stream).shards, shardId)
          return raw === null ? Option.none() : Option.some(decodeState(shardId, raw))
        }),
      list: (stream) =>
        call("list", { stream }, async () => {
          const all = await client.hgetall(keysOf(stream).shards)
          return Object.keys(all).sort().map((shardId) => decodeState(shardId, all[shardId]!))
        }),
      heartbeat: (stream) =>
        Effect.asVoid(
          call("heartbeat", { stream }, async () => {
            decodeReply(await scripts.heartbeat(keysOf(stream).workers, workerId, ttl))
          })
        ),
      workers: (stream) =>
        call("workers", { stream }, async () => {
          const reply = await scripts.workers(keysOf(stream).workers)
          if (!Array.isArray(reply) || reply.length % 2 !== 1) {
            throw new CorruptState(`unexpected script reply: ${JSON.stringify(reply)}`)
          }
          const live: Array<Checkpointer.Worker> = []
          for (let i = 1; i < reply.length; i += 2) live.push(decodeWorker(String(reply[i]), String(reply[i + 1])))
          return live.sort((a, b) => a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0)
        }),
      leave: (stream) => Effect.asVoid(call("leave", { stream }, () => client.hdel(keysOf(stream).workers, workerId)))
    }
    return service
  })

/** @internal */
export const layer = (
  options: RedisCheckpointer.RedisCheckpointerOptions
): Layer.Layer<Checkpointer.Checkpointer, Checkpointer.CheckpointerError> =>
  Layer.scoped(Checkpointer.Checkpointer, make(options))

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/** @internal */
export const config: Config.Config<RedisCheckpointer.RedisCheckpointerConfig> = Config.all({
  group: Config.nonEmptyString("KINESIS_CHECKPOINT_GROUP"),
  url: Config.string("REDIS_URL").pipe(
    Config.validate({
      message: "REDIS_URL must start with redis:// (or rediss:// for TLS)",
      validation: (url) => /^rediss?:\/\//i.test(url)
    })
  ),
  password: Config.option(Config.redacted("REDIS_PASSWORD")),
  keyPrefix: Config.option(Config.nonEmptyString("REDIS_KEY_PREFIX")),
  workerId: Config.option(Config.nonEmptyString("KINESIS_CHECKPOINT_WORKER_ID")),
  sessionTimeout: Config.option(Config.duration("KINESIS_CHECKPOINT_SESSION_TIMEOUT")),
  heartbeatInterval: Config.option(Config.duration("KINESIS_CHECKPOINT_HEARTBEAT_INTERVAL"))
}).pipe(Config.map((c): RedisCheckpointer.RedisCheckpointerConfig => ({
  group: c.group,
  redis: c.url,
  ...(Option.isSome(c.password) ? { password: c.password.value } : {}),
  ...(Option.isSome(c.keyPrefix) ? { keyPrefix: c.keyPrefix.value } : {}),
  ...(Option.isSome(c.workerId) ? { workerId: c.workerId.value } : {}),
  ...(Option.isSome(c.sessionTimeout) ? { sessionTimeout: c.sessionTimeout.value } : {}),
  ...(Option.isSome(c.heartbeatInterval) ? { heartbeatInterval: c.heartbeatInterval.value } : {})
})))

/**
 * The connection and client overrides of a config: a `password` replaces one in the URL (ioredis
 * prefers the URL's credentials over options, so they are moved out of it) or in the `RedisOptions`.
 *
 * @internal
 */
export const connectionOptions = (
  redis: RedisOptions | string,
  password: Redacted.Redacted | undefined
): { readonly redis: RedisOptions | string; readonly overrides: RedisOptions } => {
  if (password === undefined) return { redis, overrides: {} }
  if (typeof redis !== "string") return { redis, overrides: { password: Redacted.value(password) } }
  const parsed = new URL(redis)
  const username = decodeURIComponent(parsed.username)
  parsed.username = ""
  parsed.password = ""
  return {
    redis: parsed.toString(),
    overrides: { ...(username === "" ? {} : { username }), password: Redacted.value(password) }
  }
}

/** @internal */
export const layerConfig = (
  config: Config.Config.Wrap<RedisCheckpointer.RedisCheckpointerConfig>
): Layer.Layer<Checkpointer.Checkpointer, Checkpointer.CheckpointerError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), ({ password, ...options }) => {
    const { overrides, redis } = connectionOptions(options.redis, password)
    return Layer.scoped(Checkpointer.Checkpointer, makeWith({ ...options, redis }, overrides))
  }))
