/**
 * Producer benchmarks on the in-memory engine.
 * - overhead: `Stream.run(Producer.sink)` vs a hand-written loop doing the same serialization and
 *   PutRecords calls (500 per call) on the same port, limits off;
 * - metrics: the same sink with `metrics: false`;
 * - saturation: AWS limits on, 60 s of TestClock time — share of the shard limit achieved, share throttled.
 */
import { Kinesis, KinesisTest, Processor, Producer, StreamAddress } from "@effect-kinesis/core"
import { Array as Arr, Effect, Either, Fiber, Layer, Logger, LogLevel, Stream, TestClock, TestContext } from "effect"
import { compare, type Row, type Suite } from "./harness.js"

const N = 50_000
const SHARDS = 4

const valuesOf = (size: number) =>
  Arr.makeBy(N, (i) => ({ id: i, customer: `customer-${i % 1000}`, payload: "x".repeat(size - 50) }))

const freshEngine = () =>
  Effect.runSync(KinesisTest.make({ streams: { s: { shards: SHARDS } }, limits: false, callLogSize: 10 }))

const stream = StreamAddress.unsafeMake("s")
/** What the sink sends for records without a key: one key, and an explicit hash key in each shard in turn. */
const SHARD_KEYS = Arr.makeBy(4, (i) => ((2n ** 128n / 4n) * BigInt(i) + 12345n).toString())

/** The hand-written loop: serialize (through the processor's accumulator for KPL), batch by 500, put. */
const baseline = (kinesis: Kinesis.Service, values: ReadonlyArray<unknown>, kpl: boolean) =>
  Effect.gen(function*() {
    let batch: Array<Kinesis.PutRecordsEntry> = []
    const flush = Effect.suspend(() => {
      const records = batch
      batch = []
      return records.length === 0 ? Effect.void : Effect.asVoid(kinesis.putRecords({ stream, records }))
    })
    if (kpl) {
      const accumulator = Processor.kplJson.accumulator({ explicitHashKey: "0" })
      // what the sink builds for made-up keys: one partition key, each user record with the shard's hash key
      const added = accumulator.add(values.map((value) => ({ value, partitionKey: "k", explicitHashKey: "0" })))
      const aggregates = [...(Either.isRight(added) ? added.right : []), ...accumulator.flush()]
      let bytes = 0
      for (const a of aggregates) {
        if (batch.length === 500 || bytes + a.size > 5 * 1024 * 1024) {
          yield* flush
          bytes = 0
        }
        batch.push({ data: a.data, partitionKey: a.partitionKey, explicitHashKey: a.explicitHashKey })
        bytes += a.size
      }
    } else {
      for (let i = 0; i < values.length; i++) {
        batch.push({
          data: Processor.json.serializer.encode(values[i]),
          partitionKey: "k",
          explicitHashKey: SHARD_KEYS[i % SHARD_KEYS.length]!
        })
        if (batch.length === 500) yield* flush
      }
    }
    yield* flush
  })

/** The json loop fed by a `Stream` of the values, as the sink is: what the `Stream` itself costs. */
const loopOverStream = (kinesis: Kinesis.Service, values: ReadonlyArray<unknown>) =>
  Effect.suspend(() => {
    let batch: Array<Kinesis.PutRecordsEntry> = []
    let i = 0
    const flush = Effect.suspend(() => {
      const records = batch
      batch = []
      return records.length === 0 ? Effect.void : Effect.asVoid(kinesis.putRecords({ stream, records }))
    })
    return Stream.fromIterable(values).pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.gen(function*() {
          for (const value of chunk) {
            batch.push({
              data: Processor.json.serializer.encode(value),
              partitionKey: "k",
              explicitHashKey: SHARD_KEYS[i++ % SHARD_KEYS.length]!
            })
            if (batch.length === 500) yield* flush
          }
        })
      ),
      Effect.zipRight(flush)
    )
  })

const viaSink = (kinesis: Kinesis.Service, values: ReadonlyArray<unknown>, kpl: boolean, metrics = true) =>
  Stream.fromIterable(values).pipe(
    Stream.run(Producer.sink({
      stream: "s",
      processor: kpl ? Processor.kplJson : Processor.json,
      shardLimits: false,
      metrics
    })),
    Effect.provide(Layer.succeed(Kinesis.Kinesis, kinesis))
  )

const saturation = (shards: number, size: number) =>
  Effect.gen(function*() {
    const engine = yield* KinesisTest.make({ streams: { s: { shards } }, callLogSize: 100_000 })
    const value = { payload: "x".repeat(size - 14) }
    // the run ends with the queue full: closing must not wait to deliver it (the TestClock is not moving)
    const producer = yield* Producer.make({ stream: "s", maxQueueRecords: 20_000, shutdownTimeout: 0 }).pipe(
      Effect.provide(Layer.succeed(Kinesis.Kinesis, engine.kinesis))
    )
    const feeder = yield* Effect.fork(Effect.forever(producer.offer(Arr.replicate(value, 500))))
    for (let t = 0; t < 600; t++) yield* TestClock.adjust("100 millis")
    yield* Fiber.interrupt(feeder)
    const calls = (yield* engine.control.calls).filter((c) => c.operation === "putRecords")
    const sent = calls.reduce((n, c) => n + c.records, 0)
    const throttled = calls.reduce((n, c) => n + c.failedRecords, 0)
    const stored = yield* engine.control.records("s")
    const bytes = stored.reduce((n, r) => n + r.data.length + r.partitionKey.length, 0)
    const recordShare = stored.length / (60 * 1000 * shards)
    const byteShare = bytes / (60 * 1024 * 1024 * shards)
    return {
      share: Math.max(recordShare, byteShare),
      bound: byteShare > recordShare ? "bytes" : "records",
      throttled: throttled / sent
    }
  }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.None), Effect.provide(TestContext.TestContext))

/** `compare` of two runs over the same values, each on a fresh engine (21 rounds after 2 warm-up rounds). */
const compareFresh = (
  ours: (kinesis: Kinesis.Service) => Effect.Effect<unknown, unknown>,
  theirs: (kinesis: Kinesis.Service) => Effect.Effect<unknown, unknown>
) => {
  let kinesis = freshEngine().kinesis
  return compare({
    rounds: 21,
    warmup: 2,
    before: () => {
      kinesis = freshEngine().kinesis
    },
    ours: () => Effect.runPromise(ours(kinesis)),
    baseline: () => Effect.runPromise(theirs(kinesis))
  })
}

const suite: Suite = {
  name: "producer",
  description: `Producer on the KinesisTest engine (${SHARDS} shards). Overhead: \`Stream.run(Producer.sink)\` of ` +
    `${N.toLocaleString("en-US")} values vs a hand-written loop doing the same serialization and PutRecords calls ` +
    "(500 per call) on the same port, limits off, 21 alternating rounds after 2 warm-up rounds, medians (the ratio: the median of the rounds' ratios). Saturation: AWS limits on, 60 s of " +
    "TestClock time with the queue always full.",
  run: async () => {
    const rows: Array<Row> = []
    for (const size of [100, 1024]) {
      const values = valuesOf(size)
      for (const kpl of [false, true]) {
        const result = await compareFresh(
          (kinesis) => viaSink(kinesis, values, kpl),
          (kinesis) => baseline(kinesis, values, kpl)
        )
        rows.push({
          case: `sink overhead, ${kpl ? "kplJson" : "json"}, ${size} B values`,
          unit: "ms/50k",
          ours: result.ours,
          baseline: { name: "hand-written loop", value: result.baseline },
          ratio: result.ratio,
          ratioMeaning: "time, sink ÷ loop",
          goal: "≤ 1.15×",
          pass: result.ratio <= 1.15
        })
      }
    }
    {
      const values = valuesOf(100)
      const result = await compareFresh(
        (kinesis) => loopOverStream(kinesis, values),
        (kinesis) => baseline(kinesis, values, false)
      )
      rows.push({
        case: "diagnostic: the json loop fed by a Stream, 100 B values",
        unit: "ms/50k",
        ours: result.ours,
        baseline: { name: "hand-written loop", value: result.baseline },
        ratio: result.ratio,
        ratioMeaning: "time, loop over a Stream ÷ loop: the Stream's own share of the sink's overhead"
      })
      const own = await compareFresh(
        (kinesis) => viaSink(kinesis, values, false),
        (kinesis) => loopOverStream(kinesis, values)
      )
      rows.push({
        case: "diagnostic: the sink vs the json loop fed by the same Stream, 100 B values",
        unit: "ms/50k",
        ours: own.ours,
        baseline: { name: "loop over a Stream", value: own.baseline },
        ratio: own.ratio,
        ratioMeaning: "time, sink ÷ loop over a Stream: the producer's own share"
      })
    }
    {
      const values = valuesOf(100)
      const result = await compareFresh(
        (kinesis) => viaSink(kinesis, values, false, true),
        (kinesis) => viaSink(kinesis, values, false, false)
      )
      rows.push({
        case: "metrics on vs off, json, 100 B",
        unit: "ms/50k",
        ours: result.ours,
        baseline: { name: "metrics: false", value: result.baseline },
        ratio: result.ratio,
        ratioMeaning: "time, on ÷ off",
        goal: "≤ 1.03×",
        pass: result.ratio <= 1.03
      })
    }
    for (const shards of [1, 8]) {
      for (const size of [100, 1100]) {
        const r = await Effect.runPromise(saturation(shards, size))
        rows.push({
          case: `saturation, ${shards} shard(s), ${size} B records (${r.bound}-bound), throttled ${
            (r.throttled * 100).toFixed(2)
          } %`,
          unit: "% of limit",
          ours: r.share * 100,
          goal: "≥ 97 %, ≤ 1 % throttled",
          pass: r.share >= 0.97 && r.throttled <= 0.01
        })
      }
    }
    return {
      rows,
      notes: "Both overhead sides serialize with the processor's own serializer (`Processor.json`, or " +
        "`Processor.kplJson`'s accumulator) and send the same PutRecords entries to the same in-memory port: what " +
        "the sink sends for values without a key (one made-up partition key, an explicit hash key in each shard in " +
        "turn; for KPL, aggregates per shard whose user records carry the shard's hash key). What the sink adds: " +
        "the `Stream` and its chunks (first diagnostic row: the same loop fed by the same `Stream`), then a record " +
        "object per value, per-shard lanes and their bookkeeping, a fiber per request, delivery accounting and " +
        "metrics (second diagnostic row: the sink against that loop). The ratio is the median of the rounds' own " +
        "ratios. One process settles on its own JIT and heap state for the whole run, which can favour either " +
        "side: the metrics row (the same code on both sides but ~7 metric updates per request) has measured " +
        "0.90–1.13× from one run to the next, and running each row in 5 fresh processes (tried) spread as widely. " +
        "On 2026-11-30, eight runs of the final code gave (lowest–highest, median) json 100 B 1.08–1.35× (1.24), " +
        "kplJson 100 B 1.08–1.20× (1.13), json 1 KiB 0.96–1.19× (1.11), kplJson 1 KiB 0.97–1.05× (1.04), the Stream " +
        "alone 1.01–1.19× (1.11), the sink against the Stream-fed loop 1.04–1.20× (1.13): a row within ~0.1 of its goal " +
        "is not settled by one run."
    }
  }
}

export default suite
