/**
 * Enhanced fan-out vs polling on the in-memory engine, with the same latency model for both (every call,
 * and every event pushed, crosses a 20 ms network): records written at 1,000/s over 4 shards on the real
 * clock; each record's put→receive latency (its value carries the write time), p50 and p99; and the
 * process CPU per record of each run (the engine runs in-process for both, so this compares the two
 * read paths with the same server work around them).
 */
import { Checkpointer, Consumer, Kinesis, KinesisTest, StreamAddress } from "@effect-kinesis/core"
import { Effect, Fiber, Layer, Logger, LogLevel, Stream } from "effect"
import { median, type Row, type Suite } from "./harness.js"

const SHARDS = 4
const RATE = 1_000
const SECONDS = 12
const WARMUP_SECONDS = 3
const LATENCY = "20 millis"
const ROUNDS = 3
const stream = StreamAddress.unsafeMake("s")

interface Value {
  readonly at: number
  readonly i: number
}

const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/**
 * One run: writes at RATE for SECONDS and reads with `Consumer.stream` (by fan-out or by polling), or with a
 * bare reader of the same traffic (the port's `subscribeToShard` per shard; a GetRecords loop per shard paced
 * like the consumer); latencies after the warm-up, process CPU µs per record.
 */
export const run = (mode: "fanOut" | "polling" | "bare" | "barePolling") =>
  Effect.gen(function*() {
    const engine = yield* KinesisTest.make({ streams: { s: { shards: SHARDS } }, callLogSize: 10 })
    yield* engine.control.setLatency(LATENCY)
    const latencies: Array<number> = []
    const encoder = new TextEncoder()
    /** A bare reader's record: decoded, its latency kept. */
    const received = (data: Uint8Array) => {
      const value = JSON.parse(new TextDecoder().decode(data)) as Value
      if (value.i >= RATE * WARMUP_SECONDS) latencies.push(Date.now() - value.at)
    }
    const bare = Effect.gen(function*() {
      const arn = (yield* engine.kinesis.describeStreamSummary(stream)).streamARN
      const c = yield* engine.kinesis.registerStreamConsumer({ streamARN: arn, consumerName: "bare" })
      yield* Effect.forEach([0, 1, 2, 3], (s) =>
        engine.kinesis.subscribeToShard({
          consumerARN: c.consumerARN,
          shardId: `shardId-00000000000${s}`,
          position: { type: "LATEST" }
        }).pipe(
          Stream.runForEach((e) =>
            Effect.sync(() => {
              for (const r of e.records) received(r.data)
            })
          )
        ), { concurrency: "unbounded", discard: true })
    })
    const barePolling = Effect.forEach([0, 1, 2, 3], (s) =>
      Effect.gen(function*() {
        let iterator: string | undefined = yield* engine.kinesis.getShardIterator({
          stream,
          shardId: `shardId-00000000000${s}`,
          position: { type: "LATEST" }
        })
        while (iterator !== undefined) {
          const out: Kinesis.GetRecordsResponse = yield* engine.kinesis.getRecords({ shardIterator: iterator })
          for (const r of out.records) received(r.data)
          iterator = out.nextShardIterator
          yield* Effect.sleep(out.records.length === 0 ? "1 second" : "200 millis")
        }
      }), { concurrency: "unbounded", discard: true })
    const read = mode === "bare" ? bare : mode === "barePolling" ? barePolling : Consumer.stream<Value>({
      stream: "s",
      ...(mode === "fanOut" ? { fanOut: { consumerName: "bench" } } : {})
    }).pipe(
      Stream.runForEach((r) =>
        Effect.sync(() => {
          if (r.value.i >= RATE * WARMUP_SECONDS) latencies.push(Date.now() - r.value.at)
        })
      ),
      Effect.provide(Layer.merge(Layer.succeed(Kinesis.Kinesis, engine.kinesis), Checkpointer.layerMemory())),
      Logger.withMinimumLogLevel(LogLevel.None)
    )
    const fiber = yield* Effect.fork(read)
    yield* Effect.sleep("2 seconds")
    const cpu0 = process.cpuUsage()
    // 10 records every 10 ms, each on its own partition key
    const batch = RATE / 100
    let i = 0
    const start = Date.now()
    while (i < RATE * SECONDS) {
      const due = start + (i / RATE) * 1000
      const wait = due - Date.now()
      if (wait > 0) yield* Effect.sleep(`${wait} millis`)
      const at = Date.now()
      yield* engine.kinesis.putRecords({
        stream,
        records: Array.from({ length: batch }, (_, j) => ({
          data: encoder.encode(JSON.stringify({ at, i: i + j })),
          partitionKey: `k-${i + j}`
        }))
      })
      i += batch
    }
    const wanted = RATE * (SECONDS - WARMUP_SECONDS)
    for (let t = 0; t < 100 && latencies.length < wanted; t++) yield* Effect.sleep("100 millis")
    const cpu = process.cpuUsage(cpu0)
    yield* Fiber.interrupt(fiber)
    return { latencies, cpuPerRecord: (cpu.user + cpu.system) / (RATE * SECONDS) }
  })

type Mode = "fanOut" | "polling" | "bare" | "barePolling"
const MODES: ReadonlyArray<Mode> = ["fanOut", "polling", "bare", "barePolling"]

const suite: Suite = {
  name: "fanout",
  description:
    `Enhanced fan-out vs GetRecords polling (defaults: 5 calls/s per shard, 1 s idle pause) on the KinesisTest ` +
    `engine with ${LATENCY} of latency on every call and every pushed event: ${
      RATE.toLocaleString("en-US")
    } records/s ` +
    `over ${SHARDS} shards for ${SECONDS} s on the real clock (the first ${WARMUP_SECONDS} s not counted), ${ROUNDS} ` +
    "rotating rounds, medians.",
  run: async () => {
    const p50: Record<Mode, Array<number>> = { fanOut: [], polling: [], bare: [], barePolling: [] }
    const p99: Record<Mode, Array<number>> = { fanOut: [], polling: [], bare: [], barePolling: [] }
    const cpu: Record<Mode, Array<number>> = { fanOut: [], polling: [], bare: [], barePolling: [] }
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < MODES.length; k++) {
        const mode = MODES[(round + k) % MODES.length]!
        const out = await Effect.runPromise(run(mode))
        p50[mode].push(percentile(out.latencies, 50))
        p99[mode].push(percentile(out.latencies, 99))
        cpu[mode].push(out.cpuPerRecord)
      }
    }
    const row = (label: string, unit: string, ours: number, base: number, goal?: string, pass?: boolean): Row => ({
      case: label,
      unit,
      ours,
      baseline: { name: "polling", value: base },
      ratio: ours / base,
      ratioMeaning: "fan-out ÷ polling",
      goal,
      pass
    })
    // the consumer's own CPU: the run's, less that of a bare reader of the same traffic on the same engine
    const own = (mode: "fanOut" | "polling") =>
      Math.max(0, median(cpu[mode]) - median(cpu[mode === "fanOut" ? "bare" : "barePolling"]))
    const ownRatio = own("fanOut") / own("polling")
    return {
      rows: [
        row("put→receive latency, p50", "ms", median(p50.fanOut), median(p50.polling)),
        row("put→receive latency, p99", "ms", median(p99.fanOut), median(p99.polling)),
        row(
          "process CPU per record, the engine's work included",
          "µs/record",
          median(cpu.fanOut),
          median(cpu.polling)
        ),
        row(
          "the consumer's own CPU per record (the run less a bare reader of the same traffic)",
          "µs/record",
          own("fanOut"),
          own("polling"),
          "≤ 1×",
          ownRatio <= 1
        ),
        row(
          "context: the bare readers alone (engine, writes, a JSON.parse per record)",
          "µs/record",
          median(cpu.bare),
          median(cpu.barePolling)
        )
      ],
      notes: `
- Polling reads each shard at most 5 times a second and pauses \`idleDelay\` (1 s) when caught up, so a record
  waits for the next poll; fan-out pushes it in the next event (the engine wakes the subscription on the write).
- The same latency on both: every call (GetRecords, GetShardIterator, SubscribeToShard…) and every event pushed is
  delayed by ${LATENCY} (\`KinesisTest.setLatency\`). AWS cites ~70 ms propagation for fan-out and ~200 ms or more for
  polling; here the difference is the consumers' pacing, not the network.
- CPU: the engine runs in this process, so the process CPU counts the server's work and the writer's too. Fan-out
  makes the engine send an event per write (a few records each at this rate), where a poll takes ~50 records per
  GetRecords: the engine does about ten times as many steps. To compare the consumers themselves, each mode is
  also run with a bare reader of the same traffic (fan-out: the port's \`subscribeToShard\` per shard; polling: a
  GetRecords loop per shard paced like the consumer), and its CPU is subtracted. The rows are noisy (±20 % from
  round to round on this machine).`
    }
  }
}

export default suite
