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

/** One run: writes at RATE for SECONDS, reads with `fanOut` or by polling; latencies after the warm-up, CPU µs/record. */
export const run = (mode: "fanOut" | "polling") =>
  Effect.gen(function*() {
    const engine = yield* KinesisTest.make({ streams: { s: { shards: SHARDS } }, callLogSize: 10 })
    yield* engine.control.setLatency(LATENCY)
    const latencies: Array<number> = []
    const encoder = new TextEncoder()
    const read = Consumer.stream<Value>({
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

const suite: Suite = {
  name: "fanout",
  description:
    `Enhanced fan-out vs GetRecords polling (defaults: 5 calls/s per shard, 1 s idle pause) on the KinesisTest ` +
    `engine with ${LATENCY} of latency on every call and every pushed event: ${
      RATE.toLocaleString("en-US")
    } records/s ` +
    `over ${SHARDS} shards for ${SECONDS} s on the real clock (the first ${WARMUP_SECONDS} s not counted), ${ROUNDS} ` +
    "alternating rounds, medians.",
  run: async () => {
    const p50: Record<"fanOut" | "polling", Array<number>> = { fanOut: [], polling: [] }
    const p99: Record<"fanOut" | "polling", Array<number>> = { fanOut: [], polling: [] }
    const cpu: Record<"fanOut" | "polling", Array<number>> = { fanOut: [], polling: [] }
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 === 0 ? (["fanOut", "polling"] as const) : (["polling", "fanOut"] as const)) {
        const out = await Effect.runPromise(run(mode))
        p50[mode].push(percentile(out.latencies, 50))
        p99[mode].push(percentile(out.latencies, 99))
        cpu[mode].push(out.cpuPerRecord)
      }
    }
    const row = (
      label: string,
      unit: string,
      values: Record<"fanOut" | "polling", Array<number>>,
      goal?: { readonly text: string; readonly pass: (ratio: number) => boolean }
    ): Row => {
      const ours = median(values.fanOut)
      const base = median(values.polling)
      const ratio = ours / base
      return {
        case: label,
        unit,
        ours,
        baseline: { name: "polling", value: base },
        ratio,
        ratioMeaning: "fan-out ÷ polling",
        goal: goal?.text,
        pass: goal === undefined ? undefined : goal.pass(ratio)
      }
    }
    return {
      rows: [
        row("put→receive latency, p50", "ms", p50),
        row("put→receive latency, p99", "ms", p99),
        row("process CPU per record (engine included, the same for both)", "µs/record", cpu, {
          text: "≤ 1×",
          pass: (r) => r <= 1
        })
      ],
      notes: `
- Polling reads each shard at most 5 times a second and pauses \`idleDelay\` (1 s) when caught up, so a record
  waits for the next poll; fan-out pushes it in the next event (the engine wakes the subscription on the write).
- The same latency on both: every call (GetRecords, GetShardIterator, SubscribeToShard…) and every event pushed is
  delayed by ${LATENCY} (\`KinesisTest.setLatency\`). AWS cites ~70 ms propagation for fan-out and ~200 ms or more for
  polling; here the difference is the consumers' pacing, not the network.
- CPU: the engine runs in this process, so its work is counted too, and it differs: a subscription is woken by
  every write and sends an event each time (a few records per event at this rate), where a poll takes ~50 records
  per GetRecords. Per record, fan-out pays the per-batch costs (engine step, buffer offer, decoding a batch, emitting a
  chunk) about ten times as often. This row does not meet its goal; see the notes of issue 23.`
    }
  }
}

export default suite
