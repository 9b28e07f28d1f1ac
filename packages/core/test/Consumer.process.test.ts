/**
 * `Consumer.process` on the in-memory engine with TestClock: the stored checkpoint never passes an
 * unfinished record (random latencies and failures, several seeds), a crash redelivers from the
 * watermark, per-key order at concurrency 64, the poison-record policy (dead letter with its metadata,
 * to a Sink, a function or another stream; `fail` with the checkpoint just before), decode errors
 * through the same policy, de-duplication, a hand-off during in-flight work, and a split while records
 * are in flight.
 */
import { Checkpointer, Consumer, Kinesis, KinesisTest, Processor, Producer, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import {
  Array as Arr,
  Cause,
  Chunk,
  Clock,
  type Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Ref,
  Schedule,
  Sink,
  Stream,
  TestClock
} from "effect"
import { mulberry32 } from "../src/internal/testEngine/prng.js"

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

interface Value {
  readonly k: number
  readonly i: number
}

const compareSeq = (a: string, b: string): number =>
  a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0

const idOf = (
  r: { readonly shardId: string; readonly sequenceNumber: string; readonly subSequenceNumber?: number | undefined }
) => `${r.shardId}/${r.sequenceNumber}/${r.subSequenceNumber ?? ""}`

/** A small deterministic PRNG (the engine's own). */
const prng = mulberry32

const env = (
  shards: number,
  store: Checkpointer.MemoryStore,
  workerId = "w1",
  extraStreams: Record<string, { shards: number }> = {}
) =>
  Layer.merge(
    KinesisTest.layer({ streams: { s: { shards }, ...extraStreams }, limits: false }),
    Checkpointer.layerMemory({ store, workerId, sessionTimeout: "3 seconds" })
  )

/** Writes `n` values over `keys` partition keys (`k<k>`), in order. */
const produce = (n: number, keys: number, stream = "s") =>
  Stream.range(0, n - 1).pipe(
    Stream.map((i): Value => ({ k: i % keys, i })),
    Stream.run(Producer.sink<Value>({ stream, shardLimits: false, partitionKey: (v) => `k${v.k}` }))
  )

/** One record as written, bytes as given. */
const putRaw = (data: Uint8Array, partitionKey: string) =>
  Kinesis.putRecord({ stream: StreamAddress.unsafeMake("s"), data, partitionKey })

const common = {
  stream: "s",
  processor: Processor.json as Processor.Processor<Value>,
  idleDelay: "100 millis",
  shardRefreshInterval: "1 second",
  checkpointInterval: "200 millis"
} as const

/** Steps the TestClock until `done()` holds (or the fiber ended); whether it holds. */
const until = <E>(
  fiber: Fiber.RuntimeFiber<unknown, E>,
  done: () => boolean,
  step: Duration.DurationInput = "50 millis",
  maxSteps = 4_000
) =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps && !done(); i++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) break
      yield* TestClock.adjust(step)
    }
    return done()
  })

/** The stored checkpoint of every shard of "s". */
const stored = (store: Checkpointer.MemoryStore) =>
  Effect.flatMap(
    Checkpointer.makeMemory({ store, workerId: "probe" }),
    (probe) => Effect.map(probe.list("s"), (list) => new Map(list.map((s) => [s.shardId, s.checkpoint])))
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) ? failure.value : assert.fail(Cause.pretty(exit.cause))
}

// ---------------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------------

describe("Consumer.process", () => {
  it.effect("the stored checkpoint never passes an unfinished record (random latencies and failures, 3 seeds)", () =>
    Effect.gen(function*() {
      // (each sleep costs the TestClock real time: 300 records per seed keep this test near 10 s)
      for (const seed of [1, 2, 3]) {
        const random = prng(seed)
        const store = Checkpointer.makeMemoryStore()
        yield* Effect.gen(function*() {
          yield* produce(300, 20)
          const all = yield* KinesisTest.records("s")
          const completed = new Set<string>()
          let attempts = 0
          const handler = (record: Processor.UserRecord<Value>) =>
            Effect.gen(function*() {
              attempts++
              yield* Effect.sleep(`${Math.floor(random() * 300)} millis`)
              if (random() < 0.2) return yield* Effect.fail("flaky")
              completed.add(idOf(record))
            })
          const fiber = yield* Consumer.process({
            ...common,
            concurrency: 8,
            maxInFlightPerShard: 50,
            retry: Schedule.spaced("100 millis")
          }, handler).pipe(Effect.fork)
          let checks = 0
          const ok = yield* until(fiber, () => completed.size === all.length, "50 millis")
          // every step: whatever is stored covers only completed records
          const check = Effect.map(stored(store), (checkpoints) => {
            for (const record of all) {
              const checkpoint = checkpoints.get(record.shardId)
              if (checkpoint === undefined || compareSeq(record.sequenceNumber, checkpoint.sequenceNumber) > 0) continue
              checks++
              assert.isTrue(
                completed.has(idOf(record)),
                `seed ${seed}: checkpoint ${checkpoint.sequenceNumber} passes ${idOf(record)}`
              )
            }
          })
          yield* check
          assert.isTrue(ok, `seed ${seed}: ${completed.size} of ${all.length} completed`)
          yield* Fiber.interrupt(fiber)
          yield* check
          assert.isAbove(attempts, all.length, "some handler runs failed and were retried")
          assert.isAbove(checks, 0)
          // the final checkpoints are each shard's last record
          const final = yield* stored(store)
          for (const shardId of new Set(all.map((r) => r.shardId))) {
            const last = all.filter((r) => r.shardId === shardId).at(-1)!
            assert.strictEqual(final.get(shardId)?.sequenceNumber, last.sequenceNumber)
          }
        }).pipe(Effect.provide(env(3, store)))
      }
    }))

  it.effect("checkpoints are checked while the handlers run: a slow first record holds its shard's checkpoint", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(100, 10)
        const all = yield* KinesisTest.records("s")
        const first = all[0]!
        const completed = new Set<string>()
        const fiber = yield* Consumer.process(
          { ...common, concurrency: 16, order: "none" },
          (record) =>
            Effect.zipRight(
              idOf(record) === idOf(first) ? Effect.sleep("5 seconds") : Effect.sleep("10 millis"),
              Effect.sync(() => completed.add(idOf(record)))
            )
        ).pipe(Effect.fork)
        yield* until(fiber, () => completed.size === all.length - 1)
        yield* TestClock.adjust("1 second")
        // 99 of 100 completed, but not the first: nothing is stored past it
        assert.strictEqual(completed.size, all.length - 1)
        assert.isUndefined((yield* stored(store)).get(first.shardId))
        yield* until(fiber, () => completed.size === all.length)
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* stored(store)).get(first.shardId)?.sequenceNumber, all.at(-1)!.sequenceNumber)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(env(1, store)))
    }))

  it.effect("a crash mid-flight: the next run starts at the watermark, nothing is lost", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      const first = new Set<string>()
      const second: Array<string> = []
      const hung = new Set<string>()
      yield* Effect.gen(function*() {
        yield* produce(200, 10)
        const all = yield* KinesisTest.records("s")
        // run 1: every 37th record hangs; everything else completes (no order: nothing waits behind them)
        const run1 = yield* Consumer.process({ ...common, concurrency: 32, order: "none" }, (record) => {
          const id = idOf(record)
          if (record.value.i % 37 === 5) {
            hung.add(id)
            return Effect.never
          }
          return Effect.zipRight(Effect.sleep("20 millis"), Effect.sync(() => first.add(id)))
        }).pipe(Effect.fork)
        yield* until(run1, () => first.size + hung.size === all.length)
        yield* TestClock.adjust("1 second") // the periodic checkpoints are written
        const watermarks = yield* stored(store)
        // the crash: the process dies without a final checkpoint
        yield* Fiber.interrupt(run1)
        assert.deepStrictEqual(yield* stored(store), watermarks, "the final checkpoint is the watermark")
        const run2 = yield* Consumer.process({ ...common, concurrency: 32 }, (record) =>
          Effect.sync(() => second.push(idOf(record)))).pipe(Effect.fork)
        yield* until(run2, () =>
          new Set([...first, ...second]).size === all.length)
        yield* Fiber.interrupt(run2)
        // nothing lost
        assert.strictEqual(new Set([...first, ...second]).size, all.length)
        // per shard, run 2 starts exactly at the first record that did not complete in run 1
        for (const shardId of new Set(all.map((r) => r.shardId))) {
          const records = all.filter((r) => r.shardId === shardId)
          const firstUnfinished = records.find((r) => !first.has(idOf(r)))
          const again = second.filter((id) => id.startsWith(`${shardId}/`))
          if (firstUnfinished === undefined) {
            assert.deepStrictEqual(again, [])
            continue
          }
          assert.isTrue(hung.has(idOf(firstUnfinished)))
          const expected = records.slice(records.indexOf(firstUnfinished)).map(idOf)
          assert.deepStrictEqual([...again].sort(), [...expected].sort())
        }
      }).pipe(Effect.provide(env(2, store)))
    }))

  it.effect("per-key order at concurrency 64: 10,000 records, 50 keys, 4 shards, random latencies", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(10_000, 50)
        const random = prng(7)
        // latencies in scheduler turns, not TestClock time (10,000 sleeps would cost the TestClock minutes)
        const latency = () =>
          Effect.forEach(Arr.range(1, 1 + Math.floor(random() * 20)), () => Effect.yieldNow(), { discard: true })
        const running = new Set<number>()
        const lastDone = new Map<number, number>()
        let active = 0
        let maxActive = 0
        let done = 0
        const violations: Array<string> = []
        const fiber = yield* Consumer.process({ ...common, concurrency: 64 }, ({ value }) =>
          Effect.suspend(() => {
            if (running.has(value.k)) violations.push(`key ${value.k} overlaps at ${value.i}`)
            running.add(value.k)
            active++
            maxActive = Math.max(maxActive, active)
            return Effect.zipRight(
              latency(),
              Effect.sync(() => {
                running.delete(value.k)
                active--
                const previous = lastDone.get(value.k) ?? -1
                if (previous > value.i) violations.push(`key ${value.k}: ${value.i} completed after ${previous}`)
                lastDone.set(value.k, value.i)
                done++
              })
            )
          })).pipe(Effect.fork)
        assert.isTrue(yield* until(fiber, () => done === 10_000, "100 millis", 200))
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(violations, [])
        assert.strictEqual(maxActive, 50, "all 50 keys ran at once (64 allowed, one per key)")
      }).pipe(Effect.provide(env(4, store)))
    }))

  it.effect("a poison record goes to the dead letter with its metadata, and its shard continues", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(20, 3)
        const all = yield* KinesisTest.records("s")
        const letters = yield* Ref.make(Chunk.empty<Consumer.PoisonRecord>())
        const done: Array<number> = []
        let runsOf7 = 0
        const fiber = yield* Consumer.process({
          ...common,
          retry: Schedule.recurs(2),
          onFailure: { deadLetter: Sink.forEach((letter) => Ref.update(letters, Chunk.append(letter))) }
        }, ({ value }) =>
          value.i === 7
            ? Effect.zipRight(Effect.sync(() => runsOf7++), Effect.fail(new Error(`boom ${value.i}`)))
            : Effect.sync(() => done.push(value.i))).pipe(Effect.fork)
        yield* until(fiber, () => done.length === 19)
        yield* TestClock.adjust("1 second")
        const [letter] = Chunk.toReadonlyArray(yield* Ref.get(letters))
        assert.isDefined(letter)
        const seven = all.find((r) => JSON.parse(new TextDecoder().decode(r.data)).i === 7)!
        assert.strictEqual(runsOf7, 3)
        assert.deepInclude(letter, {
          stream: "s",
          shardId: seven.shardId,
          sequenceNumber: seven.sequenceNumber,
          subSequenceNumber: undefined,
          partitionKey: "k1",
          attempts: 3,
          reason: "HandlerFailed"
        })
        assert.deepStrictEqual(letter!.data, seven.data)
        assert.include(letter!.cause, "boom 7")
        // the shard went on: every other record completed, and the checkpoint is past the poison record
        assert.deepStrictEqual(done.sort((a, b) => a - b), Arr.range(0, 19).filter((i) => i !== 7))
        assert.strictEqual((yield* stored(store)).get(seven.shardId)?.sequenceNumber, all.at(-1)!.sequenceNumber)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(env(1, store)))
    }))

  it.effect("dead letters to another stream (deadLetterTo + poisonRecords), decode errors included, read back exactly", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(10, 2)
        const notJson = new TextEncoder().encode("{not json")
        yield* putRaw(notJson, "broken")
        const done: Array<number> = []
        yield* Effect.scoped(Effect.gen(function*() {
          const dlq = yield* Producer.make({ stream: "dlq", processor: Consumer.poisonRecords })
          const fiber = yield* Consumer.process(
            { ...common, onFailure: { deadLetter: Consumer.deadLetterTo(dlq) } },
            ({ value }) => value.i === 3 ? Effect.die("handler defect") : Effect.sync(() => done.push(value.i))
          ).pipe(Effect.fork)
          yield* until(fiber, () => done.length === 9)
          yield* TestClock.adjust("1 second")
          yield* Fiber.interrupt(fiber)
        }))
        const letters = (yield* KinesisTest.records("dlq")).map((r) => {
          const decoded = Consumer.poisonRecords.deaggregate(r, r.shardId)
          return decoded._tag === "Right" ? decoded.right[0]!.value : assert.fail("undecodable dead letter")
        })
        assert.strictEqual(letters.length, 2)
        const decodeFailed = letters.find((l) => l.reason === "DecodeFailed")!
        const handlerFailed = letters.find((l) => l.reason === "HandlerFailed")!
        assert.deepStrictEqual(decodeFailed.data, notJson)
        assert.strictEqual(decodeFailed.partitionKey, "broken")
        assert.strictEqual(decodeFailed.attempts, 0)
        assert.include(decodeFailed.cause, "Could not decode record")
        assert.strictEqual(JSON.parse(new TextDecoder().decode(handlerFailed.data)).i, 3)
        assert.strictEqual(handlerFailed.attempts, 1)
        assert.include(handlerFailed.cause, "handler defect")
        const all = yield* KinesisTest.records("s")
        assert.strictEqual((yield* stored(store)).get(all[0]!.shardId)?.sequenceNumber, all.at(-1)!.sequenceNumber)
      }).pipe(Effect.provide(env(1, store, "w1", { dlq: { shards: 1 } })))
    }))

  it.effect("a KPL sub-record's dead letter carries its own bytes, not the aggregate's", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* Stream.range(0, 9).pipe(
          Stream.map((i): Value => ({ k: 0, i })),
          Stream.run(Producer.sink<unknown>({ stream: "s", processor: Processor.kplJson, shardLimits: false }))
        )
        assert.strictEqual((yield* KinesisTest.records("s")).length, 1, "one aggregate")
        const letters: Array<Consumer.PoisonRecord> = []
        const done: Array<number> = []
        const fiber = yield* Consumer.process({
          ...common,
          processor: Processor.kplJson as Processor.Processor<Value>,
          onFailure: { deadLetter: (letter) => Effect.sync(() => letters.push(letter)) }
        }, ({ value }) => value.i === 4 ? Effect.fail("no") : Effect.sync(() => done.push(value.i))).pipe(Effect.fork)
        yield* until(fiber, () => done.length === 9)
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(letters.length, 1)
        assert.strictEqual(letters[0]!.subSequenceNumber, 4)
        assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(letters[0]!.data)), { k: 0, i: 4 })
      }).pipe(Effect.provide(env(1, store)))
    }))

  it.effect("\"fail\": the consumer stops with RecordFailed naming shard and sequence, its checkpoint just before", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(10, 1)
        const all = yield* KinesisTest.records("s")
        const fiber = yield* Consumer.process(
          { ...common, retry: Schedule.recurs(1) },
          ({ value }) => value.i === 5 ? Effect.fail({ reason: "bad" }) : Effect.sleep("10 millis")
        ).pipe(Effect.fork)
        yield* until(fiber, () => false, "50 millis", 100)
        const error = failureOf(yield* Fiber.await(fiber))
        assert.strictEqual(error._tag, "RecordFailed")
        if (error._tag !== "RecordFailed") return
        assert.strictEqual(error.shardId, all[5]!.shardId)
        assert.strictEqual(error.sequenceNumber, all[5]!.sequenceNumber)
        assert.strictEqual(error.partitionKey, "k0")
        assert.strictEqual(error.attempts, 2)
        assert.deepStrictEqual(Cause.failureOption(error.cause), Option.some({ reason: "bad" }))
        assert.include(error.message, all[5]!.sequenceNumber)
        assert.strictEqual((yield* stored(store)).get(all[5]!.shardId)?.sequenceNumber, all[4]!.sequenceNumber)
      }).pipe(Effect.provide(env(1, store)))
    }))

  it.effect("\"fail\" on a record that does not decode: DecodeError, checkpoint just before it", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(3, 1)
        yield* putRaw(new Uint8Array([0xff]), "k0")
        yield* produce(3, 1)
        const all = yield* KinesisTest.records("s")
        const fiber = yield* Consumer.process(common, () => Effect.void).pipe(Effect.fork)
        yield* until(fiber, () => false, "50 millis", 100)
        const error = failureOf(yield* Fiber.await(fiber))
        assert.strictEqual(error._tag, "DecodeError")
        if (error._tag !== "DecodeError") return
        assert.strictEqual(error.sequenceNumber, all[3]!.sequenceNumber)
        assert.strictEqual((yield* stored(store)).get(all[3]!.shardId)?.sequenceNumber, all[2]!.sequenceNumber)
      }).pipe(Effect.provide(env(1, store)))
    }))

  it.effect("a dead letter that fails fails the consumer with its error; the checkpoint stays before the record", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(5, 1)
        const all = yield* KinesisTest.records("s")
        const fiber = yield* Consumer.process({
          ...common,
          onFailure: { deadLetter: () => Effect.fail({ _tag: "DlqDown" as const }) }
        }, ({ value }) => value.i === 2 ? Effect.fail("no") : Effect.void).pipe(Effect.fork)
        yield* until(fiber, () => false, "50 millis", 100)
        assert.deepStrictEqual(failureOf(yield* Fiber.await(fiber)), { _tag: "DlqDown" })
        assert.strictEqual((yield* stored(store)).get(all[2]!.shardId)?.sequenceNumber, all[1]!.sequenceNumber)
      }).pipe(Effect.provide(env(1, store)))
    }))

  /** The value of a poison record (its JSON bytes). */
  const letterValue = (letter: Consumer.PoisonRecord): number =>
    (JSON.parse(new TextDecoder().decode(letter.data)) as Value).i

  /** The poison values (i % 5 === 0 of 0…49) that lie after the stored checkpoint of "s"'s one shard. */
  const poisonAfterCheckpoint = (store: Checkpointer.MemoryStore) =>
    Effect.gen(function*() {
      const all = yield* KinesisTest.records("s")
      const checkpoint = (yield* stored(store)).get(all[0]!.shardId)
      return all.flatMap((r, i) =>
        i % 5 === 0 && (checkpoint === undefined || compareSeq(r.sequenceNumber, checkpoint.sequenceNumber) > 0)
          ? [i]
          : []
      )
    })

  it.effect("a dead-letter Sink: the checkpoint never passes a poison record the sink has not taken", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(50, 5)
        const letters: Array<number> = []
        let done = 0
        // a slow sink: poison records (all of key k0) wait for it when the consumer is interrupted
        const slowSink = Sink.forEach((letter: Consumer.PoisonRecord) =>
          Effect.zipRight(Effect.sleep("100 millis"), Effect.sync(() => letters.push(letterValue(letter))))
        )
        const fiber = yield* Consumer.process(
          { ...common, onFailure: { deadLetter: slowSink } },
          ({ value }) => value.i % 5 === 0 ? Effect.fail("poison") : Effect.sync(() => done++)
        ).pipe(Effect.fork)
        yield* until(fiber, () => done === 40)
        assert.isBelow(letters.length, 10, "the sink is behind")
        const interrupted = yield* Fiber.interrupt(fiber).pipe(Effect.fork)
        yield* until(interrupted, () => false, "100 millis", 30)
        yield* Fiber.join(interrupted)
        // every poison record is with the sink, or after the checkpoint (delivered again)
        const after = yield* poisonAfterCheckpoint(store)
        const missing = Arr.range(0, 9).map((i) => i * 5).filter((i) => !letters.includes(i) && !after.includes(i))
        assert.deepStrictEqual(missing, [])
        assert.isAbove(after.length, 0, "the sink had not taken every poison record")
        // the next run hands the sink the rest
        const again: Array<number> = []
        const second = yield* Consumer.process(
          {
            ...common,
            onFailure: {
              deadLetter: Sink.forEach((l: Consumer.PoisonRecord) => Effect.sync(() => again.push(letterValue(l))))
            }
          },
          ({ value }) => value.i % 5 === 0 ? Effect.fail("poison") : Effect.void
        ).pipe(Effect.fork)
        yield* until(second, () => after.every((i) => again.includes(i)))
        yield* Fiber.interrupt(second)
        assert.includeMembers(again, after)
      }).pipe(Effect.provide(env(1, store)))
    }))

  it.effect("a dead-letter Sink that fails fails the consumer; the records it did not take come again", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(50, 5)
        const letters: Array<number> = []
        // the sink fails on the sixth poison record; with order "none" all ten are handed to it at once
        const failing = Sink.forEach((letter: Consumer.PoisonRecord) =>
          letterValue(letter) === 25
            ? Effect.fail({ _tag: "DlqDown" as const })
            : Effect.sync(() => letters.push(letterValue(letter)))
        )
        const fiber = yield* Consumer.process(
          { ...common, order: "none", onFailure: { deadLetter: failing } },
          ({ value }) => value.i % 5 === 0 ? Effect.fail("poison") : Effect.void
        ).pipe(Effect.fork)
        yield* until(fiber, () => false, "50 millis", 200)
        assert.deepStrictEqual(failureOf(yield* Fiber.await(fiber)), { _tag: "DlqDown" })
        const after = yield* poisonAfterCheckpoint(store)
        assert.include(after, 25, "the checkpoint passed the record the sink failed on")
        const missing = Arr.range(0, 9).map((i) => i * 5).filter((i) => !letters.includes(i) && !after.includes(i))
        assert.deepStrictEqual(missing, [], "poison records neither dead-lettered nor to come again")
      }).pipe(Effect.provide(env(1, store)))
    }))

  it.effect("dedupe: a redelivered id is not processed again, within the window", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        // ids 0…9, each written twice (a producer's retried write), then 0 again far later
        yield* Stream.fromIterable([...Arr.range(0, 9), ...Arr.range(0, 9)]).pipe(
          Stream.map((i): Value => ({ k: i, i })),
          Stream.run(Producer.sink<Value>({ stream: "s", shardLimits: false, partitionKey: (v) => `k${v.k}` }))
        )
        const seen: Array<number> = []
        const fiber = yield* Consumer.process({
          ...common,
          dedupe: { id: (record) => String(record.value.i), window: 100 }
        }, ({ value }) => Effect.sync(() => seen.push(value.i))).pipe(Effect.fork)
        yield* until(fiber, () => false, "100 millis", 30)
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(seen.sort((a, b) => a - b), Arr.range(0, 9))
        const all = yield* KinesisTest.records("s")
        assert.strictEqual((yield* stored(store)).get(all[0]!.shardId)?.sequenceNumber, all.at(-1)!.sequenceNumber)
      }).pipe(Effect.provide(env(1, store)))
    }))

  it.effect("a split while records are in flight: the children's records start after the parent's last completed", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(100, 10)
        const events: Array<{ readonly shardId: string; readonly at: number; readonly kind: "start" | "end" }> = []
        const fiber = yield* Consumer.process({ ...common, concurrency: 32 }, (record) =>
          Effect.gen(function*() {
            events.push({ shardId: record.shardId, at: yield* Clock.currentTimeMillis, kind: "start" })
            yield* Effect.sleep(record.value.k === 3 ? "2 seconds" : "50 millis")
            events.push({ shardId: record.shardId, at: yield* Clock.currentTimeMillis, kind: "end" })
          })).pipe(Effect.fork)
        yield* TestClock.adjust("300 millis")
        const [parent] = (yield* KinesisTest.shards("s")).map((s) => s.shardId)
        const children = yield* KinesisTest.splitShard("s", parent!)
        yield* produce(100, 10)
        const ok = yield* until(fiber, () => events.filter((e) => e.kind === "end").length === 200)
        yield* Fiber.interrupt(fiber)
        assert.isTrue(ok)
        const parentEnds = events.filter((e) => e.shardId === parent && e.kind === "end").map((e) => e.at)
        const childStarts = events.filter((e) => children.includes(e.shardId) && e.kind === "start").map((e) => e.at)
        assert.strictEqual(parentEnds.length, 100)
        assert.strictEqual(childStarts.length, 100)
        assert.isAtLeast(Math.min(...childStarts), Math.max(...parentEnds))
        // the slow key held the parent: its last record ended ≥ 2 s in
        assert.isAtLeast(Math.max(...parentEnds), 2_000)
      }).pipe(Effect.provide(env(1, store)))
    }))
})

describe("Consumer.process in a group", () => {
  it.effect("a hand-off during in-flight work waits for the running records only; the new owner starts at the watermark", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      const engine = yield* KinesisTest.make({ streams: { s: { shards: 2 } }, limits: false })
      const kinesis = Layer.succeed(Kinesis.Kinesis, engine.kinesis)
      const workerLayer = (workerId: string) =>
        Layer.merge(kinesis, Checkpointer.layerMemory({ store, workerId, sessionTimeout: "3 seconds" }))
      yield* produce(60, 6).pipe(Effect.provide(kinesis))
      const all = yield* engine.control.records("s")
      interface Run {
        readonly worker: string
        readonly id: string
        readonly shardId: string
        readonly start: number
        end: number | undefined
      }
      const runs: Array<Run> = []
      const start = (worker: string) =>
        Consumer.process({ ...common, concurrency: 2 }, (record) =>
          Effect.gen(function*() {
            const run: Run = {
              worker,
              id: idOf(record),
              shardId: record.shardId,
              start: yield* Clock.currentTimeMillis,
              end: undefined
            }
            runs.push(run)
            yield* Effect.sleep("1 second")
            run.end = yield* Clock.currentTimeMillis
          })).pipe(Effect.provide(workerLayer(worker)), Effect.fork)
      const a = yield* start("a")
      yield* TestClock.adjust("1 second")
      const b = yield* start("b")
      const completed = () => new Set(runs.filter((r) => r.end !== undefined).map((r) => r.id))
      const ok = yield* until(b, () => completed().size === all.length, "100 millis")
      yield* Fiber.interrupt(b)
      yield* Fiber.interrupt(a)
      assert.isTrue(ok, `${completed().size} of ${all.length}`)
      // one shard moved to b
      const moved = [...new Set(runs.filter((r) => r.worker === "b").map((r) => r.shardId))]
      assert.strictEqual(moved.length, 1)
      const shard = moved[0]!
      const onShard = runs.filter((r) => r.shardId === shard)
      const ofA = onShard.filter((r) => r.worker === "a")
      const ofB = onShard.filter((r) => r.worker === "b")
      assert.isAbove(ofA.length, 0)
      // the hand-off waited for a's running records: none of them overlaps b's work on the shard
      const aEnded = Math.max(...ofA.map((r) => r.end ?? Infinity))
      assert.isAtMost(aEnded, Math.min(...ofB.map((r) => r.start)))
      // and no longer: a did not run the shard's records it had admitted but not started
      const records = all.filter((r) => r.shardId === shard).map(idOf)
      assert.isBelow(ofA.length, records.length / 2)
      // b started exactly at a's watermark: every record after it, none before it
      const doneByA = new Set(ofA.map((r) => r.id))
      const firstNotDone = records.findIndex((id) => !doneByA.has(id))
      assert.deepStrictEqual(ofB.map((r) => r.id).sort(), records.slice(firstNotDone).sort())
    }))
})

describe("Consumer.process and a lost lease", () => {
  it.effect("records of a shard whose lease was lost are not started; the new owner's checkpoint is untouched", () =>
    Effect.gen(function*() {
      const store = Checkpointer.makeMemoryStore()
      yield* Effect.gen(function*() {
        yield* produce(20, 1)
        const all = yield* KinesisTest.records("s")
        const started: Array<number> = []
        const fiber = yield* Consumer.process(
          { ...common, order: "shard" },
          ({ value }) => Effect.zipRight(Effect.sync(() => started.push(value.i)), Effect.sleep("1 second"))
        ).pipe(Effect.fork)
        yield* until(fiber, () => started.length === 3, "100 millis")
        // another worker takes the lease over (a new owner and counter): the next renewal finds it lost
        const [state] = store.shards.get("s")!.values()
        state!.owner = "someone-else"
        state!.leaseCounter += 1
        state!.expiresAt = Number.MAX_SAFE_INTEGER
        state!.checkpoint = { sequenceNumber: all[1]!.sequenceNumber }
        yield* TestClock.adjust("3 seconds")
        const startedAtLoss = started.length
        yield* TestClock.adjust("10 seconds")
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit), `the consumer went on after the loss: ${String(exit)}`)
        // at most the record running when the loss was seen completes; nothing more starts
        assert.isAtMost(started.length, startedAtLoss)
        assert.isBelow(started.length, 8)
        assert.deepStrictEqual(state!.checkpoint, { sequenceNumber: all[1]!.sequenceNumber })
      }).pipe(Effect.provide(env(1, store)))
    }))
})
