/**
 * The consumer on the in-memory engine with TestClock: resharding (split, merge, expired parents,
 * discovery at runtime), closed shards marked ended, checkpoints across crashes and graceful
 * shutdowns, restarts inside KPL aggregates.
 */
import { Checkpointer, Consumer, Kinesis, KinesisTest, Processor, Producer, StreamAddress } from "@effect-kinesis/core"
import { withClock } from "@effect-kinesis/core/testing/Pipeline"
import { assert, describe, it } from "@effect/vitest"
import {
  Array as Arr,
  Chunk,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Ref,
  Schedule,
  Schema,
  Scope,
  Stream,
  TestClock
} from "effect"

const Keyed = Schema.Struct({ k: Schema.String, n: Schema.Number })
type Keyed = typeof Keyed.Type

/** Writes `count` records over `keys` partition keys, numbered per key from `from`. */
const produce = (from: number, count: number, keys = 10) =>
  Stream.range(from, from + count - 1).pipe(
    Stream.map((i) => Producer.record<Keyed>({ k: `key-${i % keys}`, n: i }, { partitionKey: `key-${i % keys}` })),
    Stream.run(Producer.sink<Keyed>({ stream: "s", shardLimits: false }))
  )

/** Every key's first deliveries are in increasing order; returns the distinct values seen. */
const assertPerKeyOrder = (values: ReadonlyArray<Keyed>) => {
  const seen = new Set<number>()
  const lastByKey = new Map<string, number>()
  for (const v of values) {
    if (seen.has(v.n)) continue // a redelivery (at-least-once) is not an order violation
    seen.add(v.n)
    const last = lastByKey.get(v.k)
    assert.isTrue(last === undefined || last < v.n, `key ${v.k}: ${v.n} after ${last}`)
    lastByKey.set(v.k, v.n)
  }
  return seen
}

const fast = { idleDelay: "200 millis", shardRefreshInterval: "1 second", checkpointInterval: "500 millis" } as const

const env = (shards: number, store = Checkpointer.makeMemoryStore(), workerId = "w1") =>
  Layer.merge(
    KinesisTest.layer({ streams: { s: { shards } }, limits: false }),
    Checkpointer.layerMemory({ store, workerId, sessionTimeout: "10 seconds" })
  )

/** Consumes until `count` distinct values were seen (or `take` records), collecting values in order. */
const consume = (count: number, options?: Partial<Consumer.ConsumerOptions<Keyed>>) =>
  Effect.gen(function*() {
    const values: Array<Keyed> = []
    const seen = new Set<number>()
    yield* Consumer.stream<Keyed>({ stream: "s", ...fast, ...options }).pipe(
      Stream.tap((r) =>
        Effect.sync(() => {
          values.push(r.value)
          seen.add(r.value.n)
        })
      ),
      Stream.takeUntil(() => seen.size >= count),
      Stream.runDrain
    )
    return values
  })

const checkpointOf = (shardId: string) =>
  Effect.flatMap(Checkpointer.Checkpointer, (c) => c.get("s", shardId)).pipe(
    Effect.map(Option.flatMap((s) => Option.fromNullable(s.checkpoint)))
  )

describe("Consumer", () => {
  describe("resharding", () => {
    it.effect("split: per-key order holds from parent to children; the parent is marked ended", () =>
      Effect.gen(function*() {
        yield* produce(0, 300)
        const [parent] = yield* KinesisTest.shards("s")
        const children = yield* KinesisTest.splitShard("s", parent!.shardId)
        yield* produce(300, 300)
        const values = yield* withClock(consume(600))
        const seen = assertPerKeyOrder(values)
        assert.strictEqual(seen.size, 600)
        // every record of the parent came before any record of a child, key by key (checked above), and
        // the parent is ended in the Checkpointer
        const state = yield* Effect.flatMap(Checkpointer.Checkpointer, (c) => c.get("s", parent!.shardId))
        assert.isTrue(Option.isSome(state) && state.value.ended)
        assert.strictEqual(children.length, 2)
      }).pipe(Effect.provide(env(1))))

    it.effect("merge: the child waits until both parents are read to their end", () =>
      Effect.gen(function*() {
        yield* produce(0, 400, 20)
        const [a, b] = yield* KinesisTest.shards("s")
        yield* KinesisTest.mergeShards("s", a!.shardId, b!.shardId)
        yield* produce(400, 400, 20)
        const shardOf = new Map<number, string>()
        const order: Array<string> = []
        yield* withClock(
          Consumer.stream<Keyed>({ stream: "s", ...fast, recordLimit: 50 }).pipe(
            Stream.tap((r) =>
              Effect.sync(() => {
                shardOf.set(r.value.n, r.shardId)
                order.push(r.shardId)
              })
            ),
            Stream.takeUntil(() => shardOf.size >= 800),
            Stream.runDrain
          )
        )
        const child = (yield* KinesisTest.shards("s")).find((s) => s.parentShardId !== undefined)!
        const firstChild = order.indexOf(child.shardId)
        const lastA = order.lastIndexOf(a!.shardId)
        const lastB = order.lastIndexOf(b!.shardId)
        assert.isAbove(firstChild, lastA)
        assert.isAbove(firstChild, lastB)
        assert.strictEqual(shardOf.size, 800)
      }).pipe(Effect.provide(env(2))))

    it.effect("a parent expired out of retention does not block its children", () =>
      Effect.gen(function*() {
        yield* produce(0, 50)
        const [parent] = yield* KinesisTest.shards("s")
        yield* KinesisTest.splitShard("s", parent!.shardId)
        yield* TestClock.adjust("25 hours") // retention is 24 h: the parent and its records are gone
        const listed = (yield* KinesisTest.shards("s")).map((s) => s.shardId)
        assert.isFalse(listed.includes(parent!.shardId))
        yield* produce(50, 100)
        const values = yield* withClock(consume(100))
        assert.deepStrictEqual(
          Array.from(assertPerKeyOrder(values)).sort((x, y) => x - y),
          Arr.range(50, 149)
        )
      }).pipe(Effect.provide(env(1))))

    it.effect("a reshard while consuming is discovered within the refresh interval", () =>
      Effect.gen(function*() {
        const values: Array<Keyed> = []
        const fiber = yield* Consumer.stream<Keyed>({ stream: "s", ...fast, shardRefreshInterval: "2 seconds" }).pipe(
          Stream.runForEach((r) => Effect.sync(() => values.push(r.value))),
          Effect.fork
        )
        yield* produce(0, 100)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(values.length, 100)
        // UpdateShardCount 1 → 2 (a split); the parent is closed, nothing tells the consumer but listing
        yield* KinesisTest.updateShardCount("s", 2)
        yield* produce(100, 100)
        for (let i = 0; i < 30; i++) yield* TestClock.adjust("100 millis") // 3 s: refresh interval + polls
        assert.strictEqual(assertPerKeyOrder(values).size, 200)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(env(1))))
  })

  describe("checkpoints", () => {
    it.effect("graceful shutdown: the checkpoint is the last record the downstream finished", () =>
      Effect.gen(function*() {
        yield* produce(0, 100)
        const scope = yield* Scope.make()
        const consumer = yield* Scope.extend(Consumer.make<Keyed>({ stream: "s", ...fast, chunkSize: 10 }), scope)
        const done = yield* Deferred.make<void>()
        const seen: Array<Consumer.ConsumerRecord<Keyed>> = []
        // the downstream processes 4 chunks of 10, then waits (between chunks) for the shutdown
        const fiber = yield* consumer.records.pipe(
          Stream.runForEachChunk((chunk) =>
            Effect.suspend(() => {
              for (const r of chunk) seen.push(r)
              return seen.length >= 40 ? Deferred.succeed(done, undefined) : Effect.void
            })
          ),
          Effect.fork
        )
        yield* withClock(Deferred.await(done))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(fiber)
        yield* Scope.close(scope, Exit.void)
        const last = seen[seen.length - 1]!
        const checkpoint = yield* checkpointOf(last.shardId)
        assert.deepStrictEqual(Option.getOrThrow(checkpoint), { sequenceNumber: last.sequenceNumber })
        const state = yield* Effect.flatMap(Checkpointer.Checkpointer, (c) => c.get("s", last.shardId))
        assert.isUndefined(Option.getOrThrow(state).owner) // the lease was released
      }).pipe(Effect.provide(env(1))))

    it.effect("a crash before the checkpoint: a new worker redelivers from the last checkpoint", () => {
      const store = Checkpointer.makeMemoryStore()
      const kinesis = KinesisTest.layer({ streams: { s: { shards: 1 } }, limits: false })
      return Effect.gen(function*() {
        yield* produce(0, 100)
        // worker 1 processes 60 records with checkpoints every 30, then its store "goes away" (the process
        // dies): its final checkpoint and release never land
        const crashed = yield* Ref.make(false)
        const crashable = Layer.effect(
          Checkpointer.Checkpointer,
          Effect.map(
            Checkpointer.makeMemory({ store, workerId: "w1", sessionTimeout: "10 seconds" }),
            (service): Checkpointer.Service => {
              const guard = <X, E>(
                operation: string,
                effect: Effect.Effect<X, E>
              ): Effect.Effect<X, E | Checkpointer.CheckpointerError> =>
                Effect.flatMap(Ref.get(crashed), (dead): Effect.Effect<X, E | Checkpointer.CheckpointerError> =>
                  dead
                    ? Effect.fail(new Checkpointer.CheckpointerError({ operation, message: "crashed" }))
                    : effect)
              return {
                ...service,
                checkpoint: (lease, checkpoint) => guard("checkpoint", service.checkpoint(lease, checkpoint)),
                release: (lease) => guard("release", service.release(lease)),
                renew: (lease) => guard("renew", service.renew(lease))
              }
            }
          )
        )
        yield* withClock(
          Consumer.stream<Keyed>({ stream: "s", ...fast, chunkSize: 10, checkpointEvery: 30 }).pipe(
            // the process dies while the downstream handles record 65
            Stream.tap((r) => r.value.n === 65 ? Ref.set(crashed, true) : Effect.void),
            Stream.tap(() => Effect.sleep("10 millis")), // a downstream that takes time: the writer runs
            Stream.take(66),
            Stream.runDrain,
            Effect.provide(crashable)
          )
        )
        const stored = Option.getOrThrow(
          yield* Effect.flatMap(
            Checkpointer.makeMemory({ store, workerId: "probe" }),
            (c) => c.get("s", "shardId-000000000000")
          )
        )
        assert.strictEqual(stored.owner, "w1") // never released: the lease must expire
        // worker 2 after the dead worker's lease expired: starts right after the stored checkpoint
        yield* TestClock.adjust("11 seconds")
        const secondRun: Array<number> = []
        yield* withClock(
          Consumer.stream<Keyed>({ stream: "s", ...fast }).pipe(
            Stream.tap((r) => Effect.sync(() => secondRun.push(r.value.n))),
            Stream.takeUntil((r) => r.value.n === 99),
            Stream.runDrain,
            Effect.provide(Checkpointer.layerMemory({ store, workerId: "w2", sessionTimeout: "10 seconds" }))
          )
        )
        const resumedAt = secondRun[0]!
        assert.isAtMost(resumedAt, 60) // records processed after the last checkpoint are delivered again
        assert.isAtLeast(resumedAt, 30) // the checkpoints written before the crash are used
        assert.deepStrictEqual(secondRun, Arr.range(resumedAt, 99))
      }).pipe(Effect.provide(kinesis))
    })

    it.effect("a restart inside a KPL aggregate does not redeliver its finished sub-records", () =>
      Effect.gen(function*() {
        // 1 aggregate of 100 user records
        yield* Stream.range(0, 99).pipe(
          Stream.map((n) => ({ k: `key-${n % 10}`, n })),
          Stream.run(
            Producer.sink({ stream: "s", processor: Processor.schema(Keyed, Processor.kplJson), shardLimits: false })
          )
        )
        assert.strictEqual((yield* KinesisTest.records("s")).length, 1)
        const options = { stream: "s", ...fast, processor: Processor.schema(Keyed, Processor.kplJson) }
        // first run: process 37 sub-records (chunks of 1), checkpoint at the 37th, stop
        const first = yield* withClock(
          Consumer.stream<Keyed>({ ...options, chunkSize: 1, checkpoint: "manual" }).pipe(
            Stream.take(37),
            Stream.tap((r) => r.subSequenceNumber === 36 ? r.checkpoint : Effect.void),
            Stream.runCollect
          )
        )
        assert.strictEqual(Chunk.unsafeLast(first).subSequenceNumber, 36)
        const [record] = yield* KinesisTest.records("s")
        assert.deepStrictEqual(Option.getOrThrow(yield* checkpointOf(record!.shardId)), {
          sequenceNumber: record!.sequenceNumber,
          subSequenceNumber: 36
        })
        // second run resumes at sub-record 37
        const second = yield* withClock(
          Consumer.stream<Keyed>(options).pipe(Stream.take(63), Stream.runCollect)
        )
        assert.deepStrictEqual(Chunk.toReadonlyArray(second).map((r) => r.subSequenceNumber), Arr.range(37, 99))
      }).pipe(Effect.provide(env(1))))
  })

  it.effect("every GetRecords call counts against shardFetchRate, retried ones too: the rate holds through throttling", () =>
    Effect.gen(function*() {
      yield* produce(0, 100)
      // three throttled GetRecords in a row, retried by a schedule much faster than the fetch spacing
      yield* KinesisTest.failNext("getRecords", { error: "ProvisionedThroughputExceeded", times: 3 })
      const fiber = yield* Effect.fork(
        Consumer.stream<Keyed>({
          stream: "s",
          ...fast,
          idleDelay: "0 millis",
          shardFetchRate: 5,
          retrySchedule: Schedule.spaced("10 millis")
        }).pipe(Stream.runDrain)
      )
      for (let i = 0; i < 40; i++) yield* TestClock.adjust("50 millis")
      yield* Fiber.interrupt(fiber)
      const reads = (yield* KinesisTest.calls).filter((c) => c.operation === "getRecords")
      assert.isAtLeast(reads.length, 8)
      assert.isTrue(reads.slice(0, 3).every((c) => c.error === "ProvisionedThroughputExceeded"))
      // 5 calls per second: at least 200 ms between two calls of the shard, whatever they answered
      for (let i = 1; i < reads.length; i++) {
        assert.isAtLeast(reads[i]!.time - reads[i - 1]!.time, 200, `call ${i} at ${reads[i]!.time}`)
      }
    }).pipe(Effect.provide(env(1))))

  it.effect("a slow downstream is fed from every shard in turn (no shard starves)", () =>
    Effect.gen(function*() {
      // 4 shards with 300 records each; the downstream takes one chunk per 10 ms
      yield* produce(0, 1200, 40)
      const order: Array<string> = []
      yield* withClock(
        Consumer.stream<Keyed>({
          stream: "s",
          ...fast,
          maxBufferRecords: 20,
          chunkSize: 10,
          recordLimit: 50,
          shardFetchRate: 100
        }).pipe(
          Stream.mapChunksEffect((chunk) => Effect.as(Effect.sleep("10 millis"), chunk)),
          Stream.tap((r) => Effect.sync(() => order.push(r.shardId))),
          Stream.take(400),
          Stream.runDrain
        ),
        "10 millis"
      )
      const counts = new Map<string, number>()
      for (const shardId of order) counts.set(shardId, (counts.get(shardId) ?? 0) + 1)
      // the first 400 records come from all four shards, about evenly
      assert.strictEqual(counts.size, 4)
      for (const [shardId, n] of counts) assert.isAtLeast(n, 60, `${shardId}: ${n} of the first 400`)
    }).pipe(Effect.provide(env(4))))

  it.effect("records are decoded when the downstream takes them, not while they wait in the buffer", () =>
    Effect.gen(function*() {
      yield* produce(0, 3000)
      let decoded = 0
      const counting = Processor.make<Keyed>({
        name: "counting",
        serializer: {
          encode: Processor.json.serializer.encode,
          decode: (data) => {
            decoded++
            return Processor.json.serializer.decode(data) as Keyed
          }
        },
        aggregator: Processor.singleAggregator
      })
      const pull = yield* Stream.toPull(
        Consumer.stream<Keyed>({
          stream: "s",
          ...fast,
          processor: counting,
          maxBufferRecords: 1000,
          chunkSize: 100,
          recordLimit: 500,
          shardFetchRate: 1000
        })
      )
      const first = yield* withClock(pull, "10 millis")
      assert.strictEqual(Chunk.size(first), 100)
      // the reader goes on until the buffer is full: 1,000 records wait, none of them decoded
      yield* withClock(Effect.sleep("1 second"), "10 millis")
      const read = (yield* KinesisTest.calls).filter((c) => c.operation === "getRecords")
        .reduce((n, c) => n + c.records, 0)
      assert.isAtLeast(read, 1000)
      assert.strictEqual(decoded, 100)
      const second = yield* pull
      assert.strictEqual(Chunk.size(second), 100)
      assert.strictEqual(decoded, 200)
    }).pipe(Effect.scoped, Effect.provide(env(1))))

  it.effect("records carry shard, sequence, partition key and arrival time", () =>
    Effect.gen(function*() {
      yield* produce(0, 5)
      const got = yield* withClock(
        Consumer.stream<Keyed>({ stream: "s", ...fast }).pipe(Stream.take(5), Stream.runCollect)
      )
      const stored = yield* KinesisTest.records("s")
      for (const [r, s] of Arr.zip(Chunk.toReadonlyArray(got), stored)) {
        assert.strictEqual(r.shardId, s.shardId)
        assert.strictEqual(r.sequenceNumber, s.sequenceNumber)
        assert.strictEqual(r.partitionKey, s.partitionKey)
        assert.strictEqual(r.approximateArrivalTimestamp.getTime(), s.approximateArrivalTimestamp.getTime())
        assert.isUndefined(r.subSequenceNumber)
      }
    }).pipe(Effect.provide(env(1))))

  it.effect("works with a stream addressed by ARN", () =>
    Effect.gen(function*() {
      yield* produce(0, 5)
      const summary = yield* Kinesis.describeStreamSummary(StreamAddress.unsafeMake("s"))
      const got = yield* withClock(
        Consumer.stream<Keyed>({ stream: summary.streamARN, ...fast }).pipe(Stream.take(5), Stream.runCollect)
      )
      assert.strictEqual(Chunk.size(got), 5)
    }).pipe(Effect.provide(env(1))))
})
