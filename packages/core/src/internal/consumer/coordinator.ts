/**
 * The coordinator: which shards this worker should read. It lists the shards (all pages) on the
 * refresh interval and at once when woken (a shard ended, a lease was lost or given up), builds the
 * `Topology`, and takes the lease of every readable shard (not ended, every listed parent ended) it
 * can, up to its fair share and `maxShards`; when none is free and another worker holds two or more
 * shards more, it asks that worker to hand shards over.
 *
 * Owns the topology, the last listing of the stored leases, the shards ended by this worker, the
 * hand-offs it asked for, and its wake-up signal. Calls the leases to start readers (`start`). Called
 * by `consumer.ts` (`refresh`, then the `loop` fiber), by the leases (`wake`, `assign` after each
 * renewal round, `stored`), by the shard reader (`initialPosition`, `shardEnded`, `wake`) and by the
 * status (`topology`, `stored`, `isEnded`).
 *
 * Invariants: one assignment round at a time; a shard is read only once all its listed parents ended
 * (per-key order across a reshard); a store outage is waited out (leases held keep being read until
 * they would expire).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Checkpointer from "../../Checkpointer.js"
import type * as Kinesis from "../../Kinesis.js"
import { isRetryable, type ServiceError } from "../../KinesisError.js"
import type * as StreamAddress from "../../StreamAddress.js"
import * as Topology from "../../Topology.js"
import type { Leases } from "./leases.js"
import type { IteratorType } from "./shapes.js"

export interface Coordinator {
  /** Lists the shards, then runs an assignment round (the first one runs before the consumer starts). */
  readonly refresh: Effect.Effect<void, ServiceError | Checkpointer.CheckpointerError>
  /** An assignment round, a store outage logged (the renewal runs one after each renewal). */
  readonly assign: Effect.Effect<void>
  /** The coordinator fiber: waits for the refresh interval (or a wake-up), then refreshes; forever. */
  readonly loop: Effect.Effect<never, ServiceError>
  /** Refresh now (a shard ended, a lease was lost or given up). */
  readonly wake: () => void
  /** Where a shard without checkpoint starts (see `iteratorType`). */
  readonly initialPosition: (shard: Kinesis.Shard) => Kinesis.StartingPosition
  /** A shard this worker read to its end was marked ended. */
  readonly shardEnded: (shardId: string) => void
  readonly isEnded: (shardId: string) => boolean
  readonly topology: () => Topology.Topology
  readonly stored: () => ReadonlyMap<string, Checkpointer.ShardState>
}

export interface CoordinatorContext<A, E> {
  readonly kinesis: Kinesis.Service
  readonly checkpointer: Checkpointer.Service
  readonly address: StreamAddress.StreamAddress
  readonly streamKey: string
  readonly iteratorType: IteratorType
  readonly timestamp: Date | undefined
  readonly maxShards: number
  readonly refreshInterval: Duration.Duration
  readonly schedule: Schedule.Schedule<unknown, ServiceError>
  readonly leases: Pick<Leases<A, E>, "readers" | "held" | "start">
  /** Publishes the status (after each assignment round). */
  readonly publish: Effect.Effect<void>
}

/** A store outage is logged and retried on the next round. */
const assignmentFailed = (error: Checkpointer.CheckpointerError) =>
  Effect.logWarning("effect-kinesis consumer: shard assignment failed, retrying", error)

export const makeCoordinator = <A, E>(ctx: CoordinatorContext<A, E>): Effect.Effect<Coordinator> =>
  Effect.gen(function*() {
    const { checkpointer, iteratorType, leases, streamKey } = ctx
    const { readers } = leases
    let topology = Topology.make([])
    let stored = new Map<string, Checkpointer.ShardState>()
    const endedHere = new Set<string>()
    /** Hand-offs this worker asked for, and when (a declined request stops counting after two heartbeats). */
    const requested = new Map<string, number>()
    let wakeCoordinator = Deferred.unsafeMake<void>(FiberId.none)
    const wake = () => Deferred.unsafeDone(wakeCoordinator, Exit.void)
    const isEnded = (id: string) => endedHere.has(id) || stored.get(id)?.ended === true

    /** Where a shard without checkpoint starts (see `iteratorType`). */
    const initialPosition = (shard: Kinesis.Shard): Kinesis.StartingPosition => {
      if (iteratorType === "TRIM_HORIZON") return { type: "TRIM_HORIZON" }
      if (iteratorType === "AT_TIMESTAMP") return { type: "AT_TIMESTAMP", timestamp: ctx.timestamp! }
      // LATEST: a child of a shard this group has read starts at its beginning (nothing in between is lost)
      const parentRead = Topology.declaredParents(shard).some((p) =>
        endedHere.has(p) || stored.get(p)?.checkpoint !== undefined
      )
      return parentRead ? { type: "TRIM_HORIZON" } : { type: "LATEST" }
    }

    const listShards = ctx.kinesis.listShards({ stream: ctx.address }).pipe(
      Effect.retry({ schedule: ctx.schedule, while: (error: ServiceError) => isRetryable(error) })
    )

    /** How many live leases each worker holds on readable shards (from the last `list`). */
    const loadByWorker = (readable: ReadonlyArray<Kinesis.Shard>, now: number) => {
      const load = new Map<string, Array<string>>()
      for (const shard of readable) {
        const state = stored.get(shard.shardId)
        if (state?.owner === undefined || state.expiresAt <= now) continue
        const list = load.get(state.owner)
        if (list === undefined) load.set(state.owner, [shard.shardId])
        else list.push(shard.shardId)
      }
      return load
    }

    /** Takes free and expired leases of readable shards while this worker holds fewer than `target`. */
    const takeFree = (readable: ReadonlyArray<Kinesis.Shard>, target: number, now: number) =>
      Effect.gen(function*() {
        for (const shard of readable) {
          if (leases.held() >= target) break
          if (readers.has(shard.shardId)) continue
          const state = stored.get(shard.shardId)
          if (state?.owner !== undefined && state.owner !== checkpointer.workerId && state.expiresAt > now) continue
          const acquired = yield* checkpointer.acquire(streamKey, shard.shardId)
          if (Option.isNone(acquired)) continue
          const [lease, fresh] = acquired.value
          if (fresh.ended) {
            // another worker finished it since the listing
            yield* checkpointer.release(lease).pipe(Effect.ignore)
            continue
          }
          if (
            iteratorType === "LATEST" && fresh.checkpoint === undefined && Topology.isClosed(shard) &&
            Topology.children(topology, shard.shardId).length > 0 &&
            initialPosition(shard).type === "LATEST"
          ) {
            // LATEST: a closed shard this group never read is history, skip it (its children start at LATEST)
            yield* checkpointer.markEnded(lease).pipe(Effect.catchTag("LeaseLost", () => Effect.void))
            yield* checkpointer.release(lease).pipe(Effect.ignore)
            endedHere.add(shard.shardId)
            wake()
            continue
          }
          yield* leases.start(shard, lease, fresh)
          yield* Effect.logDebug(`effect-kinesis consumer: reading ${shard.shardId} (lease ${lease.leaseCounter})`)
        }
      })

    /**
     * Still under the fair share: asks the most loaded workers for shards (hand-offs already asked for
     * count as ours: asking again before they arrive would take more than the share).
     */
    const askForShards = (
      readable: ReadonlyArray<Kinesis.Shard>,
      live: ReadonlySet<string>,
      target: number,
      now: number
    ) =>
      Effect.gen(function*() {
        let mine = leases.held()
        const answerWindow = 2 * Duration.toMillis(checkpointer.heartbeatInterval) // owners answer within a heartbeat
        for (const [shardId, at] of requested) if (now - at > answerWindow) requested.delete(shardId)
        for (const shard of readable) {
          const state = stored.get(shard.shardId)
          if (
            state?.handOffTo === checkpointer.workerId && state.owner !== undefined && state.expiresAt > now &&
            requested.has(shard.shardId)
          ) mine++
        }
        if (mine >= target) return
        const load = loadByWorker(readable, now)
        load.delete(checkpointer.workerId)
        const owners = Array.from(load.entries()).filter(([owner]) => live.has(owner))
        while (mine < target) {
          owners.sort((a, b) => b[1].length - a[1].length)
          const top = owners[0]
          if (top === undefined || top[1].length - mine < 2) break
          // a shard not already asked for by someone else
          const shardId = top[1].find((id) => stored.get(id)?.handOffTo === undefined) ?? top[1][0]!
          top[1].splice(top[1].indexOf(shardId), 1)
          yield* checkpointer.requestHandOff(streamKey, shardId, checkpointer.workerId)
          requested.set(shardId, now)
          yield* Effect.logDebug(`effect-kinesis consumer: asked ${top[0]} to hand ${shardId} over`)
          mine++
        }
      })

    /**
     * Takes this worker's fair share of the readable shards (⌈readable / live workers⌉, at most
     * `maxShards`): free and expired leases first; when none is left and another worker holds two or more
     * shards more than this one, asks it to hand shards over (it releases them after its checkpoint; they
     * are taken on a later round). Runs on every listing and every heartbeat, one round at a time.
     */
    const assignRound = Effect.gen(function*() {
      stored = new Map((yield* checkpointer.list(streamKey)).map((s) => [s.shardId, s] as const))
      const now = yield* Clock.currentTimeMillis
      const readable = Topology.readable(topology, isEnded)
      const live = new Set((yield* checkpointer.workers(streamKey)).map((w) => w.workerId))
      live.add(checkpointer.workerId)
      const target = Math.min(ctx.maxShards, Math.ceil(readable.length / live.size))
      yield* takeFree(readable, target, now)
      yield* askForShards(readable, live, target, now)
      yield* ctx.publish
    })
    const assignLock = yield* Effect.makeSemaphore(1)
    const assignOnce = assignLock.withPermits(1)(assignRound)

    const refresh = Effect.gen(function*() {
      topology = Topology.make(yield* listShards)
      yield* assignOnce
    })

    /** Started right after the first refresh: waits first, then refreshes (until woken or the interval). */
    const loop = Effect.gen(function*() {
      while (true) {
        const signal = wakeCoordinator
        yield* Effect.raceFirst(Deferred.await(signal), Effect.sleep(ctx.refreshInterval))
        if (signal === wakeCoordinator) wakeCoordinator = Deferred.unsafeMake<void>(FiberId.none)
        // a store outage is waited out (leases held keep being read until they would expire)
        yield* refresh.pipe(Effect.catchTag("CheckpointerError", assignmentFailed))
      }
    })

    const coordinator: Coordinator = {
      refresh,
      assign: assignOnce.pipe(Effect.catchTag("CheckpointerError", assignmentFailed)),
      loop,
      wake,
      initialPosition,
      shardEnded: (shardId) => {
        endedHere.add(shardId)
      },
      isEnded,
      topology: () => topology,
      stored: () => stored
    }
    return coordinator
  })
