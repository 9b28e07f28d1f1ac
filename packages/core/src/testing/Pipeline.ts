/**
 * Helpers for your own tests of a pipeline on the in-memory `KinesisTest` engine: the engine and a
 * memory checkpointer in one layer, and a way to run a program to its end while the `TestClock` moves.
 *
 * Needs no test runner: use it with `@effect/vitest`'s `it.effect` (which provides the `TestClock`).
 *
 * @example
 * ```ts
 * import { Consumer, Producer } from "@effect-kinesis/core"
 * import * as Pipeline from "@effect-kinesis/core/testing/Pipeline"
 * import { Effect, Stream } from "effect"
 *
 * const roundTrip = Effect.gen(function*() {
 *   yield* Stream.range(1, 100).pipe(Stream.run(Producer.sink({ stream: "orders" })))
 *   return yield* Consumer.stream<number>({ stream: "orders" }).pipe(Stream.take(100), Stream.runCollect)
 * })
 *
 * // in an `it.effect`: the producer's buffer time and the consumer's polls pass on the TestClock
 * export const test = Pipeline.withClock(roundTrip).pipe(
 *   Effect.provide(Pipeline.layer({ streams: { orders: { shards: 2 } } }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Checkpointer from "../Checkpointer.js"
import type * as Kinesis from "../Kinesis.js"
import * as KinesisTest from "../KinesisTest.js"

/**
 * The in-memory Kinesis (`KinesisTest.layer(options)`) and a memory `Checkpointer`: what a producer and
 * a consumer need to run in a test.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: KinesisTest.Options
): Layer.Layer<Kinesis.Kinesis | KinesisTest.KinesisTest | Checkpointer.Checkpointer> =>
  Layer.merge(KinesisTest.layer(options), Checkpointer.layerMemory())

/**
 * Runs `effect` in a fiber and moves the `TestClock` forward by `step` until the fiber is done (at most
 * `maxSteps` times; then it waits for the fiber as it is). Use it for programs that sleep, poll or
 * batch by time: producers with a buffer time, consumers, retries.
 *
 * @since 0.1.0
 * @category running
 */
export const withClock = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  step: Duration.DurationInput = "100 millis",
  maxSteps = 20_000
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    const duration = Duration.decode(step)
    for (let i = 0; i < maxSteps; i++) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) break
      yield* TestClock.adjust(duration)
    }
    return yield* Fiber.join(fiber)
  })
