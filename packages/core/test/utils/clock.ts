import { type Duration, Effect, Fiber, Option, TestClock } from "effect"

/** Runs `effect` in a fiber while moving the TestClock forward in `step`s until it is done. */
export const withClock = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  step: Duration.DurationInput = "100 millis",
  maxSteps = 20_000
) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < maxSteps; i++) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) break
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(fiber)
  })
