/**
 * The options of record processing shared by `Consumer.process` and the Lambda handler, as a
 * JavaScript caller's values are checked against them (`Options.validate`), before anything runs.
 *
 * @internal
 */
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Sink from "effect/Sink"
import { InvalidOption } from "../../KinesisError.js"
import * as Options from "../options.js"

/** @internal */
export const PROCESSING_KINDS = {
  concurrency: Options.int(1),
  order: Options.custom(
    (u) => u === "partitionKey" || u === "shard" || u === "none" || typeof u === "function",
    "\"partitionKey\", \"shard\", \"none\" or a function of the record"
  ),
  retry: Options.custom(Schedule.isSchedule, "a Schedule"),
  onFailure: Options.custom(
    (u) =>
      u === "fail" ||
      (Predicate.hasProperty(u, "deadLetter") &&
        (Predicate.hasProperty(u.deadLetter, Sink.SinkTypeId) || typeof u.deadLetter === "function")),
    "\"fail\" or { deadLetter: Sink or (record) => Effect }"
  ),
  dedupe: Options.custom(
    (u) =>
      Predicate.hasProperty(u, "id") && typeof u.id === "function" && Predicate.hasProperty(u, "window") &&
      Number.isInteger(u.window) && (u.window as number) >= 1,
    "{ id: (record) => string | undefined, window: integer ≥ 1 }"
  )
}

/** The handler, from JavaScript: a function. @internal */
export const invalidHandler = (handler: unknown): InvalidOption | undefined =>
  typeof handler === "function"
    ? undefined
    : new InvalidOption({ option: "handler", value: handler, expected: "a function (record) => Effect" })
