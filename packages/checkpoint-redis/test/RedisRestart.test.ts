/**
 * A consumer over Redis while its Redis server is restarted (the test owns that redis-server): the
 * consumer keeps reading what it holds while it cannot renew, stops when its leases would have expired,
 * and takes the shards again once Redis is back (a server without persistence has forgotten every
 * checkpoint: the shards start again from TRIM_HORIZON) — every record is delivered, none is lost.
 */
import { RedisCheckpointer } from "@effect-kinesis/checkpoint-redis"
import { Consumer, Kinesis, Producer } from "@effect-kinesis/core"
import { LocalRedis } from "@effect-kinesis/local"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Logger, LogLevel, Scope, Stream } from "effect"
import { inject } from "vitest"

const credentials = { accessKeyId: "local", secretAccessKey: "local" }

describe("Consumer over Redis, Redis restarted mid-run", () => {
  it.live("recovers and delivers every record", () =>
    Effect.gen(function*() {
      const { endpoint, region } = inject("kinesalite")
      const kinesis = Kinesis.layer({ endpoint, region, credentials })
      const stream = `redis-restart-${process.pid}-${Date.now().toString(36)}`
      yield* Kinesis.createStream({ streamName: stream, shardCount: 2, waitUntilActive: true }).pipe(
        Effect.provide(kinesis)
      )
      const produce = (from: number, count: number) =>
        Stream.range(from, from + count - 1).pipe(
          Stream.run(Producer.sink<number>({ stream, shardLimits: false })),
          Effect.provide(kinesis)
        )

      // the test's own redis-server, on a port it can start again
      let redisScope = yield* Scope.make()
      const redis = yield* Scope.extend(LocalRedis.redisServer(), redisScope)

      const seen = new Set<number>()
      const consumer = yield* Consumer.stream<number>({
        stream,
        idleDelay: "100 millis",
        shardRefreshInterval: "1 second",
        checkpointInterval: "200 millis"
      }).pipe(
        Stream.runForEach((r) => Effect.sync(() => seen.add(r.value))),
        Effect.provide(Layer.merge(
          kinesis,
          RedisCheckpointer.layer({
            group: "restart",
            redis: redis.url,
            sessionTimeout: "2 seconds",
            commandTimeout: "500 millis"
          })
        )),
        Logger.withMinimumLogLevel(LogLevel.Error), // the outage's warnings are expected
        Effect.fork
      )
      const waitUntil = (what: string, condition: () => boolean, timeoutMs: number) =>
        Effect.gen(function*() {
          const started = Date.now()
          while (!condition()) {
            if (Date.now() - started > timeoutMs) return assert.fail(`${what} within ${timeoutMs} ms`)
            yield* Effect.sleep("50 millis")
          }
        })

      yield* produce(0, 500)
      yield* waitUntil("the first 500 records", () => seen.size >= 500, 15_000)

      // Redis goes away for 3 s (longer than the session), records keep coming
      yield* Scope.close(redisScope, Exit.void)
      yield* produce(500, 500)
      yield* Effect.sleep("3 seconds")
      redisScope = yield* Scope.make()
      yield* Scope.extend(LocalRedis.redisServer({ port: redis.port }), redisScope)
      yield* produce(1000, 500)

      yield* waitUntil("every record after the restart", () => seen.size >= 1500, 30_000)
      for (let n = 0; n < 1500; n++) assert.isTrue(seen.has(n), `record ${n} never delivered`)
      yield* Fiber.interrupt(consumer)
      yield* Scope.close(redisScope, Exit.void)
    }), { timeout: 90_000 })
})
