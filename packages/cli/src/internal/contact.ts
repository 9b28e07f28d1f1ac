/**
 * `--timeout` of `tail` and `status`: how long a command may go without making contact — `tail` until
 * its consumer has listed the shards and taken its leases (a quiet stream afterwards is not a failure),
 * `status` until the first status. Retried errors are logged (`--log-level info`) and the last one is
 * what the command fails with when the time is up.
 *
 * @internal
 */
import * as KinesisError from "@effect-kinesis/core/KinesisError"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import { Timeout } from "./errors.js"

/** Where the errors retried in this fiber (and the fibers it forks) are recorded, inside `withDeadline`. */
const lastErrorRef: FiberRef.FiberRef<Option.Option<Ref.Ref<unknown>>> = FiberRef.unsafeMake<
  Option.Option<Ref.Ref<unknown>>
>(Option.none())

/** `listShards orders after KinesisConfigError: cannot reach the Kinesis endpoint 127.0.0.1:4567 (connect ECONNREFUSED 127.0.0.1:4567)` */
const describe = (error: unknown): string => {
  if (!Predicate.isObject(error)) return String(error)
  const field = (key: string) => {
    const value = Predicate.hasProperty(error, key) ? error[key] : undefined
    return typeof value === "string" && value.length > 0 ? value : undefined
  }
  const what = [field("operation"), field("stream")].filter((part) => part !== undefined).join(" ")
  const tag = field("_tag") ?? "error"
  const message = (field("message") ?? "").replace(/\s+/g, " ")
  return `${what.length === 0 ? "the call" : what} after ${tag}: ${message}`
}

/** Records a failure that is retried: the last one is reported if the deadline passes. @internal */
export const record = (error: unknown): Effect.Effect<void> =>
  Effect.flatMap(
    FiberRef.get(lastErrorRef),
    Option.match({ onNone: () => Effect.void, onSome: (ref) => Ref.set(ref, error) })
  )

/** Records a failure that is retried (`record`) and logs it at info level. @internal */
export const retrying = (error: unknown): Effect.Effect<void> =>
  Effect.zipRight(Effect.logInfo(`retrying ${describe(error)}`), record(error))

/**
 * A retry schedule that logs and records each retryable error it retries (`retrying`).
 *
 * @internal
 */
export const logged = <Out, R>(
  schedule: Schedule.Schedule<Out, KinesisError.ServiceError, R>
): Schedule.Schedule<Out, KinesisError.ServiceError, R> =>
  Schedule.tapInput(
    schedule,
    (error: KinesisError.ServiceError) => KinesisError.isRetryable(error) ? retrying(error) : Effect.void
  )

/** @internal */
export interface DeadlineOptions {
  readonly timeout: Duration.Duration
  /** What is waited for, for the message: `Kinesis (http://127.0.0.1:4567)`. */
  readonly waitingFor: string
}

/**
 * Runs `f` and fails with `Timeout` (carrying the last error retried) unless `f` calls `contacted`
 * within `timeout`, or ends first. After `contacted` the time is no longer bounded.
 *
 * @internal
 */
export const withDeadline = <A, E, R>(
  options: DeadlineOptions,
  f: (contacted: Effect.Effect<void>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | Timeout, R> =>
  Effect.gen(function*() {
    const last = yield* Ref.make<unknown>(undefined)
    const contact = yield* Deferred.make<void>()
    const contacted = Effect.asVoid(Deferred.succeed(contact, undefined))
    const deadline = Effect.zipRight(
      Effect.sleep(options.timeout),
      Effect.flatMap(Deferred.isDone(contact), (done) =>
        done
          ? Effect.never
          : Effect.flatMap(
            Ref.get(last),
            (lastError) =>
              Effect.fail(new Timeout({ waitingFor: options.waitingFor, timeout: options.timeout, lastError }))
          ))
    )
    const program = Effect.locally(f(contacted), lastErrorRef, Option.some(last))
    return yield* Effect.raceFirst(program, deadline)
  })
