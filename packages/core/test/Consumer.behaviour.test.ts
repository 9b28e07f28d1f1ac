/**
 * The consumer on the in-memory engine with TestClock: many shards over paged listings, expired
 * iterators (with and without a stored checkpoint), per-shard throttling, back-pressure with tiny
 * buffers, decode-error policies, manual checkpoints, status, the per-shard form, lease loss, start
 * positions and `maxShards`.
 */
import {
  Checkpointer,
  Consumer,
  Kinesis,
  KinesisMetrics,
  KinesisTest,
  Producer,
  StreamAddress
} from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import {
  Array as Arr,
  Cause,
  Clock,
  Context,
  Deferred,
  type Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Metric,
  Option,
  Schedule,
  Sink,
  Stream,
  TestClock
} from "effect"
import { advance, openShardIds } from "./utils/testClock.js"

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

type Rec<A = number> = Consumer.ConsumerRecord<A>

const encoder = new TextEncoder()
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))
const notJson = encoder.encode("{not json")

/** Decimal sequence numbers (no leading zeros). */
const compareSeq = (a: string, b: string): number =>
  a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0

const assertOrderedPerShard = (records: ReadonlyArray<Rec<unknown>>) => {
  const last = new Map<string, string>()
  for (const r of records) {
    const previous = last.get(r.shardId)
    if (previous !== undefined) {
      assert.isTrue(
        compareSeq(previous, r.sequenceNumber) < 0,
        `${r.shardId}: ${r.sequenceNumber} came after ${previous}`
      )
    }
    last.set(r.shardId, r.sequenceNumber)
  }
}

const sortedValues = (records: ReadonlyArray<Rec>) => records.map((r) => r.value).sort((a, b) => a - b)

interface EnvOptions {
  readonly shards?: number | undefined
  readonly limits?: Partial<KinesisTest.Limits> | false | undefined
  readonly listShardsPageSize?: number | undefined
  readonly store?: Checkpointer.MemoryStore | undefined
  readonly workerId?: string | undefined
  /** Every GetShardIterator request is appended here (the call log has no position). */
  readonly iteratorLog?: Array<Kinesis.GetShardIteratorRequest> | undefined
  /** GetRecords answers are computed at the call and reach the caller this much later (network transit). */
  readonly getRecordsTransit?: Duration.DurationInput | undefined
}

/** The in-memory engine (stream "s") and a memory Checkpointer. */
const env = (options: EnvOptions = {}) => {
  const log = options.iteratorLog
  const transit = options.getRecordsTransit
  const engine = Layer.effectContext(
    Effect.map(
      KinesisTest.make({
        streams: { s: { shards: options.shards ?? 1 } },
        limits: options.limits ?? false,
        listShardsPageSize: options.listShardsPageSize,
        callLogSize: 100_000
      }),
      (e) => {
        const kinesis: Kinesis.Service = {
          ...e.kinesis,
          getShardIterator: (request) =>
            Effect.zipRight(Effect.sync(() => log?.push(request)), e.kinesis.getShardIterator(request)),
          getRecords: (request) =>
            transit === undefined
              ? e.kinesis.getRecords(request)
              : Effect.tap(e.kinesis.getRecords(request), () => Effect.sleep(transit))
        }
        return Context.make(Kinesis.Kinesis, kinesis).pipe(Context.add(KinesisTest.KinesisTest, e.control))
      }
    )
  )
  return Layer.merge(engine, Checkpointer.layerMemory({ store: options.store, workerId: options.workerId }))
}

/** Writes the values 1…n (or the given ones) with the producer, default keys (spread over every shard). */
const produce = (values: number | ReadonlyArray<number>) =>
  Stream.fromIterable(typeof values === "number" ? Arr.range(1, values) : values).pipe(
    Stream.run(Producer.sink({ stream: "s", shardLimits: false }))
  )

/** The hash key that routes a record to `shardId` (its range's start). */
const hashKeyOf = (shardId: string) =>
  Effect.map(KinesisTest.shards("s"), (shards) => {
    const shard = shards.find((s) => s.shardId === shardId)
    return shard === undefined ? assert.fail(`no shard ${shardId}`) : shard.hashKeyRange.startingHashKey
  })

/** PutRecords directly (raw bytes), every record to the shard `hashKey` selects; the sequence numbers. */
const putRaw = (data: ReadonlyArray<Uint8Array>, hashKey?: string) =>
  Effect.map(
    Kinesis.putRecords({
      stream: StreamAddress.unsafeMake("s"),
      records: data.map((d, i) => ({ data: d, partitionKey: `raw-${i}`, explicitHashKey: hashKey }))
    }),
    (response) =>
      response.records.map((r) => r._tag === "Success" ? r.sequenceNumber : assert.fail(`put failed: ${r.errorCode}`))
  )

interface Collector<A, E> {
  /** Records in delivery order, with the Clock time of each delivery. */
  readonly got: Array<Rec<A>>
  readonly at: Array<number>
  readonly fiber: Fiber.RuntimeFiber<void, E>
  /** Steps the TestClock until `done()` holds or the stream has ended; whether `done()` holds. */
  readonly until: (done: () => boolean, step?: Duration.DurationInput, maxSteps?: number) => Effect.Effect<boolean>
  /** Interrupts the run (unless it ended); its exit. */
  readonly stop: Effect.Effect<Exit.Exit<void, E>>
}

/** Runs `stream` in a fiber, recording every record (`before` runs first, e.g. a slow downstream). */
const collect = <A, E, R>(
  stream: Stream.Stream<Rec<A>, E, R>,
  before?: (record: Rec<A>, index: number) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const got: Array<Rec<A>> = []
    const at: Array<number> = []
    const fiber = yield* Stream.runForEach(stream, (record) =>
      Effect.zipRight(
        before === undefined ? Effect.void : before(record, got.length),
        Effect.map(Clock.currentTimeMillis, (now) => {
          got.push(record)
          at.push(now)
        })
      )).pipe(Effect.fork)
    const until = (done: () => boolean, step: Duration.DurationInput = "200 millis", maxSteps = 1_500) =>
      Effect.gen(function*() {
        for (let i = 0; i < maxSteps && !done(); i++) {
          if (Option.isSome(yield* Fiber.poll(fiber))) break
          yield* TestClock.adjust(step)
        }
        return done()
      })
    const collector: Collector<A, E> = { got, at, fiber, until, stop: Fiber.interrupt(fiber) }
    return collector
  })

const assertStoppedCleanly = <E>(exit: Exit.Exit<void, E>) => {
  if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) assert.fail(Cause.pretty(exit.cause))
}

const positionsOf = (log: ReadonlyArray<Kinesis.GetShardIteratorRequest>, shardId: string) =>
  log.filter((r) => r.shardId === shardId).map((r) => r.position)

const getRecordsCalls = Effect.map(KinesisTest.calls, (calls) => calls.filter((c) => c.operation === "getRecords"))

const storedCheckpoint = (shardId: string) =>
  Effect.flatMap(Checkpointer.Checkpointer, (c) => c.get("s", shardId)).pipe(
    Effect.map((state) => Option.getOrUndefined(state)?.checkpoint)
  )

const counterValue = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (s) => s.count)

// ---------------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------------

describe("Consumer behaviour", () => {
  it.effect("150 shards listed over 4 ListShards pages: every shard is read, every record delivered once", () =>
    Effect.gen(function*() {
      yield* produce(1500)
      const shards = yield* KinesisTest.shards("s")
      assert.strictEqual(shards.length, 150)
      for (const shard of shards) assert.isAbove(shard.recordCount, 0, `${shard.shardId} got no record`)
      yield* KinesisTest.clearCalls

      // (a long idleDelay only keeps 150 idle readers from making the TestClock slow)
      const c = yield* collect(Consumer.stream<number>({ stream: "s", idleDelay: "5 seconds" }))
      assert.isTrue(yield* c.until(() => c.got.length >= 1500))
      yield* advance("6 seconds", "1 second") // anything delivered twice would show up meanwhile
      assertStoppedCleanly(yield* c.stop)

      // the first listing followed every page (40 + 40 + 40 + 30)
      const pages = (yield* KinesisTest.calls).filter((call) => call.operation === "listShards")
      assert.deepStrictEqual(pages.slice(0, 4).map((p) => p.records), [40, 40, 40, 30])

      assert.strictEqual(c.got.length, 1500)
      assert.deepStrictEqual(sortedValues(c.got), Arr.range(1, 1500))
      assert.strictEqual(new Set(c.got.map((r) => r.shardId)).size, 150)
      assertOrderedPerShard(c.got)
      for (const shard of shards) {
        const stored = (yield* KinesisTest.records("s", shard.shardId)).map((r) => r.sequenceNumber)
        const delivered = c.got.filter((r) => r.shardId === shard.shardId).map((r) => r.sequenceNumber)
        assert.deepStrictEqual(delivered, stored, shard.shardId)
      }
    }).pipe(Effect.provide(env({ shards: 150, listShardsPageSize: 40 }))))

  describe("expired iterators", () => {
    it.effect("without a checkpoint: a downstream held 6 minutes loses and repeats nothing, renewal is AFTER_SEQUENCE_NUMBER", () => {
      const log: Array<Kinesis.GetShardIteratorRequest> = []
      return Effect.gen(function*() {
        yield* produce(60)
        const shardIds = yield* openShardIds("s")
        const gate = yield* Deferred.make<void>()
        const c = yield* collect(
          Consumer.stream<number>({ stream: "s", maxBufferRecords: 4, chunkSize: 2, recordLimit: 4 }),
          (_, index) => index === 1 ? Deferred.await(gate) : Effect.void
        )
        yield* advance("2 seconds")
        assert.strictEqual(c.got.length, 1) // the downstream holds the second record
        yield* advance("6 minutes", "10 seconds") // every iterator the readers hold expires
        yield* Deferred.succeed(gate, void 0)
        assert.isTrue(yield* c.until(() => c.got.length >= 60))
        yield* advance("5 seconds", "1 second")
        assertStoppedCleanly(yield* c.stop)

        const expired = (yield* getRecordsCalls).filter((call) => call.error === "ExpiredIterator")
        assert.isAtLeast(expired.length, 1, "no iterator expired: the test did not test expiry")
        assert.strictEqual(c.got.length, 60)
        assert.deepStrictEqual(sortedValues(c.got), Arr.range(1, 60))
        assertOrderedPerShard(c.got)
        for (const shardId of shardIds) {
          const positions = positionsOf(log, shardId)
          assert.strictEqual(positions[0]?.type, "TRIM_HORIZON", shardId)
          for (const position of positions.slice(1)) {
            assert.include(
              ["AFTER_SEQUENCE_NUMBER", "AT_SEQUENCE_NUMBER"],
              position.type,
              `${shardId} renewed at ${position.type}`
            )
          }
        }
        // every reader was holding an iterator when the downstream stopped: both were renewed
        for (const shardId of shardIds) assert.isAtLeast(positionsOf(log, shardId).length, 2, shardId)
      }).pipe(Effect.provide(env({ shards: 2, iteratorLog: log })))
    })

    it.effect("LATEST, expired before the first read: renewal is AT_TIMESTAMP, later records arrive, earlier do not", () => {
      const log: Array<Kinesis.GetShardIteratorRequest> = []
      return Effect.gen(function*() {
        yield* produce([1, 2, 3])
        // well before the start: an expired LATEST iterator is renewed AT_TIMESTAMP of its start less a
        // 1 s clock-skew margin, so records of the last second before the start may be delivered
        yield* TestClock.adjust("1 minute")
        // the first GetRecords calls are throttled for 6 minutes (3 × 2): the LATEST iterator expires unused
        yield* KinesisTest.failNext("getRecords", { error: "ProvisionedThroughputExceeded", times: 3 })
        const c = yield* collect(
          Consumer.stream<number>({
            stream: "s",
            iteratorType: "LATEST",
            retrySchedule: Schedule.spaced("2 minutes")
          })
        )
        yield* advance("1 minute", "30 seconds")
        yield* produce([4, 5, 6]) // after the consumer started, while it is throttled
        assert.isTrue(yield* c.until(() => c.got.length >= 3, "30 seconds", 15))
        yield* advance("5 seconds", "1 second")
        assertStoppedCleanly(yield* c.stop)

        assert.deepStrictEqual(sortedValues(c.got), [4, 5, 6])
        const expired = (yield* getRecordsCalls).filter((call) => call.error === "ExpiredIterator")
        assert.strictEqual(expired.length, 1)
        const [shardId] = yield* openShardIds("s")
        const positions = positionsOf(log, shardId!)
        assert.deepStrictEqual(positions.map((p) => p.type), ["LATEST", "AT_TIMESTAMP"])
      }).pipe(Effect.provide(env({ iteratorLog: log })))
    })

    it.effect("LATEST, expired before the first read: a record that arrived while an empty response was in transit is not lost", () => {
      const log: Array<Kinesis.GetShardIteratorRequest> = []
      return Effect.gen(function*() {
        const c = yield* collect(
          Consumer.stream<number>({ stream: "s", iteratorType: "LATEST", retrySchedule: Schedule.spaced("2 minutes") })
        )
        // t = 0: the LATEST iterator and the first GetRecords (empty, answered at t = 1 s)
        yield* TestClock.adjust("500 millis")
        yield* produce([1]) // arrives at t = 0.5 s, after the iterator's position
        // every later GetRecords is throttled until the iterator has expired
        yield* KinesisTest.failNext("getRecords", { error: "ProvisionedThroughputExceeded", times: 3 })
        assert.isTrue(yield* c.until(() => c.got.length >= 1, "30 seconds", 15), "the record was lost")
        assertStoppedCleanly(yield* c.stop)
        assert.deepStrictEqual(c.got.map((r) => r.value), [1])
        const [shardId] = yield* openShardIds("s")
        assert.deepStrictEqual(positionsOf(log, shardId!).map((p) => p.type), ["LATEST", "AT_TIMESTAMP"])
      }).pipe(Effect.provide(env({ iteratorLog: log, getRecordsTransit: "1 second" })))
    })

    it.effect("with a stored checkpoint: a restart whose iterator expires before its first read resumes after the checkpoint", () => {
      const log: Array<Kinesis.GetShardIteratorRequest> = []
      const store = Checkpointer.makeMemoryStore()
      return Effect.gen(function*() {
        yield* produce(40)
        const [shardId] = yield* openShardIds("s")
        const all = (yield* KinesisTest.records("s", shardId!)).map((r) => r.sequenceNumber)

        // run 1 reads some records, then stops (its final checkpoint goes to the shared store)
        const first = yield* Effect.gen(function*() {
          // the downstream stops at the 16th record: chunks 1–3 are processed, the 4th is not
          const c = yield* collect(
            Consumer.stream<number>({ stream: "s", chunkSize: 5 }),
            (_, index) => index === 15 ? Effect.never : Effect.void
          )
          assert.isTrue(yield* c.until(() => c.got.length >= 15))
          yield* advance("1 second")
          assertStoppedCleanly(yield* c.stop)
          return c.got
        }).pipe(Effect.provide(Checkpointer.layerMemory({ store, workerId: "run-1" })))
        const checkpoint = yield* storedCheckpoint(shardId!)
        assert.isDefined(checkpoint)
        const k = all.indexOf(checkpoint!.sequenceNumber)
        assert.isAtLeast(k, 0)
        assert.strictEqual(k, 14) // the last record of the last processed chunk
        assert.strictEqual(first.length, 15)

        // run 2: its first GetRecords calls are throttled until the iterator it got has expired
        log.length = 0
        yield* KinesisTest.failNext("getRecords", { error: "ProvisionedThroughputExceeded", times: 3 })
        const second = yield* Effect.gen(function*() {
          const c = yield* collect(
            Consumer.stream<number>({ stream: "s", retrySchedule: Schedule.spaced("2 minutes") })
          )
          yield* c.until(() => c.got.length >= 40 - (k + 1), "30 seconds", 15)
          yield* advance("5 seconds", "1 second")
          assertStoppedCleanly(yield* c.stop)
          return c.got
        }).pipe(Effect.provide(Checkpointer.layerMemory({ store, workerId: "run-2" })))

        const expired = (yield* getRecordsCalls).filter((call) => call.error === "ExpiredIterator")
        assert.strictEqual(expired.length, 1, "the iterator did not expire: the test did not test expiry")
        assert.deepStrictEqual(positionsOf(log, shardId!), [
          { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: checkpoint!.sequenceNumber },
          { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: checkpoint!.sequenceNumber }
        ])
        assert.deepStrictEqual(second.map((r) => r.sequenceNumber), all.slice(k + 1))
        assert.deepStrictEqual(sortedValues([...first.slice(0, k + 1), ...second]), Arr.range(1, 40))
      }).pipe(Effect.provide(env({ iteratorLog: log, store })))
    })
  })

  it.effect("a throttled shard does not delay another one, and its records arrive once it may read again", () =>
    Effect.gen(function*() {
      const [slow, fast] = yield* openShardIds("s")
      // one 100 kB record overdraws the slow shard's 10 kB/s read allowance for ~9 s
      yield* putRaw([json("x".repeat(100_000)), json(1), json(2), json(3)], yield* hashKeyOf(slow!))
      yield* putRaw(Arr.range(11, 20).map(json), yield* hashKeyOf(fast!))
      const c = yield* collect(Consumer.stream<number | string>({ stream: "s", recordLimit: 1 }))
      assert.isTrue(yield* c.until(() => c.got.length >= 14, "200 millis", 500))
      assertStoppedCleanly(yield* c.stop)

      const fastTimes = c.got.flatMap((r, i) => r.shardId === fast ? [c.at[i]!] : [])
      const slowTimes = c.got.flatMap((r, i) => r.shardId === slow ? [c.at[i]!] : [])
      assert.strictEqual(fastTimes.length, 10)
      assert.strictEqual(slowTimes.length, 4)
      assert.isAtMost(Math.max(...fastTimes), 3_000, "the fast shard was held up")
      assert.isAtLeast(slowTimes[1]!, 8_000, "the slow shard was not throttled")
      const throttled = (yield* getRecordsCalls).filter((call) => call.error === "ProvisionedThroughputExceeded")
      assert.isAbove(throttled.length, 0)
      assert.isTrue(throttled.every((call) => call.shardId === slow))
      assert.deepStrictEqual(c.got.filter((r) => r.shardId === slow).slice(1).map((r) => r.value), [1, 2, 3])
    }).pipe(
      Effect.provide(env({
        shards: 2,
        limits: {
          readBytesPerSecond: 10_000,
          readCallsPerSecond: false,
          getShardIteratorCallsPerSecond: false,
          writeRecordsPerSecond: false,
          writeBytesPerSecond: false
        }
      }))
    ))

  it.effect("slow downstream, tiny buffers: all 500 records in order per shard, and readers stop while it is blocked", () =>
    Effect.gen(function*() {
      yield* produce(500)
      const gate = yield* Deferred.make<void>()
      // the downstream takes 25 records/s, the three readers could fetch 45/s
      const options = { stream: "s", maxBufferRecords: 5, chunkSize: 2, recordLimit: 3 } as const
      const c = yield* collect(
        Consumer.stream<number>(options),
        (_, index) => index === 50 ? Deferred.await(gate) : index % 5 === 0 ? Effect.sleep("200 millis") : Effect.void
      )
      assert.isTrue(yield* c.until(() => c.got.length >= 50))
      yield* advance("5 seconds")
      const callsBlocked = (yield* getRecordsCalls).length
      const fetched = (yield* getRecordsCalls).reduce((n, call) => n + call.records, 0)
      yield* advance("60 seconds", "5 seconds")
      assert.strictEqual(
        (yield* getRecordsCalls).length,
        callsBlocked,
        "GetRecords went on while the downstream was blocked"
      )
      // read and not delivered: the buffer, one response per reader, the chunk the downstream holds
      assert.strictEqual(c.got.length, 50)
      assert.isAtMost(fetched - 50, options.maxBufferRecords + 3 * options.recordLimit + options.chunkSize)

      yield* Deferred.succeed(gate, void 0)
      assert.isTrue(yield* c.until(() => c.got.length >= 500, "500 millis"))
      yield* advance("5 seconds", "1 second")
      assertStoppedCleanly(yield* c.stop)
      assert.strictEqual(c.got.length, 500)
      assert.deepStrictEqual(sortedValues(c.got), Arr.range(1, 500))
      assertOrderedPerShard(c.got)
    }).pipe(Effect.provide(env({ shards: 3 }))))

  describe("onDecodeError", () => {
    const withBadRecords = Effect.gen(function*() {
      const [shardId] = yield* openShardIds("s")
      const seqs = yield* putRaw([json(1), json(2), json(3), notJson, json(4), json(5), notJson])
      return { shardId: shardId!, seqs, bad: seqs[3]!, lastBad: seqs[6]! }
    })

    it.effect("fail: the stream fails with a DecodeError naming the shard and the sequence number", () =>
      Effect.gen(function*() {
        const { bad, shardId } = yield* withBadRecords
        const c = yield* collect(Consumer.stream<number>({ stream: "s", onDecodeError: "fail" }))
        yield* c.until(() => false, "500 millis", 20)
        const exit = yield* c.stop
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        assert.isTrue(Option.isSome(error), "the stream did not fail with an error")
        const e = Option.getOrThrow(error)
        assert.strictEqual(e._tag, "DecodeError")
        if (e._tag === "DecodeError") {
          assert.strictEqual(e.shardId, shardId)
          assert.strictEqual(e.sequenceNumber, bad)
        }
        assert.isFalse(c.got.some((r) => r.value === 4 || r.value === 5), "records after the bad one were delivered")
      }).pipe(Effect.provide(env())))

    it.effect("fail: the records before the bad one (same GetRecords response) are delivered before the failure", () =>
      Effect.gen(function*() {
        yield* withBadRecords
        const c = yield* collect(Consumer.stream<number>({ stream: "s", onDecodeError: "fail" }))
        yield* c.until(() => false, "500 millis", 20)
        const exit = yield* c.stop
        assert.isTrue(Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause))
        assert.deepStrictEqual(c.got.map((r) => r.value), [1, 2, 3])
      }).pipe(Effect.provide(env())))

    it.effect("skip: the bad records are skipped and counted, the others delivered, the checkpoint moves past them", () =>
      Effect.gen(function*() {
        const { lastBad, shardId } = yield* withBadRecords
        const metric = Metric.tagged(
          Metric.tagged(KinesisMetrics.consumerDecodeErrors, "stream", "s"),
          "policy",
          "skip"
        )
        const before = yield* counterValue(metric)
        const c = yield* collect(Consumer.stream<number>({ stream: "s", onDecodeError: "skip" }))
        yield* c.until(() => false, "500 millis", 20)
        assert.isTrue(Option.isNone(yield* Fiber.poll(c.fiber)), "the stream ended")
        assertStoppedCleanly(yield* c.stop)
        assert.deepStrictEqual(c.got.map((r) => r.value), [1, 2, 3, 4, 5])
        assert.strictEqual((yield* counterValue(metric)) - before, 2)
        assert.deepStrictEqual(yield* storedCheckpoint(shardId), { sequenceNumber: lastBad })
      }).pipe(Effect.provide(env())))

    it.effect("dead letter: the sink gets { record, shardId, error } and the stream goes on", () =>
      Effect.gen(function*() {
        const { bad, lastBad, shardId } = yield* withBadRecords
        const letters: Array<Consumer.DeadLetter> = []
        const c = yield* collect(Consumer.stream<number>({
          stream: "s",
          onDecodeError: { deadLetter: Sink.forEach((letter) => Effect.sync(() => letters.push(letter))) }
        }))
        yield* c.until(() => false, "500 millis", 20)
        assert.isTrue(Option.isNone(yield* Fiber.poll(c.fiber)), "the stream ended")
        assertStoppedCleanly(yield* c.stop)
        assert.deepStrictEqual(c.got.map((r) => r.value), [1, 2, 3, 4, 5])
        assert.deepStrictEqual(letters.map((l) => l.record.sequenceNumber), [bad, lastBad])
        for (const letter of letters) {
          assert.strictEqual(letter.shardId, shardId)
          assert.strictEqual(letter.error._tag, "DecodeError")
          assert.strictEqual(letter.error.sequenceNumber, letter.record.sequenceNumber)
          assert.deepStrictEqual(letter.record.data, notJson)
        }
        assert.deepStrictEqual(yield* storedCheckpoint(shardId), { sequenceNumber: lastBad })
      }).pipe(Effect.provide(env())))

    it.effect("dead letter: a slow sink gets the letters still queued at shutdown, before the final checkpoint", () =>
      Effect.gen(function*() {
        const { bad, lastBad, shardId } = yield* withBadRecords
        const letters: Array<string> = []
        const slow = Sink.forEach((letter: Consumer.DeadLetter) =>
          Effect.zipRight(Effect.sleep("1 second"), Effect.sync(() => letters.push(letter.record.sequenceNumber)))
        )
        const c = yield* collect(Consumer.stream<number>({ stream: "s", onDecodeError: { deadLetter: slow } }))
        yield* c.until(() => c.got.length >= 5, "10 millis", 200)
        assert.isBelow(letters.length, 2, "the sink is behind")
        const stopping = yield* Effect.fork(c.stop)
        yield* advance("5 seconds", "100 millis")
        assertStoppedCleanly(yield* Fiber.join(stopping))
        assert.deepStrictEqual(letters, [bad, lastBad])
        assert.deepStrictEqual(yield* storedCheckpoint(shardId), { sequenceNumber: lastBad })
      }).pipe(Effect.provide(env())))

    it.effect("dead letter: a sink that fails fails the consumer, and no checkpoint passes what it did not take", () =>
      Effect.gen(function*() {
        const { bad, shardId } = yield* withBadRecords
        const failing = Sink.forEach((_: Consumer.DeadLetter) => Effect.fail({ _tag: "DlqDown" as const }))
        const c = yield* collect(Consumer.stream<number, { readonly _tag: "DlqDown" }>({
          stream: "s",
          onDecodeError: { deadLetter: failing }
        }))
        yield* c.until(() => false, "500 millis", 30)
        const exit = yield* c.stop
        assert.isTrue(Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause), "the consumer failed")
        const stored = yield* storedCheckpoint(shardId)
        assert.isTrue(
          stored === undefined || compareSeq(stored.sequenceNumber, bad) < 0,
          `the checkpoint ${JSON.stringify(stored)} passed ${bad}, which the sink never took`
        )
      }).pipe(Effect.provide(env())))
  })

  it.effect("checkpoint manual: nothing stored until record.checkpoint; then that record; a restart resumes after it", () => {
    const store = Checkpointer.makeMemoryStore()
    return Effect.gen(function*() {
      yield* produce(20)
      const [shardId] = yield* openShardIds("s")
      const first = yield* Effect.gen(function*() {
        const consumer = yield* Consumer.make<number>({ stream: "s", checkpoint: "manual", chunkSize: 5 })
        const c = yield* collect(consumer.records)
        assert.isTrue(yield* c.until(() => c.got.length >= 20))
        yield* advance("12 seconds", "2 seconds") // two checkpoint intervals
        assert.isUndefined(yield* storedCheckpoint(shardId!), "checkpointed without record.checkpoint")

        yield* c.got[6]!.checkpoint
        assert.deepStrictEqual(yield* storedCheckpoint(shardId!), { sequenceNumber: c.got[6]!.sequenceNumber })
        yield* advance("12 seconds", "2 seconds")
        assert.deepStrictEqual(yield* storedCheckpoint(shardId!), { sequenceNumber: c.got[6]!.sequenceNumber })
        assertStoppedCleanly(yield* c.stop)
        return c.got
      }).pipe(Effect.scoped, Effect.provide(Checkpointer.layerMemory({ store, workerId: "run-1" })))
      // shutting down does not move a manual checkpoint
      assert.deepStrictEqual(yield* storedCheckpoint(shardId!), { sequenceNumber: first[6]!.sequenceNumber })

      const second = yield* Effect.gen(function*() {
        const c = yield* collect(Consumer.stream<number>({ stream: "s", checkpoint: "manual" }))
        yield* c.until(() => c.got.length >= 13)
        yield* advance("5 seconds", "1 second")
        assertStoppedCleanly(yield* c.stop)
        return c.got
      }).pipe(Effect.provide(Checkpointer.layerMemory({ store, workerId: "run-2" })))
      assert.deepStrictEqual(second.map((r) => r.sequenceNumber), first.slice(7).map((r) => r.sequenceNumber))
    }).pipe(Effect.provide(env({ store })))
  })

  it.effect("status: reading shards, a drained parent ended with its children reading, totals, children map", () =>
    Effect.gen(function*() {
      yield* produce(40)
      const [s0, s1] = yield* openShardIds("s")
      const consumer = yield* Consumer.make<number>({ stream: "s" })
      const c = yield* collect(consumer.records)
      assert.isTrue(yield* c.until(() => c.got.length >= 40))
      yield* advance("2 seconds")

      const before = yield* consumer.status
      assert.deepStrictEqual(yield* Consumer.status(consumer), before)
      assert.deepStrictEqual(before.shards.map((s) => [s.shardId, s.state]), [[s0, "reading"], [s1, "reading"]])
      for (const shard of before.shards) {
        assert.strictEqual(shard.owner, before.workerId)
        assert.deepStrictEqual(shard.parents, [])
      }
      assert.strictEqual(before.totals.reading, 2)
      assert.strictEqual(before.totals.records, 40)
      assert.strictEqual(before.shards.reduce((n, s) => n + s.recordsDelivered, 0), 40)
      assert.deepStrictEqual(before.children, {})

      const children = yield* KinesisTest.splitShard("s", s0!)
      yield* produce(Arr.range(41, 80))
      assert.isTrue(yield* c.until(() => c.got.length >= 80))
      yield* advance("2 seconds")

      const after = yield* consumer.status
      const byId = new Map(after.shards.map((s) => [s.shardId, s]))
      assert.strictEqual(byId.get(s0!)?.state, "ended")
      assert.strictEqual(byId.get(s1!)?.state, "reading")
      for (const child of children) {
        assert.strictEqual(byId.get(child)?.state, "reading", child)
        assert.deepStrictEqual(byId.get(child)?.parents, [s0])
      }
      assert.deepStrictEqual(byId.get(s0!)?.children, children)
      assert.deepStrictEqual(after.children, { [s0!]: children })
      assert.strictEqual(after.totals.records, 80)
      assert.strictEqual(after.totals.reading, 3)
      assert.strictEqual(after.totals.ended, 1)
      assert.deepStrictEqual(sortedValues(c.got), Arr.range(1, 80))
      assertStoppedCleanly(yield* c.stop)
    }).pipe(Effect.scoped, Effect.provide(env({ shards: 2 }))))

  it.effect("status: totals.records counts records delivered, not records read into the buffer", () =>
    Effect.gen(function*() {
      yield* produce(40)
      const gate = yield* Deferred.make<void>()
      const consumer = yield* Consumer.make<number>({ stream: "s", chunkSize: 1 })
      const c = yield* collect(consumer.records, (_, index) => index === 5 ? Deferred.await(gate) : Effect.void)
      yield* advance("5 seconds")
      assert.strictEqual(c.got.length, 5) // the downstream holds the sixth record; the rest is buffered
      const status = yield* consumer.status
      const delivered = status.shards.reduce((n, s) => n + s.recordsDelivered, 0)
      assert.isAtMost(delivered, 6)
      assert.strictEqual(
        status.totals.records,
        delivered,
        `totals.records ${status.totals.records}, delivered ${delivered}`
      )
      yield* Deferred.succeed(gate, void 0)
      assertStoppedCleanly(yield* c.stop)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.effect("shards: one stream per shard with only its records; after a split the parent's completes, the children's appear", () =>
    Effect.gen(function*() {
      yield* produce(40)
      const [s0, s1] = yield* openShardIds("s")
      const seen: Array<string> = []
      const perShard = new Map<string, Array<Rec>>()
      const completed = new Set<string>()
      const fiber = yield* Consumer.shards<number>({ stream: "s" }).pipe(
        Stream.flatMap((shard) => {
          seen.push(shard.shardId)
          const got: Array<Rec> = []
          perShard.set(shard.shardId, got)
          return shard.records.pipe(
            Stream.tap((r) => Effect.sync(() => got.push(r))),
            Stream.concat(Stream.execute(Effect.sync(() => completed.add(shard.shardId))))
          )
        }, { concurrency: "unbounded" }),
        Stream.runDrain,
        Effect.fork
      )
      const total = () => Arr.reduce(Array.from(perShard.values()), 0, (n, list) => n + list.length)
      const until = (n: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < 1_000 && total() < n && Option.isNone(yield* Fiber.poll(fiber)); i++) {
            yield* TestClock.adjust("100 millis")
          }
        })
      yield* until(40)
      yield* advance("2 seconds")
      assert.deepStrictEqual(seen, [s0, s1])
      assert.strictEqual(completed.size, 0)
      for (const [shardId, got] of perShard) {
        assert.isTrue(got.every((r) => r.shardId === shardId))
        const stored = (yield* KinesisTest.records("s", shardId)).map((r) => r.sequenceNumber)
        assert.deepStrictEqual(got.map((r) => r.sequenceNumber), stored, shardId)
      }

      const children = yield* KinesisTest.splitShard("s", s0!)
      yield* produce(Arr.range(41, 80))
      yield* until(80)
      yield* advance("2 seconds")
      assert.deepStrictEqual(Array.from(completed), [s0])
      assert.deepStrictEqual([...seen].sort(), [s0!, s1!, ...children].sort())
      for (const [shardId, got] of perShard) {
        assert.isTrue(got.every((r) => r.shardId === shardId), shardId)
        const stored = (yield* KinesisTest.records("s", shardId)).map((r) => r.sequenceNumber)
        assert.deepStrictEqual(got.map((r) => r.sequenceNumber), stored, shardId)
      }
      for (const child of children) assert.isAbove(perShard.get(child)?.length ?? 0, 0, `${child} got nothing`)
      const values = Array.from(perShard.values()).flat()
      assert.deepStrictEqual(sortedValues(values), Arr.range(1, 80))
      const exit = yield* Fiber.interrupt(fiber)
      assertStoppedCleanly(exit)
    }).pipe(Effect.provide(env({ shards: 2 }))))

  it.effect("lease loss: a worker whose lease another worker took stops reading the shard, and says so", () => {
    const store = Checkpointer.makeMemoryStore()
    return Effect.gen(function*() {
      const timing = { sessionTimeout: "3 seconds", heartbeatInterval: "1 second" } as const
      const a = yield* Checkpointer.makeMemory({ store, workerId: "A", ...timing })
      const b = yield* Checkpointer.makeMemory({ store, workerId: "B", ...timing })
      // A's renewals can be held (a starved renewal fiber, a store that does not answer)
      const renewals = yield* Effect.makeLatch(true)
      const aHeld: Checkpointer.Service = { ...a, renew: (lease) => Effect.zipRight(renewals.await, a.renew(lease)) }
      const options = { stream: "s", shardRefreshInterval: "1 second" } as const
      const leasesLost = Metric.tagged(KinesisMetrics.consumerLeasesLost, "stream", "s")
      const lostBefore = yield* counterValue(leasesLost)

      yield* produce(10)
      const [shardId] = yield* openShardIds("s")
      const consumerA = yield* Consumer.make<number>(options).pipe(
        Effect.provideService(Checkpointer.Checkpointer, aHeld)
      )
      const ca = yield* collect(consumerA.records)
      assert.isTrue(yield* ca.until(() => ca.got.length >= 10))
      yield* advance("6 seconds") // A's auto checkpoint is written
      const consumerB = yield* Consumer.make<number>(options).pipe(Effect.provideService(Checkpointer.Checkpointer, b))
      const cb = yield* collect(consumerB.records)
      yield* advance("3 seconds")
      assert.strictEqual((yield* consumerB.status).shards[0]?.state, "owned-elsewhere")
      assert.strictEqual(cb.got.length, 0)

      yield* renewals.close
      yield* advance("6 seconds") // A's lease expires; B takes it
      assert.strictEqual((yield* consumerB.status).shards[0]?.state, "reading")
      yield* renewals.open
      yield* advance("2 seconds")

      const statusA = yield* consumerA.status
      assert.notStrictEqual(statusA.shards[0]?.state, "reading")
      assert.strictEqual(statusA.shards[0]?.state, "owned-elsewhere")
      assert.strictEqual(statusA.totals.leasesLost, 1)
      assert.strictEqual(statusA.totals.reading, 0)
      assert.strictEqual((yield* counterValue(leasesLost)) - lostBefore, 1)

      yield* produce(Arr.range(11, 20))
      assert.isTrue(yield* cb.until(() => cb.got.some((r) => r.value === 20)))
      yield* advance("5 seconds")
      assert.isFalse(ca.got.some((r) => r.value > 10), "A read the shard after losing its lease")
      assert.deepStrictEqual(cb.got.filter((r) => r.value > 10).map((r) => r.value), Arr.range(11, 20))
      const state = yield* b.get("s", shardId!)
      assert.strictEqual(Option.getOrUndefined(state)?.owner, "B")
      assertStoppedCleanly(yield* ca.stop)
      assertStoppedCleanly(yield* cb.stop)
    }).pipe(Effect.scoped, Effect.provide(env()))
  })

  describe("start positions", () => {
    it.effect("LATEST: records written before the consumer starts are not delivered, later ones are", () =>
      Effect.gen(function*() {
        yield* produce(10)
        yield* TestClock.adjust("1 second")
        const consumer = yield* Consumer.make<number>({ stream: "s", iteratorType: "LATEST" })
        const c = yield* collect(consumer.records)
        yield* advance("2 seconds")
        yield* produce(Arr.range(11, 20))
        assert.isTrue(yield* c.until(() => c.got.length >= 10))
        yield* advance("5 seconds")
        assertStoppedCleanly(yield* c.stop)
        assert.deepStrictEqual(sortedValues(c.got), Arr.range(11, 20))
      }).pipe(Effect.scoped, Effect.provide(env({ shards: 2 }))))

    it.effect("AT_TIMESTAMP between two writes delivers only the later records", () =>
      Effect.gen(function*() {
        yield* produce(10)
        yield* TestClock.adjust("10 seconds")
        yield* produce(Arr.range(11, 20))
        const c = yield* collect(
          Consumer.stream<number>({ stream: "s", iteratorType: "AT_TIMESTAMP", timestamp: new Date(5_000) })
        )
        assert.isTrue(yield* c.until(() => c.got.length >= 10))
        yield* advance("5 seconds")
        assertStoppedCleanly(yield* c.stop)
        assert.deepStrictEqual(sortedValues(c.got), Arr.range(11, 20))
      }).pipe(Effect.provide(env({ shards: 2 }))))
  })

  it.effect("maxShards: 1 on a 4-shard stream reads one shard only", () =>
    Effect.gen(function*() {
      yield* produce(40)
      yield* KinesisTest.clearCalls
      const consumer = yield* Consumer.make<number>({ stream: "s", maxShards: 1 })
      const c = yield* collect(consumer.records)
      yield* advance("10 seconds")
      const read = new Set((yield* getRecordsCalls).map((call) => call.shardId))
      assert.strictEqual(read.size, 1)
      const [shardId] = Array.from(read)
      const stored = (yield* KinesisTest.records("s", shardId!)).map((r) => r.sequenceNumber)
      assert.isAbove(stored.length, 0)
      assert.deepStrictEqual(c.got.map((r) => r.sequenceNumber), stored)
      const status = yield* consumer.status
      assert.strictEqual(status.totals.reading, 1)
      assert.deepStrictEqual(
        status.shards.filter((s) => s.state === "reading").map((s) => s.shardId),
        [shardId]
      )
      assertStoppedCleanly(yield* c.stop)
    }).pipe(Effect.scoped, Effect.provide(env({ shards: 4 }))))
})
