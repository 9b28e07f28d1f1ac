/**
 * The status: what the consumer reports about itself (`Consumer.status`, `Consumer.changes`), built
 * from the coordinator's view of the stream (shards, stored leases, shards ended here) and the leases
 * held (each reader's progress).
 *
 * Owns the delivered totals (`Totals`, counted by the output) and the `changes` reference (published
 * by the coordinator after each assignment round). Called by `consumer.ts` (`status`, `changes`).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as Checkpointer from "../../Checkpointer.js"
import * as Topology from "../../Topology.js"
import type { ConsumerStatus, ShardState, ShardStatus } from "./shapes.js"
import type { Reader } from "./shard.js"

/** User records and bytes delivered so far (written by the output, per batch). */
export class Totals {
  records = 0
  bytes = 0
}

export interface Status {
  readonly totals: Totals
  readonly changes: SubscriptionRef.SubscriptionRef<ConsumerStatus>
  /** The status now. */
  readonly current: Effect.Effect<ConsumerStatus>
  /** Publishes the status now to `changes`. */
  readonly publish: Effect.Effect<void>
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

export const makeStatus = <A, E>(ctx: StatusContext<A, E>): Effect.Effect<Status> =>
  Effect.gen(function*() {
    const { isEnded, readers, workerId } = ctx
    const totals = new Totals()
    const statusNow = (now: number): ConsumerStatus => {
      const topology = ctx.topology()
      const stored = ctx.stored()
      const shards: Array<ShardStatus> = []
      let reading = 0
      let ended = 0
      let waiting = 0
      let elsewhere = 0
      for (const shard of topology.shards.values()) {
        const id = shard.shardId
        const reader = readers.get(id)
        const state = stored.get(id)
        let shardState: ShardState
        if (isEnded(id)) shardState = "ended"
        else if (reader !== undefined && !reader.stopped) shardState = "reading"
        else if (Topology.blockedBy(topology, id, isEnded).length > 0) shardState = "waiting-for-parent"
        else if (state?.owner !== undefined && state.owner !== workerId && state.expiresAt > now) {
          shardState = "owned-elsewhere"
        } else shardState = "unowned"
        if (shardState === "reading") reading++
        else if (shardState === "ended") ended++
        else if (shardState === "waiting-for-parent") waiting++
        else if (shardState === "owned-elsewhere") elsewhere++
        shards.push({
          shardId: id,
          state: shardState,
          parents: Topology.declaredParents(shard),
          children: Topology.children(topology, id),
          owner: reader !== undefined && !reader.stopped ? workerId : state?.owner,
          millisBehindLatest: reader?.millisBehindLatest,
          iteratorAgeMillis: reader?.lastArrival === undefined ? undefined : Math.max(0, now - reader.lastArrival),
          checkpoint: reader?.written ?? state?.checkpoint,
          recordsDelivered: reader?.recordsDelivered ?? 0
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
    const status: Status = {
      totals,
      changes,
      current: Effect.map(Clock.currentTimeMillis, statusNow),
      publish: Effect.flatMap(Clock.currentTimeMillis, (now) => SubscriptionRef.set(changes, statusNow(now)))
    }
    return status
  })
