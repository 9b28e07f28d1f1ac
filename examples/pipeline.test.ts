/**
 * A user's own test of a whole pipeline — producer, consumer and their business logic — on the
 * in-memory `KinesisTest` instead of AWS, with throttling and a reshard, on the TestClock.
 * Run with `npx -y pnpm@10.34.9 vitest run examples`.
 */
import { Checkpointer, Consumer, KinesisTest, Producer } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref, Stream, TestClock } from "effect"

interface Payment {
  readonly account: string
  readonly amount: number
  readonly seq: number
}

// the code under test: keeps a balance per account from the payments it consumes
const balances = (ref: Ref.Ref<ReadonlyMap<string, number>>) =>
  Consumer.stream<Payment>({ stream: "payments", idleDelay: "200 millis", shardRefreshInterval: "1 second" }).pipe(
    Stream.runForEach((record) =>
      Ref.update(
        ref,
        (map) => new Map(map).set(record.value.account, (map.get(record.value.account) ?? 0) + record.value.amount)
      )
    )
  )

const payments = Array.from({ length: 1000 }, (_, seq): Payment => ({ account: `acct-${seq % 25}`, amount: 1, seq }))

describe("balances", () => {
  it.effect("every payment counted once, through throttling and a reshard", () =>
    Effect.gen(function*() {
      const ref = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
      const consumer = yield* Effect.fork(balances(ref))

      // 25 % of writes throttled: the producer retries them (in order per account)
      yield* KinesisTest.throttleRecords({ fraction: 0.25 })
      const first = yield* Stream.fromIterable(payments.slice(0, 500)).pipe(
        Stream.run(Producer.sink({ stream: "payments", partitionKey: (p) => p.account })),
        Effect.fork
      )
      yield* TestClock.adjust("30 seconds")
      yield* Fiber.join(first)

      // the stream is resharded while the consumer runs: it finishes the parents, then reads the children
      yield* KinesisTest.updateShardCount("payments", 4)
      yield* KinesisTest.clearFaults
      yield* Stream.fromIterable(payments.slice(500)).pipe(
        Stream.run(Producer.sink({ stream: "payments", partitionKey: (p) => p.account, shardLimits: false }))
      )
      for (let i = 0; i < 50; i++) yield* TestClock.adjust("200 millis")

      const result = yield* Ref.get(ref)
      assert.strictEqual(result.size, 25)
      for (const [account, total] of result) assert.strictEqual(total, 40, account) // 1,000 / 25, none twice
      yield* Fiber.interrupt(consumer)
    }).pipe(
      Effect.provide(Layer.merge(
        KinesisTest.layer({ streams: { payments: { shards: 2 } }, seed: 1 }),
        Checkpointer.layerMemory()
      ))
    ))
})
