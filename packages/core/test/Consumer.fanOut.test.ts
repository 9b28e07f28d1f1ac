/**
 * Enhanced fan-out on the in-memory engine with TestClock: the engine's stream consumers and
 * SubscribeToShard (registration, AWS's limits, 5-minute subscriptions, the final event at a shard's
 * end), and the consumer's `fanOut` mode over them — 30 minutes of renewed subscriptions with no loss
 * or duplicate, a split and a merge during a subscription (children after parents), a lease lost
 * mid-subscription, a silent subscription renewed by the watchdog, and `Consumer.process` on top.
 */
import { Checkpointer, Consumer, Kinesis, KinesisTest, Producer, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, type Duration, Effect, Exit, Fiber, Layer, Stream, TestClock } from "effect"

interface Value {
  readonly k: number
  readonly i: number
}

const env = (shards: number, store: Checkpointer.MemoryStore, options: KinesisTest.Options = {}, workerId = "w1") =>
  Layer.merge(
    KinesisTest.layer({ streams: { s: { shards } }, ...options }),
    Checkpointer.layerMemory({ store, workerId, sessionTimeout: "3 seconds" })
  )

/** Writes values `from…to-1` over `keys` partition keys. */
const produce = (from: number, to: number, keys: number) =>
  Stream.range(from, to - 1).pipe(
    Stream.map((i): Value => ({ k: i % keys, i })),
    Stream.run(Producer.sink<Value>({ stream: "s", shardLimits: false, partitionKey: (v) => `k${v.k}` }))
  )

const arnOf = Effect.map(
  Effect.flatMap(Kinesis.Kinesis, (k) => k.describeStreamSummary(StreamAddress.unsafeMake("s"))),
  (s) => s.streamARN
)

const failureOf = <A, E>(exit: Exit.Exit<A, E>): string =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail"
    ? (exit.cause.error as { readonly _tag: string })._tag
    : String(exit)

/** Steps the TestClock by `step` until `done()` (or `max` steps). */
const until = (done: () => boolean, step: Duration.DurationInput = "1 second", max = 4_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < max && !done(); i++) yield* TestClock.adjust(step)
    return done()
  })

describe("KinesisTest: enhanced fan-out", () => {
  it.effect("consumers: registered CREATING then ACTIVE, found by name or ARN, listed, limited to 20, deregistered", () =>
    Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const streamARN = yield* arnOf
      const c = yield* kinesis.registerStreamConsumer({ streamARN, consumerName: "app" })
      assert.strictEqual(c.consumerStatus, "CREATING")
      assert.isTrue(c.consumerARN.startsWith(`${streamARN}/consumer/app:`))
      assert.strictEqual(
        failureOf(yield* Effect.exit(kinesis.registerStreamConsumer({ streamARN, consumerName: "app" }))),
        "ResourceInUse"
      )
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(
        (yield* kinesis.describeStreamConsumer({ consumerARN: c.consumerARN })).consumerStatus,
        "ACTIVE"
      )
      assert.strictEqual(
        (yield* kinesis.describeStreamConsumer({ streamARN, consumerName: "app" })).consumerARN,
        c.consumerARN
      )
      for (let i = 1; i < 20; i++) yield* kinesis.registerStreamConsumer({ streamARN, consumerName: `app-${i}` })
      assert.strictEqual((yield* kinesis.listStreamConsumers(streamARN)).length, 20)
      assert.strictEqual(
        failureOf(yield* Effect.exit(kinesis.registerStreamConsumer({ streamARN, consumerName: "one-more" }))),
        "LimitExceeded"
      )
      assert.strictEqual(
        failureOf(yield* Effect.exit(kinesis.registerStreamConsumer({ streamARN, consumerName: "bad name" }))),
        "InvalidArgument"
      )
      yield* kinesis.deregisterStreamConsumer({ consumerARN: c.consumerARN })
      assert.strictEqual(
        (yield* kinesis.describeStreamConsumer({ consumerARN: c.consumerARN })).consumerStatus,
        "DELETING"
      )
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(
        failureOf(yield* Effect.exit(kinesis.describeStreamConsumer({ consumerARN: c.consumerARN }))),
        "ResourceNotFound"
      )
      assert.strictEqual((yield* kinesis.listStreamConsumers(streamARN)).length, 19)
    }).pipe(Effect.provide(KinesisTest.layer({ streams: { s: { shards: 1 } }, consumerDuration: "2 seconds" }))))

  it.effect("accessors by stream name: registering is idempotent, listing, deregistering", () =>
    Effect.gen(function*() {
      const stream = StreamAddress.unsafeMake("s")
      const first = yield* Kinesis.registerStreamConsumer({ stream, consumerName: "app" })
      const again = yield* Kinesis.registerStreamConsumer({ stream, consumerName: "app" })
      assert.strictEqual(again.consumerARN, first.consumerARN)
      assert.deepStrictEqual((yield* Kinesis.listStreamConsumers(stream)).map((c) => c.consumerName), ["app"])
      yield* Kinesis.deregisterStreamConsumer({ stream, consumerName: "app" })
      assert.deepStrictEqual(yield* Kinesis.listStreamConsumers(stream), [])
      assert.strictEqual(
        failureOf(yield* Effect.exit(Kinesis.deregisterStreamConsumer({ stream, consumerName: "app" }))),
        "ResourceNotFound"
      )
    }).pipe(Effect.provide(KinesisTest.layer({ streams: { s: { shards: 1 } } }))))

  it.effect("SubscribeToShard: records pushed as written, one subscription and one call per second per shard, 5 minutes", () =>
    Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const streamARN = yield* arnOf
      const { consumerARN } = yield* kinesis.registerStreamConsumer({ streamARN, consumerName: "app" })
      const shardId = "shardId-000000000000"
      const events: Array<Kinesis.SubscribeToShardEvent> = []
      const fiber = yield* kinesis.subscribeToShard({ consumerARN, shardId, position: { type: "TRIM_HORIZON" } }).pipe(
        Stream.runForEach((e) => Effect.sync(() => events.push(e))),
        Effect.fork
      )
      yield* TestClock.adjust("10 millis")
      // a second subscription to the same shard: at once LimitExceeded (one call per second), then ResourceInUse
      const second = () =>
        Stream.runDrain(kinesis.subscribeToShard({ consumerARN, shardId, position: { type: "LATEST" } }))
      assert.strictEqual(failureOf(yield* Effect.exit(second())), "LimitExceeded")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(failureOf(yield* Effect.exit(second())), "ResourceInUse")
      assert.strictEqual((yield* KinesisTest.subscriptions).length, 1)
      yield* produce(0, 30, 3)
      yield* TestClock.adjust("10 millis")
      const pushed = events.flatMap((e) => e.records)
      assert.strictEqual(pushed.length, 30)
      const last = events[events.length - 1]!
      assert.strictEqual(last.continuationSequenceNumber, pushed[29]!.sequenceNumber)
      // heartbeats while nothing is written, and the end after 5 minutes
      yield* TestClock.adjust("4 minutes")
      assert.isAbove(events.length, 40)
      assert.isTrue(
        events.slice(-5).every((e) =>
          e.records.length === 0 && e.continuationSequenceNumber === last.continuationSequenceNumber
        )
      )
      yield* TestClock.adjust("1 minute")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
      assert.strictEqual((yield* KinesisTest.subscriptions).length, 0)
      // AFTER the continuation: nothing repeated
      const again = yield* kinesis.subscribeToShard({
        consumerARN,
        shardId,
        position: { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: last.continuationSequenceNumber! }
      }).pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* produce(30, 31, 3)
      yield* TestClock.adjust("10 millis")
      const next = Chunk.toReadonlyArray(yield* Fiber.join(again))
      assert.deepStrictEqual(next[0]!.records.map((r) => JSON.parse(new TextDecoder().decode(r.data)).i), [30])
    }).pipe(Effect.provide(KinesisTest.layer({ streams: { s: { shards: 1 } } }))))

  it.effect("SubscribeToShard: 2 MiB per second per shard, and the children named at a closed shard's end", () =>
    Effect.gen(function*() {
      const kinesis = yield* Kinesis.Kinesis
      const streamARN = yield* arnOf
      const { consumerARN } = yield* kinesis.registerStreamConsumer({ streamARN, consumerName: "app" })
      const shardId = "shardId-000000000000"
      // 6 MiB in 48 records of 128 KiB
      yield* kinesis.putRecords({
        stream: StreamAddress.unsafeMake("s"),
        records: Array.from({ length: 32 }, (_, i) => ({ data: new Uint8Array(128 * 1024), partitionKey: `k${i}` }))
      })
      yield* kinesis.putRecords({
        stream: StreamAddress.unsafeMake("s"),
        records: Array.from({ length: 16 }, (_, i) => ({ data: new Uint8Array(128 * 1024), partitionKey: `k${i}` }))
      })
      const children = yield* KinesisTest.splitShard("s", shardId)
      const events: Array<{ readonly at: number; readonly event: Kinesis.SubscribeToShardEvent }> = []
      const fiber = yield* kinesis.subscribeToShard({ consumerARN, shardId, position: { type: "TRIM_HORIZON" } }).pipe(
        Stream.runForEach((event) =>
          Effect.flatMap(TestClock.currentTimeMillis, (at) => Effect.sync(() => events.push({ at, event })))
        ),
        Effect.fork
      )
      yield* TestClock.adjust("5 seconds")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)), "the subscription ends after the shard's end")
      const withRecords = events.filter((e) => e.event.records.length > 0)
      assert.strictEqual(withRecords.flatMap((e) => e.event.records).length, 48)
      // no event holds more than a second's 2 MiB (and a record that overdraws it); 6 MiB take over 2 s more
      for (const { event } of withRecords) {
        assert.isAtMost(event.records.reduce((m, r) => m + r.data.length, 0), 2 * 1024 * 1024 + 128 * 1024)
      }
      assert.isAtLeast(withRecords[withRecords.length - 1]!.at - withRecords[0]!.at, 1500)
      const final = events[events.length - 1]!.event
      assert.isUndefined(final.continuationSequenceNumber)
      assert.deepStrictEqual(final.childShards?.map((c) => c.shardId), [...children])
    }).pipe(
      Effect.provide(
        KinesisTest.layer({
          streams: { s: { shards: 1 } },
          limits: { writeBytesPerSecond: false, writeRecordsPerSecond: false }
        })
      )
    ))
})

describe("Consumer fanOut (KinesisTest)", () => {
  const fanOut = { consumerName: "orders-app" }

  it.effect(
    "30 minutes of subscriptions renewed every 5 minutes: every record once, in order per key",
    () =>
      Effect.gen(function*() {
        const store = Checkpointer.makeMemoryStore()
        yield* Effect.gen(function*() {
          const seen: Array<Value> = []
          const fiber = yield* Consumer.stream<Value>({ stream: "s", fanOut }).pipe(
            Stream.runForEach((r) => Effect.sync(() => seen.push(r.value))),
            Effect.fork
          )
          // 30 records every 30 seconds for 30 minutes, over 2 shards
          let written = 0
          for (let t = 0; t < 60; t++) {
            yield* produce(written, written + 30, 7)
            written += 30
            yield* TestClock.adjust("30 seconds")
          }
          yield* until(() => seen.length >= written)
          assert.strictEqual(seen.length, written, "every record delivered")
          assert.strictEqual(new Set(seen.map((v) => v.i)).size, written, "no duplicate")
          for (let k = 0; k < 7; k++) {
            const ofKey = seen.filter((v) => v.k === k).map((v) => v.i)
            assert.deepStrictEqual(ofKey, [...ofKey].sort((a, b) => a - b), `key ${k} in order`)
          }
          const subscribes = (yield* KinesisTest.calls).filter((c) => c.operation === "subscribeToShard")
          // each shard renewed at least every 5 minutes: at least 6 subscriptions per shard in 30 minutes
          assert.isAtLeast(subscribes.filter((c) => c.shardId === "shardId-000000000000").length, 6)
          assert.isAtLeast(subscribes.filter((c) => c.shardId === "shardId-000000000001").length, 6)
          assert.isTrue(subscribes.every((c) => c.outcome === "success"))
          assert.isFalse((yield* KinesisTest.calls).some((c) => c.operation === "getRecords"), "no polling")
          yield* Fiber.interrupt(fiber)
        }).pipe(Effect.provide(Layer.merge(
          KinesisTest.layer({ streams: { s: { shards: 2 } } }),
          // the default session (a lease renewal every 10 s): fewer timers for the TestClock to step through
          Checkpointer.layerMemory({ store, workerId: "w1" })
        )))
      }),
    { timeout: 60_000 }
  )

  it.effect(
    "a split and a merge during subscriptions: children after their parents, nothing lost",
    () =>
      Effect.gen(function*() {
        const store = Checkpointer.makeMemoryStore()
        yield* Effect.gen(function*() {
          const seen: Array<{ readonly value: Value; readonly shardId: string }> = []
          const fiber = yield* Consumer.stream<Value>({ stream: "s", fanOut, shardRefreshInterval: "2 seconds" }).pipe(
            Stream.runForEach((r) => Effect.sync(() => seen.push({ value: r.value, shardId: r.shardId }))),
            Effect.fork
          )
          yield* produce(0, 100, 10)
          yield* until(() => seen.length >= 100)
          const [a, b] = yield* KinesisTest.splitShard("s", "shardId-000000000000")
          yield* produce(100, 200, 10)
          yield* TestClock.adjust("1 second")
          const merged = yield* KinesisTest.mergeShards("s", a!, b!)
          yield* produce(200, 300, 10)
          yield* until(() => seen.length >= 300)
          assert.strictEqual(seen.length, 300)
          assert.strictEqual(new Set(seen.map((s) => s.value.i)).size, 300)
          // per key: in order across parent, children and merged child
          for (let k = 0; k < 10; k++) {
            const ofKey = seen.filter((s) => s.value.k === k).map((s) => s.value.i)
            assert.deepStrictEqual(ofKey, [...ofKey].sort((x, y) => x - y), `key ${k} in order`)
          }
          const firstOf = (shardId: string) => seen.findIndex((s) => s.shardId === shardId)
          const lastOf = (shardId: string) => seen.map((s) => s.shardId).lastIndexOf(shardId)
          assert.isAbove(firstOf(a!), lastOf("shardId-000000000000"))
          assert.isAbove(firstOf(merged), Math.max(lastOf(a!), lastOf(b!)), "the merged child after both parents")
          yield* Fiber.interrupt(fiber)
        }).pipe(Effect.provide(env(1, store)))
      }),
    { timeout: 60_000 }
  )

  it.effect("a lease lost mid-subscription closes the subscription; the new owner's checkpoint is untouched", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        let count = 0
        const fiber = yield* Consumer.stream<Value>({ stream: "s", fanOut }).pipe(
          Stream.runForEach(() => Effect.sync(() => count++)),
          Effect.fork
        )
        yield* produce(0, 20, 1)
        yield* until(() => count >= 20, "100 millis")
        assert.strictEqual((yield* KinesisTest.subscriptions).length, 1)
        const [state] = store.shards.get("s")!.values()
        state!.owner = "someone-else"
        state!.leaseCounter += 1
        state!.expiresAt = Number.MAX_SAFE_INTEGER
        const theirs = state!.checkpoint
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual((yield* KinesisTest.subscriptions).length, 0, "the subscription was closed")
        yield* produce(20, 30, 1)
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(count, 20, "nothing read after the loss")
        assert.deepStrictEqual(state!.checkpoint, theirs)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(env(1, store)))
    }))

  it.effect("two workers: leases handed over between subscriptions, ResourceInUse retried, every record once", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      const engine = yield* KinesisTest.make({ streams: { s: { shards: 4 } } })
      const seen: Array<Value> = []
      const worker = (workerId: string) =>
        Consumer.stream<Value>({
          stream: "s",
          fanOut,
          shardRefreshInterval: "5 seconds",
          checkpointInterval: "1 second"
        })
          .pipe(
            Stream.runForEach((r) => Effect.sync(() => seen.push(r.value))),
            Effect.provide(Checkpointer.layerMemory({ store, workerId, sessionTimeout: "3 seconds" })),
            Effect.fork
          )
      yield* Effect.gen(function*() {
        const first = yield* worker("w1")
        yield* produce(0, 200, 20)
        yield* until(() => seen.length >= 200, "250 millis")
        // a second worker joins: two shards are handed over to it; AWS may still hold the previous owner's
        // subscription for a moment, which the new owner meets as ResourceInUse (injected here, twice)
        yield* engine.control.failNext("subscribeToShard", { error: "ResourceInUse", times: 2 })
        const second = yield* worker("w2")
        for (let t = 0; t < 40; t++) {
          yield* produce(200 + t * 10, 210 + t * 10, 20)
          yield* TestClock.adjust("500 millis")
        }
        yield* until(() => seen.length >= 600, "250 millis")
        const owners = new Set([...store.shards.get("s")!.values()].map((state) => state.owner))
        assert.deepStrictEqual([...owners].sort(), ["w1", "w2"], "the shards are shared")
        assert.strictEqual(seen.length, 600)
        assert.strictEqual(new Set(seen.map((v) => v.i)).size, 600, "no record twice")
        for (let k = 0; k < 20; k++) {
          const ofKey = seen.filter((v) => v.k === k).map((v) => v.i)
          assert.deepStrictEqual(ofKey, [...ofKey].sort((a, b) => a - b), `key ${k} in order`)
        }
        // the new owner met ResourceInUse twice, then subscribed (a second later each time)
        const subscribes = (yield* KinesisTest.calls).filter((c) => c.operation === "subscribeToShard")
        const refused = subscribes.filter((c) => c.error === "ResourceInUse")
        assert.strictEqual(refused.length, 2)
        // (an injected failure names no shard) the refused shard was subscribed afterwards: all four are open
        assert.isTrue(subscribes.some((c) => c.outcome === "success" && c.time > refused[1]!.time))
        assert.strictEqual((yield* KinesisTest.subscriptions).length, 4)
        yield* Fiber.interrupt(second)
        yield* Fiber.interrupt(first)
      }).pipe(
        Effect.provide(Layer.succeed(Kinesis.Kinesis, engine.kinesis)),
        Effect.provideService(KinesisTest.KinesisTest, engine.control)
      )
    }))

  it.effect("events that wait for a busy downstream are merged: one chunk, in order, not one per event", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        const chunks: Array<Array<number>> = []
        const busy = yield* Deferred.make<void>()
        const fiber = yield* Consumer.stream<Value>({ stream: "s", fanOut, iteratorType: "TRIM_HORIZON" }).pipe(
          Stream.runForEachChunk((chunk) =>
            Effect.zipRight(
              Effect.sync(() => chunks.push(Chunk.toArray(chunk).map((r) => r.value.i))),
              Deferred.await(busy)
            )
          ),
          Effect.fork
        )
        yield* produce(0, 1, 1)
        yield* until(() => chunks.length === 1, "100 millis")
        // while the downstream holds its first chunk: 20 writes, an event each
        for (let i = 1; i <= 20; i++) {
          yield* produce(i, i + 1, 1)
          yield* TestClock.adjust("100 millis")
        }
        const events = (yield* KinesisTest.calls).filter((c) => c.operation === "subscribeToShard").length
        assert.strictEqual(events, 1, "one subscription")
        yield* Deferred.succeed(busy, undefined)
        yield* until(() => chunks.flat().length === 21, "100 millis")
        assert.deepStrictEqual(chunks.flat(), Array.from({ length: 21 }, (_, i) => i))
        assert.deepStrictEqual(chunks[0], [0])
        assert.isAtMost(chunks.length, 3, `merged, not a chunk per event: ${JSON.stringify(chunks)}`)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(env(1, store)))
    }))

  it.effect("a subscription that goes silent is renewed by the watchdog, from where it was", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      const engine = yield* KinesisTest.make()
      let subscribes = 0
      // the first subscription sends one event, then nothing (a connection gone quiet)
      const silent: Kinesis.Service = {
        ...engine.kinesis,
        subscribeToShard: (request) => {
          subscribes++
          const events = engine.kinesis.subscribeToShard(request)
          return subscribes === 1 ? Stream.concat(Stream.take(events, 1), Stream.never) : events
        }
      }
      yield* Effect.gen(function*() {
        yield* engine.kinesis.createStream({ streamName: "s", shardCount: 1 })
        const seen: Array<number> = []
        yield* produce(0, 10, 1)
        const fiber = yield* Consumer.stream<Value>({ stream: "s", fanOut: { ...fanOut, watchdog: "20 seconds" } })
          .pipe(
            Stream.runForEach((r) => Effect.sync(() => seen.push(r.value.i))),
            Effect.fork
          )
        yield* TestClock.adjust("1 second")
        assert.strictEqual(seen.length, 10)
        yield* produce(10, 20, 1)
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(seen.length, 10, "the silent subscription delivers nothing")
        yield* TestClock.adjust("12 seconds")
        assert.strictEqual(subscribes, 2, "renewed after the watchdog's 20 s")
        assert.deepStrictEqual(seen, Array.from({ length: 20 }, (_, i) => i))
        yield* Fiber.interrupt(fiber)
      }).pipe(
        Effect.provide(Layer.merge(
          Layer.succeed(Kinesis.Kinesis, silent),
          Checkpointer.layerMemory({ store, workerId: "w1" })
        )),
        Effect.provideService(KinesisTest.KinesisTest, engine.control)
      )
    }))

  it.effect("Consumer.process in fan-out mode: handlers run, the watermark is checkpointed, the consumer is registered once", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(0, 200, 20)
        let done = 0
        const fiber = yield* Consumer.process<Value, never, never, never>(
          { stream: "s", fanOut, checkpointInterval: "1 second" },
          () => Effect.sync(() => done++)
        ).pipe(Effect.fork)
        yield* until(() => done >= 200, "100 millis")
        yield* TestClock.adjust("2 seconds")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(done, 200)
        const kinesis = yield* Kinesis.Kinesis
        const consumers = yield* kinesis.listStreamConsumers(yield* arnOf)
        assert.deepStrictEqual(consumers.map((c) => [c.consumerName, c.consumerStatus]), [["orders-app", "ACTIVE"]])
        const all = yield* KinesisTest.records("s")
        const probe = yield* Checkpointer.makeMemory({ store, workerId: "probe" })
        const stored = new Map((yield* probe.list("s")).map((s) => [s.shardId, s.checkpoint?.sequenceNumber]))
        for (const shardId of ["shardId-000000000000", "shardId-000000000001"]) {
          const last = all.filter((r) => r.shardId === shardId).at(-1)
          assert.strictEqual(stored.get(shardId), last?.sequenceNumber)
        }
      }).pipe(Effect.provide(env(2, store)))
    }))
})
