/**
 * The port's conformance suite: one set of cases every implementation of `Kinesis.Service` must pass,
 * registered for an implementation by `conformance(name, layer, capabilities)`. It runs against
 * KinesisTest, kinesalite and kinesis-local (Kinesis.test.ts, KinesisTest.test.ts).
 *
 * The expected behaviour is AWS's. Where a local server differs from AWS (LOCAL-SERVERS.md), the case
 * is switched off for that server through its capabilities, with a comment saying why; no case
 * asserts a server's deviation as if it were the API.
 */
import { Kinesis, StreamAddress } from "@effect-kinesis/core"
import { assert, layer } from "@effect/vitest"
import { Array as Arr, Clock, type Duration, Effect, type Layer, TestClock } from "effect"
import { freshStream, freshStreamName } from "./utils/servers.js"

/**
 * What an implementation supports. A case runs only where its feature is supported.
 */
export interface Capabilities<R = never> {
  /**
   * Run the core cases (data plane, iterators, split/merge, errors). False runs only the cases of the
   * features below, to keep a slow server's share of the run small.
   */
  readonly core: boolean
  /** `live`: the implementation keeps real time (a server). `test`: it runs on Effect's Clock (`TestClock`). */
  readonly clock: "live" | "test"
  /** A stream addressed by its ARN (StreamARN) works on every call. */
  readonly arnAddressing: boolean
  /** ListShards honours MaxResults/NextToken and ShardFilter. */
  readonly listShardsPaging: boolean
  /** GetRecords at the end of a closed shard reports its ChildShards. */
  readonly childShards: boolean
  /** UpdateShardCount (UNIFORM_SCALING). */
  readonly updateShardCount: boolean
  /** CreateStream with StreamModeDetails ON_DEMAND and no shard count. */
  readonly onDemand: boolean
  /** GetRecords reports how far behind the tip a reader is (MillisBehindLatest > 0). */
  readonly millisBehindLatest: boolean
  /** CreateStream gives n shards AWS's hash-key ranges (ShardMap.uniformRanges). */
  readonly awsHashRanges: boolean
  /** A PutRecords of 501 records is rejected whole (AWS: ValidationException). */
  readonly rejectsOversizedPutRecords: boolean
  /** A malformed shard iterator is InvalidArgument (AWS: InvalidArgumentException). */
  readonly malformedIteratorIsInvalidArgument: boolean
  /**
   * Record data round-trips byte for byte at every size: empty, 1 byte, all 256 byte values, the
   * largest record (1 MiB with its key), and a 10 MiB GetRecords of ten of those. False for an
   * implementation too slow for ~20 MiB of traffic in a test.
   */
  readonly largeRecords: boolean
  /**
   * How to make record 1 of a 3-record PutRecords fail while records 0 and 2 succeed (a per-record
   * failure), or false when the implementation cannot produce one.
   */
  readonly perRecordFailure:
    | false
    | {
      readonly record: Kinesis.PutRecordsEntry
      readonly arrange: Effect.Effect<void, never, R>
      readonly errorCode: string
    }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const bytes = (s: string) => encoder.encode(s)
const text = (b: Uint8Array) => decoder.decode(b)

// 2^128 - 1 split in two halves, as AWS does for a 2-shard stream.
const HALF = (2n ** 127n).toString()
const MAX_PLUS_ONE = (2n ** 128n).toString()

const createStream = (shardCount: number, prefix?: string) =>
  Effect.gen(function*() {
    const stream = freshStream(prefix)
    yield* Kinesis.createStream({ streamName: stream.name, shardCount, waitUntilActive: true })
    return stream
  })

const readAll = (stream: StreamAddress.StreamAddress, shardId: string, position: Kinesis.StartingPosition) =>
  Effect.gen(function*() {
    let iterator: string | undefined = yield* Kinesis.getShardIterator({ stream, shardId, position })
    const records: Array<Kinesis.KinesisRecord> = []
    let last: Kinesis.GetRecordsResponse | undefined
    // read until a call returns nothing more (open shard) or the shard ends (closed shard)
    while (iterator !== undefined) {
      last = yield* Kinesis.getRecords({ shardIterator: iterator, limit: 10_000 })
      records.push(...last.records)
      if (last.records.length === 0 && last.nextShardIterator !== undefined) break
      iterator = last.nextShardIterator
    }
    return { records, last: last! }
  })

/**
 * Registers the port's cases for one implementation.
 */
export const conformance = <R, E>(
  name: string,
  implementation: Layer.Layer<Kinesis.Kinesis | R, E>,
  capabilities: Capabilities<R>
): void => {
  const caps = capabilities
  // Time passes: really for a server, on the TestClock for an engine that runs on Effect's Clock.
  const sleep = (duration: Duration.DurationInput) =>
    caps.clock === "test" ? TestClock.adjust(duration) : Effect.sleep(duration)

  layer(implementation, { excludeTestServices: caps.clock === "live" })(name, (it) => {
    // PutRecord: every implementation, kinesis-local too (its CBOR differs from kinesalite's)
    it.effect("putRecord puts one record: its result names the shard and sequence number it is read back with", () =>
      Effect.gen(function*() {
        const stream = yield* createStream(2)
        const [low, high] = yield* Kinesis.listShards({ stream })
        const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256)
        const first = yield* Kinesis.putRecord({ stream, data, partitionKey: "one", explicitHashKey: HALF })
        assert.strictEqual(first.shardId, high!.shardId)
        // SequenceNumberForOrdering: the previous record's sequence number; the next one is greater
        const second = yield* Kinesis.putRecord({
          stream,
          data: bytes("second"),
          partitionKey: "one",
          explicitHashKey: HALF,
          sequenceNumberForOrdering: first.sequenceNumber
        })
        assert.strictEqual(second.shardId, high!.shardId)
        assert.isTrue(BigInt(second.sequenceNumber) > BigInt(first.sequenceNumber))
        const empty = yield* Kinesis.putRecord({
          stream,
          data: new Uint8Array(0),
          partitionKey: "z",
          explicitHashKey: "0"
        })
        assert.strictEqual(empty.shardId, low!.shardId)
        const { records } = yield* readAll(stream, high!.shardId, { type: "TRIM_HORIZON" })
        assert.deepStrictEqual(records.map((r) => r.sequenceNumber), [first.sequenceNumber, second.sequenceNumber])
        assert.deepStrictEqual(Array.from(records[0]!.data), Array.from(data))
        assert.strictEqual(text(records[1]!.data), "second")
        assert.strictEqual(records[0]!.partitionKey, "one")
        const lows = yield* readAll(stream, low!.shardId, { type: "TRIM_HORIZON" })
        assert.deepStrictEqual(lows.records.map((r) => [r.sequenceNumber, r.data.length]), [[
          empty.sequenceNumber,
          0
        ]])
      }))

    it.effect("putRecord fails as a whole with typed errors: a missing stream, a bad hash key", () =>
      Effect.gen(function*() {
        const missing = yield* Effect.flip(
          Kinesis.putRecord({ stream: freshStream("missing"), data: bytes("x"), partitionKey: "k" })
        )
        assert.strictEqual(missing._tag, "ResourceNotFound")
        assert.strictEqual(missing.operation, "putRecord")
        const stream = yield* createStream(1)
        const invalid = yield* Effect.flip(
          Kinesis.putRecord({ stream, data: bytes("x"), partitionKey: "k", explicitHashKey: MAX_PLUS_ONE })
        )
        assert.strictEqual(invalid._tag, "InvalidArgument")
      }))

    if (caps.core) {
      it.effect("createStream waits until ACTIVE and describeStreamSummary reports it", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(3)
          const summary = yield* Kinesis.describeStreamSummary(stream)
          assert.strictEqual(summary.streamName, stream.name)
          assert.strictEqual(summary.streamStatus, "ACTIVE")
          assert.strictEqual(summary.openShardCount, 3)
          assert.match(summary.streamARN, /^arn:aws:kinesis:[a-z0-9-]+:\d{12}:stream\//)
          const listed = yield* Kinesis.listStreams
          assert.isTrue(listed.some((s) => s.streamName === stream.name))
        }))

      it.effect("putRecords then getRecords round-trips data, keys and per-record results in order", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(2)
          const records = Arr.makeBy(20, (i) => ({ data: bytes(`payload-${i}`), partitionKey: `key-${i}` }))
          const put = yield* Kinesis.putRecords({ stream, records })
          assert.strictEqual(put.failedRecordCount, 0)
          assert.strictEqual(put.records.length, 20)
          const shards = yield* Kinesis.listShards({ stream })
          assert.strictEqual(shards.length, 2)
          const got: Array<Kinesis.KinesisRecord> = []
          for (const shard of shards) {
            const { records } = yield* readAll(stream, shard.shardId, { type: "TRIM_HORIZON" })
            got.push(...records)
            // the results name the shard each record went to
            const expected = put.records.flatMap((r, i) =>
              r._tag === "Success" && r.shardId === shard.shardId ? [`payload-${i}`] : []
            )
            assert.deepStrictEqual(records.map((r) => text(r.data)), expected)
          }
          assert.deepStrictEqual(
            got.map((r) => text(r.data)).sort(),
            records.map((r) => text(r.data)).sort()
          )
          for (const r of got) {
            assert.strictEqual(r.partitionKey, `key-${text(r.data).slice("payload-".length)}`)
            assert.instanceOf(r.approximateArrivalTimestamp, Date)
          }
        }))

      if (caps.largeRecords) {
        it.effect(
          "record data round-trips byte for byte: empty, 1 byte, every byte value, 1 MiB, a 10 MiB read",
          () =>
            Effect.gen(function*() {
              const stream = yield* createStream(1)
              const max = 1024 * 1024 - 1 // data + the 1-character key: the 1 MiB record limit
              const pattern = (length: number, seed: number) =>
                Uint8Array.from({ length }, (_, j) => (j * 31 + seed) & 0xff)
              const small = [new Uint8Array(0), new Uint8Array([0xff]), Uint8Array.from({ length: 256 }, (_, j) => j)]
              const large = Arr.makeBy(10, (i) => pattern(max, i))
              yield* Kinesis.putRecords({ stream, records: small.map((data) => ({ data, partitionKey: "k" })) })
              // 5 MiB per PutRecords at most
              for (const part of Arr.chunksOf(large, 4)) {
                const put = yield* Kinesis.putRecords({
                  stream,
                  records: part.map((data) => ({ data, partitionKey: "k" }))
                })
                assert.strictEqual(put.failedRecordCount, 0)
              }
              const [shard] = yield* Kinesis.listShards({ stream })
              let iterator: string | undefined = yield* Kinesis.getShardIterator({
                stream,
                shardId: shard!.shardId,
                position: { type: "TRIM_HORIZON" }
              })
              const got: Array<Uint8Array> = []
              let largestRead = 0
              while (iterator !== undefined && got.length < small.length + large.length) {
                const out: Kinesis.GetRecordsResponse = yield* Kinesis.getRecords({
                  shardIterator: iterator,
                  limit: 10_000
                })
                largestRead = Math.max(largestRead, out.records.reduce((n, r) => n + r.data.length, 0))
                got.push(...out.records.map((r) => r.data))
                iterator = out.nextShardIterator
              }
              assert.strictEqual(got.length, small.length + large.length)
              const expected = [...small, ...large]
              for (let i = 0; i < expected.length; i++) {
                assert.strictEqual(got[i]!.length, expected[i]!.length, `record ${i}: length`)
                assert.isTrue(Buffer.from(got[i]!).equals(Buffer.from(expected[i]!)), `record ${i}: bytes`)
              }
              // the ten large records came back in one GetRecords of ~10 MiB
              assert.isAbove(largestRead, 9 * 1024 * 1024)
            }),
          60_000
        )
      }

      it.effect("sequence numbers increase within a shard as big integers, and match the put results", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(1)
          const first = yield* Kinesis.putRecords({
            stream,
            records: Arr.makeBy(3, (i) => ({ data: bytes(`a${i}`), partitionKey: `k${i}` }))
          })
          const second = yield* Kinesis.putRecords({ stream, records: [{ data: bytes("b"), partitionKey: "k" }] })
          const put = [...first.records, ...second.records].map((r) => r._tag === "Success" ? r.sequenceNumber : "")
          const [shard] = yield* Kinesis.listShards({ stream })
          const { records } = yield* readAll(stream, shard!.shardId, { type: "TRIM_HORIZON" })
          const read = records.map((r) => r.sequenceNumber)
          assert.deepStrictEqual(read, put)
          for (const s of read) assert.match(s, /^[1-9]\d*$/)
          for (let i = 1; i < read.length; i++) assert.isTrue(BigInt(read[i]!) > BigInt(read[i - 1]!))
          assert.isTrue(BigInt(read[0]!) >= BigInt(shard!.sequenceNumberRange.startingSequenceNumber))
        }))

      it.effect("explicitHashKey routes a record to the shard owning that hash key", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(2)
          const [low, high] = yield* Kinesis.listShards({ stream })
          const put = yield* Kinesis.putRecords({
            stream,
            records: [
              { data: bytes("a"), partitionKey: "same", explicitHashKey: "0" },
              { data: bytes("b"), partitionKey: "same", explicitHashKey: HALF }
            ]
          })
          assert.deepStrictEqual(
            put.records.map((r) => r._tag === "Success" ? r.shardId : r.errorCode),
            [low!.shardId, high!.shardId]
          )
        }))

      it.effect("every iterator type starts where it should, and limit caps a call", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(1)
          const [shard] = yield* Kinesis.listShards({ stream })
          const shardId = shard!.shardId
          const latest = yield* Kinesis.getShardIterator({ stream, shardId, position: { type: "LATEST" } })
          const first = yield* Kinesis.putRecords({
            stream,
            records: Arr.makeBy(5, (i) => ({ data: bytes(`r${i}`), partitionKey: "k" }))
          })
          const seqs = first.records.map((r) => r._tag === "Success" ? r.sequenceNumber : "")
          const fromLatest = yield* Kinesis.getRecords({ shardIterator: latest })
          assert.deepStrictEqual(fromLatest.records.map((r) => text(r.data)), ["r0", "r1", "r2", "r3", "r4"])

          const at = yield* readAll(stream, shardId, { type: "AT_SEQUENCE_NUMBER", sequenceNumber: seqs[2]! })
          assert.deepStrictEqual(at.records.map((r) => text(r.data)), ["r2", "r3", "r4"])
          const after = yield* readAll(stream, shardId, { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: seqs[2]! })
          assert.deepStrictEqual(after.records.map((r) => text(r.data)), ["r3", "r4"])

          const iterator = yield* Kinesis.getShardIterator({ stream, shardId, position: { type: "TRIM_HORIZON" } })
          const limited = yield* Kinesis.getRecords({ shardIterator: iterator, limit: 2 })
          assert.deepStrictEqual(limited.records.map((r) => text(r.data)), ["r0", "r1"])
          assert.isDefined(limited.nextShardIterator)

          // AT_TIMESTAMP: the records that arrived at or after the timestamp
          yield* sleep("20 millis")
          const between = new Date(yield* Clock.currentTimeMillis)
          yield* sleep("20 millis")
          yield* Kinesis.putRecords({ stream, records: [{ data: bytes("late"), partitionKey: "k" }] })
          const atTimestamp = yield* readAll(stream, shardId, { type: "AT_TIMESTAMP", timestamp: between })
          assert.deepStrictEqual(atTimestamp.records.map((r) => text(r.data)), ["late"])
          const fromPast = yield* readAll(stream, shardId, { type: "AT_TIMESTAMP", timestamp: new Date(0) })
          assert.strictEqual(fromPast.records.length, 6)
        }))

      it.effect("splitShard and mergeShards produce the parent/child lineage; a closed shard drains to its end", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(1)
          const [parent] = yield* Kinesis.listShards({ stream })
          yield* Kinesis.putRecords({ stream, records: [{ data: bytes("before-split"), partitionKey: "k" }] })
          yield* Kinesis.splitShard({
            stream,
            shardToSplit: parent!.shardId,
            newStartingHashKey: HALF,
            waitUntilActive: true
          })
          const afterSplit = yield* Kinesis.listShards({ stream })
          const children = afterSplit.filter((s) => s.parentShardId === parent!.shardId)
          assert.strictEqual(children.length, 2)
          assert.deepStrictEqual(children.map((c) => c.hashKeyRange.startingHashKey), ["0", HALF])
          const closed = afterSplit.find((s) => s.shardId === parent!.shardId)!
          assert.isDefined(closed.sequenceNumberRange.endingSequenceNumber)

          // the closed parent returns its records, then no next iterator
          const drained = yield* readAll(stream, parent!.shardId, { type: "TRIM_HORIZON" })
          assert.deepStrictEqual(drained.records.map((r) => text(r.data)), ["before-split"])
          assert.isUndefined(drained.last.nextShardIterator)

          yield* Kinesis.mergeShards({
            stream,
            shardToMerge: children[0]!.shardId,
            adjacentShardToMerge: children[1]!.shardId,
            waitUntilActive: true
          })
          const afterMerge = yield* Kinesis.listShards({ stream })
          const merged = afterMerge.find((s) => s.parentShardId === children[0]!.shardId)!
          assert.strictEqual(merged.adjacentParentShardId, children[1]!.shardId)
          assert.deepStrictEqual(merged.hashKeyRange, parent!.hashKeyRange)
        }))

      it.effect("deleteStream removes the stream", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(1)
          yield* Kinesis.deleteStream({ stream })
          yield* sleep("10 millis")
          const error = yield* Effect.flip(
            Kinesis.describeStreamSummary(stream).pipe(Effect.repeat({ until: () => false, times: 50 }))
          )
          assert.strictEqual(error._tag, "ResourceNotFound")
        }))

      it.effect("a missing stream is ResourceNotFound on every operation, with the operation and stream named", () =>
        Effect.gen(function*() {
          const stream = freshStream("missing")
          const errors = yield* Effect.all([
            Effect.flip(Kinesis.describeStreamSummary(stream)),
            Effect.flip(Kinesis.listShards({ stream })),
            Effect.flip(Kinesis.putRecords({ stream, records: [{ data: bytes("x"), partitionKey: "k" }] })),
            Effect.flip(
              Kinesis.getShardIterator({ stream, shardId: "shardId-000000000000", position: { type: "LATEST" } })
            ),
            Effect.flip(Kinesis.deleteStream({ stream }))
          ])
          assert.deepStrictEqual(errors.map((e): string => e._tag), Arr.replicate("ResourceNotFound", 5))
          assert.deepStrictEqual(errors.map((e) => e.operation), [
            "describeStreamSummary",
            "listShards",
            "putRecords",
            "getShardIterator",
            "deleteStream"
          ])
          for (const e of errors) assert.strictEqual(e.stream, stream.name)
        }))

      it.effect("creating an existing stream is ResourceInUse", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(1)
          const error = yield* Effect.flip(Kinesis.createStream({ streamName: stream.name, shardCount: 1 }))
          assert.strictEqual(error._tag, "ResourceInUse")
        }))

      // kinesis-local answers HTTP 500 UnknownError (LOCAL-SERVERS.md); AWS answers InvalidArgumentException.
      if (caps.malformedIteratorIsInvalidArgument) {
        it.effect("a malformed shard iterator is InvalidArgument", () =>
          Effect.gen(function*() {
            const error = yield* Effect.flip(Kinesis.getRecords({ shardIterator: "not-an-iterator" }))
            assert.strictEqual(error._tag, "InvalidArgument")
          }))
      }

      // kinesis-local accepts 501 records (LOCAL-SERVERS.md); AWS rejects the request with ValidationException.
      if (caps.rejectsOversizedPutRecords) {
        it.effect("a 501-record PutRecords is rejected whole as InvalidArgument", () =>
          Effect.gen(function*() {
            const stream = yield* createStream(1)
            const error = yield* Effect.flip(Kinesis.putRecords({
              stream,
              records: Arr.makeBy(501, () => ({ data: bytes("x"), partitionKey: "k" }))
            }))
            assert.strictEqual(error._tag, "InvalidArgument")
          }))
      }

      // kinesis-local ends the first of 2 shards at 2^127 − 2 (LOCAL-SERVERS.md); AWS at 2^127 − 1.
      if (caps.awsHashRanges) {
        it.effect("createStream gives n shards AWS's even hash-key ranges", () =>
          Effect.gen(function*() {
            const two = yield* createStream(2)
            const three = yield* createStream(3)
            const ranges = (stream: StreamAddress.StreamAddress) =>
              Effect.map(Kinesis.listShards({ stream }), (shards) => shards.map((s) => s.hashKeyRange))
            assert.deepStrictEqual(yield* ranges(two), [
              { startingHashKey: "0", endingHashKey: "170141183460469231731687303715884105727" },
              {
                startingHashKey: "170141183460469231731687303715884105728",
                endingHashKey: "340282366920938463463374607431768211455"
              }
            ])
            assert.deepStrictEqual(yield* ranges(three), [
              { startingHashKey: "0", endingHashKey: "113427455640312821154458202477256070484" },
              {
                startingHashKey: "113427455640312821154458202477256070485",
                endingHashKey: "226854911280625642308916404954512140969"
              },
              {
                startingHashKey: "226854911280625642308916404954512140970",
                endingHashKey: "340282366920938463463374607431768211455"
              }
            ])
          }))
      }

      // kinesalite always reports 0, kinesis-local did in the probe (LOCAL-SERVERS.md).
      if (caps.millisBehindLatest) {
        it.effect("MillisBehindLatest tells how far behind the tip a reader is; 0 once caught up", () =>
          Effect.gen(function*() {
            const stream = yield* createStream(1)
            const [shard] = yield* Kinesis.listShards({ stream })
            yield* Kinesis.putRecords({ stream, records: [{ data: bytes("old"), partitionKey: "k" }] })
            yield* sleep("1 second")
            yield* Kinesis.putRecords({ stream, records: [{ data: bytes("new"), partitionKey: "k" }] })
            const iterator = yield* Kinesis.getShardIterator({
              stream,
              shardId: shard!.shardId,
              position: { type: "TRIM_HORIZON" }
            })
            const behind = yield* Kinesis.getRecords({ shardIterator: iterator, limit: 1 })
            assert.deepStrictEqual(behind.records.map((r) => text(r.data)), ["old"])
            assert.isAbove(behind.millisBehindLatest ?? 0, 0)
            const caughtUp = yield* Kinesis.getRecords({ shardIterator: behind.nextShardIterator!, limit: 1 })
            assert.deepStrictEqual(caughtUp.records.map((r) => text(r.data)), ["new"])
            assert.strictEqual(caughtUp.millisBehindLatest, 0)
          }))
      }
    }

    // kinesalite: ValidationException `streamName must not be null` (LOCAL-SERVERS.md).
    if (caps.arnAddressing) {
      it.effect("a stream addressed by ARN works for every data-plane call", () =>
        Effect.gen(function*() {
          const byName = yield* createStream(2, "arn")
          const { streamARN } = yield* Kinesis.describeStreamSummary(byName)
          const stream = StreamAddress.unsafeMake(streamARN)
          assert.strictEqual(stream._tag, "StreamArn")
          const summary = yield* Kinesis.describeStreamSummary(stream)
          assert.strictEqual(summary.streamName, byName.name)
          const put = yield* Kinesis.putRecords({ stream, records: [{ data: bytes("via-arn"), partitionKey: "k" }] })
          assert.strictEqual(put.failedRecordCount, 0)
          const shardId = put.records[0]!._tag === "Success" ? put.records[0]!.shardId : ""
          const shards = yield* Kinesis.listShards({ stream })
          assert.strictEqual(shards.length, 2)
          const { records } = yield* readAll(stream, shardId, { type: "TRIM_HORIZON" })
          assert.deepStrictEqual(records.map((r) => text(r.data)), ["via-arn"])
        }))
    }

    // kinesalite ignores MaxResults and ShardFilter and never returns a NextToken (LOCAL-SERVERS.md).
    if (caps.listShardsPaging) {
      it.effect("listShards follows NextToken across pages and applies the ShardFilter", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(5, "pages")
          const onePage = yield* Kinesis.listShards({ stream })
          const paged = yield* Kinesis.listShards({ stream, pageSize: 2 })
          assert.strictEqual(paged.length, 5)
          assert.deepStrictEqual(paged, onePage)

          const first = onePage[0]!
          const end = BigInt(first.hashKeyRange.endingHashKey)
          const start = BigInt(first.hashKeyRange.startingHashKey)
          yield* Kinesis.splitShard({
            stream,
            shardToSplit: first.shardId,
            newStartingHashKey: ((start + end) / 2n).toString(),
            waitUntilActive: true
          })
          const all = yield* Kinesis.listShards({ stream, pageSize: 3 })
          assert.strictEqual(all.length, 7)
          const open = yield* Kinesis.listShards({ stream, shardFilter: { type: "AT_LATEST" }, pageSize: 3 })
          assert.strictEqual(open.length, 6)
          assert.isFalse(open.some((s) => s.shardId === first.shardId))
        }))
    }

    // kinesalite: UnknownOperationException (LOCAL-SERVERS.md).
    if (caps.updateShardCount) {
      it.effect("updateShardCount reshards uniformly with parents recorded", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(2, "usc")
          const result = yield* Kinesis.updateShardCount({ stream, targetShardCount: 4, waitUntilActive: true })
          assert.deepStrictEqual(result, { currentShardCount: 2, targetShardCount: 4 })
          const open = yield* Kinesis.listShards({ stream, shardFilter: { type: "AT_LATEST" } })
          assert.strictEqual(open.length, 4)
          assert.isTrue(open.every((s) => s.parentShardId !== undefined))
          const summary = yield* Kinesis.describeStreamSummary(stream)
          assert.strictEqual(summary.openShardCount, 4)
        }))
    }

    // kinesalite never returns ChildShards (LOCAL-SERVERS.md).
    if (caps.childShards) {
      it.effect("a drained closed shard reports its ChildShards", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(1, "child")
          const [parent] = yield* Kinesis.listShards({ stream })
          yield* Kinesis.putRecords({ stream, records: [{ data: bytes("p"), partitionKey: "k" }] })
          yield* Kinesis.splitShard({
            stream,
            shardToSplit: parent!.shardId,
            newStartingHashKey: HALF,
            waitUntilActive: true
          })
          const { last, records } = yield* readAll(stream, parent!.shardId, { type: "TRIM_HORIZON" })
          assert.deepStrictEqual(records.map((r) => text(r.data)), ["p"])
          assert.isUndefined(last.nextShardIterator)
          assert.strictEqual(last.childShards?.length, 2)
          for (const child of last.childShards ?? []) assert.deepStrictEqual(child.parentShards, [parent!.shardId])
        }))
    }

    // kinesalite cannot fail a single record (LOCAL-SERVERS.md).
    const perRecord = caps.perRecordFailure
    if (perRecord !== false) {
      it.effect("PutRecords reports per-record failures in request order while the others succeed", () =>
        Effect.gen(function*() {
          const stream = yield* createStream(1, "partial")
          yield* perRecord.arrange
          const put = yield* Kinesis.putRecords({
            stream,
            records: [
              { data: bytes("ok-1"), partitionKey: "k" },
              perRecord.record,
              { data: bytes("ok-2"), partitionKey: "k" }
            ]
          })
          assert.strictEqual(put.failedRecordCount, 1)
          assert.deepStrictEqual(put.records.map((r) => r._tag), ["Success", "Failure", "Success"])
          const failure = put.records[1]!
          assert.strictEqual(failure._tag === "Failure" ? failure.errorCode : "", perRecord.errorCode)
        }))
    }

    // kinesalite: ValidationException `Value null at 'shardCount'` (LOCAL-SERVERS.md).
    if (caps.onDemand) {
      it.effect("an ON_DEMAND stream is created without a shard count", () =>
        Effect.gen(function*() {
          const streamName = freshStreamName("ondemand")
          yield* Kinesis.createStream({ streamName, streamMode: "ON_DEMAND", waitUntilActive: true })
          const summary = yield* Kinesis.describeStreamSummary(StreamAddress.unsafeMake(streamName))
          assert.strictEqual(summary.streamMode, "ON_DEMAND")
          assert.isAbove(summary.openShardCount, 0)
        }))
    }
  })
}
