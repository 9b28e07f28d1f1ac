/**
 * `Consumer.process`: the consumer in `process` mode (each shard reads into its own buffer), with the
 * scheduler (`../process/scheduler.ts`) in place of the output stream. For each shard this worker
 * starts reading, an admission fiber takes its batches, decodes them (a record that does not decode
 * becomes an item of its own, for the poison policy) and admits the items into the shard's lane,
 * waiting while the lane holds `maxInFlightPerShard` records (until it is down to half); the workers run
 * the handler through the
 * policy (`../process/policy.ts`); each lane's watermark is the shard's processed position, written by
 * the checkpointing as in auto mode (every `checkpointInterval` or `checkpointEvery` records, on
 * hand-off, at a shard's end and on shutdown).
 *
 * Owns the admission fibers, the scheduler, the dead-letter sink's fiber and the process's failure.
 * Called by `Consumer.process`.
 *
 * Invariants: the stored checkpoint of a shard never passes a record that did not complete; a closed
 * shard's children start only after all of its records completed (its end waits for the watermark, as
 * `drained` does in auto mode); a hand-off waits only for the shard's records running (`Lane.stop` cuts
 * the lane before its first record not started, and lowers the reader's `taken` to there; bounded by
 * half a session); records of a shard whose lease was lost or that is handed over are not started; the
 * first record that fails under `"fail"` fails the whole process (in-flight handlers are interrupted,
 * and the final checkpoint is the watermark: just before that record once the records before it
 * completed).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import { Buffer } from "node:buffer"
import type * as Checkpointer from "../../Checkpointer.js"
import type { ProcessOptions } from "../../Consumer.js"
import type * as Kinesis from "../../Kinesis.js"
import type { DecodeError, RecordFailed } from "../../KinesisError.js"
import * as KinesisMetrics from "../../KinesisMetrics.js"
import type * as Processor from "../../Processor.js"
import * as ProcessorApi from "../../Processor.js"
import {
  DecodeFailure,
  Dedupe,
  type Failure,
  makePolicy,
  type Outcome,
  type PoisonRecord,
  type Policy
} from "../process/policy.js"
import { type Item, type Lane, type Runner, Scheduler } from "../process/scheduler.js"
import { type DecodedSink, decodeRecordLenient } from "../processor/processor.js"
import * as internal from "./consumer.js"
import { type Commit, RecordImpl } from "./record.js"
import type { ConsumerError, ConsumerStatus, ProcessPort } from "./shapes.js"
import type { Batch, Reader } from "./shard.js"

/** An item of a lane: a user record for the handler, or a record that did not decode. @internal */
export type Work<A> = RecordImpl<A> | DecodeFailure

/** @internal */
export const defaults = {
  concurrency: 16,
  maxInFlightPerShard: 1_000,
  deadLetterQueue: 1_024
} as const

/** `record.checkpoint` in `process`: the watermark is the checkpoint, a record cannot move it. */
const noCommit: Commit = () => Effect.void

export const isSink = (u: unknown): u is Sink.Sink<unknown, PoisonRecord, unknown, unknown, unknown> =>
  typeof u === "object" && u !== null && Sink.SinkTypeId in u

/** A running `process`: the consumer's status, and its end (it only ends by failing). @internal */
export interface Processing<EL, E> {
  readonly status: Effect.Effect<ConsumerStatus>
  readonly changes: SubscriptionRef.SubscriptionRef<ConsumerStatus>
  readonly await: Effect.Effect<never, ConsumerError | E | RecordFailed | DecodeError | EL>
}

/** @internal */
export const start = <A, E, R, E2, R2, EL, RL, RS>(
  options: ProcessOptions<A, E, R, E2, EL, RL, RS>,
  defaultProcessor: Processor.Processor<A>,
  handler: (record: Processor.UserRecord<A>) => Effect.Effect<void, E2, R2>
): Effect.Effect<
  Processing<EL, E>,
  ConsumerError | E,
  Kinesis.Kinesis | Checkpointer.Checkpointer | Scope.Scope | R | R2 | RL | RS
> =>
  Effect.gen(function*() {
    const { concurrency, dedupe, maxInFlightPerShard, onFailure, order, retry, ...consumerOptions } = options
    const engine = yield* internal.make<A, E, R>(consumerOptions, defaultProcessor, "process")
    const port = engine.process
    const failure = yield* Deferred.make<never, ConsumerError | E | RecordFailed | DecodeError | EL>()
    const scope = yield* Effect.scope
    const deadLetter = yield* deadLetterOf(onFailure, scope, (cause) => Deferred.failCause(failure, cause))
    // shutdown, before the final checkpoints (the engine's finalizer runs after this one): the sink takes
    // what is queued and ends (the records it did not take stay behind the watermark: a failure is logged)
    yield* Scope.addFinalizer(
      scope,
      deadLetter.drain.pipe(Effect.catchAllCause((cause) =>
        Effect.logError("effect-kinesis Consumer.process: the dead-letter sink failed as it drained", cause)
      ))
    )
    const bind = port.bind
    const policy = makePolicy<A, E2, R2, EL, RL, RS>({
      stream: port.streamName,
      aggregator: port.processor.aggregator,
      handler,
      retry,
      deadLetter: deadLetter.offer,
      dedupe: dedupe === undefined ? undefined : new Dedupe<A>(dedupe.id, dedupe.window),
      metrics: bind === undefined ? undefined : (() => {
        const retried = bind(KinesisMetrics.consumerHandlerRetries)
        const handlerFailed = bind(KinesisMetrics.consumerDeadLetters, ["reason", "HandlerFailed"])
        const decodeFailed = bind(KinesisMetrics.consumerDeadLetters, ["reason", "DecodeFailed"])
        const duplicates = bind(KinesisMetrics.consumerDuplicates)
        return {
          retried,
          deadLettered: (reason: PoisonRecord["reason"]) =>
            reason === "HandlerFailed" ? handlerFailed(1) : decodeFailed(1),
          duplicate: () =>
            duplicates(1)
        }
      })()
    })
    const failWith = (outcome: Failure<EL>): Effect.Effect<boolean> =>
      Effect.as(
        outcome._tag === "Failed" ? Deferred.fail(failure, outcome.error) : Deferred.failCause(failure, outcome.cause),
        false
      )
    const scheduler = new Scheduler<Work<A>, R2 | RL | RS>(runnerOf(policy, (_, outcome) => failWith(outcome)))
    const keyOf = keyFunction<A>(order)
    const decode = decoderOf(port)

    /** Admits `works[i…]` into the lane (waiting for room), then the batch's end. */
    const admit = (lane: Lane<Work<A>>, works: Array<Work<A>>, from: number, last: Checkpointer.Checkpoint) => {
      let i = from
      const step: Effect.Effect<void> = Effect.suspend(() => {
        while (i < works.length) {
          if (!lane.hooks.live()) return Effect.void
          if (lane.full) return Effect.zipRight(lane.awaitRoom, step)
          const work = works[i++]!
          lane.admit(work, keyOf(work))
        }
        lane.mark(last)
        return Effect.void
      })
      return step
    }

    /** One shard: its batches, decoded and admitted into its lane, until its buffer ends. */
    const shard = (reader: Reader<A, E>): Effect.Effect<void> => {
      const lane = scheduler.lane(maxInFlightPerShard ?? defaults.maxInFlightPerShard, {
        advance: (position, count) => port.markProcessed(reader, position, count),
        // a lost lease, or a hand-off: nothing more of the shard starts here
        live: () => !(reader.stopped && !reader.ending) && !reader.handingOff,
        positionOf: (work) => work.position
      })
      const loop: Effect.Effect<void, ConsumerError | E> = Effect.flatMap(reader.buffer.take, (taken) => {
        if (Option.isNone(taken)) {
          if (reader.handingOff && !reader.stopped) {
            // the hand-off waits only for the records running: the others are left to the next owner
            reader.taken = lane.stop()
            port.handingOver(reader)
          }
          return Effect.void
        }
        const batch = taken.value
        const { records, works } = decode(batch)
        port.delivered(batch, records)
        return Effect.zipRight(admit(lane, works, 0, batch.last), loop)
      })
      return Effect.catchAllCause(loop, (cause) => Deferred.failCause(failure, cause))
    }

    yield* Effect.forkIn(scheduler.workers(concurrency ?? defaults.concurrency), scope)
    yield* port.readers.pipe(
      Stream.runForEach((reader) => Effect.forkIn(shard(reader), scope)),
      Effect.catchAllCause((cause) => Deferred.failCause(failure, cause)),
      Effect.forkIn(scope)
    )
    const processing: Processing<EL, E> = {
      status: engine.status,
      changes: engine.changes,
      await: Deferred.await(failure)
    }
    return processing
  })

/**
 * The scheduler's runner over the policy: without `retry` and `dedupe` the handler runs bare (the
 * policy only on its failure); a record that did not complete goes to `failWith` (the process fails;
 * the Lambda handler stops the shard there), which says whether the item completed. @internal
 */
export const runnerOf = <A, EL, R>(
  policy: Policy<A, EL, R>,
  failWith: (item: Item<Work<A>>, failure: Failure<EL>) => boolean | Effect.Effect<boolean>
): Runner<Work<A>, R> => {
  const direct = policy.direct
  const decide = (item: Item<Work<A>>, outcome: Outcome<EL>): boolean | Effect.Effect<boolean> =>
    outcome === true ? true : failWith(item, outcome)
  return {
    start: (item) => {
      const work = item.value!
      return direct !== undefined && !(work instanceof DecodeFailure) ? direct(work) : policy.run(work)
    },
    // `direct`: the handler's own success; else `policy.run`'s outcome
    succeeded: (item, value) =>
      direct !== undefined && !(item.value instanceof DecodeFailure) ? true : decide(item, value as Outcome<EL>),
    failed: (item, cause) => {
      const work = item.value!
      // `policy.run` does not fail (an interruption ends the worker anyway)
      if (direct === undefined || work instanceof DecodeFailure) return false
      return Effect.flatMap(policy.poison(work, 1, cause), (outcome) => {
        const decision = decide(item, outcome)
        return typeof decision === "boolean" ? Effect.succeed(decision) : decision
      })
    }
  }
}

/** How items are ordered: one chain per partition key (default), per shard, a custom key, or none. @internal */
export const keyFunction = <A>(
  order: ProcessOptions<A, never, never, never, never, never, never>["order"]
): (work: Work<A>) => string | undefined => {
  if (order === undefined || order === "partitionKey") return (work) => work.partitionKey
  if (order === "shard") return () => ""
  if (order === "none") return () => undefined
  return (work) => work instanceof DecodeFailure ? work.partitionKey : order(work)
}

/**
 * Decodes Kinesis records `[from, to)` of one shard into items: user records, and a `DecodeFailure` for
 * each record (or part) that did not decode; `skip`: resuming inside an aggregate, its sub-records up to
 * the checkpoint completed already. Also used by the Lambda handler. @internal
 */
export const decodeWorks = <A>(
  processor: Processor.Processor<A>,
  kinesisRecords: ReadonlyArray<Kinesis.KinesisRecord>,
  from: number,
  to: number,
  shardId: string,
  skip: Checkpointer.Checkpoint | undefined
): { readonly works: Array<Work<A>>; readonly records: number } => {
  const { aggregator, serializer } = processor
  const works: Array<Work<A>> = []
  let records = 0
  let record = kinesisRecords[from]!
  const skipped = (sub: number | undefined) =>
    skip !== undefined && sub !== undefined && skip.subSequenceNumber !== undefined &&
    sub <= skip.subSequenceNumber && record.sequenceNumber === skip.sequenceNumber
  const sink: DecodedSink<A> = (value, subSequenceNumber, partitionKey, explicitHashKey) => {
    if (skipped(subSequenceNumber)) return
    records++
    works.push(new RecordImpl(value, record, shardId, subSequenceNumber, partitionKey, explicitHashKey, noCommit))
  }
  const onFailure = (error: DecodeError) => {
    if (skipped(error.subSequenceNumber)) return
    works.push(new DecodeFailure(error, record))
  }
  for (let i = from; i < to; i++) {
    record = kinesisRecords[i]!
    const start = works.length
    decodeRecordLenient(serializer, aggregator, record, shardId, sink, onFailure)
    if (works.length > start) works[works.length - 1]!.closesRecord = true
  }
  return { works, records }
}

/** Decodes a batch of a shard (see `decodeWorks`). */
const decoderOf = <A, E>(port: ProcessPort<A, E>) => (batch: Batch<A, E>) =>
  decodeWorks(port.processor, batch.records, batch.from, batch.to, batch.reader.shard.shardId, batch.skipThrough)

/** The dead letter of a run: the function per poison record, and the end of a dead-letter `Sink`. @internal */
export interface DeadLetter<EL, RL> {
  readonly offer: ((record: PoisonRecord) => Effect.Effect<void, EL, RL>) | undefined
  /**
   * A `Sink`'s end: the sink takes what is queued and ends; fails with the sink's failure (now or
   * earlier), or a defect if it ended before it was asked to. Succeeds at once for any other dead letter.
   */
  readonly drain: Effect.Effect<void, EL>
}

const sinkEndedEarly = () =>
  Cause.die(new Error("effect-kinesis Consumer.process: the dead-letter sink ended before the consumer"))

/** A poison record queued for a dead-letter `Sink`, with the signal that the sink went past it. */
interface Letter {
  readonly record: PoisonRecord
  readonly taken: Deferred.Deferred<void>
}

/** Poison records a dead-letter sink gets per pull, at most. */
const LETTERS_PER_PULL = 64

/**
 * The dead letter: the user's own function per poison record (the record completes when its Effect
 * succeeds), or a `Sink` fed from a bounded queue. A record handed to a sink completes when the sink
 * pulls again after it — for a sink that handles what it pulls before pulling more (`Sink.forEach`, and
 * most), once it was handled — so a checkpoint never passes a poison record the sink did not take: a
 * sink that fails, or is interrupted, leaves the records it had not gone past to be delivered again.
 * A sink that fails, or ends before `drain`, calls `fail` at once (the run fails); `drain` reports the
 * same. The sink's fiber lives in `scope`.
 */
export const deadLetterOf = <EL, RL>(
  onFailure: ProcessOptions<unknown, never, never, never, EL, RL, never>["onFailure"],
  scope: Scope.Scope,
  fail: (cause: Cause.Cause<EL>) => Effect.Effect<unknown>
): Effect.Effect<DeadLetter<EL, RL>, never, RL> =>
  Effect.gen(function*() {
    if (onFailure === undefined || onFailure === "fail") return { offer: undefined, drain: Effect.void }
    const target = onFailure.deadLetter
    if (!isSink(target)) return { offer: target, drain: Effect.void }
    const sink = target as Sink.Sink<unknown, PoisonRecord, unknown, EL, RL>
    const queue = yield* Queue.bounded<Letter | typeof END>(defaults.deadLetterQueue)
    /** The letters of the sink's last pull: taken once it pulls again (or ends). */
    let pulled: ReadonlyArray<Letter> = []
    const release = () => {
      for (const letter of pulled) Deferred.unsafeDone(letter.taken, Exit.void)
      pulled = []
    }
    const pull: Effect.Effect<Chunk.Chunk<PoisonRecord>, Option.Option<never>> = Effect.suspend(() => {
      release()
      return Effect.flatMap(Queue.takeBetween(queue, 1, LETTERS_PER_PULL), (chunk) => {
        const letters: Array<Letter> = []
        let ended = false
        for (const item of chunk) {
          if (item === END) ended = true
          else letters.push(item)
        }
        pulled = letters
        if (letters.length === 0 && ended) return Effect.fail(Option.none())
        // (an END among letters: they go out first, and the next pull finds the queue ended)
        if (ended) {
          return Effect.zipRight(
            Queue.offer(queue, END),
            Effect.succeed(Chunk.map(Chunk.unsafeFromArray(letters), (l) => l.record))
          )
        }
        return Effect.succeed(Chunk.map(Chunk.unsafeFromArray(letters), (l) => l.record))
      })
    })
    let draining = false
    const fiber = yield* Stream.repeatEffectChunkOption(pull).pipe(
      Stream.run(sink),
      // the sink ended having gone past the last letters it pulled
      Effect.tap(() => Effect.sync(release)),
      Effect.forkIn(scope)
    )
    /** The sink's end as the callers see it: its failure, or a defect if it ended unasked. */
    const outcome = (exit: Exit.Exit<unknown, EL>, asked: boolean): Cause.Cause<EL> | undefined =>
      Exit.isFailure(exit)
        ? Cause.isInterruptedOnly(exit.cause) ? undefined : exit.cause
        : asked
        ? undefined
        : sinkEndedEarly()
    yield* Fiber.await(fiber).pipe(
      Effect.flatMap((exit) => {
        const cause = outcome(exit, draining)
        return cause === undefined ? Effect.void : fail(cause)
      }),
      Effect.forkIn(scope)
    )
    const drain: Effect.Effect<void, EL> = Effect.suspend(() => {
      // a sink that ended before being asked lost what was queued since
      const asked = fiber.unsafePoll() === null
      draining = true
      return Effect.raceFirst(
        // (a sink that already ended takes nothing more: do not wait on its full queue)
        Effect.zipRight(Queue.offer(queue, END), Fiber.await(fiber)),
        Fiber.await(fiber)
      ).pipe(Effect.flatMap((exit) => {
        const cause = outcome(exit, asked)
        return cause === undefined ? Effect.void : Effect.failCause(cause)
      }))
    })
    const offer = (record: PoisonRecord) =>
      Effect.flatMap(Deferred.make<void>(), (taken) =>
        Effect.zipRight(Queue.offer(queue, { record, taken }), Deferred.await(taken)))
    return { offer, drain }
  })

const END: unique symbol = Symbol("effect-kinesis/process/end")

const str = (u: Record<string, unknown>, key: string): string => {
  const v = u[key]
  if (typeof v !== "string") throw new TypeError(`poison record: "${key}" is not a string`)
  return v
}

const optionalInt = (u: Record<string, unknown>, key: string): number | undefined => {
  const v = u[key]
  if (v === undefined || v === null) return undefined
  if (!Number.isInteger(v)) throw new TypeError(`poison record: "${key}" is not an integer`)
  return v as number
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder("utf-8", { fatal: true })

/** A `PoisonRecord` as JSON (the bytes base64, the arrival ISO 8601), one per Kinesis record. @internal */
export const poisonRecords: Processor.Processor<PoisonRecord> = ProcessorApi.make<PoisonRecord>({
  name: "poisonRecords",
  aggregator: ProcessorApi.json.aggregator,
  serializer: {
    encode: (record) =>
      textEncoder.encode(JSON.stringify({
        stream: record.stream,
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        subSequenceNumber: record.subSequenceNumber,
        partitionKey: record.partitionKey,
        explicitHashKey: record.explicitHashKey,
        approximateArrivalTimestamp: record.approximateArrivalTimestamp.toISOString(),
        attempts: record.attempts,
        reason: record.reason,
        cause: record.cause,
        data: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength).toString("base64")
      })),
    decode: (bytes) => {
      const u: unknown = JSON.parse(textDecoder.decode(bytes))
      if (typeof u !== "object" || u === null) throw new TypeError("poison record: not a JSON object")
      const o = u as Record<string, unknown>
      const reason = str(o, "reason")
      if (reason !== "HandlerFailed" && reason !== "DecodeFailed") {
        throw new TypeError(`poison record: unknown reason ${reason}`)
      }
      const arrival = new Date(str(o, "approximateArrivalTimestamp"))
      if (Number.isNaN(arrival.getTime())) throw new TypeError("poison record: bad approximateArrivalTimestamp")
      const data = Buffer.from(str(o, "data"), "base64")
      return {
        stream: str(o, "stream"),
        shardId: str(o, "shardId"),
        sequenceNumber: str(o, "sequenceNumber"),
        subSequenceNumber: optionalInt(o, "subSequenceNumber"),
        partitionKey: str(o, "partitionKey"),
        explicitHashKey: typeof o.explicitHashKey === "string" ? o.explicitHashKey : undefined,
        approximateArrivalTimestamp: arrival,
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        attempts: optionalInt(o, "attempts") ?? 0,
        reason,
        cause: str(o, "cause")
      }
    }
  }
})
