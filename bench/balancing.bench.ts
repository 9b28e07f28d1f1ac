/**
 * Consumer-group balancing by simulation: 1,000 shards × 50 workers, each a `Consumer` over one
 * `KinesisTest` engine and one memory `Checkpointer` store, in one process on the real clock with every
 * duration divided by SCALE (5): sessionTimeout 30 s → 6 s, heartbeat 10 s → 2 s, shard refresh 30 s →
 * 6 s, 10 minutes → 120 s (at 10× the one-process simulation is CPU-bound on 2 cores and its own event-loop
 * stalls expire leases). (On the TestClock the 1,000 readers' wake-ups are spread over so many instants
 * that `TestClock.adjust` — which waits for every fiber to suspend at each instant — takes hours.)
 * - time to fair share: from the workers' start until every shard is leased and no worker holds 2+
 *   more shards than another, in lease periods (sessionTimeout);
 * - lease moves per simulated minute once balanced, over 10 simulated minutes (lease counters);
 * - control-plane calls per second (ListShards, DescribeStreamSummary) against the AWS limits.
 */
import { Checkpointer, Consumer, Kinesis, KinesisTest } from "@effect-kinesis/core"
import { Duration, Effect, Fiber, Logger, LogLevel, Stream } from "effect"
import type { Row, Suite } from "./harness.js"

const SHARDS = 1_000
const WORKERS = 50
const SESSION_SECONDS = 30
/** Every duration of the simulation is divided by this (and rates multiplied back). */
const SCALE = 5
const ms = (seconds: number) => Duration.millis((seconds * 1000) / SCALE)

const simulate = Effect.gen(function*() {
  const engine = yield* KinesisTest.make({ streams: { s: { shards: SHARDS } }, limits: false, callLogSize: 2_000_000 })
  const store = Checkpointer.makeMemoryStore()
  const probe = yield* Checkpointer.makeMemory({ store, workerId: "probe" })
  const fibers: Array<Fiber.RuntimeFiber<void, unknown>> = []
  for (let w = 0; w < WORKERS; w++) {
    const fiber = yield* Consumer.stream({
      stream: "s",
      idleDelay: ms(5),
      shardRefreshInterval: ms(30),
      checkpointInterval: ms(10),
      metrics: false
    }).pipe(
      Stream.runDrain,
      Effect.provide(Checkpointer.layerMemory({ store, workerId: `w${w}`, sessionTimeout: ms(SESSION_SECONDS) })),
      Effect.provideService(Kinesis.Kinesis, engine.kinesis),
      Effect.fork
    )
    fibers.push(fiber)
  }
  const loads = Effect.gen(function*() {
    const now = Date.now()
    const counts = new Map<string, number>()
    let owned = 0
    let counters = 0
    for (const state of yield* probe.list("s")) {
      counters += state.leaseCounter
      if (state.owner !== undefined && state.expiresAt > now) {
        owned++
        counts.set(state.owner, (counts.get(state.owner) ?? 0) + 1)
      }
    }
    const values = Array.from(counts.values())
    const max = values.length === 0 ? 0 : Math.max(...values)
    const min = counts.size < WORKERS ? 0 : Math.min(...values)
    return { owned, max, min, counters }
  })
  // time to fair share
  const started = Date.now()
  while (Date.now() - started < (20 * SESSION_SECONDS * 1000) / SCALE) {
    yield* Effect.sleep(ms(0.5))
    const l = yield* loads
    if (l.owned === SHARDS && l.max - l.min <= 1) break
  }
  const balancedAt = ((Date.now() - started) * SCALE) / 1000 // simulated seconds
  const before = yield* loads
  const callsBefore = (yield* engine.control.calls).length
  // 10 simulated minutes of steady state
  yield* Effect.sleep(ms(600))
  const after = yield* loads
  const calls = (yield* engine.control.calls).slice(callsBefore)
  const perSecond = (op: string) => calls.filter((c) => c.operation === op).length / 600 // simulated seconds
  for (const fiber of fibers) yield* Fiber.interrupt(fiber)
  return {
    balancedAt,
    moves: after.counters - before.counters,
    listShards: perSecond("listShards"),
    describe: perSecond("describeStreamSummary"),
    getShardIterator: perSecond("getShardIterator"),
    final: after
  }
}).pipe(Logger.withMinimumLogLevel(LogLevel.None))

const suite: Suite = {
  name: "balancing",
  description: `Consumer-group balancing by simulation: ${SHARDS.toLocaleString("en-US")} shards × ${WORKERS} ` +
    `workers (\`Consumer.stream\` each) over one \`KinesisTest\` engine and one memory Checkpointer store, ` +
    `sessionTimeout ${SESSION_SECONDS} s (heartbeat 10 s), shard refresh 30 s, idle poll 5 s, all workers ` +
    `started at once. Simulated on the real clock with every duration divided by ${SCALE} (rates and times ` +
    "below are converted back to the unscaled configuration).",
  run: async () => {
    const wall = Date.now()
    const r = await Effect.runPromise(simulate)
    const periods = r.balancedAt / SESSION_SECONDS
    const rows: Array<Row> = [
      {
        case: `time to fair share (all ${SHARDS} leased, max − min ≤ 1)`,
        unit: "lease periods",
        ours: periods,
        goal: "≤ 2",
        pass: periods <= 2
      },
      {
        case: "lease moves per simulated minute once balanced (10 minutes)",
        unit: "moves/min",
        ours: r.moves / 10,
        goal: "0",
        pass: r.moves === 0
      },
      {
        case: "ListShards calls per second (AWS: 1,000/s per stream)",
        unit: "calls/s",
        ours: r.listShards,
        goal: "≪ 1,000",
        pass: r.listShards < 100
      },
      {
        case: "DescribeStreamSummary calls per second (AWS: 20/s per account)",
        unit: "calls/s",
        ours: r.describe,
        goal: "≪ 20",
        pass: r.describe < 2
      },
      {
        case: "GetShardIterator calls per second in steady state (AWS: 5/s per shard)",
        unit: "calls/s",
        ours: r.getShardIterator,
        goal: `≪ ${5 * SHARDS}`,
        pass: r.getShardIterator < SHARDS
      }
    ]
    return {
      rows,
      notes: `Balanced after ${r.balancedAt} simulated seconds; after 10 more minutes every shard is leased ` +
        `(${r.final.owned}), loads ${r.final.min}–${r.final.max} per worker. The simulation took ` +
        `${((Date.now() - wall) / 1000).toFixed(0)} s of wall time. A worker asks for hand-offs only while ` +
        "another holds 2+ more shards than it (counting the hand-offs it already asked for), and an owner hands " +
        "over only while that holds, so a balanced group makes no moves."
    }
  }
}

export default suite
