/**
 * The status: what the consumer reports about itself (`Consumer.status`, `Consumer.changes`), built
 * from the coordinator's view of the stream (shards, stored leases, shards ended here) and the leases
 * held (each reader's progress).
 *
 * Owns the delivered totals (`Totals`: counted by the output, and each shard's count once its reader
 * is gone, handed in by the leases: `retire`), each reader's streak of failed reads with its warnings
 * (`readFailed` and `readSucceeded`, called by the shard reader), and the `changes` reference (published
 * by the coordinator after each assignment round, and when a shard starts or stops retrying with a
 * warning). Called by `consumer.ts` (`status`, `changes`).
 *
 * Invariants: the per-shard `recordsDelivered` add up to `totals.records` (for the shards still
 * listed); a failing shard is warned about at its first failure, then at most once per
 * `FAILURE_WARNING_INTERVAL` with the failures since the previous warning.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as Checkpointer from "../../Checkpointer.js"
import type { ServiceError } from "../../KinesisError.js"
import * as Topology from "../../Topology.js"
import type { ConsumerStatus, ShardState, ShardStatus } from "./shapes.js"
import type { Reader } from "./shard.js"

/** ms between two warnings about the failing reads of one shard. */
export const FAILURE_WARNING_INTERVAL = 30_000

/** User records and bytes delivered so far (written by the output, per batch). */
export class Totals {
  records = 0
  bytes = 0
  /** Records delivered per shard by readers no longer held (a shard ended, lost, handed over). */
  readonly retired = new Map<string, number>()
}

/** A reader's failed reads (retryable errors of GetRecords / GetShardIterator, retried). */
class Failures {
  /** Failures since the last successful GetRecords (0: reading). */
  streak = 0
  last: ServiceError | undefined = undefined
  /** Failures not yet reported in a warning. */
  unreported = 0
  lastWarning = -Infinity
  /** The current streak was warned about (its end is logged too). */
  warned = false
}

export interface Status<A, E> {
  readonly totals: Totals
  readonly changes: SubscriptionRef.SubscriptionRef<ConsumerStatus>
  /** The status now. */
  readonly current: Effect.Effect<ConsumerStatus>
  /** Publishes the status now to `changes`. */
  readonly publish: Effect.Effect<void>
  /** The reader is no longer held: its delivered count is kept by shard. */
  readonly retire: (reader: Reader<A, E>) => void
  /** A read of the reader failed with a retryable error (it is retried): counted, warned about at a bounded rate. */
  readonly readFailed: (reader: Reader<A, E>, error: ServiceError) => Effect.Effect<void>
  /** A GetRecords of the reader succeeded: a streak of failures ends. */
  readonly readSucceeded: (reader: Reader<A, E>) => Effect.Effect<void>
}

export interface StatusContext<A, E> {
  readonly streamLabel: string
  readonly workerId: string
  readonly startedAt: number
  /** The coordinator's view. */
  readonly topology: () => Topology.Topology
  readonly stored: () => ReadonlyMap<string, Checkpointer.ShardState>
  readonly isEnded: (shardId: string) => boolean
  /** The leases held. */
  readonly readers: ReadonlyMap<string, Reader<A, E>>
  readonly leasesLost: () => number
}

export const makeStatus = <A, E>(ctx: StatusContext<A, E>): Effect.Effect<Status<A, E>> =>
  Effect.gen(function*() {
    const { isEnded, readers, workerId } = ctx
    const totals = new Totals()
    const failures = new WeakMap<Reader<A, E>, Failures>()
    const statusNow = (now: number): ConsumerStatus => {
      const topology = ctx.topology()
      const stored = ctx.stored()
      const shards: Array<ShardStatus> = []
      let reading = 0
      let retrying = 0
      let ended = 0
      let waiting = 0
      let elsewhere = 0
      for (const shard of topology.shards.values()) {
        const id = shard.shardId
        const reader = readers.get(id)
        const state = stored.get(id)
        const held = reader !== undefined && !reader.stopped
        const failing = held ? failures.get(reader) : undefined
        let shardState: ShardState
        if (isEnded(id)) shardState = "ended"
        else if (held) shardState = failing !== undefined && failing.streak > 0 ? "retrying" : "reading"
        else if (Topology.blockedBy(topology, id, isEnded).length > 0) shardState = "waiting-for-parent"
        else if (state?.owner !== undefined && state.owner !== workerId && state.expiresAt > now) {
          shardState = "owned-elsewhere"
        } else shardState = "unowned"
        if (shardState === "reading") reading++
        else if (shardState === "retrying") retrying++
        else if (shardState === "ended") ended++
        else if (shardState === "waiting-for-parent") waiting++
        else if (shardState === "owned-elsewhere") elsewhere++
        shards.push({
          shardId: id,
          state: shardState,
          parents: Topology.declaredParents(shard),
          children: Topology.children(topology, id),
          owner: held ? workerId : state?.owner,
          millisBehindLatest: reader?.millisBehindLatest,
          iteratorAgeMillis: reader?.lastArrival === undefined ? undefined : Math.max(0, now - reader.lastArrival),
          checkpoint: reader?.written ?? state?.checkpoint,
          recordsDelivered: (totals.retired.get(id) ?? 0) + (reader?.recordsDelivered ?? 0),
          failures: failing?.streak ?? 0,
          lastError: failing !== undefined && failing.streak > 0 ? failing.last : undefined
        })
      }
      const children: Record<string, ReadonlyArray<string>> = {}
      for (const [parent, list] of topology.children) children[parent] = list
      return {
        stream: ctx.streamLabel,
        workerId,
        shards,
        totals: {
          records: totals.records,
          bytes: totals.bytes,
          reading,
          retrying,
          ended,
          waiting,
          ownedElsewhere: elsewhere,
          leasesLost: ctx.leasesLost()
        },
        children,
        updatedAt: now
      }
    }
    const changes = yield* SubscriptionRef.make(statusNow(ctx.startedAt))
    const publish = Effect.flatMap(Clock.currentTimeMillis, (now) => SubscriptionRef.set(changes, statusNow(now)))

    const retire = (reader: Reader<A, E>) => {
      const id = reader.shard.shardId
      if (reader.recordsDelivered > 0) totals.retired.set(id, (totals.retired.get(id) ?? 0) + reader.recordsDelivered)
    }

    // runs in the reader's fiber: its log annotations name the shard
    const readFailed = (reader: Reader<A, E>, error: ServiceError) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        let f = failures.get(reader)
        if (f === undefined) failures.set(reader, f = new Failures())
        f.streak++
        f.unreported++
        f.last = error
        if (now - f.lastWarning < FAILURE_WARNING_INTERVAL) return Effect.void
        const shardId = reader.shard.shardId
        const message = f.streak === 1
          ? `effect-kinesis consumer: reading ${shardId} failed (${error._tag}), retrying` +
            (f.unreported > 1 ? ` (${f.unreported} failures since the last warning)` : "")
          : `effect-kinesis consumer: reading ${shardId} still failing (${error._tag}): ` +
            `${f.unreported} failures since the last warning, ${f.streak} in a row`
        f.unreported = 0
        f.lastWarning = now
        f.warned = true
        return Effect.zipRight(Effect.logWarning(message, error), publish)
      })

    const readSucceeded = (reader: Reader<A, E>) => {
      const f = failures.get(reader)
      if (f === undefined || f.streak === 0) return Effect.void
      const streak = f.streak
      const warned = f.warned
      f.streak = 0
      f.last = undefined
      f.warned = false
      return warned
        ? Effect.zipRight(
          Effect.logInfo(`effect-kinesis consumer: reading ${reader.shard.shardId} again after ${streak} failures`),
          publish
        )
        : Effect.void
    }

    const status: Status<A, E> = {
      totals,
      changes,
      current: Effect.map(Clock.currentTimeMillis, statusNow),
      publish,
      retire,
      readFailed,
      readSucceeded
    }
    return status
  })
