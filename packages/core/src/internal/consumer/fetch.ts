/**
 * The shard reader: one fiber per held shard that reads it into the buffer. GetShardIterator at the
 * checkpoint (or the start position), then GetRecords paced by `shardFetchRate`, idling when caught up,
 * backing off that shard alone on throttling and retryable errors, renewing an expired iterator right
 * after the last record read. A response is cut into batches and offered to the buffer; a closed shard
 * read to its end waits until its last record is processed, then is marked ended in the Checkpointer.
 *
 * Owns, per running reader, its iterator and the time of its last GetRecords call; writes the
 * `Reader`'s `lastFetched`, `emitted`, `ending`, `millisBehindLatest` and `lastArrival`. Started (and
 * interrupted) by the leases (`run`); tells the coordinator a shard ended here (`shardEnded`), the
 * leases it is done (`finished`) or that its lease was lost (`onLeaseLost`), and the status each
 * retried failure and each GetRecords that succeeded (`readFailed`, `readSucceeded`).
 *
 * Invariants: one GetRecords in flight per shard; every GetRecords attempt (a retried one too) counts
 * against `shardFetchRate`; a full buffer stops the polling and no record is skipped; an expired
 * iterator resumes right after the last record read (never at LATEST / TRIM_HORIZON once something was
 * read); a shard is marked ended only once everything emitted from it is processed.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type * as Checkpointer from "../../Checkpointer.js"
import type * as Kinesis from "../../Kinesis.js"
import { type ExpiredIterator, isRetryable, isThrottling, type ServiceError } from "../../KinesisError.js"
import type * as StreamAddress from "../../StreamAddress.js"
import type * as Metrics from "../metrics.js"
import * as Tracing from "../tracing.js"
import type { Checkpoints } from "./checkpoints.js"
import { LATEST_SKEW_MARGIN, resumeAfter } from "./position.js"
import type { ConsumerError, IteratorType } from "./shapes.js"
import { type Batch, MAX_BATCH_BYTES, type Reader } from "./shard.js"
import { type FanOutTarget, makeSubscribedRun } from "./subscribe.js"

export interface FetchContext<A, E> {
  readonly kinesis: Kinesis.Service
  readonly checkpointer: Checkpointer.Service
  readonly address: StreamAddress.StreamAddress
  readonly mode: "stream" | "shards"
  readonly iteratorType: IteratorType
  readonly recordLimit: number
  /** ms between two GetRecords calls of a shard (1000 / `shardFetchRate`). */
  readonly fetchSpacing: number
  readonly idleDelay: number
  readonly chunkSize: number
  readonly schedule: Schedule.Schedule<unknown, ServiceError>
  readonly checkpoints: Pick<Checkpoints<A, E>, "checkDrained">
  /** Enhanced fan-out: read each shard by subscription as this registered consumer (else GetRecords polling). */
  readonly fanOut: FanOutTarget | undefined
  /** Whether the shard is known closed (it has children in the last listing). */
  readonly isClosed: (shardId: string) => boolean
  /** Where a shard without checkpoint starts (the coordinator's `initialPosition`). */
  readonly initialPosition: (shard: Kinesis.Shard) => Kinesis.StartingPosition
  /** The shard is marked ended in the Checkpointer (the coordinator may read its children). */
  readonly shardEnded: (shardId: string) => void
  /** The reader is done, its lease released (the leases forget it). */
  readonly finished: (reader: Reader<A, E>) => void
  readonly onLeaseLost: (reader: Reader<A, E>) => Effect.Effect<void>
  /** A call failed with a retryable error (it is retried). */
  readonly readFailed: (reader: Reader<A, E>, error: ServiceError) => Effect.Effect<void>
  /** A GetRecords call succeeded. */
  readonly readSucceeded: (reader: Reader<A, E>) => Effect.Effect<void>
  readonly fatal: (cause: Cause.Cause<ConsumerError | E>) => Effect.Effect<void>
  readonly metrics: {
    readonly latency: Metrics.Update<number>
    readonly ended: Metric.Metric.Counter<number>
  } | undefined
}

export interface ShardReader<A, E> {
  /** Reads one held shard from `start` (its stored state when the lease was taken) until it ends. */
  readonly run: (reader: Reader<A, E>, start: Checkpointer.ShardState) => Effect.Effect<void>
}

export const makeShardReader = <A, E>(ctx: FetchContext<A, E>): ShardReader<A, E> => {
  const { address, chunkSize, fetchSpacing, iteratorType, kinesis, metrics, recordLimit } = ctx

  /** Retries `effect` with the schedule on retryable errors (this shard only); other errors fail. */
  const retrying = <X, Err extends ServiceError>(reader: Reader<A, E>, effect: Effect.Effect<X, Err>) =>
    effect.pipe(
      Effect.tapError((error) =>
        isRetryable(error)
          ? Effect.zipRight(
            isThrottling(error) && reader.meters !== undefined
              ? Metric.increment(reader.meters.throttles)
              : Effect.void,
            ctx.readFailed(reader, error)
          )
          : Effect.void
      ),
      Effect.retry({ schedule: ctx.schedule, while: (error: ServiceError) => isRetryable(error) })
    )

  const positionFor = (reader: Reader<A, E>, from: Checkpointer.Checkpoint | undefined): Kinesis.StartingPosition =>
    from !== undefined ? resumeAfter(from) : ctx.initialPosition(reader.shard)

  /**
   * Offers a GetRecords response to the buffer as batches of at most `chunkSize` Kinesis records (and
   * about `MAX_BATCH_BYTES`), each waiting for room; they are decoded when the downstream takes them.
   */
  const emitResponse = (
    reader: Reader<A, E>,
    records: ReadonlyArray<Kinesis.KinesisRecord>,
    skipThrough: Checkpointer.Checkpoint | undefined
  ): Effect.Effect<void> =>
    Effect.suspend(() => {
      const loop = (from: number, skip: Checkpointer.Checkpoint | undefined): Effect.Effect<void> => {
        if (from >= records.length) return Effect.void
        let to = from
        let bytes = 0
        while (to < records.length && to - from < chunkSize && (to === from || bytes < MAX_BATCH_BYTES)) {
          bytes += records[to]!.data.length
          to++
        }
        const batch: Batch<A, E> = {
          reader,
          records,
          from,
          to,
          skipThrough: skip,
          count: to - from,
          bytes,
          last: { sequenceNumber: records[to - 1]!.sequenceNumber }
        }
        reader.emitted = batch.last
        return Effect.zipRight(reader.buffer.offer(batch), loop(to, undefined))
      }
      return loop(0, skipThrough)
    })

  /** Polls one shard with GetRecords until it is read to its end (then `finish`), or the reader stops. */
  const poll = (reader: Reader<A, E>, start: Checkpointer.ShardState) =>
    Effect.gen(function*() {
      const shard = reader.shard
      const shardId = shard.shardId
      const request = (position: Kinesis.StartingPosition) =>
        retrying(reader, kinesis.getShardIterator({ stream: address, shardId, position }))
      const resumeFrom = start.checkpoint
      // LATEST means "records arriving from now on": if that iterator expires before a record was read,
      // AT_TIMESTAMP of the time it was asked for (less a margin for clock skew) loses nothing
      const latestAt = (yield* Clock.currentTimeMillis) - LATEST_SKEW_MARGIN
      let iterator: string | undefined = yield* request(positionFor(reader, resumeFrom))
      let skipThrough = resumeFrom?.subSequenceNumber === undefined ? undefined : resumeFrom
      let lastCall = -Infinity
      /**
       * One GetRecords call, paced: every call counts against `shardFetchRate`, a retried one too (the
       * retry schedule's delay and this spacing overlap; the longer one applies), so a shard recovering
       * from throttling is not read faster than the rate and throttled again.
       */
      const getRecords = (shardIterator: string) =>
        Effect.gen(function*() {
          const before = yield* Clock.currentTimeMillis
          const wait = lastCall + fetchSpacing - before
          if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
          const called = yield* Clock.currentTimeMillis
          lastCall = called
          const response = yield* kinesis.getRecords({
            shardIterator,
            limit: recordLimit,
            stream: address._tag === "StreamArn" ? address : undefined
          })
          if (metrics !== undefined) metrics.latency(((yield* Clock.currentTimeMillis) - called) / 1000)
          return response
        })
      while (iterator !== undefined && !reader.stopped) {
        // fetch only when the buffer has room for more (what is read waits decoded in memory)
        yield* reader.buffer.awaitRoom
        if (reader.stopped) break
        const current = iterator
        let result: Either.Either<Kinesis.GetRecordsResponse, ExpiredIterator> | undefined = yield* fetchSpan(
          shard.shardId,
          (traced) => {
            const fetched = getRecords(current).pipe(
              Effect.map((r) => Either.right(r) as Either.Either<Kinesis.GetRecordsResponse, ExpiredIterator>),
              Effect.catchTag("ExpiredIterator", (e) => Effect.succeed(Either.left(e))),
              (effect) => retrying(reader, effect)
            )
            // each GetRecords attempt (retries too) is a Kinesis.GetRecords child of the fetch's span
            return traced ? Effect.tap(fetched, annotateFetch) : fetched
          }
        )
        yield* ctx.readSucceeded(reader)
        if (Either.isLeft(result)) {
          // a new iterator right after the last record read (never LATEST / TRIM_HORIZON)
          if (reader.meters !== undefined) yield* Metric.increment(reader.meters.expired)
          const from = reader.lastFetched ?? resumeFrom
          iterator = yield* request(
            from !== undefined
              ? positionFor(reader, from)
              : iteratorType === "LATEST"
              ? { type: "AT_TIMESTAMP", timestamp: new Date(latestAt) }
              : ctx.initialPosition(shard)
          )
          skipThrough = from?.subSequenceNumber === undefined ? undefined : from
          continue
        }
        const response: Kinesis.GetRecordsResponse = result.right
        result = undefined
        iterator = response.nextShardIterator
        reader.millisBehindLatest = response.millisBehindLatest
        if (reader.meters !== undefined && response.millisBehindLatest !== undefined) {
          reader.meters.behind(response.millisBehindLatest / 1000)
        }
        const count = response.records.length
        if (count > 0) {
          const lastRecord = response.records[count - 1]!
          yield* emitResponse(reader, response.records, skipThrough)
          skipThrough = undefined
          reader.lastFetched = { sequenceNumber: lastRecord.sequenceNumber }
          reader.lastArrival = lastRecord.approximateArrivalTimestamp.getTime()
        }
        // caught up (nothing new, or the tip reached with a partial response): idle before the next poll
        const caughtUp = count === 0 || (response.millisBehindLatest === 0 && count < recordLimit)
        if (iterator !== undefined && caughtUp) {
          yield* Effect.sleep(Duration.millis(Math.max(0, ctx.idleDelay - fetchSpacing)))
        }
      }
      if (reader.stopped) return
      yield* finish(reader)
    })

  /** Enhanced fan-out: the shard read through SubscribeToShard (subscribe.ts), then the same end. */
  const subscribed = ctx.fanOut === undefined
    ? undefined
    : makeSubscribedRun(ctx, ctx.fanOut, { retrying, positionFor, emitResponse })

  const run = (reader: Reader<A, E>, start: Checkpointer.ShardState): Effect.Effect<void> =>
    (subscribed === undefined
      ? poll(reader, start)
      : Effect.flatMap(
        subscribed(reader, start),
        (end) => end === "shard-end" && !reader.stopped ? finish(reader) : Effect.void
      )).pipe(
        Effect.catchTags({
          LeaseLost: () => ctx.onLeaseLost(reader)
        }),
        Effect.catchAllCause(ctx.fatal)
      )

  /**
   * The shard is closed and read to its end: once the downstream has finished its records, mark it
   * ended (with the final checkpoint) so its children may be read, here or by any worker.
   */
  const finish = (reader: Reader<A, E>) =>
    Effect.gen(function*() {
      const shard = reader.shard
      reader.ending = true
      ctx.checkpoints.checkDrained(reader)
      if (ctx.mode === "shards") reader.buffer.end()
      yield* Deferred.await(reader.drained)
      const final = reader.processed ??
        {
          sequenceNumber: shard.sequenceNumberRange.endingSequenceNumber ??
            shard.sequenceNumberRange.startingSequenceNumber
        }
      yield* ctx.checkpointer.markEnded(reader.lease, final).pipe(
        Effect.retry({
          schedule: Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("10 seconds"))),
          while: (e) => e._tag === "CheckpointerError"
        })
      )
      reader.written = final
      ctx.shardEnded(shard.shardId)
      if (metrics !== undefined) yield* Metric.increment(metrics.ended)
      yield* ctx.checkpointer.release(reader.lease).pipe(Effect.ignore)
      ctx.finished(reader)
    }).pipe(
      // a reshard as the consumer lives it: from the end of the shard's records to its lease released
      (finishing) =>
        Tracing.span(Tracing.SpanNames.shardEnded, "internal", () => ({
          "messaging.system": "aws_kinesis",
          "messaging.destination.name": address.name,
          "messaging.destination.partition.id": reader.shard.shardId
        }), () => finishing)
    )

  /** One fetch of a shard in its span (when a tracer is installed). */
  const fetchSpan = <X, Err>(shardId: string, make: (traced: boolean) => Effect.Effect<X, Err>) =>
    Tracing.span(
      Tracing.SpanNames.fetch,
      "client",
      () => Tracing.messaging("receive", address.name, shardId, 0),
      make
    )

  const annotateFetch = (r: Either.Either<Kinesis.GetRecordsResponse, ExpiredIterator>) =>
    Effect.annotateCurrentSpan(
      Either.isRight(r)
        ? {
          "messaging.batch.message_count": r.right.records.length,
          "effect_kinesis.millis_behind_latest": r.right.millisBehindLatest ?? -1,
          "effect_kinesis.shard_end": r.right.nextShardIterator === undefined
        }
        : { "effect_kinesis.iterator_expired": true }
    )

  return { run }
}
