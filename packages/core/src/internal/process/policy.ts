/**
 * What `Consumer.process` and the Lambda handler do with one record: run the user's handler, retry it
 * with the `retry` schedule, and when it still fails apply the poison-record policy — send a
 * `PoisonRecord` to the dead letter (the record then counts as completed) or fail with `RecordFailed`.
 * A record that did not decode goes through the same policy (no retries: decoding is deterministic),
 * failing with its `DecodeError`. With `dedupe`, a record whose id completed recently is not run again.
 *
 * Owns the de-duplication window. Called by the scheduler's workers (through the consumer's or the
 * Lambda handler's `run`).
 *
 * Invariants: a record counts as completed only once its handler succeeded or its dead letter was
 * accepted; the dead letter carries the user record's own bytes as read (a KPL sub-record's, not the
 * aggregate's); a handler that throws is a defect of that record (to the policy), not of the worker.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type * as Checkpointer from "../../Checkpointer.js"
import type * as Kinesis from "../../Kinesis.js"
import { type DecodeError, RecordFailed } from "../../KinesisError.js"
import type * as Processor from "../../Processor.js"

/** Where the record came from (its shard, sequence and sub-sequence number, keys, arrival), and why it failed. @internal */
export interface PoisonRecord extends Omit<Processor.UserRecord<unknown>, "value"> {
  readonly stream: string
  /** The user record's bytes as read from Kinesis (for a KPL sub-record, its own bytes). */
  readonly data: Uint8Array
  /** Times the handler ran (0: the record did not decode). */
  readonly attempts: number
  readonly reason: "HandlerFailed" | "DecodeFailed"
  /** The last failure, rendered (`Cause.pretty`, or the `DecodeError`'s message). */
  readonly cause: string
}

/** A Kinesis record (or one of its user records) that did not decode: an item of its own. @internal */
export class DecodeFailure {
  /** The last item of its Kinesis record: the watermark past it covers the whole Kinesis record. */
  closesRecord = false
  constructor(readonly error: DecodeError, readonly record: Kinesis.KinesisRecord) {}
  get partitionKey(): string {
    return this.record.partitionKey
  }
  get position(): Checkpointer.Checkpoint {
    const sub = this.error.subSequenceNumber
    return this.closesRecord || sub === undefined
      ? { sequenceNumber: this.record.sequenceNumber }
      : { sequenceNumber: this.record.sequenceNumber, subSequenceNumber: sub }
  }
}

/** The record the handler gets, with what the policy needs to know about where it came from. @internal */
export interface Handled<A> extends Processor.UserRecord<A> {
  /** The Kinesis record as read (for a KPL sub-record: the aggregate). */
  readonly kinesisRecord: Kinesis.KinesisRecord
}

/** Why a record did not complete: its failure under `"fail"`, or the dead letter's own failure. @internal */
export type Failure<EL> =
  | { readonly _tag: "Failed"; readonly error: RecordFailed | DecodeError }
  | { readonly _tag: "DeadLetterFailed"; readonly cause: Cause.Cause<EL> }

/** `true`: completed. @internal */
export type Outcome<EL> = true | Failure<EL>

/** A bounded window of the ids of records completed lately (insertion order; the oldest leaves first). */
export class Dedupe<A> {
  private readonly ids = new Map<string, true>()
  duplicates = 0
  constructor(readonly id: (record: Processor.UserRecord<A>) => string | undefined, readonly window: number) {}
  seen(id: string): boolean {
    return this.ids.has(id)
  }
  add(id: string): void {
    if (this.ids.has(id)) return
    this.ids.set(id, true)
    if (this.ids.size > this.window) this.ids.delete(this.ids.keys().next().value!)
  }
}

export interface PolicyContext<A, E2, R2, EL, RL, RS> {
  readonly stream: string
  readonly aggregator: Processor.Aggregator
  readonly handler: (record: Processor.UserRecord<A>) => Effect.Effect<void, E2, R2>
  readonly retry: Schedule.Schedule<unknown, E2, RS> | undefined
  /** `undefined`: the `"fail"` policy. */
  readonly deadLetter: ((record: PoisonRecord) => Effect.Effect<void, EL, RL>) | undefined
  readonly dedupe: Dedupe<A> | undefined
  readonly metrics?: {
    readonly retried: (n: number) => void
    readonly deadLettered: (reason: PoisonRecord["reason"]) => void
    readonly duplicate: () => void
  } | undefined
}

/** What `makePolicy` returns. @internal */
export interface Policy<A, EL, R> {
  readonly run: (record: Handled<A> | DecodeFailure) => Effect.Effect<Outcome<EL>, never, R>
  readonly poison: (
    record: Handled<A> | DecodeFailure,
    attempts: number,
    cause: Cause.Cause<unknown>
  ) => Effect.Effect<Outcome<EL>, never, R>
  readonly direct: ((record: Handled<A>) => Effect.Effect<void, unknown, R>) | undefined
}

/** Runs records (and decode failures) through the handler and the policy. @internal */
export const makePolicy = <A, E2, R2, EL, RL, RS>(
  ctx: PolicyContext<A, E2, R2, EL, RL, RS>
): Policy<A, EL, R2 | RL | RS> => {
  const { dedupe, deadLetter, handler, metrics, retry } = ctx
  const completed: Effect.Effect<Outcome<EL>> = Effect.succeed(true)

  /** The handler's Effect; a handler that throws is that record's defect. */
  const call = (record: Handled<A>): Effect.Effect<void, E2, R2> => {
    try {
      return handler(record)
    } catch (defect) {
      return Effect.die(defect)
    }
  }

  const poison = (
    record: Handled<A> | DecodeFailure,
    attempts: number,
    cause: Cause.Cause<unknown>
  ): Effect.Effect<Outcome<EL>, never, RL> => {
    const decodeFailure = record instanceof DecodeFailure
    if (deadLetter === undefined) {
      return Effect.succeed({
        _tag: "Failed",
        error: decodeFailure ? record.error : new RecordFailed({
          stream: ctx.stream,
          shardId: record.shardId,
          sequenceNumber: record.sequenceNumber,
          subSequenceNumber: record.subSequenceNumber,
          partitionKey: record.partitionKey,
          attempts,
          cause
        })
      })
    }
    const letter = decodeFailure ? poisonOfDecodeFailure(ctx, record) : poisonOf(ctx, record, attempts, cause)
    return Effect.matchCause(deadLetter(letter), {
      onFailure: (failure): Outcome<EL> => ({ _tag: "DeadLetterFailed", cause: failure }),
      onSuccess: (): Outcome<EL> => {
        metrics?.deadLettered(letter.reason)
        if (!decodeFailure) remember(record as Handled<A>)
        return true
      }
    })
  }

  const remember = (record: Handled<A>) => {
    if (dedupe === undefined) return
    const id = dedupe.id(record)
    if (id !== undefined) dedupe.add(id)
  }

  const run = (record: Handled<A> | DecodeFailure): Effect.Effect<Outcome<EL>, never, R2 | RL | RS> => {
    if (record instanceof DecodeFailure) return poison(record, 0, Cause.fail(record.error))
    if (dedupe !== undefined) {
      const id = dedupe.id(record)
      if (id !== undefined && dedupe.seen(id)) {
        dedupe.duplicates++
        metrics?.duplicate()
        return completed
      }
    }
    if (retry === undefined) {
      return Effect.matchCauseEffect(call(record), {
        onFailure: (cause) => poison(record, 1, cause),
        onSuccess: () => {
          remember(record)
          return completed
        }
      })
    }
    let attempts = 0
    const attempt = Effect.suspend(() => {
      attempts++
      return call(record)
    })
    return Effect.matchCauseEffect(Effect.retry(attempt, retry), {
      onFailure: (cause) => {
        if (attempts > 1) metrics?.retried(attempts - 1)
        return poison(record, attempts, cause)
      },
      onSuccess: () => {
        if (attempts > 1) metrics?.retried(attempts - 1)
        remember(record)
        return completed
      }
    })
  }
  return {
    run,
    /** Failed for good after `attempts` runs: the poison-record policy. */
    poison,
    /**
     * Without `retry` and `dedupe`, a record's whole run is the handler's Effect (then `poison` on
     * failure): the caller runs it without any wrapper per record.
     */
    direct: retry === undefined && dedupe === undefined ? call : undefined
  }
}

/** The user record's own bytes: the whole data, or the sub-record's inside an aggregate (read again). */
const bytesOf = (
  aggregator: Processor.Aggregator,
  record: Kinesis.KinesisRecord,
  subSequenceNumber: number | undefined
): Uint8Array => {
  if (subSequenceNumber === undefined) return record.data
  let found: Uint8Array | undefined
  try {
    aggregator.unpack(record, (data, sub) => {
      if (sub === subSequenceNumber) found = data
    })
  } catch {
    // a broken aggregate: the bytes found before the break (or the whole record) are what we have
  }
  return found ?? record.data
}

const poisonOf = <A>(
  ctx: { readonly stream: string; readonly aggregator: Processor.Aggregator },
  record: Handled<A>,
  attempts: number,
  cause: Cause.Cause<unknown>
): PoisonRecord => ({
  stream: ctx.stream,
  shardId: record.shardId,
  sequenceNumber: record.sequenceNumber,
  subSequenceNumber: record.subSequenceNumber,
  partitionKey: record.partitionKey,
  explicitHashKey: record.explicitHashKey,
  approximateArrivalTimestamp: record.approximateArrivalTimestamp,
  data: bytesOf(ctx.aggregator, record.kinesisRecord, record.subSequenceNumber),
  attempts,
  reason: "HandlerFailed",
  cause: Cause.pretty(cause)
})

const poisonOfDecodeFailure = (
  ctx: { readonly stream: string; readonly aggregator: Processor.Aggregator },
  failure: DecodeFailure
): PoisonRecord => ({
  stream: ctx.stream,
  shardId: failure.error.shardId,
  sequenceNumber: failure.record.sequenceNumber,
  subSequenceNumber: failure.error.subSequenceNumber,
  partitionKey: failure.record.partitionKey,
  explicitHashKey: undefined,
  approximateArrivalTimestamp: failure.record.approximateArrivalTimestamp,
  data: bytesOf(ctx.aggregator, failure.record, failure.error.subSequenceNumber),
  attempts: 0,
  reason: "DecodeFailed",
  cause: failure.error.message
})
