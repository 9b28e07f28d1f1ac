/**
 * The Lambda handler over event fixtures in the shape AWS documents (test/fixtures/lambda): success,
 * the partial batch response on a failure (the shard's first failed record; later ones not started),
 * per-key order with concurrency, retries, dead letters (Sink and function; a KPL sub-record's own
 * bytes), decode errors, a failing dead letter (function, or a Sink failing as it drains), dedupe across
 * invocations, the layer built once and released (and built again after a failed build), bad events.
 */
import { type Consumer, Lambda, Processor } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Either, Exit, Layer, Option, Schedule, Schema, Sink } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { files, kplEvent, ordersEvent } from "./fixtures/lambda/events.js"

const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String, total: Schema.Number })
type Order = typeof Order.Type
const processor = Processor.schemaJson(Order)

const fixture = (name: keyof typeof files): unknown =>
  JSON.parse(Fs.readFileSync(Path.join(import.meta.dirname, "fixtures", "lambda", name), "utf8"))

const sequenceOfOrder = (event: ReturnType<typeof ordersEvent>, id: number) =>
  event.Records.find((r) => JSON.parse(Buffer.from(r.kinesis.data, "base64").toString()).id === id)!.kinesis
    .sequenceNumber

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) ? failure.value : assert.fail(Cause.pretty(exit.cause))
}

describe("Lambda", () => {
  it("the committed fixtures are what the generator makes (our KPL aggregate included)", () => {
    for (const [name, make] of Object.entries(files)) {
      assert.deepStrictEqual(fixture(name as keyof typeof files), JSON.parse(JSON.stringify(make())), name)
    }
  })

  it.effect("every record handled: an empty batchItemFailures; values decoded through the Schema", () =>
    Effect.gen(function*() {
      const seen: Array<Order> = []
      const response = yield* Lambda.processEvent(
        fixture("orders.json"),
        { processor },
        (record) => Effect.sync(() => seen.push(record.value))
      )
      assert.deepStrictEqual(response, { batchItemFailures: [] })
      assert.deepStrictEqual(seen.map((o) => o.id).sort(), [1, 2, 3, 4, 5, 6, 7, 8])
    }))

  it.effect("a failing record: its sequence number is reported; later records of its shard are not started", () =>
    Effect.gen(function*() {
      const event = ordersEvent()
      const started: Array<number> = []
      const response = yield* Lambda.processEvent(
        event,
        { processor, concurrency: 1, order: "shard" },
        (record) =>
          Effect.suspend(() => {
            started.push(record.value.id)
            return record.value.id === 3 ? Effect.fail("declined") : Effect.void
          })
      )
      assert.deepStrictEqual(response, { batchItemFailures: [{ itemIdentifier: sequenceOfOrder(event, 3) }] })
      // shard 1 stops at 3 (4 and 5 are retried by Lambda); shard 2 is whole
      assert.deepStrictEqual(started.filter((id) => id <= 5), [1, 2, 3])
      assert.deepStrictEqual(started.filter((id) => id > 5), [6, 7, 8])
    }))

  it.live("two failures in one shard: the first in batch order is reported", () =>
    Effect.gen(function*() {
      const event = ordersEvent()
      const response = yield* Lambda.processEvent(
        event,
        { processor, concurrency: 8, order: "none" },
        (record) =>
          record.value.id === 4 ?
            Effect.fail("fast failure") :
            record.value.id === 2 ?
            Effect.zipRight(Effect.sleep("20 millis"), Effect.fail("slow failure")) :
            Effect.void
      )
      assert.deepStrictEqual(response, { batchItemFailures: [{ itemIdentifier: sequenceOfOrder(event, 2) }] })
    }))

  it.live("per-key order with concurrency: a key's records never overlap and run in batch order", () =>
    Effect.gen(function*() {
      const running = new Set<string>()
      const byCustomer = new Map<string, Array<number>>()
      let overlaps = 0
      let parallel = 0
      const response = yield* Lambda.processEvent(
        fixture("orders.json"),
        { processor, concurrency: 8 },
        (record) =>
          Effect.gen(function*() {
            const customer = record.value.customer
            if (running.has(customer)) overlaps++
            running.add(customer)
            parallel = Math.max(parallel, running.size)
            yield* Effect.sleep("5 millis")
            running.delete(customer)
            byCustomer.set(customer, [...(byCustomer.get(customer) ?? []), record.value.id])
          })
      )
      assert.deepStrictEqual(response.batchItemFailures, [])
      assert.strictEqual(overlaps, 0)
      assert.isAbove(parallel, 1)
      assert.deepStrictEqual(Object.fromEntries(byCustomer), { a: [1, 3, 5], b: [2, 4], c: [6, 7, 8] })
    }))

  it.effect("retry: a flaky record succeeds on its third run and is not reported", () =>
    Effect.gen(function*() {
      let runs = 0
      const response = yield* Lambda.processEvent(
        fixture("orders.json"),
        { processor, retry: Schedule.recurs(3) },
        (record) => record.value.id === 5 && ++runs < 3 ? Effect.fail("flaky") : Effect.void
      )
      assert.deepStrictEqual(response.batchItemFailures, [])
      assert.strictEqual(runs, 3)
    }))

  it.effect("dead letters: a Sink gets the poison record with its metadata; a KPL sub-record carries its own bytes", () =>
    Effect.gen(function*() {
      const letters: Array<Consumer.PoisonRecord> = []
      const done: Array<number> = []
      const response = yield* Lambda.processEvent(
        fixture("kpl.json"),
        {
          processor: Processor.schema(Order, Processor.kplJson),
          retry: Schedule.recurs(1),
          onFailure: {
            deadLetter: Sink.forEach((letter: Consumer.PoisonRecord) => Effect.sync(() => letters.push(letter)))
          }
        },
        (record) => record.value.id === 4 ? Effect.fail("no") : Effect.sync(() => done.push(record.value.id))
      )
      assert.deepStrictEqual(response.batchItemFailures, [])
      assert.deepStrictEqual(done.sort(), [1, 2, 3, 5, 6])
      assert.strictEqual(letters.length, 1)
      const event = kplEvent()
      assert.deepInclude(letters[0], {
        stream: "orders",
        shardId: "shardId-000000000001",
        sequenceNumber: event.Records[0]!.kinesis.sequenceNumber,
        subSequenceNumber: 3,
        partitionKey: "b",
        attempts: 2,
        reason: "HandlerFailed"
      })
      assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(letters[0]!.data)), {
        id: 4,
        customer: "b",
        total: 40
      })
    }))

  it.effect("a record that does not decode goes through the policy: dead letter (function) or reported", () =>
    Effect.gen(function*() {
      const event = ordersEvent()
      const broken = {
        ...event.Records[1]!,
        kinesis: { ...event.Records[1]!.kinesis, data: Buffer.from("{not json").toString("base64") }
      }
      const withBroken = { Records: [event.Records[0]!, broken, ...event.Records.slice(2)] }
      const letters: Array<Consumer.PoisonRecord> = []
      const dead = yield* Lambda.processEvent(
        withBroken,
        { processor, onFailure: { deadLetter: (letter) => Effect.sync(() => letters.push(letter)) } },
        () => Effect.void
      )
      assert.deepStrictEqual(dead.batchItemFailures, [])
      assert.strictEqual(letters[0]?.reason, "DecodeFailed")
      assert.strictEqual(new TextDecoder().decode(letters[0]!.data), "{not json")
      const failed = yield* Lambda.processEvent(withBroken, { processor }, () => Effect.void)
      assert.deepStrictEqual(failed.batchItemFailures, [{ itemIdentifier: broken.kinesis.sequenceNumber }])
    }))

  it.effect("a dead letter that fails: the record is reported", () =>
    Effect.gen(function*() {
      const event = ordersEvent()
      const response = yield* Lambda.processEvent(
        event,
        { processor, onFailure: { deadLetter: () => Effect.fail("dlq down") } },
        (record) => record.value.id === 7 ? Effect.fail("no") : Effect.void
      )
      assert.deepStrictEqual(response.batchItemFailures, [{ itemIdentifier: sequenceOfOrder(event, 7) }])
    }))

  it.effect("a failing KPL sub-record: the aggregate's sequence number is reported; the rest of the shard not started", () =>
    Effect.gen(function*() {
      const started: Array<number> = []
      const response = yield* Lambda.processEvent(
        fixture("kpl.json"),
        { processor: Processor.schema(Order, Processor.kplJson), concurrency: 1, order: "shard" },
        (record) =>
          Effect.suspend(() => {
            started.push(record.value.id)
            return record.value.id === 3 ? Effect.fail("declined") : Effect.void
          })
      )
      const event = kplEvent()
      assert.deepStrictEqual(response, {
        batchItemFailures: [{ itemIdentifier: event.Records[0]!.kinesis.sequenceNumber }]
      })
      // sub-records 4 and 5, and the plain record after the aggregate (order 6), wait for Lambda's retry
      assert.deepStrictEqual(started, [1, 2, 3])
    }))

  it.live("a dead-letter Sink that fails while taking its queue fails the invocation: no poison record is lost", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Lambda.processEvent(
        ordersEvent(),
        {
          processor,
          onFailure: {
            // slower than the batch: the record counted as completed once queued, before the sink failed
            deadLetter: Sink.forEach(() => Effect.zipRight(Effect.sleep("20 millis"), Effect.fail("dlq down" as const)))
          }
        },
        (record) => record.value.id === 7 ? Effect.fail("no") : Effect.void
      ))
      assert.strictEqual(failureOf(exit), "dlq down")
    }))

  it.effect("bad events are InvalidEvent naming the record; bad options are InvalidOption", () =>
    Effect.gen(function*() {
      const run = (event: unknown) => Effect.exit(Lambda.processEvent(event, { processor }, () => Effect.void))
      let e = failureOf(yield* run({ records: [] }))
      assert.strictEqual(e._tag, "InvalidEvent")
      const event = ordersEvent()
      const notBase64 = {
        Records: [event.Records[0], { ...event.Records[1], kinesis: { ...event.Records[1]!.kinesis, data: "%%%" } }]
      }
      e = failureOf(yield* run(notBase64))
      assert.strictEqual(e._tag, "InvalidEvent")
      if (e._tag === "InvalidEvent") assert.strictEqual(e.index, 1)
      e = failureOf(yield* run({ Records: [{ ...event.Records[0], eventSource: "aws:sqs" }] }))
      assert.include(e.message, "aws:sqs")
      const bad = failureOf(yield* Effect.exit(Lambda.processEvent(event, { concurrency: 0 }, () => Effect.void)))
      assert.strictEqual(bad._tag, "InvalidOption")
    }))

  it.live("handler: the layer is built once for two invocations, dedupe spans them, dispose releases it", () =>
    Effect.gen(function*() {
      class Payments
        extends Context.Tag("Payments")<Payments, { readonly charge: (id: number) => Effect.Effect<void> }>()
      {}
      let built = 0
      let released = 0
      const charged: Array<number> = []
      const layer = Layer.scoped(
        Payments,
        Effect.acquireRelease(
          Effect.sync(() => {
            built++
            return { charge: (id: number) => Effect.sync(() => charged.push(id)) }
          }),
          () => Effect.sync(() => released++)
        )
      )
      let failOnce = true
      const handler = Lambda.handler(
        { layer, processor, concurrency: 1, order: "shard", dedupe: { id: (r) => String(r.value.id), window: 100 } },
        (record) =>
          Effect.flatMap(Payments, (payments) =>
            record.value.id === 3 && failOnce
              ? Effect.suspend(() => {
                failOnce = false
                return Effect.fail("declined")
              })
              : payments.charge(record.value.id))
      )
      const event = ordersEvent()
      const first = yield* Effect.promise(() => handler(event))
      assert.deepStrictEqual(first.batchItemFailures, [{ itemIdentifier: sequenceOfOrder(event, 3) }])
      // Lambda retries shard 1 from order 3: orders 1 and 2 do not come again; 6–8 completed (other shard)
      const retry = {
        Records: event.Records.filter((r) =>
          ["3", "4", "5"].includes(String(JSON.parse(Buffer.from(r.kinesis.data, "base64").toString()).id)) ||
          r.eventID.startsWith("shardId-000000000002")
        )
      }
      const second = yield* Effect.promise(() => handler(retry))
      assert.deepStrictEqual(second.batchItemFailures, [])
      assert.strictEqual(built, 1)
      assert.deepStrictEqual(charged.sort(), [1, 2, 3, 4, 5, 6, 7, 8], "orders 6–8 are not charged twice")
      yield* Effect.promise(() => handler.dispose())
      assert.strictEqual(released, 1)
      yield* Effect.promise(() => handler(ordersEvent()))
      assert.strictEqual(built, 2, "built again after dispose")
      yield* Effect.promise(() => handler.dispose())
    }))

  it.live("handler: a bad event rejects the invocation (Lambda retries the whole batch); the layer stays", () =>
    Effect.gen(function*() {
      let built = 0
      const layer = Layer.effectDiscard(Effect.sync(() => built++))
      const handler = Lambda.handler({ layer, processor }, () => Effect.void)
      const rejected = yield* Effect.either(Effect.tryPromise(() => handler({ Records: [{ kinesis: null }] })))
      assert.isTrue(Either.isLeft(rejected))
      if (Either.isLeft(rejected)) assert.include(String(rejected.left.cause), "InvalidEvent")
      const ok = yield* Effect.promise(() => handler(ordersEvent()))
      assert.deepStrictEqual(ok.batchItemFailures, [])
      assert.strictEqual(built, 1)
      yield* Effect.promise(() => handler.dispose())
    }))

  it.live("handler: a layer that does not build rejects the invocation; the next one builds it again", () =>
    Effect.gen(function*() {
      let attempts = 0
      let released = 0
      const layer = Layer.scopedDiscard(Effect.gen(function*() {
        yield* Effect.addFinalizer(() => Effect.sync(() => released++))
        if (++attempts === 1) return yield* Effect.fail("database unreachable")
      }))
      const handler = Lambda.handler({ layer, processor }, () => Effect.void)
      const first = yield* Effect.either(Effect.tryPromise(() => handler(ordersEvent())))
      assert.isTrue(Either.isLeft(first))
      assert.strictEqual(released, 1, "what the failed build acquired is released")
      const second = yield* Effect.promise(() => handler(ordersEvent()))
      assert.deepStrictEqual(second.batchItemFailures, [])
      assert.strictEqual(attempts, 2)
      yield* Effect.promise(() => handler.dispose())
      assert.strictEqual(released, 2)
    }))

  it.live("handler: after an invocation fails as a whole, dedupe forgets it: its poison record reaches the dead letter again", () =>
    Effect.gen(function*() {
      let sinkDown = true
      const letters: Array<string> = []
      const handler = Lambda.handler(
        {
          layer: Layer.empty,
          processor,
          dedupe: { id: (r) => String(r.value.id), window: 100 },
          onFailure: {
            deadLetter: Sink.forEach((letter: Consumer.PoisonRecord) =>
              Effect.zipRight(
                Effect.sleep("10 millis"),
                sinkDown ? Effect.fail("dlq down") : Effect.sync(() => letters.push(letter.sequenceNumber))
              )
            )
          }
        },
        (record) => record.value.id === 7 ? Effect.fail("no") : Effect.void
      )
      const event = ordersEvent()
      const first = yield* Effect.either(Effect.tryPromise(() => handler(event)))
      assert.isTrue(Either.isLeft(first))
      sinkDown = false
      const second = yield* Effect.promise(() => handler(event))
      assert.deepStrictEqual(second.batchItemFailures, [])
      assert.deepStrictEqual(letters, [sequenceOfOrder(event, 7)])
      yield* Effect.promise(() => handler.dispose())
    }))

  it.live(
    "on SIGTERM the container's layer is released, then the process ends as the signal asks",
    () =>
      Effect.async<{ readonly out: string; readonly signal: string | null }>((resume) => {
        const child = spawn(process.execPath, [
          "--import",
          "tsx",
          Path.join(import.meta.dirname, "fixtures", "lambda", "sigterm.ts")
        ], {
          stdio: ["ignore", "pipe", "inherit"]
        })
        let out = ""
        child.stdout.on("data", (chunk: Uint8Array) => {
          out += new TextDecoder().decode(chunk)
          if (out.includes("ready") && !out.includes("sent")) {
            out += "sent\n"
            child.kill("SIGTERM")
          }
        })
        child.on("exit", (_code, signal) => resume(Effect.succeed({ out, signal })))
      }).pipe(
        Effect.timeout("30 seconds"),
        Effect.map(({ out, signal }) => {
          assert.include(out, "released")
          assert.strictEqual(signal, "SIGTERM")
        })
      ),
    40_000
  )
})
