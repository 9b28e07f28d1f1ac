/**
 * The leases this worker holds: the `Reader` of each shard it reads, from taking the lease to giving
 * it up — the shard ended, the lease lost, handed over to another worker (balancing), or shutdown.
 * The renewal fiber heartbeats, renews every lease, answers hand-off requests, then runs an
 * assignment round.
 *
 * Owns the map of readers (others read it through `readers`), the count of leases lost and the
 * leases-held gauge; writes each `Reader`'s `fiber`, `stopped`, `handingOff` and `lastRenewed`; hands a
 * reader it forgets to the status (`retired`: its delivered count outlives it). A reader's fibers log
 * with the annotation `shard`. Called by the coordinator (`start`, `held`), the shard reader
 * (`finished`, `lost`), the checkpointing (`lost`) and `consumer.ts` (`renewal`, `close`).
 *
 * Invariants: a lost lease stops that shard's reader at once and drops its batches still waiting in
 * the buffer (the new owner reads them after its checkpoint); a shard is handed over only while that
 * keeps the balance, and only after the downstream finished what it took (bounded by half a session)
 * and its checkpoint is written; closing writes the final checkpoint of everything processed, then
 * releases the leases.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as Checkpointer from "../../Checkpointer.js"
import type * as Kinesis from "../../Kinesis.js"
import type { Buffer } from "./buffer.js"
import type { Checkpoints } from "./checkpoints.js"
import type { ConsumerError } from "./shapes.js"
import type { Batch, Reader, ShardMeters } from "./shard.js"

export interface Leases<A, E> {
  /** The shards held, by id (read-only: only the leases add and remove). */
  readonly readers: ReadonlyMap<string, Reader<A, E>>
  /** Leases held and not being handed over. */
  readonly held: () => number
  readonly leasesLost: () => number
  /** Starts reading a shard whose lease was just taken, from its stored state. */
  readonly start: (
    shard: Kinesis.Shard,
    lease: Checkpointer.Lease,
    state: Checkpointer.ShardState
  ) => Effect.Effect<void>
  /** The lease was lost: stops the reader at once. */
  readonly lost: (reader: Reader<A, E>) => Effect.Effect<void>
  /** The shard was read to its end and its lease released. */
  readonly finished: (reader: Reader<A, E>) => void
  /** The renewal fiber. */
  readonly renewal: Effect.Effect<never>
  /** Shutdown: stops every reader, writes its final checkpoint and releases its lease. */
  readonly close: Effect.Effect<void>
}

export interface LeasesContext<A, E> {
  readonly checkpointer: Checkpointer.Service
  readonly streamKey: string
  readonly mode: "stream" | "shards"
  /** Readers and hand-offs run in it. */
  readonly scope: Scope.Scope
  readonly checkpoints: Pick<Checkpoints<A, E>, "write" | "checkHandedOver">
  /** The buffer a new reader writes to (the shared one, or its own in `shards` mode). */
  readonly bufferFor: () => Buffer<Batch<A, E>, ConsumerError | E>
  readonly meters: (shardId: string) => ShardMeters | undefined
  /** A reader was made (in `shards` mode its stream is offered to the downstream). */
  readonly opened: (reader: Reader<A, E>) => Effect.Effect<void>
  /** Reads the shard (the shard reader's `run`). */
  readonly run: (reader: Reader<A, E>, state: Checkpointer.ShardState) => Effect.Effect<void>
  /** The reader is no longer held (the status keeps its delivered count). */
  readonly retired: (reader: Reader<A, E>) => void
  /** The coordinator: look for shards to take now. */
  readonly wake: () => void
  /** The coordinator's last listing of the stored leases. */
  readonly stored: () => ReadonlyMap<string, Checkpointer.ShardState>
  /** The coordinator's assignment round (store errors are its own to log). */
  readonly assign: Effect.Effect<void>
  readonly metrics: {
    readonly leasesHeld: Metric.Metric.Gauge<number>
    readonly leasesLost: Metric.Metric.Counter<number>
  } | undefined
}

export const makeLeases = <A, E>(ctx: LeasesContext<A, E>): Leases<A, E> => {
  const { checkpointer, checkpoints, metrics, mode } = ctx
  const readers = new Map<string, Reader<A, E>>()
  let leasesLost = 0
  const countHeld = Effect.suspend(() =>
    metrics !== undefined ? Metric.set(metrics.leasesHeld, readers.size) : Effect.void
  )

  /** The reader leaves the map (once), its count handed to the status. */
  const forget = (reader: Reader<A, E>) => {
    const shardId = reader.shard.shardId
    if (readers.get(shardId) !== reader) return
    readers.delete(shardId)
    ctx.retired(reader)
  }

  const held = () => {
    let n = 0
    for (const reader of readers.values()) if (!reader.handingOff) n++
    return n
  }

  const start = (shard: Kinesis.Shard, lease: Checkpointer.Lease, state: Checkpointer.ShardState) =>
    Effect.gen(function*() {
      const shardId = shard.shardId
      const reader: Reader<A, E> = {
        shard,
        lease,
        fiber: undefined,
        buffer: ctx.bufferFor(),
        stopped: false,
        ending: false,
        handingOff: false,
        taken: undefined,
        handedOver: Deferred.unsafeMake<void>(FiberId.none),
        lastFetched: undefined,
        emitted: undefined,
        processed: state.checkpoint,
        written: state.checkpoint,
        sinceWrite: 0,
        drained: Deferred.unsafeMake<void>(FiberId.none),
        lastRenewed: yield* Clock.currentTimeMillis,
        millisBehindLatest: undefined,
        lastArrival: undefined,
        recordsDelivered: 0,
        meters: ctx.meters(shardId)
      }
      readers.set(shardId, reader)
      yield* ctx.opened(reader)
      reader.fiber = yield* Effect.forkIn(ctx.run(reader, state).pipe(Effect.annotateLogs("shard", shardId)), ctx.scope)
      yield* countHeld
    })

  const stop = (reader: Reader<A, E>, why: "lost" | "ended" | "shutdown"): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (reader.stopped) return Effect.void
      reader.stopped = true
      forget(reader)
      if (why === "lost") {
        reader.buffer.remove((b) => b.reader === reader)
      }
      if (mode === "shards") reader.buffer.end()
      ctx.wake()
      const fiber = reader.fiber
      return fiber === undefined ? Effect.void : Fiber.interrupt(fiber)
    }).pipe(Effect.zipRight(metrics !== undefined ? Metric.set(metrics.leasesHeld, readers.size) : Effect.void))

  const lost = (reader: Reader<A, E>) =>
    Effect.suspend(() => {
      if (reader.stopped) return Effect.void
      leasesLost++
      return Effect.zipRight(
        stop(reader, "lost"),
        metrics !== undefined ? Metric.increment(metrics.leasesLost) : Effect.void
      )
    })

  const finished = (reader: Reader<A, E>) => {
    reader.stopped = true
    forget(reader)
    ctx.wake()
  }

  /** The reader's final checkpoint, then its lease released; a failure is logged (`what` failed). */
  const checkpointAndRelease = (reader: Reader<A, E>, what: string) =>
    checkpoints.write(reader).pipe(
      Effect.zipRight(checkpointer.release(reader.lease)),
      Effect.catchAll((error) => Effect.logWarning(`effect-kinesis consumer: ${what}`, error)),
      Effect.annotateLogs("shard", reader.shard.shardId)
    )

  /**
   * Hands a shard over (balancing): stops polling it, drops its records still waiting in the buffer,
   * waits (bounded) until the downstream has finished what it already took, checkpoints, releases.
   */
  const handOff = (reader: Reader<A, E>) =>
    Effect.gen(function*() {
      if (reader.handingOff || reader.stopped || reader.ending) return
      reader.handingOff = true
      if (reader.fiber !== undefined) yield* Fiber.interrupt(reader.fiber)
      reader.buffer.remove((b) => b.reader === reader)
      if (mode === "shards") reader.buffer.end()
      checkpoints.checkHandedOver(reader)
      yield* Deferred.await(reader.handedOver).pipe(
        Effect.timeout(Duration.millis(Duration.toMillis(checkpointer.sessionTimeout) / 2)),
        Effect.ignore
      )
      reader.stopped = true
      forget(reader)
      yield* checkpointAndRelease(reader, `hand-off of ${reader.shard.shardId} incomplete`)
      yield* countHeld
      ctx.wake()
    })

  /** A hand-off to `to` was asked for: answer it while that keeps the balance (we hold 2+ more). */
  const answerHandOff = (reader: Reader<A, E>, to: string, now: number) => {
    let asking = 0
    for (const s of ctx.stored().values()) {
      if (s.owner === to && s.expiresAt > now && !s.ended) asking++
    }
    let mine = 0
    for (const r of readers.values()) if (!r.handingOff && !r.stopped) mine++
    return mine - asking >= 2
      ? Effect.zipRight(
        Effect.logDebug(`effect-kinesis consumer: handing ${reader.shard.shardId} over to ${to}`),
        Effect.asVoid(Effect.forkIn(Effect.annotateLogs(handOff(reader), "shard", reader.shard.shardId), ctx.scope))
      )
      : Effect.void
  }

  const renewal = Effect.gen(function*() {
    while (true) {
      yield* Effect.sleep(checkpointer.heartbeatInterval)
      yield* checkpointer.heartbeat(ctx.streamKey).pipe(
        Effect.catchAll((error) => Effect.logWarning("effect-kinesis consumer: heartbeat failed", error))
      )
      const now = yield* Clock.currentTimeMillis
      for (const reader of Array.from(readers.values())) {
        if (reader.stopped || reader.ending) continue
        yield* checkpointer.renew(reader.lease).pipe(
          Effect.flatMap((state) => {
            reader.lastRenewed = now
            if (state.handOffTo === undefined || state.handOffTo === checkpointer.workerId) return Effect.void
            return answerHandOff(reader, state.handOffTo, now)
          }),
          Effect.catchTags({
            LeaseLost: () => lost(reader),
            CheckpointerError: (error) =>
              // the store is unreachable: keep reading until the lease would have expired, then stop
              now - reader.lastRenewed >= Duration.toMillis(checkpointer.sessionTimeout)
                ? Effect.zipRight(
                  Effect.logWarning(`effect-kinesis consumer: lease of ${reader.shard.shardId} expired`, error),
                  lost(reader)
                )
                : Effect.logWarning(`effect-kinesis consumer: lease renewal failed`, error)
          }),
          Effect.annotateLogs("shard", reader.shard.shardId)
        )
      }
      yield* ctx.assign
    }
  })

  const close = Effect.gen(function*() {
    const all = Array.from(readers.values())
    for (const reader of all) reader.stopped = true
    yield* Effect.forEach(
      all,
      (reader) => reader.fiber === undefined ? Effect.void : Fiber.interrupt(reader.fiber),
      {
        discard: true
      }
    )
    for (const reader of all) {
      yield* checkpointAndRelease(reader, `final checkpoint of ${reader.shard.shardId} failed`)
      forget(reader)
    }
    readers.clear()
  })

  return { readers, held, leasesLost: () => leasesLost, start, lost, finished, renewal, close }
}
