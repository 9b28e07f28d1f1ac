/**
 * The gate: back-pressure and wake-ups. It decides whether writers may add more records (`hasRoom`),
 * parks the writers that may not and the `flush` calls waiting for the queue to empty, and holds the
 * signal that wakes the dispatcher when something changed.
 *
 * Called by the intake and the API (`waitForRoom`, `notify`, `flushing`), by the dispatcher (`pressed`,
 * `flushing`, `signal`/`renew`, `releaseSpace` after each round) and by response handling
 * (`releaseSpace` when a request ends). It owns the waiters, the wake signal and the count of `flush`
 * calls in progress; it reads the ledger and the router's lanes.
 *
 * Invariants: accepted records stay under `maxQueueRecords` / `maxQueueBytes`; and no more is taken
 * once every lane already holds a full request behind the one in flight (more could not go out sooner:
 * it would only lengthen the queue, the latency and the garbage collector's work).
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type { Lane } from "./lane.js"
import type { Ledger } from "./ledger.js"

/** The bounds the gate keeps. */
export interface GateBounds {
  readonly maxQueueRecords: number
  readonly maxQueueBytes: number
  readonly maxBatchRecords: number
  readonly maxBatchBytes: number
}

/** @internal */
export class Gate<A> {
  /** `flush` calls waiting: the dispatcher sends without waiting for bufferTime. */
  flushing = 0
  private readonly spaceWaiters: Array<Deferred.Deferred<void>> = []
  private idleWaiters: Array<Deferred.Deferred<void>> = []
  private wake: Deferred.Deferred<void>
  /** The lane last seen not saturated: checked first, so `hasRoom` is O(1) while it stays so. */
  private openLane: Lane<A> | undefined

  constructor(
    private readonly ledger: Ledger<A>,
    private readonly lanes: ReadonlyMap<string, Lane<A>>,
    private readonly bounds: GateBounds,
    fiberId: FiberId.FiberId
  ) {
    this.wake = Deferred.unsafeMake<void>(fiberId)
  }

  /** Wakes the dispatcher. */
  notify(): void {
    Deferred.unsafeDone(this.wake, Exit.void)
  }

  /** The signal the dispatcher waits on (fired by `notify`). */
  signal(): Deferred.Deferred<void> {
    return this.wake
  }

  /** Replaces the signal once it has fired. */
  renew(signal: Deferred.Deferred<void>, fiberId: FiberId.FiberId): void {
    if (signal === this.wake) this.wake = Deferred.unsafeMake<void>(fiberId)
  }

  /** Writers are waiting for room. */
  get pressed(): boolean {
    return this.spaceWaiters.length > 0
  }

  /**
   * A lane holds a whole request's worth of ready records (as much as one request may take from it):
   * more records for it could not go out any sooner.
   */
  private saturated(lane: Lane<A>): boolean {
    const { maxBatchBytes, maxBatchRecords } = this.bounds
    const count = lane.ready.size
    if (count >= maxBatchRecords) return true
    const bytes = lane.byteBucket === undefined ? maxBatchBytes : Math.min(maxBatchBytes, lane.byteBucket.capacity)
    return lane.readyBytes >= bytes || (lane.recordBucket !== undefined && count >= lane.recordBucket.capacity)
  }

  /**
   * Room for more records: under the queue bounds, and some lane could send more than it holds.
   * When every lane already holds a full request, accepting more would only make the queue (and
   * latency, and garbage-collection work) longer, not delivery faster.
   */
  hasRoom(): boolean {
    const ledger = this.ledger
    const { maxBatchRecords, maxQueueBytes, maxQueueRecords } = this.bounds
    if (
      ledger.outstandingRecords >= maxQueueRecords ||
      ledger.outstandingBytes + ledger.accumulatingBytes >= maxQueueBytes
    ) return false
    if (ledger.outstandingRecords < maxBatchRecords) return true
    const open = this.openLane
    if (open !== undefined && this.lanes.has(open.id) && !open.draining && !this.saturated(open)) return true
    for (const lane of this.lanes.values()) {
      if (!lane.draining && !this.saturated(lane)) {
        this.openLane = lane
        return true
      }
    }
    return false
  }

  /** Lets waiting writers in when there is room, and ends the waits of `flush` calls once nothing is owed. */
  releaseSpace(): void {
    if (this.spaceWaiters.length > 0 && this.hasRoom()) {
      for (const waiter of this.spaceWaiters.splice(0)) Deferred.unsafeDone(waiter, Exit.void)
    }
    if (this.ledger.outstandingRecords === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const waiter of waiters) Deferred.unsafeDone(waiter, Exit.void)
    }
  }

  /** Waits until there is room (see `hasRoom`). */
  readonly waitForRoom: Effect.Effect<void> = Effect.suspend(() => {
    if (this.hasRoom()) return Effect.void
    const waiter = Deferred.unsafeMake<void>(FiberId.none)
    this.spaceWaiters.push(waiter)
    return Effect.zipRight(Deferred.await(waiter), this.waitForRoom)
  })

  /** Waits until every accepted record is settled. */
  readonly waitIdle: Effect.Effect<void> = Effect.suspend(() => {
    if (this.ledger.outstandingRecords === 0) return Effect.void
    const waiter = Deferred.unsafeMake<void>(FiberId.none)
    this.idleWaiters.push(waiter)
    return Effect.zipRight(Deferred.await(waiter), this.waitIdle)
  })
}
