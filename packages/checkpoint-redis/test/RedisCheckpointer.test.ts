/**
 * The Redis Checkpointer: the core conformance suite against the run's shared redis-server (real
 * clock, real races between separate connections), then what only Redis has: the key layout, hash
 * tags and escaping, groups side by side, the server clock, error mapping, client ownership,
 * `layerConfig` (the environment or one `Config` per option), and connection loss against a private redis-server that is stopped, restarted and
 * frozen.
 */
import { RedisCheckpointer } from "@effect-kinesis/checkpoint-redis"
import * as Checkpointer from "@effect-kinesis/core/Checkpointer"
import * as CheckpointerSuite from "@effect-kinesis/core/testing/CheckpointerSuite"
import { LocalRedis } from "@effect-kinesis/local"
import { assert, describe, it } from "@effect/vitest"
import {
  Clock,
  Config,
  ConfigError,
  ConfigProvider,
  Duration,
  Effect,
  Either,
  Exit,
  Layer,
  Option,
  Schedule,
  Scope
} from "effect"
import { Redis } from "ioredis"
import { inject } from "vitest"

const url = () => inject("redis").url

let counter = 0
/** A key prefix no other test uses (tests share one server). */
const freshPrefix = (name = "test") =>
  `ek-${name}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`

const seq = (n: number): string => `49590338271490256608559692538361571095921575989136${String(n).padStart(6, "0")}`

/** A plain ioredis client for looking at what the checkpointer stored, quit with the scope. */
const inspector = (target: string = url()) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(target, { maxRetriesPerRequest: 0, lazyConnect: false })),
    (client) => Effect.promise(() => client.quit().catch(() => "gone"))
  )

const acquired = (result: Option.Option<readonly [Checkpointer.Lease, Checkpointer.ShardState]>) =>
  Option.getOrElse(result, () => assert.fail("expected the lease to be acquired"))

/** The Redis Cluster hash tag of a key: what lies between the first `{` and the next `}`. */
const hashTagOf = (key: string): string => {
  const open = key.indexOf("{")
  const close = key.indexOf("}", open + 1)
  assert.isTrue(open >= 0 && close > open + 1, `${key} has no hash tag`)
  return key.slice(open + 1, close)
}

/** Runs `effect`, returning how long it took in ms. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const result = yield* effect
    return [result, performance.now() - start] as const
  })

const expectCheckpointerError = <A, E extends { readonly _tag: string }, R>(
  what: string,
  effect: Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const result = yield* Effect.either(effect)
    if (Either.isRight(result)) return assert.fail(`${what}: expected a CheckpointerError, but it succeeded`)
    const error = result.left
    if (!(error instanceof Checkpointer.CheckpointerError)) {
      return assert.fail(`${what}: expected a CheckpointerError, got ${error._tag}`)
    }
    return error
  })

// ---------------------------------------------------------------------------------------------
// conformance
// ---------------------------------------------------------------------------------------------

const suitePrefix = freshPrefix("suite")

CheckpointerSuite.run("RedisCheckpointer (conformance)", {
  // one connection per worker, as separate processes would have; the case's namespace is the group
  makeWorker: ({ namespace, ...options }) =>
    RedisCheckpointer.make({ ...options, group: namespace, keyPrefix: suitePrefix, redis: url() })
})

// ---------------------------------------------------------------------------------------------
// Redis specifics
// ---------------------------------------------------------------------------------------------

describe("RedisCheckpointer", () => {
  it.scopedLive("key layout: two hashes per group and stream, one hash tag naming both", () =>
    Effect.gen(function*() {
      const keyPrefix = freshPrefix("layout")
      const redis = yield* inspector()
      const a = yield* RedisCheckpointer.make({ group: "billing", keyPrefix, redis: url(), workerId: "worker-a" })
      const [lease] = acquired(yield* a.acquire("orders", "shardId-000000000001"))
      yield* a.checkpoint(lease, { sequenceNumber: seq(7), subSequenceNumber: 0 })
      yield* a.heartbeat("orders")

      const keys = RedisCheckpointer.keys({ keyPrefix, group: "billing" }, "orders")
      assert.deepStrictEqual(keys, {
        hashTag: "billing:orders",
        shards: `${keyPrefix}:{billing:orders}:shards`,
        workers: `${keyPrefix}:{billing:orders}:workers`
      })
      assert.strictEqual(hashTagOf(keys.shards), keys.hashTag)
      assert.strictEqual(hashTagOf(keys.workers), keys.hashTag)
      assert.deepStrictEqual((yield* Effect.promise(() => redis.keys(`${keyPrefix}:*`))).sort(), [
        keys.shards,
        keys.workers
      ])
      assert.strictEqual(yield* Effect.promise(() => redis.type(keys.shards)), "hash")
      assert.strictEqual(yield* Effect.promise(() => redis.type(keys.workers)), "hash")

      // the shard's state is JSON; the 56-digit sequence number stays a string, subSequenceNumber 0 is kept
      const raw = yield* Effect.promise(() => redis.hget(keys.shards, "shardId-000000000001"))
      const stored = JSON.parse(raw!)
      assert.deepStrictEqual(stored.checkpoint, { sequenceNumber: seq(7), subSequenceNumber: 0 })
      assert.include(raw!, `"${seq(7)}"`)
      assert.strictEqual(stored.owner, "worker-a")
      assert.strictEqual(stored.leaseCounter, lease.leaseCounter)

      // checkpoints never expire; the workers hash expires with its last live worker
      assert.strictEqual(yield* Effect.promise(() => redis.pttl(keys.shards)), -1)
      const pttl = yield* Effect.promise(() => redis.pttl(keys.workers))
      assert.isTrue(pttl > 25_000 && pttl <= 30_000, `workers key PTTL ${pttl}`)
      const worker = JSON.parse((yield* Effect.promise(() => redis.hget(keys.workers, "worker-a")))!)
      assert.strictEqual(worker.expiresAt - worker.lastSeen, 30_000)
    }))

  it.scopedLive("two groups on one stream are independent: leases, checkpoints and workers", () =>
    Effect.gen(function*() {
      const keyPrefix = freshPrefix("groups")
      const a = yield* RedisCheckpointer.make({ group: "billing", keyPrefix, redis: url(), workerId: "worker-a" })
      const b = yield* RedisCheckpointer.make({ group: "audit", keyPrefix, redis: url(), workerId: "worker-b" })
      const a2 = yield* RedisCheckpointer.make({ group: "billing", keyPrefix, redis: url(), workerId: "worker-a2" })
      const [leaseA] = acquired(yield* a.acquire("orders", "shard-0"))
      const [leaseB] = acquired(yield* b.acquire("orders", "shard-0"))
      assert.isTrue(Option.isNone(yield* a2.acquire("orders", "shard-0")), "same group: the lease is held")
      yield* a.checkpoint(leaseA, { sequenceNumber: seq(1) })
      yield* b.checkpoint(leaseB, { sequenceNumber: seq(2) })
      yield* a.heartbeat("orders")
      yield* b.heartbeat("orders")

      const inA = yield* a.list("orders")
      const inB = yield* b.list("orders")
      assert.deepStrictEqual(inA.map((s) => [s.owner, s.checkpoint?.sequenceNumber]), [["worker-a", seq(1)]])
      assert.deepStrictEqual(inB.map((s) => [s.owner, s.checkpoint?.sequenceNumber]), [["worker-b", seq(2)]])
      assert.deepStrictEqual((yield* a.workers("orders")).map((w) => w.workerId), ["worker-a"])
      assert.deepStrictEqual((yield* b.workers("orders")).map((w) => w.workerId), ["worker-b"])
      // a token of one group is no token in the other
      const crossed = yield* Effect.either(b.checkpoint(leaseA, { sequenceNumber: seq(3) }))
      assert.isTrue(Either.isLeft(crossed) && crossed.left._tag === "LeaseLost")
      // and another stream of the same group is another key
      assert.deepStrictEqual(yield* a.list("payments"), [])
    }))

  it.scopedLive("names with braces, colons and percent signs are escaped: one slot, no collisions", () =>
    Effect.gen(function*() {
      const keyPrefix = freshPrefix("escape")
      // "a:b" + "c" and "a" + "b:c" would both be {a:b:c} unescaped
      const ab = RedisCheckpointer.keys({ keyPrefix, group: "a:b" }, "c")
      const a = RedisCheckpointer.keys({ keyPrefix, group: "a" }, "b:c")
      assert.notStrictEqual(ab.shards, a.shards)
      assert.strictEqual(ab.hashTag, "a%3Ab:c")
      assert.strictEqual(a.hashTag, "a:b:c")

      const odd = RedisCheckpointer.keys({ keyPrefix: "p{x}", group: "g{1}%" }, "s}{t")
      assert.strictEqual(odd.shards, "p%7Bx%7D:{g%7B1%7D%25:s%7D%7Bt}:shards")
      assert.strictEqual(hashTagOf(odd.shards), odd.hashTag)
      assert.strictEqual(hashTagOf(odd.workers), odd.hashTag)
      // a name without those characters is kept as it is (ARNs included)
      const arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
      assert.strictEqual(RedisCheckpointer.keys({ group: "g" }, arn).hashTag, `g:${arn}`)

      // end to end: both colliding pairs keep separate state
      const w1 = yield* RedisCheckpointer.make({ group: "a:b", keyPrefix, redis: url(), workerId: "w1" })
      const w2 = yield* RedisCheckpointer.make({ group: "a", keyPrefix, redis: url(), workerId: "w2" })
      const [l1] = acquired(yield* w1.acquire("c", "shard-0"))
      const [l2] = acquired(yield* w2.acquire("b:c", "shard-0"))
      yield* w1.checkpoint(l1, { sequenceNumber: "1" })
      yield* w2.checkpoint(l2, { sequenceNumber: "2" })
      assert.strictEqual((yield* w1.get("c", "shard-0")).pipe(Option.getOrThrow).checkpoint?.sequenceNumber, "1")
      assert.strictEqual((yield* w2.get("b:c", "shard-0")).pipe(Option.getOrThrow).checkpoint?.sequenceNumber, "2")
    }))

  it.scoped("expiry comes from the Redis server's clock, not the worker's Clock", () =>
    Effect.gen(function*() {
      // under the TestClock the worker's Clock says 1970; the stored expiry must still be today's
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      const redis = yield* inspector()
      const a = yield* RedisCheckpointer.make({
        group: "clock",
        keyPrefix: freshPrefix("clock"),
        redis: url(),
        sessionTimeout: "10 seconds"
      })
      const [before] = yield* Effect.promise(() => redis.time())
      const [lease, state] = acquired(yield* a.acquire("s", "shard-0"))
      const [after] = yield* Effect.promise(() => redis.time())
      assert.isAtLeast(state.expiresAt, Number(before) * 1000 + 10_000)
      assert.isAtMost(state.expiresAt, (Number(after) + 1) * 1000 + 10_000)
      const renewed = yield* a.renew(lease)
      assert.isAtLeast(renewed.expiresAt, state.expiresAt)
      yield* a.heartbeat("s")
      const [worker] = yield* a.workers("s")
      assert.isAtLeast(worker!.lastSeen, Number(before) * 1000)
    }))

  it.scopedLive("acquire returns the state it wrote, and the counter keeps climbing across owners", () =>
    Effect.gen(function*() {
      const keyPrefix = freshPrefix("counter")
      const a = yield* RedisCheckpointer.make({
        group: "g",
        keyPrefix,
        redis: url(),
        workerId: "a",
        sessionTimeout: 200
      })
      const b = yield* RedisCheckpointer.make({
        group: "g",
        keyPrefix,
        redis: url(),
        workerId: "b",
        sessionTimeout: 200
      })
      const counters: Array<number> = []
      for (const worker of [a, a, b, a, b]) {
        yield* Effect.sleep("250 millis")
        const [lease, state] = acquired(yield* worker.acquire("s", "shard-0"))
        const stored = Option.getOrThrow(yield* worker.get("s", "shard-0"))
        assert.deepStrictEqual(stored, state)
        counters.push(lease.leaseCounter)
      }
      assert.deepStrictEqual(counters, [1, 2, 3, 4, 5])
    }))

  it.scopedLive("failures are CheckpointerErrors naming the operation, stream and shard", () =>
    Effect.gen(function*() {
      const keyPrefix = freshPrefix("errors")
      const redis = yield* inspector()
      const a = yield* RedisCheckpointer.make({ group: "g", keyPrefix, redis: url(), workerId: "a" })
      const keys = RedisCheckpointer.keys({ keyPrefix, group: "g" }, "s")
      yield* Effect.promise(() => redis.hset(keys.shards, "shard-bad", "not json"))

      // a script error (cjson cannot decode the stored state)
      const scriptError = yield* expectCheckpointerError("acquire", a.acquire("s", "shard-bad"))
      assert.strictEqual(scriptError.operation, "acquire")
      assert.strictEqual(scriptError.stream, "s")
      assert.strictEqual(scriptError.shardId, "shard-bad")
      assert.isDefined(scriptError.cause)
      assert.include(scriptError.message, "redis acquire on s/shard-bad failed")

      // state the checkpointer cannot decode
      const decodeError = yield* expectCheckpointerError("get", a.get("s", "shard-bad"))
      assert.strictEqual(decodeError.operation, "get")
      assert.strictEqual(decodeError.shardId, "shard-bad")
      const listError = yield* expectCheckpointerError("list", a.list("s"))
      assert.strictEqual(listError.operation, "list")
      assert.strictEqual(listError.stream, "s")

      // a key of the wrong type (WRONGTYPE from Redis)
      yield* Effect.promise(() => redis.set(keys.workers, "x"))
      const wrongType = yield* expectCheckpointerError("heartbeat", a.heartbeat("s"))
      assert.strictEqual(wrongType.operation, "heartbeat")
      assert.include(wrongType.message, "WRONGTYPE")
    }))

  it.scopedLive("a client passed in is used (once ready) and not closed by the layer", () =>
    Effect.gen(function*() {
      const keyPrefix = freshPrefix("own-client")
      // just created, not connected yet, and without an offline queue
      const client = new Redis(url(), RedisCheckpointer.clientOptions())
      yield* Effect.addFinalizer(() => Effect.promise(() => client.quit()))
      const lease = yield* Effect.gen(function*() {
        const checkpointer = yield* Checkpointer.Checkpointer
        const [lease] = acquired(yield* checkpointer.acquire("s", "shard-0"))
        yield* checkpointer.checkpoint(lease, { sequenceNumber: seq(1) })
        return lease
      }).pipe(Effect.provide(RedisCheckpointer.layer({ group: "g", keyPrefix, redis: client, workerId: "a" })))
      assert.strictEqual(lease.owner, "a")
      assert.strictEqual(client.status, "ready")
      assert.strictEqual(yield* Effect.promise(() => client.ping()), "PONG")
      const shards = RedisCheckpointer.keys({ keyPrefix, group: "g" }, "s").shards
      assert.include((yield* Effect.promise(() => client.hget(shards, "shard-0")))!, seq(1))

      // a lazyConnect client is connected by make
      const lazy = new Redis(url(), { ...RedisCheckpointer.clientOptions(), lazyConnect: true })
      yield* Effect.addFinalizer(() => Effect.promise(() => lazy.quit()))
      assert.strictEqual(lazy.status, "wait")
      const other = yield* RedisCheckpointer.make({ group: "g", keyPrefix, redis: lazy, workerId: "b" })
      assert.strictEqual(Option.getOrThrow(yield* other.get("s", "shard-0")).owner, "a")
      assert.strictEqual(lazy.status, "ready")
    }))

  it.scopedLive("a client the layer creates (from RedisOptions) is quit with the scope", () =>
    Effect.gen(function*() {
      const redis = yield* inspector()
      const { host, port } = inject("redis")
      const connectionName = freshPrefix("conn").replace(/[^a-z0-9-]/gi, "-")
      const names = Effect.promise(() => redis.client("LIST")).pipe(
        Effect.map((list) => String(list).split("\n").filter((line) => line.includes(`name=${connectionName} `)).length)
      )
      const scope = yield* Scope.make()
      const checkpointer = yield* RedisCheckpointer.make({
        group: "g",
        keyPrefix: freshPrefix("created"),
        redis: { host, port, connectionName }
      }).pipe(Scope.extend(scope))
      assert.isTrue(Option.isSome(yield* checkpointer.acquire("s", "shard-0")))
      assert.strictEqual(yield* names, 1)
      yield* Scope.close(scope, Exit.void)
      yield* names.pipe(Effect.repeat({ until: (n) => n === 0, schedule: Schedule.spaced("20 millis"), times: 50 }))
      assert.strictEqual(yield* names, 0)
    }))

  it.scopedLive("the default workerId is hostname-pid-random; heartbeatInterval a third of sessionTimeout", () =>
    Effect.gen(function*() {
      const a = yield* RedisCheckpointer.make({ group: "g", redis: url(), keyPrefix: freshPrefix("defaults") })
      assert.match(a.workerId, new RegExp(`-${process.pid}-[a-z0-9]+$`))
      assert.isTrue(Duration.equals(a.sessionTimeout, Duration.seconds(30)))
      assert.isTrue(Duration.equals(a.heartbeatInterval, Duration.seconds(10)))
    }))
})

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/** A private redis-server that requires `password`. */
const passwordServer = (password: string) =>
  Effect.gen(function*() {
    const server = yield* LocalRedis.redisServer()
    const admin = new Redis(server.port, server.host, { maxRetriesPerRequest: 0 })
    yield* Effect.promise(() => admin.config("SET", "requirepass", password))
    admin.disconnect()
    return server
  })

describe("RedisCheckpointer.layerConfig", () => {
  const useCheckpointer = Effect.gen(function*() {
    const checkpointer = yield* Checkpointer.Checkpointer
    const [lease] = acquired(yield* checkpointer.acquire("s", "shard-0"))
    yield* checkpointer.checkpoint(lease, { sequenceNumber: seq(5) })
    return checkpointer.workerId
  })

  /** The stored state of shard-0 of stream `s`, read with the password. */
  const storedState = (serverUrl: string, password: string, keyPrefix: string, group: string) =>
    Effect.gen(function*() {
      const admin = new Redis(serverUrl, { password, maxRetriesPerRequest: 0 })
      yield* Effect.addFinalizer(() => Effect.promise(() => admin.quit()))
      return yield* Effect.promise(() =>
        admin.hget(RedisCheckpointer.keys({ keyPrefix, group }, "s").shards, "shard-0")
      )
    })

  it.scopedLive(
    "layerConfig(RedisCheckpointer.config) reads KINESIS_CHECKPOINT_GROUP, REDIS_URL, REDIS_PASSWORD (Redacted), REDIS_KEY_PREFIX and the worker options",
    () =>
      Effect.gen(function*() {
        const server = yield* passwordServer("s3cret pass")
        const keyPrefix = freshPrefix("config")
        const provider = ConfigProvider.fromMap(
          new Map([
            ["KINESIS_CHECKPOINT_GROUP", "billing"],
            ["KINESIS_CHECKPOINT_WORKER_ID", "cfg-worker"],
            ["KINESIS_CHECKPOINT_SESSION_TIMEOUT", "9 seconds"],
            ["REDIS_URL", server.url],
            ["REDIS_PASSWORD", "s3cret pass"],
            ["REDIS_KEY_PREFIX", keyPrefix]
          ])
        )
        const workerId = yield* useCheckpointer.pipe(
          Effect.provide(RedisCheckpointer.layerConfig(RedisCheckpointer.config)),
          Effect.withConfigProvider(provider)
        )
        assert.strictEqual(workerId, "cfg-worker")
        assert.include((yield* storedState(server.url, "s3cret pass", keyPrefix, "billing"))!, seq(5))

        // the config keeps the password redacted
        const config = yield* RedisCheckpointer.config.pipe(Effect.withConfigProvider(provider))
        assert.strictEqual(config.group, "billing")
        assert.isTrue(Duration.equals(Duration.decode(config.sessionTimeout!), Duration.seconds(9)))
        assert.strictEqual(String(config.password), "<redacted>")
        assert.notInclude(JSON.stringify(config), "s3cret")
      })
  )

  it.scopedLive("layerConfig with one Config per option: the group fixed in code, a URL or RedisOptions read", () =>
    Effect.gen(function*() {
      const server = yield* passwordServer("per field")
      const keyPrefix = freshPrefix("fields")
      const provider = ConfigProvider.fromMap(new Map([["MY_REDIS", server.url], ["MY_PASSWORD", "per field"]]))
      const workerId = yield* useCheckpointer.pipe(
        Effect.provide(RedisCheckpointer.layerConfig({
          group: Config.succeed("orders-app"),
          redis: Config.string("MY_REDIS"),
          password: Config.redacted("MY_PASSWORD"),
          keyPrefix: Config.succeed(keyPrefix),
          workerId: Config.succeed("field-worker")
        })),
        Effect.withConfigProvider(provider)
      )
      assert.strictEqual(workerId, "field-worker")
      assert.include((yield* storedState(server.url, "per field", keyPrefix, "orders-app"))!, seq(5))

      // ioredis RedisOptions as the connection: the password from Config is added to them
      const otherPrefix = freshPrefix("options")
      yield* useCheckpointer.pipe(
        Effect.provide(RedisCheckpointer.layerConfig({
          group: Config.succeed("orders-app"),
          redis: Config.succeed({ host: server.host, port: server.port }),
          password: Config.redacted("MY_PASSWORD"),
          keyPrefix: Config.succeed(otherPrefix)
        })),
        Effect.withConfigProvider(provider)
      )
      assert.include((yield* storedState(server.url, "per field", otherPrefix, "orders-app"))!, seq(5))

      // a missing field fails the layer with a ConfigError naming it
      const missing = yield* Effect.flip(
        Layer.build(RedisCheckpointer.layerConfig({ group: Config.succeed("g"), redis: Config.string("MY_REDIS") }))
          .pipe(
            Effect.scoped,
            Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
          )
      )
      assert.isTrue(ConfigError.isConfigError(missing), `expected a ConfigError, got ${String(missing)}`)
      assert.include(String(missing), "MY_REDIS")
    }))

  it.scopedLive("REDIS_PASSWORD replaces a password in the URL; without a password the layer fails", () =>
    Effect.gen(function*() {
      const server = yield* passwordServer("right")
      const withWrongInUrl = `redis://default:wrong@${server.host}:${server.port}`
      yield* useCheckpointer.pipe(
        Effect.provide(RedisCheckpointer.layerConfig(RedisCheckpointer.config)),
        Effect.withConfigProvider(
          ConfigProvider.fromMap(
            new Map([["KINESIS_CHECKPOINT_GROUP", "g"], ["REDIS_URL", withWrongInUrl], ["REDIS_PASSWORD", "right"]])
          )
        )
      )
      // options that are not in the environment: map the config
      const quick = RedisCheckpointer.config.pipe(
        Config.map((c): RedisCheckpointer.RedisCheckpointerConfig => ({ ...c, connectTimeout: "2 seconds" }))
      )
      const noPassword = yield* expectCheckpointerError(
        "no password",
        useCheckpointer.pipe(
          Effect.provide(RedisCheckpointer.layerConfig(quick)),
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["KINESIS_CHECKPOINT_GROUP", "g"], ["REDIS_URL", server.url]]))
          )
        )
      )
      assert.strictEqual(noPassword.operation, "connect")
      assert.notInclude(noPassword.message, "right")
    }))

  it.effect("KINESIS_CHECKPOINT_GROUP and REDIS_URL are required; REDIS_URL must be redis:// or rediss://", () =>
    Effect.gen(function*() {
      const group = ["KINESIS_CHECKPOINT_GROUP", "g"] as const
      const missing = yield* Effect.flip(
        RedisCheckpointer.config.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([group]))))
      )
      assert.include(String(missing), "REDIS_URL")
      const noGroup = yield* Effect.flip(
        RedisCheckpointer.config.pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", "redis://localhost:6379"]])))
        )
      )
      assert.include(String(noGroup), "KINESIS_CHECKPOINT_GROUP")
      const http = yield* Effect.flip(
        RedisCheckpointer.config.pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([group, ["REDIS_URL", "http://localhost:6379"]])))
        )
      )
      assert.include(String(http), "redis://")
      const tls = yield* RedisCheckpointer.config.pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([group, ["REDIS_URL", "rediss://cache.example:6380/2"]]))
        )
      )
      assert.deepStrictEqual(tls, { group: "g", redis: "rediss://cache.example:6380/2" })
      // layerConfig fails with the ConfigError when REDIS_URL is missing
      const layerError = yield* Effect.flip(
        Layer.build(RedisCheckpointer.layerConfig(RedisCheckpointer.config)).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([group])))
        )
      )
      assert.isTrue(ConfigError.isConfigError(layerError), `expected a ConfigError, got ${String(layerError)}`)
    }))
})

// ---------------------------------------------------------------------------------------------
// connection loss
// ---------------------------------------------------------------------------------------------

describe("RedisCheckpointer on a redis-server that goes away", () => {
  it.scopedLive("a server that cannot be reached fails make quickly with a CheckpointerError", () =>
    Effect.gen(function*() {
      // a port nobody listens on: start a server for a free port, stop it
      const port = yield* Effect.scoped(Effect.map(LocalRedis.redisServer(), (s) => s.port))
      const [error, elapsed] = yield* timed(
        expectCheckpointerError(
          "make",
          Effect.scoped(RedisCheckpointer.make({ group: "g", redis: `redis://127.0.0.1:${port}` }))
        )
      )
      assert.strictEqual(error.operation, "connect")
      assert.include(error.message, `127.0.0.1:${port}`)
      assert.isBelow(elapsed, 1_000)
    }))

  it.scopedLive(
    "stopped: every operation fails fast with a CheckpointerError; restarted on the same port: operations work again",
    () =>
      Effect.gen(function*() {
        const first = yield* Scope.make()
        const server = yield* LocalRedis.redisServer().pipe(Scope.extend(first))
        const keyPrefix = freshPrefix("restart")
        const a = yield* RedisCheckpointer.make({
          group: "g",
          keyPrefix,
          redis: server.url,
          workerId: "a",
          sessionTimeout: "10 seconds"
        })
        const [lease] = acquired(yield* a.acquire("s", "shard-0"))
        yield* a.checkpoint(lease, { sequenceNumber: seq(1) })
        yield* a.heartbeat("s")

        yield* Scope.close(first, Exit.void)
        const ops: ReadonlyArray<
          readonly [string, Effect.Effect<unknown, Checkpointer.LeaseLost | Checkpointer.CheckpointerError>]
        > = [
          ["acquire", a.acquire("s", "shard-1")],
          ["renew", a.renew(lease)],
          ["checkpoint", a.checkpoint(lease, { sequenceNumber: seq(2) })],
          ["markEnded", a.markEnded(lease)],
          ["release", a.release(lease)],
          ["requestHandOff", a.requestHandOff("s", "shard-0", "b")],
          ["get", a.get("s", "shard-0")],
          ["list", a.list("s")],
          ["heartbeat", a.heartbeat("s")],
          ["workers", a.workers("s")],
          ["leave", a.leave("s")]
        ]
        for (const [operation, op] of ops) {
          const [error, elapsed] = yield* timed(expectCheckpointerError(operation, op))
          assert.strictEqual(error.operation, operation)
          assert.strictEqual(error.stream, "s")
          assert.isBelow(elapsed, 250, `${operation} took ${elapsed} ms to fail`)
        }

        // the same port again: the client reconnects by itself (at most a second between attempts)
        yield* LocalRedis.redisServer({ port: server.port })
        const [, reconnected] = yield* timed(
          a.list("s").pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 150 }))
        )
        assert.isBelow(reconnected, 2_500)
        // without persistence the data is gone: the old lease is lost, the shard is free again
        assert.deepStrictEqual(yield* a.list("s"), [])
        const lost = yield* Effect.flip(a.renew(lease))
        assert.strictEqual(lost._tag, "LeaseLost")
        if (lost._tag === "LeaseLost") {
          assert.strictEqual(lost.currentOwner, undefined)
          assert.strictEqual(lost.currentLeaseCounter, 0)
        }
        const [again, state] = acquired(yield* a.acquire("s", "shard-0"))
        assert.strictEqual(again.leaseCounter, 1)
        assert.strictEqual(state.checkpoint, undefined)
        yield* a.checkpoint(again, { sequenceNumber: seq(3) })
        yield* a.heartbeat("s")
        assert.deepStrictEqual((yield* a.workers("s")).map((w) => w.workerId), ["a"])
      }),
    30_000
  )

  it.scopedLive(
    "a server that stops answering (SIGSTOP) fails operations after commandTimeout",
    () =>
      Effect.gen(function*() {
        const server = yield* LocalRedis.redisServer()
        const redis = yield* inspector(server.url)
        const info = yield* Effect.promise(() => redis.info("server"))
        const pid = Number(/process_id:(\d+)/.exec(info)?.[1])
        const a = yield* RedisCheckpointer.make({
          group: "g",
          keyPrefix: freshPrefix("frozen"),
          redis: server.url,
          workerId: "a",
          commandTimeout: "300 millis"
        })
        const [lease] = acquired(yield* a.acquire("s", "shard-0"))

        yield* Effect.acquireRelease(
          Effect.sync(() => process.kill(pid, "SIGSTOP")),
          () => Effect.sync(() => process.kill(pid, "SIGCONT"))
        )
        const [error, elapsed] = yield* timed(
          expectCheckpointerError("checkpoint", a.checkpoint(lease, { sequenceNumber: seq(1) }))
        )
        assert.strictEqual(error.operation, "checkpoint")
        assert.strictEqual(error.shardId, "shard-0")
        assert.isAtLeast(elapsed, 250)
        assert.isBelow(elapsed, 1_000)
        process.kill(pid, "SIGCONT")
        // answering again: the timed-out write may or may not have landed; the lease still works
        yield* a.checkpoint(lease, { sequenceNumber: seq(2) }).pipe(
          Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 40 })
        )
        assert.strictEqual(Option.getOrThrow(yield* a.get("s", "shard-0")).checkpoint?.sequenceNumber, seq(2))
      }),
    30_000
  )
})
