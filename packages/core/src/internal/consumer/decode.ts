/**
 * The decode policy: how a batch's Kinesis records become user records, and what a record that does
 * not decode does (`onDecodeError`): `fail` stops the batch before it (the consumer then fails),
 * `skip` logs it, a dead-letter sink receives it.
 *
 * Owns the dead-letter queue and the fiber running the dead-letter sink. Called by the output
 * (`decode` as it takes a batch, `report` after) and by `consumer.ts` (it watches `sinkDone` and runs
 * `close` at shutdown).
 *
 * Invariants: a Kinesis record is delivered whole or not at all (a `fail` keeps none of its user
 * records); resuming inside an aggregate, its sub-records up to the checkpoint are not delivered again.
 * Decoding is synchronous, one `RecordImpl` per user record and no Effect per record.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { DecodeError } from "../../KinesisError.js"
import type * as Processor from "../../Processor.js"
import { type DecodedSink, decodeRecord, decodeRecordLenient } from "../processor/processor.js"
import { type Commit, RecordImpl } from "./record.js"
import type { DeadLetter, DecodeErrorPolicy } from "./shapes.js"
import type { Batch } from "./shard.js"

/** A batch decoded. */
export interface Decoded<A> {
  readonly records: Array<RecordImpl<A>>
  /** Policy `fail`: the record that failed (the batch stops before it). */
  readonly error: DecodeError | undefined
  /** Policies `skip` and dead letter: the records that failed. */
  readonly letters: Array<DeadLetter> | undefined
}

export interface DecodePolicy<A, E> {
  /** Decodes the batch (synchronously); its records commit through `commit`. */
  readonly decode: (batch: Batch<A, E>, commit: Commit) => Decoded<A>
  /** Counts the batch's decode failures and sends its dead letters on (or logs them, policy `skip`). */
  readonly report: (decoded: Decoded<A>) => Effect.Effect<void>
  /** Ends when the dead-letter sink ends, failing with its error (`undefined`: no dead-letter sink). */
  readonly sinkDone: Effect.Effect<unknown, E> | undefined
  /**
   * Shutdown: the dead-letter sink gets what is queued, then ends. `false` when a sink failed (now or
   * before) or ended early: records counted as processed may not have reached it.
   */
  readonly close: Effect.Effect<boolean>
}

export interface DecodeContext<A, E, R> {
  readonly processor: Processor.Processor<A>
  readonly policy: DecodeErrorPolicy<E, R>
  /** The dead-letter sink runs in it. */
  readonly scope: Scope.Scope
  readonly metrics: { readonly decodeErrors: Metric.Metric.Counter<number> } | undefined
}

export const makeDecodePolicy = <A, E, R>(
  ctx: DecodeContext<A, E, R>
): Effect.Effect<DecodePolicy<A, E>, never, R> =>
  Effect.gen(function*() {
    const { metrics, policy } = ctx
    const { aggregator, serializer } = ctx.processor
    let deadLetters: Queue.Queue<DeadLetter | typeof END> | undefined
    let deadLetterFiber: Fiber.RuntimeFiber<unknown, E> | undefined
    if (typeof policy === "object") {
      deadLetters = yield* Queue.bounded<DeadLetter | typeof END>(1024)
      deadLetterFiber = yield* Stream.fromQueue(deadLetters).pipe(
        Stream.takeWhile((letter): letter is DeadLetter => letter !== END),
        Stream.run(policy.deadLetter),
        Effect.forkIn(ctx.scope)
      )
    }

    const decode = (taken: Batch<A, E>, commit: Commit): Decoded<A> => {
      const shardId = taken.reader.shard.shardId
      const skip = taken.skipThrough
      const out: Array<RecordImpl<A>> = []
      let letters: Array<DeadLetter> | undefined
      let error: DecodeError | undefined
      let record = taken.records[taken.from]!
      const sink: DecodedSink<A> = (value, subSequenceNumber, partitionKey, explicitHashKey) => {
        // resuming inside an aggregate: skip the sub-records already processed
        if (
          skip !== undefined && subSequenceNumber !== undefined && skip.subSequenceNumber !== undefined &&
          subSequenceNumber <= skip.subSequenceNumber && record.sequenceNumber === skip.sequenceNumber
        ) return
        out.push(new RecordImpl(value, record, shardId, subSequenceNumber, partitionKey, explicitHashKey, commit))
      }
      for (let i = taken.from; i < taken.to; i++) {
        record = taken.records[i]!
        const start = out.length
        if (policy === "fail") {
          error = decodeRecord(serializer, aggregator, record, shardId, sink)
          if (error !== undefined) {
            out.length = start // a Kinesis record is delivered whole or not at all
            break
          }
        } else {
          const failed = record
          decodeRecordLenient(serializer, aggregator, record, shardId, sink, (e) => {
            ;(letters ??= []).push({ record: failed, shardId, error: e })
          })
        }
        if (out.length > start) out[out.length - 1]!.closesRecord = true
      }
      return { records: out, error, letters }
    }

    const report = ({ error, letters }: Decoded<A>): Effect.Effect<void> => {
      if (error !== undefined) return metrics !== undefined ? Metric.increment(metrics.decodeErrors) : Effect.void
      if (letters === undefined) return Effect.void
      return Effect.zipRight(
        metrics !== undefined ? Metric.incrementBy(metrics.decodeErrors, letters.length) : Effect.void,
        deadLetters === undefined
          ? Effect.forEach(letters, (l) => Effect.logWarning(`effect-kinesis consumer: skipped ${l.error.message}`), {
            discard: true
          })
          : Queue.offerAll(deadLetters, letters)
      )
    }

    const policyOf: DecodePolicy<A, E> = {
      decode,
      report,
      sinkDone: deadLetterFiber === undefined ? undefined : Fiber.join(deadLetterFiber),
      close: deadLetters !== undefined && deadLetterFiber !== undefined
        ? drain(deadLetters, deadLetterFiber)
        : Effect.succeed(true)
    }
    return policyOf
  })

const END: unique symbol = Symbol("effect-kinesis/consumer/dead-letters-end")

/** The sink takes what is queued and ends; whether it did so without failing (or having ended before). */
const drain = <E>(
  queue: Queue.Queue<DeadLetter | typeof END>,
  fiber: Fiber.RuntimeFiber<unknown, E>
): Effect.Effect<boolean> =>
  Effect.suspend(() => {
    // a sink that already ended took nothing queued since
    if (fiber.unsafePoll() !== null) return Effect.succeed(false)
    return Effect.raceFirst(Effect.zipRight(Queue.offer(queue, END), Fiber.await(fiber)), Fiber.await(fiber)).pipe(
      Effect.map(Exit.isSuccess)
    )
  })
