/**
 * What the consumer tells an operator, on the in-memory engine with TestClock: per-shard delivered
 * counts that survive the end of a shard (they add up to the total), logs annotated with stream, worker
 * and shard, and a shard whose reads keep failing: warned about at once, then at a bounded rate, and
 * shown as `retrying` (with its typed error) in the status until a read succeeds.
 */
import { Checkpointer, Consumer, KinesisTest, Producer } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import {
  Array as Arr,
  Cause,
  Effect,
  Exit,
  Fiber,
  HashMap,
  Layer,
  Logger,
  Option,
  Schedule,
  Stream,
  SubscriptionRef,
  TestClock
} from "effect"
import { advance, openShardIds } from "./utils/testClock.js"

interface Logged {
  readonly level: string
  readonly message: ReadonlyArray<unknown>
  readonly annotations: Readonly<Record<string, unknown>>
  readonly at: number
}

/** A logger that keeps every message, its level, its annotations and the Clock time. */
const capture = (into: Array<Logged>) =>
  Logger.add(Logger.make(({ annotations, date, logLevel, message }) => {
    into.push({
      level: logLevel.label,
      message: Array.isArray(message) ? message : [message],
      annotations: Object.fromEntries(HashMap.toEntries(annotations)),
      at: date.getTime()
    })
  }))

const env = (shards: number, logs: Array<Logged>) =>
  Layer.mergeAll(
    KinesisTest.layer({ streams: { s: { shards } }, limits: false }),
    Checkpointer.layerMemory({ workerId: "w1" }),
    capture(logs)
  )

const produce = (from: number, to: number) =>
  Stream.fromIterable(Arr.range(from, to)).pipe(Stream.run(Producer.sink({ stream: "s", shardLimits: false })))

/** Runs `stream` in a fiber, keeping every value; `until` steps the TestClock until `done()` holds. */
const collect = <E>(stream: Stream.Stream<Consumer.ConsumerRecord<number>, E>) =>
  Effect.gen(function*() {
    const got: Array<number> = []
    const fiber = yield* Stream.runForEach(stream, (record) => Effect.sync(() => got.push(record.value))).pipe(
      Effect.fork
    )
    const until = (done: () => boolean) =>
      Effect.gen(function*() {
        for (let i = 0; i < 1_500 && !done(); i++) {
          if (Option.isSome(yield* Fiber.poll(fiber))) break
          yield* TestClock.adjust("200 millis")
        }
        return done()
      })
    return { got, until, stop: Fiber.interrupt(fiber) }
  })

const assertStoppedCleanly = <E>(exit: Exit.Exit<void, E>) => {
  if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) assert.fail(Cause.pretty(exit.cause))
}

const sumDelivered = (status: Consumer.ConsumerStatus) => status.shards.reduce((n, s) => n + s.recordsDelivered, 0)

/** The consumer's warnings about failing reads. */
const readWarnings = (logs: ReadonlyArray<Logged>) =>
  logs.filter((l) =>
    l.level === "WARN" && typeof l.message[0] === "string" &&
    l.message[0].startsWith("effect-kinesis consumer: reading")
  )

describe("Consumer operability", () => {
  it.effect("status: an ended shard keeps its delivered count; the per-shard counts add up to the total", () => {
    const logs: Array<Logged> = []
    return Effect.gen(function*() {
      yield* produce(1, 100)
      const [s0] = yield* openShardIds("s")
      const consumer = yield* Consumer.make<number>({
        stream: "s",
        idleDelay: "200 millis",
        shardRefreshInterval: "1 second"
      })
      const c = yield* collect(consumer.records)
      assert.isTrue(yield* c.until(() => c.got.length >= 100))

      // split s0, then merge its children: s0 and both children end, each after delivering records
      const [a, b] = yield* KinesisTest.splitShard("s", s0!)
      yield* produce(101, 200)
      assert.isTrue(yield* c.until(() => c.got.length >= 200))
      yield* KinesisTest.mergeShards("s", a!, b!)
      yield* produce(201, 300)
      assert.isTrue(yield* c.until(() => c.got.length >= 300))
      yield* advance("3 seconds")

      const status = yield* consumer.status
      const byId = new Map(status.shards.map((s) => [s.shardId, s]))
      for (const ended of [s0!, a!, b!]) {
        assert.strictEqual(byId.get(ended)?.state, "ended", ended)
        assert.isAbove(byId.get(ended)!.recordsDelivered, 0, `${ended} lost its count`)
      }
      assert.strictEqual(status.totals.ended, 3)
      assert.strictEqual(c.got.length, 300)
      assert.strictEqual(status.totals.records, 300)
      assert.strictEqual(sumDelivered(status), status.totals.records)
      assertStoppedCleanly(yield* c.stop)
    }).pipe(Effect.scoped, Effect.provide(env(2, logs)))
  })

  it.effect("logs carry stream, worker and shard annotations", () => {
    const logs: Array<Logged> = []
    return Effect.gen(function*() {
      yield* produce(1, 10)
      const [shardId] = yield* openShardIds("s")
      yield* KinesisTest.failNext("getRecords", { error: "ProvisionedThroughputExceeded" })
      const consumer = yield* Consumer.make<number>({ stream: "s", retrySchedule: Schedule.spaced("1 second") })
      const c = yield* collect(consumer.records)
      assert.isTrue(yield* c.until(() => c.got.length >= 10))
      const [warning] = readWarnings(logs)
      assert.isDefined(warning)
      assert.deepStrictEqual(warning!.annotations, { stream: "s", worker: "w1", shard: shardId })
      assertStoppedCleanly(yield* c.stop)
    }).pipe(Effect.scoped, Effect.provide(env(1, logs)))
  })

  it.effect("failing reads: a warning at once, then at most one per 30 s; status retrying, then reading again", () => {
    const logs: Array<Logged> = []
    return Effect.gen(function*() {
      yield* produce(1, 10)
      const [shardId] = yield* openShardIds("s")
      yield* KinesisTest.failNext("getRecords", { error: "ProvisionedThroughputExceeded", times: 1_000_000 })
      const consumer = yield* Consumer.make<number>({
        stream: "s",
        idleDelay: "200 millis",
        retrySchedule: Schedule.spaced("1 second")
      })
      const c = yield* collect(consumer.records)

      // the first failure is logged at once, with the typed error, and published
      yield* advance("1 second")
      let warnings = readWarnings(logs)
      assert.strictEqual(warnings.length, 1)
      assert.match(String(warnings[0]!.message[0]), /reading .* failed \(ProvisionedThroughputExceeded\), retrying/)
      const error = warnings[0]!.message[1]
      assert.isTrue(
        typeof error === "object" && error !== null && "_tag" in error && error._tag === "ProvisionedThroughputExceeded"
      )
      const published = (yield* SubscriptionRef.get(consumer.changes)).shards[0]
      assert.strictEqual(published?.state, "retrying")

      // ~20 more failures: no more warnings yet
      yield* advance("20 seconds")
      assert.strictEqual(readWarnings(logs).length, 1)
      let status = yield* consumer.status
      let shard = status.shards[0]!
      assert.strictEqual(shard.shardId, shardId)
      assert.strictEqual(shard.state, "retrying")
      assert.isAtLeast(shard.failures, 15)
      assert.strictEqual(shard.lastError?._tag, "ProvisionedThroughputExceeded")
      assert.strictEqual(status.totals.retrying, 1)
      assert.strictEqual(status.totals.reading, 0)

      // 65 s of failures: warnings at 0, 30 and 60 s, each later one with the failures since the previous
      yield* advance("44 seconds")
      warnings = readWarnings(logs)
      assert.strictEqual(warnings.length, 3)
      for (const later of warnings.slice(1)) {
        const counted = /still failing \(ProvisionedThroughputExceeded\): (\d+) failures since the last warning/.exec(
          String(later.message[0])
        )
        assert.isNotNull(counted, String(later.message[0]))
        assert.isAtLeast(Number(counted![1]), 20)
        assert.strictEqual(later.annotations.shard, shardId)
      }
      assert.isAtLeast(warnings[1]!.at - warnings[0]!.at, 30_000)
      assert.isAtLeast(warnings[2]!.at - warnings[1]!.at, 30_000)
      assert.strictEqual(c.got.length, 0)

      // the fault clears: the next read succeeds, the shard is reading again, the records arrive
      yield* KinesisTest.clearFaults
      assert.isTrue(yield* c.until(() => c.got.length >= 10))
      status = yield* consumer.status
      shard = status.shards[0]!
      assert.strictEqual(shard.state, "reading")
      assert.strictEqual(shard.failures, 0)
      assert.isUndefined(shard.lastError)
      assert.strictEqual(status.totals.retrying, 0)
      assert.strictEqual((yield* SubscriptionRef.get(consumer.changes)).shards[0]?.state, "reading")
      assert.isTrue(
        logs.some((l) => l.level === "INFO" && String(l.message[0]).includes(`reading ${shardId} again after`))
      )
      assert.strictEqual(readWarnings(logs).length, 3)
      assertStoppedCleanly(yield* c.stop)
    }).pipe(Effect.scoped, Effect.provide(env(1, logs)))
  })
})
