// The README's "Testing your pipeline without AWS" example: a user's own test of their own code,
// on KinesisTest instead of AWS.
import { Kinesis, KinesisTest, StreamAddress } from "@effect-kinesis/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schedule, TestClock } from "effect"

interface Order {
  readonly id: string
  readonly customer: string
}

const orders = StreamAddress.unsafeMake("orders")

// The code under test: publishes orders, retrying the records Kinesis throttled.
const publish = (batch: ReadonlyArray<Order>) => {
  let pending = batch.map((order) => ({
    data: new TextEncoder().encode(JSON.stringify(order)),
    partitionKey: order.customer
  }))
  return Effect.suspend(() => Kinesis.putRecords({ stream: orders, records: pending })).pipe(
    Effect.flatMap((result) => {
      pending = pending.filter((_, i) => result.records[i]!._tag === "Failure")
      return pending.length === 0 ? Effect.void : Effect.fail("throttled" as const)
    }),
    Effect.retry(Schedule.exponential("100 millis"))
  )
}

describe("publish", () => {
  it.effect("delivers every order exactly once through throttling and a reshard", () =>
    Effect.gen(function*() {
      const all = Array.from({ length: 200 }, (_, i) => ({ id: `order-${i}`, customer: `customer-${i % 13}` }))

      // a fifth of all records are throttled, at random from the seed
      yield* KinesisTest.throttleRecords({ fraction: 0.2 })
      const first = yield* Effect.fork(publish(all.slice(0, 100)))
      yield* TestClock.adjust("1 minute") // the retries back off on the TestClock
      yield* Fiber.join(first)

      // reshard 2 → 3 shards between the batches, as AWS's UpdateShardCount would
      yield* KinesisTest.updateShardCount("orders", 3)
      const second = yield* Effect.fork(publish(all.slice(100)))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(second)

      // every order is in the stream once
      const stored = yield* KinesisTest.records("orders")
      const ids = stored.map((r) => (JSON.parse(new TextDecoder().decode(r.data)) as Order).id)
      assert.deepStrictEqual([...ids].sort(), all.map((o) => o.id).sort())

      // the second batch went to the new shards only
      const open = (yield* KinesisTest.shards("orders")).filter((s) => s.status === "OPEN").map((s) => s.shardId)
      assert.strictEqual(open.length, 3)
      assert.isTrue(stored.slice(-100).every((r) => open.includes(r.shardId)))

      // and the calls stayed within AWS's request limits
      const puts = (yield* KinesisTest.calls).filter((c) => c.operation === "putRecords")
      assert.isTrue(puts.length > 2) // throttled records were retried
      assert.isTrue(puts.every((c) => c.records <= 500 && c.bytes <= 5 * 1024 * 1024))
    }).pipe(Effect.provide(KinesisTest.layer({ streams: { orders: { shards: 2 } }, seed: 7 }))))
})
