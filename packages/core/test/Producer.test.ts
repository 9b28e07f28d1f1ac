/**
 * The producer on the in-memory engine with TestClock: batching limits, pacing, partial and whole-request
 * failures, per-key order under random throttling, back-pressure, flush on close and on upstream end,
 * bad input, resharding.
 */
import { Kinesis, KinesisTest, Processor, Producer, ShardMap } from "@effect-kinesis/core"
import { withClock } from "@effect-kinesis/core/testing/Pipeline"
import { assert, describe, it } from "@effect/vitest"
import {
  Array as Arr,
  Cause,
  Chunk,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Schedule,
  Schema,
  Scope,
  Stream,
  TestClock
} from "effect"

const decoder = new TextDecoder()
const decode = (data: Uint8Array): unknown => JSON.parse(decoder.decode(data))

const putCalls = Effect.map(KinesisTest.calls, (calls) => calls.filter((c) => c.operation === "putRecords"))

const engine = (shards = 1, limits: Partial<KinesisTest.Limits> | false = false) =>
  KinesisTest.layer({ streams: { s: { shards } }, limits })

describe("Producer", () => {
  describe("batching", () => {
    it.effect("1,201 records go in 3 requests of at most 500, and the sink completes once all are delivered", () =>
      Effect.gen(function*() {
        yield* Stream.range(1, 1201).pipe(Stream.run(Producer.sink({ stream: "s", shardLimits: false })))
        const calls = yield* putCalls
        assert.deepStrictEqual(calls.map((c) => c.records), [500, 500, 201])
        const stored = yield* KinesisTest.records("s")
        assert.deepStrictEqual(stored.map((r) => decode(r.data)), Arr.range(1, 1201))
      }).pipe(Effect.provide(engine())))

    it.effect("a request never exceeds 5 MiB", () =>
      Effect.gen(function*() {
        const big = "x".repeat(100 * 1024)
        yield* Stream.range(1, 120).pipe(
          Stream.map((i) => `${i}:${big}`),
          Stream.run(Producer.sink({ stream: "s", shardLimits: false }))
        )
        const calls = yield* putCalls
        assert.isTrue(calls.length >= 3)
        for (const call of calls) assert.isAtMost(call.bytes, 5 * 1024 * 1024)
        assert.strictEqual(calls.reduce((n, c) => n + c.records, 0), 120)
      }).pipe(Effect.provide(engine(4))))

    it.effect("offer sends a full request before it encodes the rest of its input", () => {
      // how many values had been encoded when each request went out
      let encoded = 0
      const atPut: Array<number> = []
      const counting = Processor.make({
        name: "json, counting encodes",
        serializer: {
          encode: (value: unknown) => {
            encoded++
            return Processor.jsonSerializer.encode(value)
          },
          decode: Processor.jsonSerializer.decode
        },
        aggregator: Processor.singleAggregator
      })
      const watched = Layer.effect(
        Kinesis.Kinesis,
        Effect.map(Kinesis.Kinesis, (kinesis) => ({
          ...kinesis,
          putRecords: (request: Kinesis.PutRecordsRequest) =>
            Effect.suspend(() => {
              atPut.push(encoded)
              return kinesis.putRecords(request)
            })
        }))
      )
      return Effect.gen(function*() {
        const producer = yield* Producer.make({ stream: "s", processor: counting, shardLimits: false })
        yield* producer.offer(Arr.range(1, 1500))
        yield* withClock(producer.flush)
        // one shard: 500 records make a full request, sent before the next 500 are encoded (the
        // records of the first request are not all kept alive, waiting, while the rest are encoded)
        assert.deepStrictEqual(atPut, [500, 1000, 1500])
        assert.strictEqual((yield* KinesisTest.records("s")).length, 1500)
      }).pipe(Effect.scoped, Effect.provide(Layer.provideMerge(watched, engine())))
    })

    it.effect("offer stops taking a large input once every lane holds a full request behind the one in flight", () =>
      Effect.gen(function*() {
        // each PutRecords takes 1 s: the first request stays in flight while offer goes on
        yield* KinesisTest.setLatency("1 second", "putRecords")
        const producer = yield* Producer.make({ stream: "s", shardLimits: false })
        const offering = yield* Effect.fork(producer.offer(Arr.range(1, 5000)))
        yield* Effect.yieldNow()
        // 500 in flight, 500 ready for the next request, and the slice being added when the lane filled:
        // not the 5,000 the queue bound (10,000) would allow
        const accepted = (yield* producer.pending).records
        assert.isAtMost(accepted, 1500)
        assert.isAtLeast(accepted, 1000)
        assert.isNull(offering.unsafePoll())
        yield* withClock(Fiber.join(offering))
        yield* withClock(producer.flush)
        assert.strictEqual((yield* KinesisTest.records("s")).length, 5000)
      }).pipe(Effect.scoped, Effect.provide(engine())))

    it.effect("a partial batch goes after bufferTime", () =>
      Effect.gen(function*() {
        const producer = yield* Producer.make({ stream: "s", shardLimits: false, bufferTime: "250 millis" })
        yield* producer.put({ n: 1 })
        yield* TestClock.adjust("200 millis")
        assert.strictEqual((yield* putCalls).length, 0)
        yield* TestClock.adjust("60 millis")
        yield* Effect.yieldNow()
        assert.deepStrictEqual((yield* putCalls).map((c) => c.records), [1])
      }).pipe(Effect.scoped, Effect.provide(engine())))
  })

  describe("shard pacing", () => {
    it.effect("paces each shard at the AWS write limits: 3,000 records on one shard take 2 s, none throttled", () =>
      Effect.gen(function*() {
        const start = yield* TestClock.currentTimeMillis
        yield* withClock(
          Stream.range(1, 3000).pipe(Stream.run(Producer.sink({ stream: "s" }))),
          "50 millis"
        )
        const calls = yield* putCalls
        assert.strictEqual(calls.reduce((n, c) => n + c.failedRecords, 0), 0)
        const stored = yield* KinesisTest.records("s")
        assert.strictEqual(stored.length, 3000)
        // a full bucket (1,000) at once, then 1,000 per second
        const elapsed = calls[calls.length - 1]!.time - start
        assert.isAtLeast(elapsed, 1900)
        assert.isAtMost(elapsed, 2200)
      }).pipe(Effect.provide(engine(1, {}))))

    it.effect("shards are paced separately: 4 shards take 4,000 records/s together", () =>
      Effect.gen(function*() {
        const start = yield* TestClock.currentTimeMillis
        yield* withClock(Stream.range(1, 8000).pipe(Stream.run(Producer.sink({ stream: "s" }))), "50 millis")
        const calls = yield* putCalls
        assert.strictEqual(calls.reduce((n, c) => n + c.failedRecords, 0), 0)
        const elapsed = calls[calls.length - 1]!.time - start
        assert.isAtMost(elapsed, 2500) // one shard alone would need ~7 s
      }).pipe(Effect.provide(engine(4, {}))))
  })

  describe("retries", () => {
    it.effect("only the failed records of a partial failure are sent again, after a back-off", () =>
      Effect.gen(function*() {
        yield* KinesisTest.failRecords({ select: [1, 3], errorCode: "ProvisionedThroughputExceededException" })
        yield* withClock(
          Stream.range(1, 5).pipe(Stream.run(Producer.sink({ stream: "s", shardLimits: false }))),
          "10 millis"
        )
        const calls = yield* putCalls
        assert.deepStrictEqual(calls.map((c) => [c.records, c.failedRecords]), [[5, 2], [2, 0]])
        assert.isAtLeast(calls[1]!.time - calls[0]!.time, 80) // 100 ms × jitter ≥ 0.8
        const stored = yield* KinesisTest.records("s")
        assert.deepStrictEqual(stored.map((r) => decode(r.data)).sort(), [1, 2, 3, 4, 5])
      }).pipe(Effect.provide(engine())))

    it.effect("a retryable request error is retried with growing delays", () =>
      Effect.gen(function*() {
        yield* KinesisTest.failNext("putRecords", { error: "ProvisionedThroughputExceeded", times: 3 })
        yield* withClock(
          Stream.range(1, 10).pipe(Stream.run(Producer.sink({ stream: "s", shardLimits: false }))),
          "10 millis"
        )
        const calls = yield* putCalls
        assert.deepStrictEqual(calls.map((c) => c.outcome), ["failure", "failure", "failure", "success"])
        const gaps = calls.slice(1).map((c, i) => c.time - calls[i]!.time)
        assert.isTrue(gaps[1]! > gaps[0]! && gaps[2]! > gaps[1]!, `gaps ${gaps}`)
        assert.strictEqual((yield* KinesisTest.records("s")).length, 10)
      }).pipe(Effect.provide(engine())))

    it.effect("a whole-request LimitExceeded is throttling: retried, not a failure", () =>
      Effect.gen(function*() {
        yield* KinesisTest.failNext("putRecords", { error: "LimitExceeded", times: 2 })
        yield* withClock(
          Stream.range(1, 10).pipe(Stream.run(Producer.sink({ stream: "s", shardLimits: false }))),
          "10 millis"
        )
        const calls = yield* putCalls
        assert.deepStrictEqual(calls.map((c) => c.outcome), ["failure", "failure", "success"])
        assert.strictEqual((yield* KinesisTest.records("s")).length, 10)
      }).pipe(Effect.provide(engine())))

    it.effect("a non-retryable error fails at once, naming every record", () =>
      Effect.gen(function*() {
        yield* KinesisTest.failNext("putRecords", { error: "AccessDenied" })
        const error = yield* Effect.flip(
          Stream.range(1, 3).pipe(Stream.run(Producer.sink({ stream: "s", shardLimits: false })))
        )
        assert.strictEqual(error._tag, "PutRecordsFailed")
        if (error._tag === "PutRecordsFailed") {
          assert.deepStrictEqual(error.failures.flatMap((f) => f.records), [1, 2, 3])
          assert.deepStrictEqual(error.failures.map((f) => f.errorCode), [
            "AccessDenied",
            "AccessDenied",
            "AccessDenied"
          ])
          assert.deepStrictEqual(error.failures.map((f) => f.attempts), [1, 1, 1])
        }
        assert.strictEqual((yield* putCalls).length, 1)
      }).pipe(Effect.provide(engine())))

    it.effect("when retries are exhausted, PutRecordsFailed lists the records with their last error code", () =>
      Effect.gen(function*() {
        yield* KinesisTest.failRecords({ select: [0], errorCode: "InternalFailure", calls: 10 })
        const error = yield* Effect.flip(withClock(
          Stream.make("a", "b").pipe(
            Stream.run(Producer.sink({
              stream: "s",
              shardLimits: false,
              retrySchedule: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2)))
            }))
          ),
          "100 millis"
        ))
        assert.strictEqual(error._tag, "PutRecordsFailed")
        if (error._tag === "PutRecordsFailed") {
          assert.deepStrictEqual(error.failures.map((f) => [f.records, f.errorCode, f.attempts]), [
            [["a"], "InternalFailure", 3]
          ])
        }
        assert.deepStrictEqual((yield* KinesisTest.records("s")).map((r) => decode(r.data)), ["b"])
      }).pipe(Effect.provide(engine())))
  })

  describe("order", () => {
    it.effect("keeps per-key order with 30 % of records throttled at random (10,000 records, 50 keys)", () =>
      Effect.gen(function*() {
        yield* KinesisTest.throttleRecords({ fraction: 0.3 })
        const values = Arr.makeBy(10_000, (i) => ({ key: `key-${i % 50}`, n: i }))
        yield* withClock(
          Stream.fromIterable(values).pipe(
            Stream.rechunk(100),
            Stream.run(Producer.sink({
              stream: "s",
              partitionKey: (v) => v.key,
              shardLimits: false,
              // retry at once: this test is about order, the back-off is tested above
              retrySchedule: Schedule.recurs(100)
            }))
          ),
          "1 second"
        )
        const calls = yield* putCalls
        assert.isAbove(calls.reduce((n, c) => n + c.failedRecords, 0), 1000) // throttling happened
        const stored = (yield* KinesisTest.records("s")).map((r) => decode(r.data) as { key: string; n: number })
        assert.strictEqual(stored.length, 10_000)
        const last = new Map<string, number>()
        const seen = new Set<number>()
        for (const { key, n } of stored) {
          assert.isTrue((last.get(key) ?? -1) < n, `order broken for ${key} at ${n}`)
          last.set(key, n)
          seen.add(n)
        }
        assert.strictEqual(seen.size, 10_000) // nothing twice, nothing lost
      }).pipe(Effect.provide(KinesisTest.layer({ streams: { s: { shards: 4 } }, limits: false, seed: 7 }))))

    it.effect("keeps per-key order across a shard split discovered from the responses", () =>
      Effect.gen(function*() {
        const producer = yield* Producer.make({
          stream: "s",
          partitionKey: (v: { key: string }) => v.key,
          shardLimits: false
        })
        const send = (from: number, to: number) =>
          producer.offer(Arr.range(from, to).map((n) => ({ key: `key-${n % 20}`, n })))
        yield* send(0, 499)
        yield* producer.flush
        const [shard] = yield* KinesisTest.shards("s")
        yield* KinesisTest.splitShard("s", shard!.shardId)
        yield* send(500, 1999)
        yield* producer.flush
        const stored = (yield* KinesisTest.records("s")).map((r) => decode(r.data) as { key: string; n: number })
        assert.strictEqual(stored.length, 2000)
        const byKey = Arr.groupBy(stored, (v) => v.key)
        for (const list of Object.values(byKey)) {
          assert.deepStrictEqual(list.map((v) => v.n), list.map((v) => v.n).sort((a, b) => a - b))
        }
        const shards = yield* KinesisTest.shards("s")
        const children = shards.filter((s) => s.parentShardId === shard!.shardId)
        assert.strictEqual(children.length, 2)
        for (const child of children) assert.isAbove(child.recordCount, 0) // the new map was used
      }).pipe(Effect.scoped, Effect.provide(engine())))
  })

  describe("default keys", () => {
    const countByShard = Effect.map(KinesisTest.records("s"), (stored) => {
      const counts: Record<string, number> = {}
      for (const r of stored) counts[r.shardId] = (counts[r.shardId] ?? 0) + 1
      return counts
    })

    it.effect("records without a key are spread over the shards in proportion to their hash ranges", () =>
      Effect.gen(function*() {
        // shard 0 split in halves: ranges of 1/8, 1/8, 1/4, 1/4, 1/4 of the hash space
        const [first] = yield* KinesisTest.shards("s")
        yield* KinesisTest.splitShard("s", first!.shardId)
        yield* Stream.range(1, 4000).pipe(Stream.run(Producer.sink({ stream: "s", shardLimits: false })))
        const shards = (yield* KinesisTest.shards("s")).filter((s) => s.status === "OPEN")
        const counts = yield* countByShard
        const total = 2n ** 128n
        for (const shard of shards) {
          const width = BigInt(shard.hashKeyRange.endingHashKey) - BigInt(shard.hashKeyRange.startingHashKey) + 1n
          const expected = Number((4000n * width) / total)
          // exact shares (MD5 of random keys would scatter around them)
          assert.strictEqual(counts[shard.shardId], expected, shard.shardId)
        }
        // routed by explicit hash key: the key routes nothing, so it is one short key (its bytes count
        // toward the shard's throughput)
        const keys = new Set((yield* KinesisTest.records("s")).map((r) => r.partitionKey))
        assert.strictEqual(keys.size, 1)
        assert.isAtMost([...keys][0]!.length, 8)
      }).pipe(Effect.provide(engine(4))))

    it.effect("without a shard map (shardMap: skip), records without a key still spread over every shard", () =>
      Effect.gen(function*() {
        // one made-up key for all: routing is by explicit hash keys spread over the whole hash space
        yield* Stream.range(1, 4000).pipe(
          Stream.run(Producer.sink({ stream: "s", shardLimits: false, shardMap: "skip" }))
        )
        const counts = yield* countByShard
        assert.strictEqual(Object.keys(counts).length, 4)
        for (const n of Object.values(counts)) assert.strictEqual(n, 1000)
      }).pipe(Effect.provide(engine(4))))

    it.effect("records with an explicit hash key and no partition key go out together (no key order to keep)", () =>
      Effect.gen(function*() {
        yield* Stream.range(1, 300).pipe(
          Stream.map((n) => Producer.record(n, { explicitHashKey: "0" })),
          Stream.run(Producer.sink({ stream: "s", shardLimits: false }))
        )
        const calls = yield* putCalls
        assert.deepStrictEqual(calls.map((c) => c.records), [300])
        const stored = yield* KinesisTest.records("s")
        assert.strictEqual(new Set(stored.map((r) => r.partitionKey)).size, 300) // a key of their own each
      }).pipe(Effect.provide(engine(4))))

    it.effect("kplJson with default keys: one aggregate per shard, its user records share one key and carry the shard's hash key", () =>
      Effect.gen(function*() {
        yield* Stream.range(1, 400).pipe(
          Stream.run(Producer.sink({ stream: "s", processor: Processor.kplJson, shardLimits: false }))
        )
        const stored = yield* KinesisTest.records("s")
        const shards = yield* KinesisTest.shards("s")
        assert.strictEqual(stored.length, 4)
        const keys = new Set<string>()
        for (const record of stored) {
          const shard = shards.find((s) => s.shardId === record.shardId)!
          const decoded = Processor.kplJson.deaggregate(record, record.shardId)
          assert.isTrue(decoded._tag === "Right")
          if (decoded._tag === "Right") {
            assert.strictEqual(decoded.right.length, 100)
            for (const user of decoded.right) {
              assert.strictEqual(user.explicitHashKey, shard.hashKeyRange.startingHashKey)
              keys.add(user.partitionKey)
            }
          }
        }
        assert.strictEqual(keys.size, 1) // stored once per aggregate, not per user record
      }).pipe(Effect.provide(engine(4))))

    it.effect("records with their own keys are routed by MD5 of the key (same key, same shard)", () =>
      Effect.gen(function*() {
        yield* Stream.range(1, 400).pipe(
          Stream.map((n) => Producer.record(n, { partitionKey: `key-${n % 7}` })),
          Stream.run(Producer.sink({ stream: "s", shardLimits: false }))
        )
        const stored = yield* KinesisTest.records("s")
        const shards = yield* KinesisTest.shards("s")
        for (const r of stored) {
          const expected = Option.getOrThrow(ShardMap.shardFor(ShardMap.make(shards), r.partitionKey))
          assert.strictEqual(r.shardId, expected.shardId)
        }
        assert.strictEqual(new Set(stored.map((r) => r.partitionKey)).size, 7)
      }).pipe(Effect.provide(engine(4))))
  })

  describe("resharding with KPL aggregates", () => {
    it.effect("aggregates not yet sent when a split is discovered are rebuilt for the children", () =>
      Effect.gen(function*() {
        yield* KinesisTest.setLatency("100 millis", "putRecords")
        const producer = yield* Producer.make({
          stream: "s",
          processor: Processor.schema(Schema.Struct({ key: Schema.String, n: Schema.Number }), Processor.kplJson),
          shardLimits: false,
          maxAggregateSize: 300, // a few user records per aggregate
          maxBatchRecords: 1, // one aggregate per request: many wait in the lane
          partitionKey: (v: { key: string }) => v.key
        })
        // the producer still believes in one shard
        const [parent] = yield* KinesisTest.shards("s")
        yield* KinesisTest.splitShard("s", parent!.shardId)
        yield* producer.offer(Arr.range(0, 199).map((n) => ({ key: `key-${n % 20}`, n })))
        yield* withClock(producer.flush, "50 millis")
        const shards = yield* KinesisTest.shards("s")
        const map = ShardMap.make(shards)
        const stored = yield* KinesisTest.records("s")
        let misplaced = 0
        let total = 0
        for (const record of stored) {
          const decoded = Processor.kplJson.deaggregate(record, record.shardId)
          assert.isTrue(decoded._tag === "Right")
          if (decoded._tag !== "Right") continue
          for (const user of decoded.right) {
            total++
            const home = Option.getOrThrow(ShardMap.shardFor(map, user.partitionKey))
            if (home.shardId !== record.shardId) misplaced++
          }
        }
        assert.strictEqual(total, 200)
        // only the aggregate in flight when the split was discovered could land in the wrong child
        assert.isAtMost(misplaced, 10)
      }).pipe(Effect.scoped, Effect.provide(engine())))
  })

  describe("back-pressure and shutdown", () => {
    it.effect("put suspends while the producer holds maxQueueRecords", () =>
      Effect.gen(function*() {
        yield* KinesisTest.setLatency("1 second", "putRecords")
        const producer = yield* Producer.make({ stream: "s", shardLimits: false, maxQueueRecords: 10, bufferTime: 0 })
        for (let i = 0; i < 10; i++) yield* producer.put(i)
        const eleventh = yield* Effect.fork(producer.put(10))
        yield* TestClock.adjust("500 millis")
        assert.isTrue(Option.isNone(yield* Fiber.poll(eleventh)))
        assert.strictEqual((yield* producer.pending).records, 10)
        yield* TestClock.adjust("600 millis")
        yield* Fiber.join(eleventh)
        yield* withClock(producer.flush)
        assert.strictEqual((yield* KinesisTest.records("s")).length, 11)
      }).pipe(Effect.scoped, Effect.provide(engine())))

    it.effect("a writer waiting for room gets it without waiting for bufferTime", () =>
      Effect.gen(function*() {
        const producer = yield* Producer.make({
          stream: "s",
          shardLimits: false,
          maxQueueRecords: 10,
          bufferTime: "1 hour"
        })
        // 25 records through a queue of 10: only possible if full batches go out while the writer waits
        yield* producer.offer(Arr.range(1, 25))
        assert.isAtLeast((yield* putCalls).length, 2)
        assert.isAtLeast((yield* KinesisTest.records("s")).length, 15)
      }).pipe(Effect.scoped, Effect.provide(engine())))

    it.effect("closing the scope delivers everything buffered", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const producer = yield* Scope.extend(
          Producer.make({ stream: "s", shardLimits: false, bufferTime: "1 hour" }),
          scope
        )
        yield* producer.offer(Arr.range(1, 42))
        assert.strictEqual((yield* putCalls).length, 0)
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual((yield* KinesisTest.records("s")).length, 42)
      }).pipe(Effect.provide(engine())))

    it.effect("the shutdown deadline holds while records are retried: nothing is sent after it, and what was not delivered fails", () =>
      Effect.gen(function*() {
        // every PutRecords fails with a retryable 500: without a deadline the retries would go on for ~1 min
        yield* KinesisTest.failNext("putRecords", { error: "KinesisUnknownError", times: Infinity })
        const scope = yield* Scope.make()
        const producer = yield* Scope.extend(
          Producer.make({ stream: "s", shardLimits: false, bufferTime: 0, shutdownTimeout: "500 millis" }),
          scope
        )
        const sent = yield* Effect.fork(producer.send({ n: 0 }))
        yield* producer.offer(Arr.range(1, 9))
        yield* TestClock.adjust("150 millis")
        assert.isAtLeast((yield* putCalls).length, 1)
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* TestClock.adjust("500 millis")
        yield* Effect.yieldNow()
        assert.isTrue(Option.isSome(yield* Fiber.poll(closing)), "the scope closed at the deadline")
        const atDeadline = (yield* putCalls).length
        yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* putCalls).length, atDeadline, "no request after the deadline")
        const error = yield* Effect.flip(Fiber.join(sent))
        assert.strictEqual(error._tag, "PutRecordsFailed")
        // every record is accounted for: none delivered, all ten reported
        const failed = error._tag === "PutRecordsFailed" ? error.failures.flatMap((f) => f.records) : []
        assert.sameDeepMembers(failed, [{ n: 0 }, ...Arr.range(1, 9)])
        assert.strictEqual((yield* KinesisTest.records("s")).length, 0)
      }).pipe(Effect.provide(engine())))

    it.effect("a request still in flight at the shutdown deadline is interrupted and its records fail as ProducerClosed", () =>
      Effect.gen(function*() {
        yield* KinesisTest.setLatency("10 seconds", "putRecords")
        const scope = yield* Scope.make()
        const producer = yield* Scope.extend(
          Producer.make({ stream: "s", shardLimits: false, bufferTime: 0, shutdownTimeout: "500 millis" }),
          scope
        )
        const sent = yield* Effect.fork(producer.send({ n: 1 }))
        yield* TestClock.adjust("10 millis")
        assert.strictEqual((yield* putCalls).length, 0, "the request is still in flight")
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* TestClock.adjust("500 millis")
        yield* Effect.yieldNow()
        assert.isTrue(Option.isSome(yield* Fiber.poll(closing)), "the scope closed at the deadline")
        const error = yield* Effect.flip(Fiber.join(sent))
        assert.strictEqual(error._tag, "PutRecordsFailed")
        const failure = error._tag === "PutRecordsFailed" ? error.failures[0] : undefined
        assert.strictEqual(failure?.errorCode, "ProducerClosed")
        assert.match(failure?.errorMessage ?? "", /may or may not have been written/)
        assert.deepStrictEqual(failure?.records, [{ n: 1 }])
      }).pipe(Effect.provide(engine())))

    it.effect("an interrupted sink stops at the shutdown deadline too", () =>
      Effect.gen(function*() {
        yield* KinesisTest.failNext("putRecords", { error: "KinesisUnknownError", times: Infinity })
        const sink = yield* Effect.fork(
          Stream.range(1, 20).pipe(
            Stream.run(Producer.sink({ stream: "s", shardLimits: false, bufferTime: 0, shutdownTimeout: "300 millis" }))
          )
        )
        yield* TestClock.adjust("100 millis")
        const interrupting = yield* Effect.fork(Fiber.interrupt(sink))
        yield* TestClock.adjust("300 millis")
        yield* Effect.yieldNow()
        assert.isTrue(Option.isSome(yield* Fiber.poll(interrupting)), "interruption ended at the deadline")
        const atDeadline = (yield* putCalls).length
        yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* putCalls).length, atDeadline)
      }).pipe(Effect.provide(engine())))

    it.effect("send waits for delivery and returns the shard and sequence number", () =>
      Effect.gen(function*() {
        const producer = yield* Producer.make({ stream: "s", shardLimits: false })
        const delivery = yield* withClock(producer.send({ hello: "world" }), "10 millis")
        const [stored] = yield* KinesisTest.records("s")
        assert.deepStrictEqual(delivery, { shardId: stored!.shardId, sequenceNumber: stored!.sequenceNumber })
      }).pipe(Effect.scoped, Effect.provide(engine(2))))

    it.effect("sends among offers: each send gets its own record's delivery", () =>
      Effect.gen(function*() {
        const producer = yield* Producer.make({ stream: "s", shardLimits: false, bufferTime: "10 millis" })
        yield* producer.offer(Arr.range(1, 700))
        const sends = yield* Effect.fork(
          Effect.forEach(Arr.range(1, 5), (i) => producer.send({ sent: i }), { concurrency: "unbounded" })
        )
        yield* producer.offer(Arr.range(701, 2000))
        const deliveries = yield* withClock(Fiber.join(sends), "10 millis")
        yield* withClock(producer.flush, "10 millis")
        const stored = yield* KinesisTest.records("s")
        assert.strictEqual(stored.length, 2005)
        for (const [i, delivery] of deliveries.entries()) {
          const record = stored.find((r) => r.sequenceNumber === delivery.sequenceNumber)
          assert.isDefined(record)
          assert.strictEqual(record!.shardId, delivery.shardId)
          assert.deepStrictEqual(decode(record!.data), { sent: i + 1 })
        }
        // a plain offer after the sends have ended is delivered too
        yield* producer.offer(Arr.range(2001, 2600))
        yield* withClock(producer.flush, "10 millis")
        assert.strictEqual((yield* KinesisTest.records("s")).length, 2605)
      }).pipe(Effect.scoped, Effect.provide(engine(3))))
  })

  describe("bad input", () => {
    const badCases = [
      ["an empty partition key", Producer.record(1, { partitionKey: "" }), "InvalidPartitionKey"],
      ["a 257-character partition key", Producer.record(1, { partitionKey: "k".repeat(257) }), "InvalidPartitionKey"],
      [
        "an invalid explicit hash key",
        Producer.record(1, { partitionKey: "k", explicitHashKey: "-1" }),
        "InvalidPartitionKey"
      ],
      ["a value JSON cannot encode", Producer.record(10n, { partitionKey: "k" }), "EncodeError"],
      [
        "a record over maxRecordSize",
        Producer.record("x".repeat(2 * 1024 * 1024), { partitionKey: "k" }),
        "RecordTooLarge"
      ],
      // what a JavaScript caller (no compiler) can pass: typed errors, not defects
      [
        "a partition key that is a number",
        Producer.record(1, { partitionKey: 42 as unknown as string }),
        "InvalidPartitionKey"
      ],
      [
        "an explicit hash key that is a number",
        Producer.record(1, { partitionKey: "k", explicitHashKey: 5 as unknown as string }),
        "InvalidPartitionKey"
      ]
    ] as const

    for (const [name, bad, tag] of badCases) {
      it.effect(`the sink fails with ${tag} for ${name}, after delivering the records before it`, () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(
            Stream.fromIterable<unknown>([1, 2, bad, 4]).pipe(
              Stream.rechunk(1),
              Stream.run(Producer.sink({ stream: "s", shardLimits: false }))
            )
          )
          assert.strictEqual(error._tag, tag)
          assert.deepStrictEqual((yield* KinesisTest.records("s")).map((r) => decode(r.data)), [1, 2])
        }).pipe(Effect.provide(engine())))
    }

    it.effect("a partitionKey function that returns a number or throws fails the sink with InvalidPartitionKey", () =>
      Effect.gen(function*() {
        const keys: Array<(n: number) => string> = [
          (n) => (n === 3 ? 3 : `k-${n}`) as string,
          (n) => {
            if (n === 3) throw new Error("no key for 3")
            return `k-${n}`
          }
        ]
        const reasons: Array<string> = []
        for (const partitionKey of keys) {
          const error = yield* Effect.flip(
            Stream.fromIterable([1, 2, 3, 4]).pipe(
              Stream.rechunk(1),
              Stream.run(Producer.sink({ stream: "s", shardLimits: false, partitionKey }))
            )
          )
          assert.strictEqual(error._tag, "InvalidPartitionKey")
          if (error._tag === "InvalidPartitionKey") reasons.push(error.reason)
        }
        assert.deepStrictEqual(reasons, [
          "a partition key is a string; got a value of type number",
          "the partitionKey function threw: no key for 3"
        ])
        // the records before the bad one were delivered, each time
        assert.deepStrictEqual((yield* KinesisTest.records("s")).map((r) => decode(r.data)).sort(), [1, 1, 2, 2])
      }).pipe(Effect.provide(engine())))

    it.effect("bad input followed by a failed flush: the Cause holds both typed errors", () =>
      Effect.gen(function*() {
        yield* KinesisTest.failNext("putRecords", { error: "AccessDenied" })
        const exit = yield* Stream.fromIterable<unknown>([1, 2, Producer.record(3, { partitionKey: "" })]).pipe(
          Stream.rechunk(1),
          Stream.run(Producer.sink({ stream: "s", shardLimits: false })),
          Effect.exit
        )
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const failures = Chunk.toReadonlyArray(Cause.failures(exit.cause))
          assert.deepStrictEqual(failures.map((e) => e._tag), ["InvalidPartitionKey", "PutRecordsFailed"])
          const putFailed = failures[1]
          assert.isTrue(putFailed?._tag === "PutRecordsFailed")
          if (putFailed?._tag === "PutRecordsFailed") {
            assert.deepStrictEqual(putFailed.failures.flatMap((f) => f.records), [1, 2])
            assert.strictEqual(putFailed.failures[0]?.errorCode, "AccessDenied")
          }
        }
      }).pipe(Effect.provide(engine())))

    it.effect("bad input in one chunk: the valid records before it are delivered", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Stream.fromChunk(Chunk.fromIterable<unknown>([1, 2, Producer.record(3, { partitionKey: "" }), 4])).pipe(
            Stream.run(Producer.sink({ stream: "s", shardLimits: false }))
          )
        )
        assert.strictEqual(error._tag, "InvalidPartitionKey")
        assert.deepStrictEqual((yield* KinesisTest.records("s")).map((r) => decode(r.data)), [1, 2])
      }).pipe(Effect.provide(engine())))

    it.effect("bad input in a chunk spread over shards: the records before it arrive, none twice", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Stream.fromChunk(Chunk.fromIterable<unknown>([...Arr.range(1, 30), 10n, ...Arr.range(32, 60)])).pipe(
            Stream.run(Producer.sink({ stream: "s", shardLimits: false }))
          )
        )
        assert.strictEqual(error._tag, "EncodeError")
        const stored = (yield* KinesisTest.records("s")).map((r) => decode(r.data) as number)
        assert.strictEqual(new Set(stored).size, stored.length) // nothing twice
        for (const n of Arr.range(1, 30)) assert.isTrue(stored.includes(n), `${n} missing`)
      }).pipe(Effect.provide(engine(4))))

    it.effect("a plain value's size counts the made-up key: at maxRecordSize it goes, one byte over is RecordTooLarge", () =>
      Effect.gen(function*() {
        const max = 1000
        const key = 8 // the made-up key: `p-` and 6 characters
        const fits = "a".repeat(max - key - 2) // JSON adds the quotes
        const over = "b".repeat(max - key - 1)
        const error = yield* Effect.flip(
          Stream.fromIterable<unknown>([fits, over, "c"]).pipe(
            Stream.run(Producer.sink({ stream: "s", shardLimits: false, maxRecordSize: max }))
          )
        )
        assert.strictEqual(error._tag, "RecordTooLarge")
        if (error._tag === "RecordTooLarge") {
          assert.strictEqual(error.size, max + 1)
          assert.strictEqual(error.record, over)
          assert.strictEqual(error.partitionKey?.length, key)
        }
        const stored = yield* KinesisTest.records("s")
        assert.deepStrictEqual(stored.map((r) => decode(r.data)), [fits])
        assert.strictEqual(stored[0]!.data.length + stored[0]!.partitionKey.length, max)
      }).pipe(Effect.provide(engine())))

    it.effect("put and send fail for the bad record only; the producer goes on", () =>
      Effect.gen(function*() {
        const producer = yield* Producer.make({ stream: "s", shardLimits: false, processor: Processor.json })
        const bad = yield* Effect.flip(producer.put(1, { partitionKey: "" }))
        assert.strictEqual(bad._tag, "InvalidPartitionKey")
        const unencodable = yield* Effect.flip(producer.send(10n))
        assert.strictEqual(unencodable._tag, "EncodeError")
        yield* producer.put(2)
        yield* withClock(producer.flush)
        assert.deepStrictEqual((yield* KinesisTest.records("s")).map((r) => decode(r.data)), [2])
      }).pipe(Effect.scoped, Effect.provide(engine())))
  })

  describe("aggregation", () => {
    it.effect("kplJson aggregates per shard and every user record arrives", () =>
      Effect.gen(function*() {
        yield* Stream.range(1, 5000).pipe(
          Stream.run(Producer.sink({ stream: "s", processor: Processor.kplJson, shardLimits: false }))
        )
        const stored = yield* KinesisTest.records("s")
        assert.isBelow(stored.length, 100) // 5,000 user records in few Kinesis records
        const values: Array<unknown> = []
        for (const record of stored) {
          const decoded = Processor.kplJson.deaggregate(record, record.shardId)
          assert.isTrue(decoded._tag === "Right")
          if (decoded._tag === "Right") {
            for (const r of decoded.right) values.push(r.value)
          }
        }
        assert.deepStrictEqual(values.sort((a, b) => (a as number) - (b as number)), Arr.range(1, 5000))
      }).pipe(Effect.provide(engine(4))))

    it.effect("every user record of an aggregate belongs to the shard it lands on (KCL drops the aggregate otherwise)", () =>
      Effect.gen(function*() {
        // KCL's deaggregation takes a user record's explicit hash key, else MD5 of its partition key, and
        // drops the rest of the aggregate when that falls outside the shard's range. Made-up keys are
        // routed by weight, not MD5: the records must say where they belong.
        for (const partitionKey of [undefined, (n: number) => `key-${n % 97}`]) {
          yield* Stream.range(1, 4000).pipe(
            Stream.run(
              Producer.sink<number>({
                stream: "s",
                processor: Processor.kplJson as Processor.Processor<number>,
                shardLimits: false,
                partitionKey
              })
            )
          )
        }
        const shards = yield* KinesisTest.shards("s")
        let checked = 0
        for (const shard of shards) {
          const start = BigInt(shard.hashKeyRange.startingHashKey)
          const end = BigInt(shard.hashKeyRange.endingHashKey)
          for (const record of yield* KinesisTest.records("s", shard.shardId)) {
            const decoded = Processor.kplJson.deaggregate(record, shard.shardId)
            assert.isTrue(decoded._tag === "Right")
            if (decoded._tag !== "Right") continue
            for (const user of decoded.right) {
              const key = user.explicitHashKey === undefined
                ? ShardMap.hashKey(user.partitionKey)
                : BigInt(user.explicitHashKey)
              assert.isTrue(key >= start && key <= end, `a user record of ${shard.shardId} is outside its range`)
              checked++
            }
          }
        }
        assert.strictEqual(checked, 8000)
      }).pipe(Effect.provide(engine(4))))
  })
})
