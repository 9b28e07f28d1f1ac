/**
 * Checkpointing: which position of each held shard counts as processed, and storing it.
 *
 * In auto mode a chunk counts as processed once the downstream pulls the next one (`markProcessed`,
 * called by the output); the `writer` fiber stores each shard's processed position every
 * `checkpointInterval`, or sooner once `checkpointEvery` records were processed. In manual mode only
 * `record.checkpoint` (`commit`) moves it. Under `Consumer.process` the shard's watermark does
 * (`advance`, called by `process.ts`). The leases write a shard's final checkpoint before they
 * release it (`write`), and wait on `drained` / `handedOver`, completed here.
 *
 * Owns the writer's wake-up signal, and the `processed`, `written` and `sinceWrite` fields of every
 * `Reader`; completes their `drained` (a shard read to its end: everything emitted is processed) and
 * `handedOver` (a shard being handed over: everything taken is processed) signals.
 *
 * Invariants: never a checkpoint past an unprocessed record (`processed` only moves to what the
 * downstream finished, to what it committed, or to the watermark of `Consumer.process`); positions only move forward; a write is skipped when
 * the position did not move.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import type * as Checkpointer from "../../Checkpointer.js"
import { isAfter } from "./position.js"
import type { Commit } from "./record.js"
import type { Reader } from "./shard.js"

export interface Checkpoints<A, E> {
  /** Writes the reader's processed position if it moved since the last write. */
  readonly write: (
    reader: Reader<A, E>
  ) => Effect.Effect<void, Checkpointer.LeaseLost | Checkpointer.CheckpointerError>
  /** `record.checkpoint` of the reader's records: processed up to `position`, written at once. */
  readonly commit: (reader: Reader<A, E>) => Commit
  /** Auto mode: the downstream pulled past `count` records of `reader`, up to `position`. */
  readonly markProcessed: (reader: Reader<A, E>, position: Checkpointer.Checkpoint, count: number) => void
  /**
   * `Consumer.process`: the shard's watermark moved to `position` (past `count` more records). A
   * watermark only moves forward, so it is taken as it is (no comparison per record).
   */
  readonly advance: (reader: Reader<A, E>, position: Checkpointer.Checkpoint, count: number) => void
  /** Completes `handedOver` once a shard being handed over has nothing taken left unprocessed. */
  readonly checkHandedOver: (reader: Reader<A, E>) => void
  /** Completes `drained` once a shard read to its end has nothing emitted left unprocessed. */
  readonly checkDrained: (reader: Reader<A, E>) => void
  /** The writer fiber: stores the processed positions (every interval, or when woken). */
  readonly writer: Effect.Effect<never>
  /**
   * No checkpoint is written from now on (a dead-letter sink failed: records counted as processed may not
   * have reached it); the leases are still released.
   */
  readonly freeze: () => void
}

export interface CheckpointsContext<A, E> {
  readonly checkpointer: Checkpointer.Service
  readonly manual: boolean
  readonly checkpointInterval: Duration.Duration
  readonly checkpointEvery: number
  /** The shards held (owned by the leases). */
  readonly readers: ReadonlyMap<string, Reader<A, E>>
  /** A write found the lease lost (the leases stop the reader). */
  readonly onLeaseLost: (reader: Reader<A, E>) => Effect.Effect<void>
  readonly metrics: {
    readonly checkpoints: Metric.Metric.Counter<number>
    readonly checkpointFailures: Metric.Metric.Counter<number>
  } | undefined
}

export const makeCheckpoints = <A, E>(ctx: CheckpointsContext<A, E>): Checkpoints<A, E> => {
  const { checkpointer, metrics } = ctx
  let wakeWriter = Deferred.unsafeMake<void>(FiberId.none)

  let frozen = false
  const write = (reader: Reader<A, E>) =>
    Effect.suspend(() => {
      const position = reader.processed
      if (frozen || !isAfter(position, reader.written) || position === undefined) return Effect.void
      reader.sinceWrite = 0
      return checkpointer.checkpoint(reader.lease, position).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            if (isAfter(position, reader.written)) reader.written = position
          })
        ),
        Effect.tap(() => (metrics !== undefined ? Metric.increment(metrics.checkpoints) : Effect.void)),
        Effect.tapError(() => (metrics !== undefined ? Metric.increment(metrics.checkpointFailures) : Effect.void))
      )
    })

  const checkHandedOver = (reader: Reader<A, E>) => {
    if (reader.handingOff && (reader.taken === undefined || !isAfter(reader.taken, reader.processed))) {
      Deferred.unsafeDone(reader.handedOver, Exit.void)
    }
  }

  const checkDrained = (reader: Reader<A, E>) => {
    if (reader.ending && (reader.emitted === undefined || !isAfter(reader.emitted, reader.processed))) {
      Deferred.unsafeDone(reader.drained, Exit.void)
    }
  }

  const commit = (reader: Reader<A, E>): Commit => (position) =>
    Effect.suspend(() => {
      if (isAfter(position, reader.processed)) reader.processed = position
      return Effect.zipRight(
        write(reader),
        Effect.sync(() => {
          checkDrained(reader)
          checkHandedOver(reader)
        })
      )
    })

  const markProcessed = (reader: Reader<A, E>, position: Checkpointer.Checkpoint, count: number) => {
    if (reader.stopped && !reader.ending) return
    if (!ctx.manual) {
      if (isAfter(position, reader.processed)) reader.processed = position
      reader.sinceWrite += count
      if (reader.sinceWrite >= ctx.checkpointEvery) Deferred.unsafeDone(wakeWriter, Exit.void)
    }
    checkDrained(reader)
    checkHandedOver(reader)
  }

  const advance = (reader: Reader<A, E>, position: Checkpointer.Checkpoint, count: number) => {
    if (reader.stopped && !reader.ending) return
    reader.processed = position
    reader.sinceWrite += count
    if (reader.sinceWrite >= ctx.checkpointEvery) Deferred.unsafeDone(wakeWriter, Exit.void)
    if (reader.ending) checkDrained(reader)
    if (reader.handingOff) checkHandedOver(reader)
  }

  const writer = Effect.gen(function*() {
    while (true) {
      const signal = wakeWriter
      yield* Effect.raceFirst(Deferred.await(signal), Effect.sleep(ctx.checkpointInterval))
      if (signal === wakeWriter) wakeWriter = Deferred.unsafeMake<void>(FiberId.none)
      for (const reader of Array.from(ctx.readers.values())) {
        if (reader.stopped) continue
        yield* write(reader).pipe(
          Effect.catchTags({
            LeaseLost: () => ctx.onLeaseLost(reader),
            CheckpointerError: (error) =>
              Effect.logWarning(`effect-kinesis consumer: checkpoint of ${reader.shard.shardId} failed`, error)
          })
        )
      }
    }
  })

  const freeze = () => {
    frozen = true
  }
  return { write, commit, markProcessed, advance, checkHandedOver, checkDrained, writer, freeze }
}
