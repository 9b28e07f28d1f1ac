// The README's test-helpers example: a round trip through Producer.sink and Consumer.stream on the
// in-memory engine, with the TestClock moved for you.
import { Consumer, Producer } from "@effect-kinesis/core"
import * as Pipeline from "@effect-kinesis/core/testing/Pipeline"
import { assert, it } from "@effect/vitest"
import { Effect, Stream } from "effect"

it.effect("orders come back", () =>
  Pipeline.withClock(Effect.gen(function*() {
    yield* Stream.range(1, 100).pipe(Stream.run(Producer.sink({ stream: "orders" })))
    const read = yield* Consumer.stream<number>({ stream: "orders" }).pipe(Stream.take(100), Stream.runCollect)
    assert.deepStrictEqual(
      [...read].map((record) => record.value).sort((a, b) => a - b),
      [...Array(100).keys()].map((i) => i + 1)
    )
  })).pipe(Effect.provide(Pipeline.layer({ streams: { orders: { shards: 2 } } }))))
