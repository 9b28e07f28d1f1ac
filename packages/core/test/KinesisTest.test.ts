/**
 * The in-memory engine's own behaviour, on the TestClock: AWS's limits at AWS's rates, request
 * validation, iterator expiry, retention, resharding (UPDATING, lineage, uniform scaling), ListShards
 * paging and filters, faults (reproducible from the seed), inspection and routing.
 */
import { Kinesis, KinesisError, KinesisTest, ShardMap, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Array as Arr, Duration, Effect, Exit, FastCheck as fc, Fiber, Option, TestClock } from "effect"

const MiB = 1024 * 1024
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const bytes = (s: string) => encoder.encode(s)
const text = (b: Uint8Array) => decoder.decode(b)
const address = StreamAddress.unsafeMake

const orders = address("orders")

/** Runs a program on a fresh engine. */
const withEngine = <A, E>(
  options: KinesisTest.Options,
  program: Effect.Effect<A, E, Kinesis.Kinesis | KinesisTest.KinesisTest>
) => Effect.provide(program, KinesisTest.layer(options))

const records = (n: number, key = (i: number) => `key-${i}`, size = 10): Array<Kinesis.PutRecordsEntry> =>
  Arr.makeBy(n, (i) => ({ data: new Uint8Array(size).fill(i % 251), partitionKey: key(i) }))

const failures = (put: Kinesis.PutRecordsResponse) => put.records.flatMap((r, i) => (r._tag === "Failure" ? [i] : []))

const shardIds = (put: Kinesis.PutRecordsResponse) => put.records.map((r) => (r._tag === "Success" ? r.shardId : ""))

const iteratorAt = (stream: StreamAddress.StreamAddress, shardId: string, position: Kinesis.StartingPosition) =>
  Kinesis.getShardIterator({ stream, shardId, position })

/** Reads a shard from TRIM_HORIZON to its current end (or, for a closed shard, to its end). */
const readShard = (stream: StreamAddress.StreamAddress, shardId: string) =>
  Effect.gen(function*() {
    let iterator: string | undefined = yield* iteratorAt(stream, shardId, { type: "TRIM_HORIZON" })
    const out: Array<Kinesis.KinesisRecord> = []
    let last: Kinesis.GetRecordsResponse | undefined
    while (iterator !== undefined) {
      last = yield* Kinesis.getRecords({ shardIterator: iterator })
      out.push(...last.records)
      if (last.records.length === 0) break
      iterator = last.nextShardIterator
    }
    return { records: out, last: last! }
  })

describe("KinesisTest", () => {
  describe("write limits (per shard, token buckets of one second)", () => {
    it.effect("1,000 records per second: the 1,001st fails inside the response, then one more per millisecond", () =>
      withEngine(
        { streams: { orders: {} } },
        Effect.gen(function*() {
          const first = yield* Kinesis.putRecords({ stream: orders, records: records(500) })
          const second = yield* Kinesis.putRecords({ stream: orders, records: records(500) })
          assert.strictEqual(first.failedRecordCount + second.failedRecordCount, 0)

          const over = yield* Kinesis.putRecords({ stream: orders, records: records(2) })
          assert.strictEqual(over.failedRecordCount, 2)
          const failure = over.records[0]!
          assert.strictEqual(failure._tag, "Failure")
          if (failure._tag === "Failure") {
            assert.strictEqual(failure.errorCode, "ProvisionedThroughputExceededException")
            assert.strictEqual(
              failure.errorMessage,
              "Rate exceeded for shard shardId-000000000000 in stream orders under account 000000000000."
            )
          }

          yield* TestClock.adjust("1 millis")
          const oneMore = yield* Kinesis.putRecords({ stream: orders, records: records(2) })
          assert.deepStrictEqual(failures(oneMore), [1])

          yield* TestClock.adjust("1 second")
          const refilled = yield* Kinesis.putRecords({ stream: orders, records: records(500) })
          const refilled2 = yield* Kinesis.putRecords({ stream: orders, records: records(501 - 1) })
          const beyond = yield* Kinesis.putRecords({ stream: orders, records: records(1) })
          assert.strictEqual(refilled.failedRecordCount + refilled2.failedRecordCount, 0)
          assert.strictEqual(beyond.failedRecordCount, 1)
          const stored = yield* KinesisTest.records("orders")
          assert.strictEqual(stored.length, 2001)
        })
      ))

    it.effect("1 MiB per second, counting data plus partition key", () =>
      withEngine(
        { streams: { orders: {} } },
        Effect.gen(function*() {
          // two records of exactly 512 KiB each (data + 1-byte key)
          const half = { data: new Uint8Array(MiB / 2 - 1), partitionKey: "k" }
          const full = yield* Kinesis.putRecords({ stream: orders, records: [half, half] })
          assert.strictEqual(full.failedRecordCount, 0)
          const tiny = yield* Kinesis.putRecords({ stream: orders, records: [{ data: bytes("x"), partitionKey: "k" }] })
          assert.deepStrictEqual(failures(tiny), [0])
          // 1 ms refills 1,048.576 bytes: one 1,000-byte record fits, a second does not
          yield* TestClock.adjust("1 millis")
          const small = { data: new Uint8Array(999), partitionKey: "k" }
          const after = yield* Kinesis.putRecords({ stream: orders, records: [small, small] })
          assert.deepStrictEqual(failures(after), [1])
        })
      ))

    it.effect("each shard has its own budget", () =>
      withEngine(
        { streams: { orders: { shards: 2 } } },
        Effect.gen(function*() {
          const to = (hashKey: string) =>
            Arr.makeBy(500, (i) => ({ data: bytes("x"), partitionKey: `k${i}`, explicitHashKey: hashKey }))
          const low = (2n ** 127n - 1n).toString()
          const high = (2n ** 127n).toString()
          for (const key of [low, low, high, high]) {
            const put = yield* Kinesis.putRecords({ stream: orders, records: to(key) })
            assert.strictEqual(put.failedRecordCount, 0)
          }
          const put = yield* Kinesis.putRecords({
            stream: orders,
            records: [{ data: bytes("x"), partitionKey: "a", explicitHashKey: low }, {
              data: bytes("x"),
              partitionKey: "b",
              explicitHashKey: high
            }]
          })
          assert.deepStrictEqual(failures(put), [0, 1])
        })
      ))

    it.effect("sustained writes: accepted = one second of burst + 1,000 records/s of elapsed time", () =>
      withEngine(
        { streams: { orders: {} } },
        Effect.gen(function*() {
          // at the limit (500 every 500 ms) nothing is throttled
          for (let round = 0; round < 20; round++) {
            const put = yield* Kinesis.putRecords({ stream: orders, records: records(500) })
            assert.strictEqual(put.failedRecordCount, 0, `round ${round}`)
            yield* TestClock.adjust("500 millis")
          }
          yield* TestClock.adjust("10 seconds") // rest: the bucket is full again
          // above it (600 every 500 ms), 20 rounds: 1,000 + 19 × 500 go in
          let accepted = 0
          for (let round = 0; round < 20; round++) {
            if (round > 0) yield* TestClock.adjust("500 millis")
            const put = yield* Kinesis.putRecords({ stream: orders, records: records(500) })
            const extra = yield* Kinesis.putRecords({ stream: orders, records: records(100) })
            accepted += 600 - put.failedRecordCount - extra.failedRecordCount
          }
          assert.strictEqual(accepted, 1000 + 19 * 500)
        })
      ))

    it.effect("limits are configurable, can be turned off, and changed at run time", () =>
      withEngine(
        { streams: { orders: {} }, limits: { writeRecordsPerSecond: 10 } },
        Effect.gen(function*() {
          const limited = yield* Kinesis.putRecords({ stream: orders, records: records(11) })
          assert.deepStrictEqual(failures(limited), [10])
          yield* KinesisTest.setLimits(false)
          for (let i = 0; i < 20; i++) {
            const put = yield* Kinesis.putRecords({ stream: orders, records: records(500) })
            assert.strictEqual(put.failedRecordCount, 0)
          }
          yield* KinesisTest.setLimits({ writeRecordsPerSecond: 1 })
          yield* TestClock.adjust("1 second")
          const again = yield* Kinesis.putRecords({ stream: orders, records: records(2) })
          assert.deepStrictEqual(failures(again), [1])
        })
      ))
  })

  describe("PutRecord (one record, failing as a whole)", () => {
    it.effect("shares the shard's write budget; a throttled put is ProvisionedThroughputExceeded naming the shard", () =>
      withEngine(
        { streams: { orders: { shards: 2 } }, limits: { writeRecordsPerSecond: 3 } },
        Effect.gen(function*() {
          const [low, high] = yield* Kinesis.listShards({ stream: orders })
          const put = (key: string) =>
            Kinesis.putRecord({ stream: orders, data: bytes(key), partitionKey: key, explicitHashKey: "0" })
          const accepted = yield* Kinesis.putRecords({
            stream: orders,
            records: [{ data: bytes("a"), partitionKey: "a", explicitHashKey: "0" }]
          })
          assert.strictEqual(failures(accepted).length, 0)
          const first = yield* put("b")
          const second = yield* put("c")
          assert.strictEqual(first.shardId, low!.shardId)
          assert.isTrue(BigInt(second.sequenceNumber) > BigInt(first.sequenceNumber))
          const throttled = yield* Effect.flip(put("d"))
          assert.strictEqual(throttled._tag, "ProvisionedThroughputExceeded")
          assert.strictEqual(throttled.operation, "putRecord")
          assert.strictEqual(throttled._tag === "ProvisionedThroughputExceeded" ? throttled.shardId : "", low!.shardId)
          assert.isTrue(KinesisError.isThrottling(throttled))
          // the other shard has its own budget
          const other = yield* Kinesis.putRecord({
            stream: orders,
            data: bytes("e"),
            partitionKey: "e",
            explicitHashKey: high!.hashKeyRange.startingHashKey
          })
          assert.strictEqual(other.shardId, high!.shardId)
          yield* TestClock.adjust("1 second")
          yield* put("f")
          const { records: stored } = yield* readShard(orders, low!.shardId)
          assert.deepStrictEqual(stored.map((r) => text(r.data)), ["a", "b", "c", "f"])
        })
      ))

    it.effect("failNext, a record fault and a malformed SequenceNumberForOrdering reach the caller typed", () =>
      withEngine(
        { streams: { orders: {} } },
        Effect.gen(function*() {
          const one = { stream: orders, data: bytes("x"), partitionKey: "k" }
          yield* KinesisTest.failNext("putRecord", { error: "KmsError" })
          const kms = yield* Effect.flip(Kinesis.putRecord(one))
          assert.strictEqual(kms._tag, "KmsError")
          yield* KinesisTest.failRecords({ select: [0], errorCode: "InternalFailure" })
          const internal = yield* Effect.flip(Kinesis.putRecord(one))
          assert.strictEqual(internal._tag, "KinesisUnknownError")
          assert.isTrue(KinesisError.isRetryable(internal))
          const invalid = yield* Effect.flip(Kinesis.putRecord({ ...one, sequenceNumberForOrdering: "01" }))
          assert.strictEqual(invalid._tag, "InvalidArgument")
          const ok = yield* Kinesis.putRecord(one)
          assert.match(ok.sequenceNumber, /^[1-9]\d*$/)
        })
      ))
  })

  describe("request validation (the whole request is rejected, as AWS does)", () => {
    it.effect("more than 500 records, more than 5 MiB, a record over 1 MiB, a bad partition or hash key", () =>
      withEngine(
        { streams: { orders: {} }, limits: false },
        Effect.gen(function*() {
          const reject = (entries: ReadonlyArray<Kinesis.PutRecordsEntry>) =>
            Effect.flip(Kinesis.putRecords({ stream: orders, records: entries }))
          const cases = [
            yield* reject(records(501)),
            yield* reject([]),
            yield* reject(Arr.makeBy(6, () => ({ data: new Uint8Array(MiB - 1), partitionKey: "k" }))),
            yield* reject([{ data: new Uint8Array(MiB + 1), partitionKey: "k" }]),
            yield* reject([{ data: new Uint8Array(MiB), partitionKey: "k" }]), // data + key > 1 MiB
            yield* reject([{ data: bytes("x"), partitionKey: "" }]),
            yield* reject([{ data: bytes("x"), partitionKey: "p".repeat(257) }]),
            yield* reject([{ data: bytes("x"), partitionKey: "k", explicitHashKey: "12abc" }]),
            yield* reject([{ data: bytes("x"), partitionKey: "k", explicitHashKey: (2n ** 128n).toString() }])
          ]
          for (const error of cases) {
            assert.strictEqual(error._tag, "InvalidArgument")
            assert.strictEqual(error.operation, "putRecords")
            assert.strictEqual(error.stream, "orders")
          }
          assert.deepStrictEqual(
            cases.map((e) => (e._tag === "InvalidArgument" ? e.awsName : "")),
            [
              "ValidationException",
              "ValidationException",
              "InvalidArgumentException",
              "ValidationException",
              "InvalidArgumentException",
              "ValidationException",
              "ValidationException",
              "ValidationException",
              "InvalidArgumentException"
            ]
          )
          assert.match(cases[0]!.message, /Member must have length less than or equal to 500/)
          assert.strictEqual((yield* KinesisTest.records("orders")).length, 0)
          // the limits themselves are accepted
          const ok = yield* Kinesis.putRecords({
            stream: orders,
            records: [
              { data: new Uint8Array(MiB - 256), partitionKey: "p".repeat(256) },
              ...records(499)
            ]
          })
          assert.strictEqual(ok.failedRecordCount, 0)
        })
      ))

    it.effect("the maximum record size is configurable per stream; a large record overdraws the byte budget", () =>
      withEngine(
        { streams: { big: { maxRecordSize: 2 * MiB }, orders: {} } },
        Effect.gen(function*() {
          const big = address("big")
          const large = { data: new Uint8Array(1.5 * MiB), partitionKey: "k" }
          const put = yield* Kinesis.putRecords({ stream: big, records: [large] })
          assert.strictEqual(put.failedRecordCount, 0)
          const next = yield* Kinesis.putRecords({ stream: big, records: [{ data: bytes("x"), partitionKey: "k" }] })
          assert.strictEqual(next.failedRecordCount, 1)
          yield* TestClock.adjust("1 second")
          const later = yield* Kinesis.putRecords({ stream: big, records: [{ data: bytes("x"), partitionKey: "k" }] })
          assert.strictEqual(later.failedRecordCount, 0)
          // other streams keep 1 MiB
          const error = yield* Effect.flip(Kinesis.putRecords({ stream: orders, records: [large] }))
          assert.strictEqual(error._tag, "InvalidArgument")
        })
      ))

    it.effect("GetRecords limit outside 1–10,000 is InvalidArgument", () =>
      withEngine(
        { streams: { orders: {} } },
        Effect.gen(function*() {
          const iterator = yield* iteratorAt(orders, "shardId-000000000000", { type: "TRIM_HORIZON" })
          for (const limit of [0, 10_001, 1.5]) {
            const error = yield* Effect.flip(Kinesis.getRecords({ shardIterator: iterator, limit }))
            assert.strictEqual(error._tag, "InvalidArgument")
          }
        })
      ))
  })

  describe("read limits", () => {
    it.effect("5 GetRecords calls per second per shard: the 6th is throttled, one more every 200 ms", () =>
      withEngine(
        { streams: { orders: {} } },
        Effect.gen(function*() {
          let iterator = yield* iteratorAt(orders, "shardId-000000000000", { type: "TRIM_HORIZON" })
          for (let i = 0; i < 5; i++) {
            iterator = (yield* Kinesis.getRecords({ shardIterator: iterator })).nextShardIterator!
          }
          const error = yield* Effect.flip(Kinesis.getRecords({ shardIterator: iterator }))
          assert.strictEqual(error._tag, "ProvisionedThroughputExceeded")
          if (error._tag === "ProvisionedThroughputExceeded") {
            assert.strictEqual(error.shardId, "shardId-000000000000")
            assert.strictEqual(error.operation, "getRecords")
            assert.strictEqual(error.stream, "orders")
          }
          yield* TestClock.adjust("199 millis")
          assert.strictEqual(
            (yield* Effect.flip(Kinesis.getRecords({ shardIterator: iterator })))._tag,
            "ProvisionedThroughputExceeded"
          )
          yield* TestClock.adjust("1 millis")
          const ok = yield* Kinesis.getRecords({ shardIterator: iterator })
          assert.isDefined(ok.nextShardIterator)
          // the call log shows the reads of the shard, throttled ones included
          const reads = (yield* KinesisTest.calls).filter((c) => c.operation === "getRecords")
          assert.deepStrictEqual(reads.map((c) => c.outcome), [
            ...Arr.replicate("success" as const, 5),
            "failure",
            "failure",
            "success"
          ])
          assert.isTrue(reads.every((c) => c.shardId === "shardId-000000000000"))
        })
      ))

    it.effect("2 MiB per second: a 10 MiB response from a rested shard blocks reads for 4 s", () =>
      withEngine(
        { streams: { orders: {} }, limits: { writeBytesPerSecond: false } },
        Effect.gen(function*() {
          const mib = Arr.makeBy(5, () => ({ data: new Uint8Array(MiB - 1), partitionKey: "k" }))
          yield* Kinesis.putRecords({ stream: orders, records: mib })
          yield* Kinesis.putRecords({ stream: orders, records: mib })
          yield* Kinesis.putRecords({ stream: orders, records: [{ data: bytes("eleventh"), partitionKey: "k" }] })
          const iterator = yield* iteratorAt(orders, "shardId-000000000000", { type: "TRIM_HORIZON" })
          // one call returns at most 10 MiB
          const first = yield* Kinesis.getRecords({ shardIterator: iterator })
          assert.strictEqual(first.records.length, 10)
          assert.isAbove(first.millisBehindLatest ?? -1, -1)
          const next = first.nextShardIterator!
          yield* TestClock.adjust("3999 millis")
          assert.strictEqual(
            (yield* Effect.flip(Kinesis.getRecords({ shardIterator: next })))._tag,
            "ProvisionedThroughputExceeded"
          )
          yield* TestClock.adjust("1 millis")
          const second = yield* Kinesis.getRecords({ shardIterator: next })
          assert.deepStrictEqual(second.records.map((r) => text(r.data)), ["eleventh"])
        })
      ))

    it.effect("5 GetShardIterator calls per second per shard", () =>
      withEngine(
        { streams: { orders: {} } },
        Effect.gen(function*() {
          for (let i = 0; i < 5; i++) yield* iteratorAt(orders, "shardId-000000000000", { type: "LATEST" })
          const error = yield* Effect.flip(iteratorAt(orders, "shardId-000000000000", { type: "LATEST" }))
          assert.strictEqual(error._tag, "ProvisionedThroughputExceeded")
          yield* TestClock.adjust("200 millis")
          yield* iteratorAt(orders, "shardId-000000000000", { type: "LATEST" })
        })
      ))
  })

  describe("iterators", () => {
    it.effect("an iterator expires 5 minutes (Clock time) after it was issued; each response issues a fresh one", () =>
      withEngine(
        { streams: { orders: {} } },
        Effect.gen(function*() {
          const iterator = yield* iteratorAt(orders, "shardId-000000000000", { type: "TRIM_HORIZON" })
          yield* TestClock.adjust("300 seconds")
          const atLimit = yield* Kinesis.getRecords({ shardIterator: iterator })
          yield* TestClock.adjust("1 millis")
          const error = yield* Effect.flip(Kinesis.getRecords({ shardIterator: iterator }))
          assert.strictEqual(error._tag, "ExpiredIterator")
          assert.match(error.message, /tolerated delay of 300000 milliseconds/)
          assert.strictEqual(error.stream, "orders")
          // the iterator issued at 300 s is valid until 600 s
          yield* TestClock.adjust("299999 millis")
          yield* Kinesis.getRecords({ shardIterator: atLimit.nextShardIterator! })
        })
      ))

    it.effect("iterators and page tokens work at fractional Clock times (jittered sleeps)", () =>
      withEngine(
        { streams: { orders: { shards: 3 } }, limits: false },
        Effect.gen(function*() {
          yield* TestClock.adjust(Duration.micros(1500n))
          yield* Kinesis.putRecords({ stream: orders, records: records(3, () => "k") })
          const shardId = (yield* KinesisTest.records("orders"))[0]!.shardId
          const { records: read } = yield* readShard(orders, shardId)
          assert.strictEqual(read.length, 3)
          assert.strictEqual((yield* Kinesis.listShards({ stream: orders, pageSize: 1 })).length, 3)
        })
      ))

    it.effect("a sequence number from another shard, or not a sequence number, is InvalidArgument", () =>
      withEngine(
        { streams: { orders: { shards: 2 } }, limits: false },
        Effect.gen(function*() {
          const put = yield* Kinesis.putRecords({
            stream: orders,
            records: [{ data: bytes("x"), partitionKey: "k", explicitHashKey: "0" }]
          })
          const seq = put.records[0]!._tag === "Success" ? put.records[0]!.sequenceNumber : ""
          assert.strictEqual(seq.length, 56)
          const other = yield* Effect.flip(
            iteratorAt(orders, "shardId-000000000001", { type: "AT_SEQUENCE_NUMBER", sequenceNumber: seq })
          )
          assert.strictEqual(other._tag, "InvalidArgument")
          const garbage = yield* Effect.flip(
            iteratorAt(orders, "shardId-000000000000", { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: "12" })
          )
          assert.strictEqual(garbage._tag, "InvalidArgument")
          const missing = yield* Effect.flip(iteratorAt(orders, "shardId-000000000007", { type: "LATEST" }))
          assert.strictEqual(missing._tag, "ResourceNotFound")
        })
      ))

    it.effect("an iterator of a deleted stream is ResourceNotFound, even once the name is reused", () =>
      withEngine(
        { streams: { orders: {} }, limits: false },
        Effect.gen(function*() {
          const iterator = yield* iteratorAt(orders, "shardId-000000000000", { type: "TRIM_HORIZON" })
          yield* Kinesis.deleteStream({ stream: orders })
          yield* Kinesis.createStream({ streamName: "orders", shardCount: 1 })
          const error = yield* Effect.flip(Kinesis.getRecords({ shardIterator: iterator }))
          assert.strictEqual(error._tag, "ResourceNotFound")
        })
      ))

    it.effect("ApproximateArrivalTimestamp comes from the Clock", () =>
      withEngine(
        { streams: { orders: {} }, limits: false },
        Effect.gen(function*() {
          yield* TestClock.adjust("1234 millis")
          yield* Kinesis.putRecords({ stream: orders, records: records(1) })
          const [stored] = yield* KinesisTest.records("orders")
          assert.strictEqual(stored!.approximateArrivalTimestamp.getTime(), 1234)
        })
      ))
  })

  describe("retention", () => {
    it.effect("records older than the retention period are gone; TRIM_HORIZON starts after them", () =>
      withEngine(
        { streams: { orders: {} }, limits: false },
        Effect.gen(function*() {
          yield* Kinesis.putRecords({ stream: orders, records: [{ data: bytes("old"), partitionKey: "k" }] })
          yield* TestClock.adjust("12 hours")
          yield* Kinesis.putRecords({ stream: orders, records: [{ data: bytes("new"), partitionKey: "k" }] })
          const before = yield* readShard(orders, "shardId-000000000000")
          assert.deepStrictEqual(before.records.map((r) => text(r.data)), ["old", "new"])
          yield* TestClock.adjust("12 hours")
          const after = yield* readShard(orders, "shardId-000000000000")
          assert.deepStrictEqual(after.records.map((r) => text(r.data)), ["new"])
          assert.deepStrictEqual((yield* KinesisTest.records("orders")).map((r) => text(r.data)), ["new"])
          const first = yield* iteratorAt(orders, "shardId-000000000000", {
            type: "AT_TIMESTAMP",
            timestamp: new Date(0)
          })
          const fromStart = yield* Kinesis.getRecords({ shardIterator: first })
          assert.deepStrictEqual(fromStart.records.map((r) => text(r.data)), ["new"])
        })
      ))

    it.effect("retention is configurable per stream", () =>
      withEngine(
        { streams: { orders: {}, short: { retention: "1 hour" } }, limits: false },
        Effect.gen(function*() {
          const short = address("short")
          yield* Kinesis.putRecords({ stream: short, records: records(3) })
          yield* Kinesis.putRecords({ stream: orders, records: records(3) })
          yield* TestClock.adjust("59 minutes")
          assert.strictEqual((yield* KinesisTest.records("short")).length, 3)
          yield* TestClock.adjust("1 minute")
          assert.strictEqual((yield* KinesisTest.records("short")).length, 0)
          assert.strictEqual((yield* KinesisTest.records("orders")).length, 3)
          assert.strictEqual((yield* Kinesis.describeStreamSummary(short)).retentionPeriodHours, 1)
        })
      ))

    it.effect("a closed shard disappears from ListShards once it is past retention; its children remain", () =>
      withEngine(
        { streams: { orders: {} }, limits: false },
        Effect.gen(function*() {
          yield* Kinesis.putRecords({ stream: orders, records: records(5) })
          const children = yield* KinesisTest.splitShard("orders", "shardId-000000000000")
          assert.deepStrictEqual(children, ["shardId-000000000001", "shardId-000000000002"])
          yield* TestClock.adjust("23 hours")
          assert.strictEqual((yield* Kinesis.listShards({ stream: orders })).length, 3)
          yield* TestClock.adjust("1 hour")
          const shards = yield* Kinesis.listShards({ stream: orders })
          assert.deepStrictEqual(shards.map((s) => s.shardId), children)
          assert.isTrue(shards.every((s) => s.parentShardId === "shardId-000000000000"))
          const error = yield* Effect.flip(iteratorAt(orders, "shardId-000000000000", { type: "TRIM_HORIZON" }))
          assert.strictEqual(error._tag, "ResourceNotFound")
        })
      ))
  })

  describe("resharding", () => {
    it.effect("the stream is UPDATING for updateDuration: resharding meanwhile is ResourceInUse, the split lands at its end", () =>
      withEngine(
        { streams: { orders: {} }, updateDuration: "30 seconds", limits: false },
        Effect.gen(function*() {
          yield* Kinesis.splitShard({
            stream: orders,
            shardToSplit: "shardId-000000000000",
            newStartingHashKey: (2n ** 127n).toString()
          })
          assert.strictEqual((yield* Kinesis.describeStreamSummary(orders)).streamStatus, "UPDATING")
          const again = yield* Effect.flip(
            Kinesis.splitShard({ stream: orders, shardToSplit: "shardId-000000000000", newStartingHashKey: "100" })
          )
          assert.strictEqual(again._tag, "ResourceInUse")
          assert.match(again.message, /not ACTIVE, instead in state UPDATING/)
          const scale = yield* Effect.flip(Kinesis.updateShardCount({ stream: orders, targetShardCount: 2 }))
          assert.strictEqual(scale._tag, "ResourceInUse")
          // reads and writes go on; the parent still takes the writes
          const during = yield* Kinesis.putRecords({ stream: orders, records: records(3) })
          assert.deepStrictEqual(shardIds(during), Arr.replicate("shardId-000000000000", 3))
          assert.strictEqual((yield* Kinesis.listShards({ stream: orders })).length, 1)

          // a caller waiting for ACTIVE returns when the update ends
          const waiting = yield* Effect.fork(Kinesis.waitUntilActive(orders))
          yield* TestClock.adjust("30 seconds")
          yield* TestClock.adjust("2 seconds") // waitUntilActive polls at least every 2 s
          const summary = yield* Fiber.join(waiting)
          assert.strictEqual(summary.streamStatus, "ACTIVE")
          assert.strictEqual(summary.openShardCount, 2)
          const shards = yield* Kinesis.listShards({ stream: orders })
          assert.deepStrictEqual(shards.map((s) => s.shardId), [
            "shardId-000000000000",
            "shardId-000000000001",
            "shardId-000000000002"
          ])
          const after = yield* Kinesis.putRecords({ stream: orders, records: records(20) })
          assert.isFalse(shardIds(after).includes("shardId-000000000000"))
          const topology = yield* KinesisTest.shards("orders")
          assert.deepStrictEqual(topology[0]!.closedAt, new Date(30_000))
          assert.strictEqual(topology[0]!.recordCount, 3)
        })
      ))

    it.effect("shard ids are allocated in order; merge children name ParentShardId and AdjacentParentShardId", () =>
      withEngine(
        { streams: { orders: { shards: 2 } }, limits: false },
        Effect.gen(function*() {
          yield* Kinesis.splitShard({
            stream: orders,
            shardToSplit: "shardId-000000000000",
            newStartingHashKey: (2n ** 126n).toString()
          })
          yield* Kinesis.mergeShards({
            stream: orders,
            shardToMerge: "shardId-000000000003",
            adjacentShardToMerge: "shardId-000000000001"
          })
          const shards = yield* Kinesis.listShards({ stream: orders })
          assert.deepStrictEqual(
            shards.map((s) => [s.shardId, s.parentShardId ?? null, s.adjacentParentShardId ?? null]),
            [
              ["shardId-000000000000", null, null],
              ["shardId-000000000001", null, null],
              ["shardId-000000000002", "shardId-000000000000", null],
              ["shardId-000000000003", "shardId-000000000000", null],
              ["shardId-000000000004", "shardId-000000000003", "shardId-000000000001"]
            ]
          )
          assert.deepStrictEqual(shards[4]!.hashKeyRange, {
            startingHashKey: (2n ** 126n).toString(),
            endingHashKey: (2n ** 128n - 1n).toString()
          })
          // not adjacent / closed / outside the range
          const notAdjacent = yield* Effect.flip(
            Kinesis.mergeShards({
              stream: orders,
              shardToMerge: "shardId-000000000002",
              adjacentShardToMerge: "shardId-000000000002"
            })
          )
          assert.strictEqual(notAdjacent._tag, "InvalidArgument")
          const closed = yield* Effect.flip(
            Kinesis.splitShard({ stream: orders, shardToSplit: "shardId-000000000000", newStartingHashKey: "10" })
          )
          assert.strictEqual(closed._tag, "InvalidArgument")
          const outside = yield* Effect.flip(
            Kinesis.splitShard({ stream: orders, shardToSplit: "shardId-000000000002", newStartingHashKey: "0" })
          )
          assert.strictEqual(outside._tag, "InvalidArgument")
        })
      ))

    it.effect.prop(
      "updateShardCount gives AWS's uniform ranges through a lineage of plain splits and merges",
      [fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 1000 })],
      ([from, pick]) => {
        const low = Math.ceil(from / 2)
        const target = low + (pick % (2 * from - low + 1))
        return withEngine(
          { streams: { s: { shards: from } }, limits: false },
          Effect.gen(function*() {
            const stream = address("s")
            const result = yield* Kinesis.updateShardCount({ stream, targetShardCount: target })
            assert.deepStrictEqual(result, { currentShardCount: from, targetShardCount: target })
            const all = yield* KinesisTest.shards("s")
            const open = all.filter((s) => s.status === "OPEN")
              .sort((a, b) => ShardMap.compareHashKeys(a.hashKeyRange.startingHashKey, b.hashKeyRange.startingHashKey))
            assert.deepStrictEqual(open.map((s) => s.hashKeyRange), ShardMap.uniformRanges(target))
            const byId = new Map(all.map((s) => [s.shardId, s]))
            const range = (s: Kinesis.Shard) =>
              [BigInt(s.hashKeyRange.startingHashKey), BigInt(s.hashKeyRange.endingHashKey)] as const
            for (const shard of all) {
              const parents = [shard.parentShardId, shard.adjacentParentShardId].filter((p) => p !== undefined)
              if (parents.length === 1) {
                // a split child: its parent has two children partitioning the parent's range
                const parent = byId.get(parents[0]!)!
                assert.strictEqual(parent.childShardIds.length, 2)
                const [a, b] = parent.childShardIds.map((id) => range(byId.get(id)!))
                assert.deepStrictEqual([a![0], b![1]], [...range(parent)])
                assert.strictEqual(b![0], a![1] + 1n)
              } else if (parents.length === 2) {
                // a merge child: two adjacent parents whose union is the child's range
                const [p, q] = parents.map((id) => range(byId.get(id!)!))
                const lo = p![0] < q![0] ? p! : q!
                const hi = p![0] < q![0] ? q! : p!
                assert.strictEqual(hi[0], lo[1] + 1n)
                assert.deepStrictEqual([lo[0], hi[1]], [...range(shard)])
              }
              if (shard.status === "CLOSED") assert.isAbove(shard.childShardIds.length, 0)
            }
          })
        )
      },
      { fastCheck: { numRuns: 40 } }
    )

    it.effect("updateShardCount stays within half to double the open shards, and not on ON_DEMAND streams", () =>
      withEngine(
        { streams: { orders: { shards: 4 }, auto: { mode: "ON_DEMAND" } } },
        Effect.gen(function*() {
          const up = yield* Effect.flip(Kinesis.updateShardCount({ stream: orders, targetShardCount: 9 }))
          assert.match(up.message, /cannot scale up over double/)
          const down = yield* Effect.flip(Kinesis.updateShardCount({ stream: orders, targetShardCount: 1 }))
          assert.match(down.message, /cannot scale down below half/)
          const auto = yield* Effect.flip(
            Kinesis.updateShardCount({ stream: address("auto"), targetShardCount: 8 })
          )
          assert.strictEqual(auto._tag, "InvalidArgument")
          assert.strictEqual((yield* Kinesis.describeStreamSummary(address("auto"))).openShardCount, 4)
          // a stream has at most 10,000 shards
          const tooMany = yield* Effect.flip(Kinesis.createStream({ streamName: "huge", shardCount: 10_001 }))
          assert.strictEqual(tooMany._tag, "LimitExceeded")
          // the control service reshards without the factor-of-two bound
          const open = yield* KinesisTest.updateShardCount("orders", 1)
          assert.strictEqual(open.length, 1)
        })
      ))

    it.effect("reading parents before children returns every record once, in order per partition key", () =>
      withEngine(
        { streams: { orders: { shards: 2 } }, limits: false },
        Effect.gen(function*() {
          const keys = Arr.makeBy(10, (i) => `user-${i}`)
          const put = (round: number) =>
            Kinesis.putRecords({
              stream: orders,
              records: keys.map((key) => ({ data: bytes(`${key}:${round}`), partitionKey: key }))
            })
          yield* put(0)
          yield* KinesisTest.updateShardCount("orders", 3)
          yield* put(1)
          // 2 → 3 split 0 into 2, 3 and 1 into 4, 5, and merged 3 + 4 into 6: open are 2, 6, 5
          yield* KinesisTest.mergeShards("orders", "shardId-000000000002", "shardId-000000000006")
          yield* put(2)
          yield* Kinesis.updateShardCount({ stream: orders, targetShardCount: 4 })
          yield* put(3)
          // walk the lineage: a shard is read once all of its parents are drained
          const shards = yield* Kinesis.listShards({ stream: orders })
          const drained = new Set<string>()
          const read = new Set<string>()
          const seen: Array<string> = []
          let progress = true
          while (progress) {
            progress = false
            for (const shard of shards) {
              if (read.has(shard.shardId)) continue
              const parents = [shard.parentShardId, shard.adjacentParentShardId].filter((p) => p !== undefined)
              if (!parents.every((p) => drained.has(p!))) continue
              const { last, records } = yield* readShard(orders, shard.shardId)
              read.add(shard.shardId)
              progress = true
              seen.push(...records.map((r) => text(r.data)))
              if (last.nextShardIterator === undefined) {
                assert.isDefined(last.childShards)
                drained.add(shard.shardId)
              }
            }
          }
          assert.strictEqual(seen.length, 40)
          for (const key of keys) {
            assert.deepStrictEqual(
              seen.filter((s) => s.startsWith(`${key}:`)),
              [0, 1, 2, 3].map((round) => `${key}:${round}`)
            )
          }
        })
      ))
  })

  describe("ListShards", () => {
    it.effect("pages of the configured size (one logged call per page), and every ShardFilter", () =>
      withEngine(
        { streams: { orders: { shards: 3 } }, listShardsPageSize: 2, limits: false },
        Effect.gen(function*() {
          yield* KinesisTest.clearCalls
          const all = yield* Kinesis.listShards({ stream: orders })
          assert.strictEqual(all.length, 3)
          const pages = (yield* KinesisTest.calls).filter((c) => c.operation === "listShards")
          assert.deepStrictEqual(pages.map((c) => c.records), [2, 1])

          yield* TestClock.adjust("1 hour")
          yield* KinesisTest.splitShard("orders", "shardId-000000000000") // 3, 4 at t = 1 h
          yield* TestClock.adjust("1 hour")
          yield* KinesisTest.mergeShards("orders", "shardId-000000000004", "shardId-000000000001") // 5 at t = 2 h
          const ids = (filter?: Kinesis.ShardFilter, exclusiveStartShardId?: string) =>
            Effect.map(
              Kinesis.listShards({ stream: orders, shardFilter: filter, exclusiveStartShardId }),
              (shards) => shards.map((s) => Number(s.shardId.slice(-3)))
            )
          assert.deepStrictEqual(yield* ids(), [0, 1, 2, 3, 4, 5])
          assert.deepStrictEqual(yield* ids({ type: "AT_LATEST" }), [2, 3, 5])
          assert.deepStrictEqual(yield* ids({ type: "AT_TRIM_HORIZON" }), [0, 1, 2])
          assert.deepStrictEqual(yield* ids({ type: "FROM_TRIM_HORIZON" }), [0, 1, 2, 3, 4, 5])
          assert.deepStrictEqual(yield* ids({ type: "AFTER_SHARD_ID", shardId: "shardId-000000000002" }), [3, 4, 5])
          assert.deepStrictEqual(yield* ids(undefined, "shardId-000000000003"), [4, 5])
          const t = (h: number) => new Date(h * 3_600_000)
          assert.deepStrictEqual(yield* ids({ type: "AT_TIMESTAMP", timestamp: t(1.5) }), [1, 2, 3, 4])
          assert.deepStrictEqual(yield* ids({ type: "FROM_TIMESTAMP", timestamp: t(1.5) }), [1, 2, 3, 4, 5])
        })
      ))

    it.effect("a NextToken older than 5 minutes is ExpiredNextToken", () =>
      withEngine(
        { streams: { orders: { shards: 3 } }, limits: false },
        Effect.gen(function*() {
          yield* KinesisTest.setLatency("301 seconds", "listShards")
          const fiber = yield* Effect.fork(Effect.flip(Kinesis.listShards({ stream: orders, pageSize: 1 })))
          yield* TestClock.adjust("301 seconds")
          yield* TestClock.adjust("301 seconds")
          const error = yield* Fiber.join(fiber)
          assert.strictEqual(error._tag, "ExpiredNextToken")
        })
      ))
  })

  describe("stream life cycle", () => {
    it.effect("streams created through the port: CREATING for createDuration, then ACTIVE; DELETING likewise", () =>
      withEngine(
        { createDuration: "10 seconds", deleteDuration: "5 seconds", limits: false },
        Effect.gen(function*() {
          yield* Kinesis.createStream({ streamName: "late", shardCount: 2 })
          const late = address("late")
          assert.strictEqual((yield* Kinesis.describeStreamSummary(late)).streamStatus, "CREATING")
          assert.strictEqual(
            (yield* Effect.flip(Kinesis.putRecords({ stream: late, records: records(1) })))._tag,
            "ResourceNotFound"
          )
          assert.strictEqual((yield* Effect.flip(Kinesis.listShards({ stream: late })))._tag, "ResourceInUse")
          const created = yield* Effect.fork(
            Kinesis.createStream({ streamName: "waited", shardCount: 1, waitUntilActive: true })
          )
          yield* TestClock.adjust("10 seconds")
          yield* TestClock.adjust("2 seconds") // waitUntilActive polls at least every 2 s
          yield* Fiber.join(created)
          assert.strictEqual((yield* Kinesis.describeStreamSummary(late)).streamStatus, "ACTIVE")
          yield* Kinesis.putRecords({ stream: late, records: records(1) })

          yield* Kinesis.deleteStream({ stream: late })
          assert.strictEqual((yield* Kinesis.describeStreamSummary(late)).streamStatus, "DELETING")
          assert.strictEqual(
            (yield* Effect.flip(Kinesis.putRecords({ stream: late, records: records(1) })))._tag,
            "ResourceNotFound"
          )
          yield* TestClock.adjust("5 seconds")
          assert.strictEqual((yield* Effect.flip(Kinesis.describeStreamSummary(late)))._tag, "ResourceNotFound")
          assert.deepStrictEqual((yield* Kinesis.listStreams).map((s) => s.streamName), ["waited"])
        })
      ))

    it.effect("an ON_DEMAND stream starts with 4 shards; a stream is addressable by its ARN only in its own account", () =>
      withEngine(
        { streams: { auto: { mode: "ON_DEMAND" } }, region: "eu-west-1", accountId: "123456789012" },
        Effect.gen(function*() {
          const summary = yield* Kinesis.describeStreamSummary(address("auto"))
          assert.strictEqual(summary.openShardCount, 4)
          assert.strictEqual(summary.streamARN, "arn:aws:kinesis:eu-west-1:123456789012:stream/auto")
          assert.deepStrictEqual(
            (yield* Kinesis.listShards({ stream: address(summary.streamARN) })).map((s) => s.hashKeyRange),
            ShardMap.uniformRanges(4)
          )
          const foreign = address("arn:aws:kinesis:eu-west-1:999999999999:stream/auto")
          const error = yield* Effect.flip(Kinesis.describeStreamSummary(foreign))
          assert.strictEqual(error._tag, "ResourceNotFound")
          assert.strictEqual(error.stream, foreign._tag === "StreamArn" ? foreign.arn : "")
        })
      ))
  })

  describe("faults", () => {
    it.effect("failNext fails the next N calls of an operation (of one stream, or any) with the given error", () =>
      withEngine(
        { streams: { orders: {}, other: {} }, limits: false },
        Effect.gen(function*() {
          yield* KinesisTest.failNext("putRecords", {
            error: "ProvisionedThroughputExceeded",
            times: 2,
            stream: "orders"
          })
          const other = yield* Kinesis.putRecords({ stream: address("other"), records: records(1) })
          assert.strictEqual(other.failedRecordCount, 0)
          const first = yield* Effect.flip(Kinesis.putRecords({ stream: orders, records: records(1) }))
          const second = yield* Effect.flip(Kinesis.putRecords({ stream: orders, records: records(1) }))
          assert.deepStrictEqual([first._tag, second._tag], [
            "ProvisionedThroughputExceeded",
            "ProvisionedThroughputExceeded"
          ])
          assert.strictEqual(first.operation, "putRecords")
          assert.strictEqual(first.stream, "orders")
          yield* Kinesis.putRecords({ stream: orders, records: records(1) })
          assert.strictEqual((yield* KinesisTest.records("orders")).length, 1)

          // an error value, on another operation
          const custom = new KinesisError.KinesisUnknownError({
            operation: "getShardIterator",
            message: "boom",
            name: "InternalFailure",
            retryable: true
          })
          yield* KinesisTest.failNext("getShardIterator", { error: custom })
          const failed = yield* Effect.flip(iteratorAt(orders, "shardId-000000000000", { type: "LATEST" }))
          assert.strictEqual(failed, custom)
          const kms = yield* KinesisTest.failNext("getRecords", { error: "KmsError" }).pipe(
            Effect.zipRight(iteratorAt(orders, "shardId-000000000000", { type: "LATEST" })),
            Effect.flatMap((shardIterator) => Effect.flip(Kinesis.getRecords({ shardIterator })))
          )
          assert.strictEqual(kms._tag, "KmsError")
          const calls = yield* KinesisTest.calls
          assert.deepStrictEqual(
            calls.filter((c) => c.outcome === "failure").map((c) => [c.operation, c.error]),
            [
              ["putRecords", "ProvisionedThroughputExceeded"],
              ["putRecords", "ProvisionedThroughputExceeded"],
              ["getShardIterator", "KinesisUnknownError"],
              ["getRecords", "KmsError"]
            ]
          )
        })
      ))

    it.effect("failRecords fails chosen records of the next PutRecords with the given code (a partial failure)", () =>
      withEngine(
        { streams: { orders: {} }, limits: false },
        Effect.gen(function*() {
          yield* KinesisTest.failRecords({ select: [0, 3], errorCode: "InternalFailure" })
          const put = yield* Kinesis.putRecords({ stream: orders, records: records(5) })
          assert.strictEqual(put.failedRecordCount, 2)
          assert.deepStrictEqual(failures(put), [0, 3])
          const failure = put.records[3]!
          assert.strictEqual(failure._tag === "Failure" ? failure.errorCode : "", "InternalFailure")
          // used up: the next call is whole
          assert.strictEqual((yield* Kinesis.putRecords({ stream: orders, records: records(5) })).failedRecordCount, 0)

          yield* KinesisTest.failRecords({
            select: (entry) => entry.partitionKey === "poison",
            errorCode: "KMSThrottlingException",
            errorMessage: "slow down",
            calls: 2
          })
          for (let i = 0; i < 3; i++) {
            const p = yield* Kinesis.putRecords({
              stream: orders,
              records: [{ data: bytes("a"), partitionKey: "ok" }, { data: bytes("b"), partitionKey: "poison" }]
            })
            assert.deepStrictEqual(failures(p), i < 2 ? [1] : [])
          }
          const stored = yield* KinesisTest.records("orders")
          assert.strictEqual(stored.length, 3 + 5 + 3 + 1)
        })
      ))

    it.effect("throttleRecords fails a fraction of records at random, reproducibly from the seed", () =>
      Effect.gen(function*() {
        const run = (seed: number) =>
          withEngine(
            { streams: { orders: { shards: 4 } }, limits: false, seed },
            Effect.gen(function*() {
              yield* KinesisTest.throttleRecords({ fraction: 0.3 })
              const out: Array<number> = []
              for (let i = 0; i < 4; i++) {
                const put = yield* Kinesis.putRecords({ stream: orders, records: records(500) })
                out.push(...failures(put).map((f) => f + i * 500))
                for (const r of put.records) {
                  if (r._tag === "Failure") assert.strictEqual(r.errorCode, "ProvisionedThroughputExceededException")
                }
              }
              yield* KinesisTest.clearFaults
              assert.strictEqual(
                (yield* Kinesis.putRecords({ stream: orders, records: records(500) })).failedRecordCount,
                0
              )
              return out
            })
          )
        const a = yield* run(42)
        const b = yield* run(42)
        const c = yield* run(7)
        assert.deepStrictEqual(a, b)
        assert.notDeepEqual(a, c)
        assert.isTrue(a.length > 0.25 * 2000 && a.length < 0.35 * 2000, `${a.length} of 2000`)
      }))

    it.effect("setLatency delays calls by Clock time", () =>
      withEngine(
        { streams: { orders: {} }, limits: false },
        Effect.gen(function*() {
          yield* KinesisTest.setLatency("100 millis", "putRecords")
          const fiber = yield* Effect.fork(Kinesis.putRecords({ stream: orders, records: records(1) }))
          yield* TestClock.adjust("99 millis")
          assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
          yield* TestClock.adjust("1 millis")
          const put = yield* Fiber.join(fiber)
          assert.strictEqual(put.failedRecordCount, 0)
          const [stored] = yield* KinesisTest.records("orders")
          assert.strictEqual(stored!.approximateArrivalTimestamp.getTime(), 100)
          // other operations are not delayed; a latency for all of them is
          yield* Kinesis.describeStreamSummary(orders)
          yield* KinesisTest.setLatency("1 second")
          const slow = yield* Effect.fork(Kinesis.describeStreamSummary(orders))
          yield* TestClock.adjust("999 millis")
          assert.isTrue(Option.isNone(yield* Fiber.poll(slow)))
          yield* TestClock.adjust("1 millis")
          assert.isTrue(Exit.isSuccess(yield* Fiber.await(slow)))
        })
      ))
  })

  describe("inspection", () => {
    it.effect("records in arrival order (stream) or shard order, the call log with sizes, the topology", () =>
      withEngine(
        { streams: { orders: { shards: 2 } }, limits: false, callLogSize: 4 },
        Effect.gen(function*() {
          const batch = [
            { data: bytes("a"), partitionKey: "k1", explicitHashKey: (2n ** 127n).toString() },
            { data: bytes("bb"), partitionKey: "k2", explicitHashKey: "0" },
            { data: bytes("ccc"), partitionKey: "k3", explicitHashKey: (2n ** 127n).toString() }
          ]
          yield* Kinesis.putRecords({ stream: orders, records: batch })
          const all = yield* KinesisTest.records("orders")
          assert.deepStrictEqual(all.map((r) => [text(r.data), r.shardId]), [
            ["a", "shardId-000000000001"],
            ["bb", "shardId-000000000000"],
            ["ccc", "shardId-000000000001"]
          ])
          const one = yield* KinesisTest.records(orders, "shardId-000000000001")
          assert.deepStrictEqual(one.map((r) => text(r.data)), ["a", "ccc"])
          const missing = yield* Effect.flip(KinesisTest.records("nope"))
          assert.strictEqual(missing._tag, "ResourceNotFound")

          const [put] = yield* KinesisTest.calls
          assert.deepStrictEqual(
            { ...put!, time: 0 },
            {
              operation: "putRecords",
              stream: "orders",
              shardId: undefined,
              records: 3,
              bytes: 1 + 2 + 2 + 2 + 3 + 2,
              failedRecords: 0,
              time: 0,
              outcome: "success",
              error: undefined
            }
          )
          // the log keeps the last `callLogSize` calls
          for (let i = 0; i < 6; i++) yield* Kinesis.describeStreamSummary(orders)
          const calls = yield* KinesisTest.calls
          assert.strictEqual(calls.length, 4)
          assert.isTrue(calls.every((c) => c.operation === "describeStreamSummary"))

          yield* KinesisTest.splitShard("orders", "shardId-000000000001")
          const topology = yield* KinesisTest.shards("orders")
          assert.deepStrictEqual(
            topology.map((s) => [s.shardId, s.status, s.recordCount, s.childShardIds]),
            [
              ["shardId-000000000000", "OPEN", 1, []],
              ["shardId-000000000001", "CLOSED", 2, ["shardId-000000000002", "shardId-000000000003"]],
              ["shardId-000000000002", "OPEN", 0, []],
              ["shardId-000000000003", "OPEN", 0, []]
            ]
          )
        })
      ))

    it.effect("records are routed by MD5 of the partition key exactly where ShardMap predicts", () =>
      withEngine(
        { streams: { orders: { shards: 5 } }, limits: false },
        Effect.gen(function*() {
          yield* KinesisTest.splitShard("orders", "shardId-000000000002")
          const map = ShardMap.make(yield* Kinesis.listShards({ stream: orders }))
          const entries = records(500, (i) => `customer-${i * 7919}`)
          const put = yield* Kinesis.putRecords({ stream: orders, records: entries })
          const predicted = entries.map((e) =>
            Option.getOrElse(Option.map(ShardMap.shardFor(map, e.partitionKey), (s) => s.shardId), () => "")
          )
          assert.deepStrictEqual(shardIds(put), predicted)
          assert.strictEqual(new Set(predicted).size, 6)
        })
      ))

    it.effect("the same program with the same seed gives the same results", () =>
      Effect.gen(function*() {
        const program = withEngine(
          { streams: { orders: { shards: 3 } }, seed: 99 },
          Effect.gen(function*() {
            yield* KinesisTest.throttleRecords({ fraction: 0.1 })
            const out: Array<unknown> = []
            for (let i = 0; i < 5; i++) {
              out.push((yield* Kinesis.putRecords({ stream: orders, records: records(400) })).records)
              yield* TestClock.adjust("300 millis")
            }
            yield* KinesisTest.updateShardCount("orders", 5)
            out.push(yield* Kinesis.listShards({ stream: orders }))
            return out
          })
        )
        assert.deepStrictEqual(yield* program, yield* program)
      }))
  })
})
