/**
 * Producer benchmarks on the in-memory engine.
 * - overhead: `Stream.run(Producer.sink)` vs a hand-written loop doing the same serialization and
 *   PutRecords calls (500 per call) on the same port, limits off, over a plain array (the goal) and over the
 *   same `Stream` (context: the producer's own share);
 * - metrics: the updates a run makes, timed on their own (and, as context, the same sink with `metrics: false`);
 * - saturation: AWS limits on, 60 s of TestClock time — share of the shard limit achieved, share throttled.
 */
import { Kinesis, KinesisMetrics, KinesisTest, Processor, Producer, StreamAddress } from "@effect-kinesis/core"
import {
  Array as Arr,
  Chunk,
  Effect,
  Either,
  Fiber,
  Layer,
  Logger,
  LogLevel,
  MetricLabel,
  Stream,
  TestClock,
  TestContext
} from "effect"
import { compare, median, type Row, type Suite } from "./harness.js"

const N = 50_000
const SHARDS = 4

const valuesOf = (size: number) =>
  Arr.makeBy(N, (i) => ({ id: i, customer: `customer-${i % 1000}`, payload: "x".repeat(size - 50) }))

const freshEngine = () =>
  Effect.runSync(KinesisTest.make({ streams: { s: { shards: SHARDS } }, limits: false, callLogSize: 10 }))

const stream = StreamAddress.unsafeMake("s")
/**
 * What the sink sends for records without a key, so that both sides make the same PutRecords calls: one
 * partition key as long as the sink's made-up one (`p-` and 6 characters), and explicit hash keys spread
 * over each shard's range (16 per shard, the middles of 16 equal parts), the shards taken in turn.
 */
const KEY = "p-bench0"
const SHARD_WIDTH = 2n ** 128n / BigInt(SHARDS)
const HASH_KEYS = Arr.makeBy(
  SHARDS,
  (shard) => Arr.makeBy(16, (j) => (SHARD_WIDTH * BigInt(shard) + SHARD_WIDTH * BigInt(2 * j + 1) / 32n).toString())
)
const hashKeyOf = (i: number) => HASH_KEYS[i % SHARDS]![Math.floor(i / SHARDS) % 16]!

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
      const added = accumulator.add(values.map((value) => ({ value, partitionKey: KEY, explicitHashKey: "0" })))
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
          partitionKey: KEY,
          explicitHashKey: hashKeyOf(i)
        })
        if (batch.length === 500) yield* flush
      }
    }
    yield* flush
  })

/**
 * The same loop fed by a `Stream` of the values, as the sink is: what a user writes instead of the sink in
 * the same pipeline. It reads each chunk's array by index, as the sink does (no iterator per value).
 */
const loopOverStream = (kinesis: Kinesis.Service, values: ReadonlyArray<unknown>, kpl: boolean) =>
  Effect.suspend(() => {
    let batch: Array<Kinesis.PutRecordsEntry> = []
    let bytes = 0
    let i = 0
    const flush = Effect.suspend(() => {
      const records = batch
      batch = []
      bytes = 0
      return records.length === 0 ? Effect.void : Effect.asVoid(kinesis.putRecords({ stream, records }))
    })
    const accumulator = kpl ? Processor.kplJson.accumulator({ explicitHashKey: "0" }) : undefined
    const putAggregates = (aggregates: ReadonlyArray<Processor.Aggregate<unknown>>) =>
      Effect.gen(function*() {
        for (const a of aggregates) {
          if (batch.length === 500 || bytes + a.size > 5 * 1024 * 1024) yield* flush
          batch.push({ data: a.data, partitionKey: a.partitionKey, explicitHashKey: a.explicitHashKey })
          bytes += a.size
        }
      })
    return Stream.fromIterable(values).pipe(
      Stream.runForEachChunk((chunk) => {
        const inputs = Chunk.toReadonlyArray(chunk)
        if (accumulator !== undefined) {
          const added = accumulator.add(inputs.map((value) => ({ value, partitionKey: KEY, explicitHashKey: "0" })))
          return putAggregates(Either.isRight(added) ? added.right : [])
        }
        return Effect.gen(function*() {
          for (let k = 0; k < inputs.length; k++) {
            batch.push({
              data: Processor.json.serializer.encode(inputs[k]),
              partitionKey: KEY,
              explicitHashKey: hashKeyOf(i++)
            })
            if (batch.length === 500) yield* flush
          }
        })
      }),
      Effect.zipRight(
        Effect.suspend(() => accumulator === undefined ? Effect.void : putAggregates(accumulator.flush()))
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

/**
 * Milliseconds that the metric updates of one 50,000-record sink run take, timed on their own: for each
 * of its 100 requests (500 records each): requests, batch size, latency, records, Kinesis records and bytes,
 * and the two queue gauges (in fact updated per pump wake, less often). The same calls the producer makes
 * (`unsafeUpdate` with one stable label array, as its metric binder does).
 */
const metricUpdatesMs = (requests: number): number => {
  const labels = [MetricLabel.make("stream", "s")]
  const run = () => {
    for (let r = 0; r < requests; r++) {
      KinesisMetrics.producerRequests.unsafeUpdate(1, labels)
      KinesisMetrics.producerBatchSize.unsafeUpdate(500, labels)
      KinesisMetrics.producerPutLatency.unsafeUpdate(0.0001 * (r % 50), labels)
      KinesisMetrics.producerRecords.unsafeUpdate(500, labels)
      KinesisMetrics.producerKinesisRecords.unsafeUpdate(500, labels)
      KinesisMetrics.producerBytes.unsafeUpdate(50_000, labels)
      KinesisMetrics.producerQueueRecords.unsafeUpdate(r, labels)
      KinesisMetrics.producerQueueBytes.unsafeUpdate(r * 100, labels)
    }
  }
  for (let i = 0; i < 50; i++) run()
  const times: Array<number> = []
  for (let i = 0; i < 201; i++) {
    const start = performance.now()
    run()
    times.push(performance.now() - start)
  }
  return median(times)
}

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

/** The overhead cases in order: json and kplJson values of 100 B, then of 1 KiB (values made per size). */
function* overheadCases() {
  for (const size of [100, 1024]) {
    const values = valuesOf(size)
    for (const kpl of [false, true]) yield { kpl, size, values }
  }
}

/** Lowest–highest of each overhead row over several runs of `pnpm bench producer` (written by hand). */
const RANGES = "On 2026-11-30, three runs of this code before the one above gave (lowest–highest): against the array " +
  "loop, json 100 B 1.10–1.14×, kplJson 100 B 1.07–1.14×, json 1 KiB 1.02–1.12×, kplJson 1 KiB 1.03–1.09×; against " +
  "the loop over the same Stream, json 100 B 1.03–1.06×, kplJson 100 B 1.05–1.17×, json 1 KiB 1.01–1.07×, kplJson " +
  "1 KiB 0.95–1.00×; the Stream's own cost 0.99–1.06×; metrics on ÷ off 0.99–1.06×. The code before (no direct " +
  "path for plain values, a loop sending a 1-character key) measured 1.10–1.28× for json 100 B over six runs. A " +
  "row within ~0.1 of its goal is not settled by one run."

const suite: Suite = {
  name: "producer",
  description: `Producer on the KinesisTest engine (${SHARDS} shards). Overhead: \`Stream.run(Producer.sink)\` of ` +
    `${N.toLocaleString("en-US")} values vs a hand-written loop doing the same serialization and PutRecords calls ` +
    "(500 per call) on the same port, limits off: over a plain array (the goal), and over the same `Stream` as the " +
    "sink (context: the producer's own share). 21 alternating rounds after 2 warm-up rounds, medians (the ratio: " +
    "the median of the rounds' ratios). Saturation: AWS limits on, 60 s of TestClock time with the queue always full.",
  run: async () => {
    const rows: Array<Row> = []
    const label = (kpl: boolean, size: number) => `${kpl ? "kplJson" : "json"}, ${size} B values`
    for (const { kpl, size, values } of overheadCases()) {
      const result = await compareFresh(
        (kinesis) => viaSink(kinesis, values, kpl),
        (kinesis) => baseline(kinesis, values, kpl)
      )
      rows.push({
        case: `sink overhead, ${label(kpl, size)}`,
        unit: "ms/50k",
        ours: result.ours,
        baseline: { name: "hand-written loop", value: result.baseline },
        ratio: result.ratio,
        ratioMeaning: "time, sink ÷ loop",
        goal: "≤ 1.15×",
        pass: result.ratio <= 1.15
      })
    }
    for (const { kpl, size, values } of overheadCases()) {
      const result = await compareFresh(
        (kinesis) => viaSink(kinesis, values, kpl),
        (kinesis) => loopOverStream(kinesis, values, kpl)
      )
      rows.push({
        case: `context: the sink vs the loop over the same Stream, ${label(kpl, size)}`,
        unit: "ms/50k",
        ours: result.ours,
        baseline: { name: "loop over the Stream", value: result.baseline },
        ratio: result.ratio,
        ratioMeaning: "time, sink ÷ loop over the Stream: the producer's own share"
      })
    }
    {
      const values = valuesOf(100)
      const result = await compareFresh(
        (kinesis) => loopOverStream(kinesis, values, false),
        (kinesis) => baseline(kinesis, values, false)
      )
      rows.push({
        case: "context: the json loop over a Stream vs over an array, 100 B values",
        unit: "ms/50k",
        ours: result.ours,
        baseline: { name: "loop over an array", value: result.baseline },
        ratio: result.ratio,
        ratioMeaning: "time, over a Stream ÷ over an array: the Stream's own cost, before any producer code"
      })
    }
    {
      // the metrics' cost: their updates in a run, timed alone, against the run (json 100 B, the first row)
      const run = rows[0]!.ours
      const updates = metricUpdatesMs(N / 500)
      const ratio = run / (run - updates)
      rows.push({
        case: "metrics: the updates of one run, timed alone, vs the sink's run (json, 100 B)",
        unit: "ms/50k",
        ours: updates,
        baseline: { name: "the sink's run", value: run },
        ratio,
        ratioMeaning: "time, run ÷ run without the updates",
        goal: "≤ 1.03×",
        pass: ratio <= 1.03
      })
      const values = valuesOf(100)
      const result = await compareFresh(
        (kinesis) => viaSink(kinesis, values, false, true),
        (kinesis) => viaSink(kinesis, values, false, false)
      )
      rows.push({
        case: "context: metrics on vs off, json, 100 B",
        unit: "ms/50k",
        ours: result.ours,
        baseline: { name: "metrics: false", value: result.baseline },
        ratio: result.ratio,
        ratioMeaning: "time, on ÷ off: the same code but the updates, so this reads the run-to-run noise"
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
        "the sink sends for values without a key (one partition key as long as its made-up one, 16 explicit hash keys " +
        "per shard, the shards in turn; for KPL, aggregates whose user records carry a shard's hash key). The goal rows compare " +
        "with the loop over a plain array, as the issue states it. What the sink adds: the `Stream` and its chunks " +
        "(the loop over a Stream vs over an array: the Stream's own cost, which any consumer of the Stream pays), " +
        "then a record object per value, per-shard lanes and their bookkeeping, a fiber per request, delivery " +
        "accounting and metrics (the context rows: the sink vs the loop over the same Stream). The metrics goal " +
        "row times the updates a run makes on their own: the on ÷ off comparison differs only by them and reads the " +
        "machine's noise. The ratio is the median of the rounds' own ratios; a round's two runs alternate in order. " +
        "One process settles on its own JIT and heap state, which can favour either side by several per cent for a " +
        "whole row: the on ÷ off row, the same code on both sides but for the updates, has measured 0.90–1.13×. " +
        RANGES
    }
  }
}

export default suite
