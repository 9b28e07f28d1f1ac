/**
 * The dispatcher: what is sent when. Each round it flushes the accumulators that are due, and builds
 * PutRecords requests from the heads of the lanes that may send — round robin, each lane's records in
 * order — as long as fewer than `maxInFlightRequests` are in flight, then starts them. A request goes
 * when it is full, when its oldest record has waited `bufferTime`, when a `flush` or waiting writers
 * press, or when a lane of a closed shard drains; a rate-limited lane waits until its token buckets
 * hold a whole batch of what it has ready. It owns the round-robin cursor, the fiber set of requests in
 * flight and whether the producer is closed (nothing goes out after that).
 *
 * Called by the intake right after it queued records (`pumpNow`: a full request goes out before more
 * are encoded), by its own fiber whenever the gate's signal fires or the next deadline comes, and by
 * the shutdown (`close`). Requests run on the producer's fibers; their answers are handled by `send`.
 *
 * Invariants: a lane has at most one request in flight; a record waiting for its retry delay stays, and
 * (with `preserveOrder`) so does every later record sharing a partition key with it or with a record
 * already taken into the request: keys never overtake each other; a request respects 500 records and
 * 5 MiB and each lane's token buckets.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import type { Update } from "../metrics.js"
import type { Gate } from "./gate.js"
import { KEEP_READY_SLOTS, type Lane } from "./lane.js"
import type { Ledger } from "./ledger.js"
import { addKeys, holdsKey, type Pending } from "./records.js"
import type { Taken } from "./responses.js"
import type { Router } from "./router.js"

/** What the dispatcher works with. */
export interface DispatcherContext<A> {
  readonly router: Router<A>
  readonly ledger: Ledger<A>
  readonly gate: Gate<A>
  readonly clock: Clock.Clock
  /** Runs one request and handles its answer (response handling). */
  readonly send: (batch: ReadonlyArray<Taken<A>>, entries: Array<Pending<A>>) => Effect.Effect<void>
  /** Moves a lane's accumulator contents to its ready queue (the intake's). */
  readonly flushAccumulator: (lane: Lane<A>, since: number) => void
  /** Whether a record with a key of the user's came (until then no ordering rule can apply). */
  readonly userKeys: () => boolean
  readonly bufferTime: number
  readonly maxBatchRecords: number
  readonly maxBatchBytes: number
  readonly maxInFlight: number
  readonly preserveOrder: boolean
  /** Undefined when metrics are off. */
  readonly metrics:
    | { readonly mFailed: Update<number>; readonly mQueueRecords: Update<number>; readonly mQueueBytes: Update<number> }
    | undefined
}

/** A running dispatcher. */
export interface Dispatcher {
  /** Sends what is due now, on this thread; returns when the next request may be due. */
  readonly pumpNow: (now: number) => number
  /** Sends nothing more and interrupts the requests in flight (their records fail). */
  readonly close: Effect.Effect<void>
}

/** @internal */
export const makeDispatcher = <A>(ctx: DispatcherContext<A>): Effect.Effect<Dispatcher, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { bufferTime, clock, flushAccumulator, gate, ledger, maxBatchBytes, maxBatchRecords, maxInFlight } = ctx
    const { preserveOrder, router, send, userKeys } = ctx
    const metricsOn = ctx.metrics !== undefined
    const noop = () => {}
    const { mFailed, mQueueBytes, mQueueRecords } = ctx.metrics ??
      { mFailed: noop, mQueueRecords: noop, mQueueBytes: noop }
    const releaseSpace = () => gate.releaseSpace()

    const requests = yield* FiberSet.make<void, never>()
    let cursor = 0

    /** Set at the shutdown deadline (or once the final flush is done): no request goes out after it. */
    let closed = false

    /** Builds as many requests as allowed now; returns them and the time of the next event (or Infinity). */
    const pumpOnce = (now: number) => {
      let nextAt = Infinity
      const started: Array<Effect.Effect<void>> = []
      if (closed) return { nextAt, started }
      // drained lanes of closed shards go away
      router.retireDrained()
      const active = router.active()
      // Writers are waiting for room: waiting for bufferTime (or a fuller batch) gains nothing, since no
      // more records can come in until some go out. Send what can be sent now.
      const pressed = gate.pressed
      // accumulators due: bufferTime elapsed, or flushing / draining, or pressed with nothing else to send
      for (const lane of active) {
        if (lane.accumulator.pendingRecords === 0) continue
        const due = lane.accumulatingSince + bufferTime
        if (
          gate.flushing > 0 || lane.draining || due <= now ||
          (pressed && !lane.inFlight && lane.ready.size === 0)
        ) {
          flushAccumulator(lane, lane.accumulatingSince)
          lane.accumulatingSince = 0
        } else if (due < nextAt) nextAt = due
      }
      const tokenWait = (lane: Lane<A>, now: number): number => {
        if (lane.recordBucket === undefined || lane.byteBucket === undefined) return 0
        const count = Math.min(lane.ready.size, maxBatchRecords)
        const bytes = Math.min(lane.readyBytes, maxBatchBytes, lane.byteBucket.capacity)
        return Math.max(lane.recordBucket.waitFor(count, now), lane.byteBucket.waitFor(bytes, now))
      }
      const eligible = (lane: Lane<A>) => !lane.inFlight && lane.ready.size > 0
      while (ledger.inFlightRequests < maxInFlight) {
        // is a request worth sending now? full, or its oldest record waited bufferTime, or flushing
        let readyRecords = 0
        let readyBytes = 0
        let oldest = Infinity
        for (const lane of active) {
          if (!eligible(lane)) continue
          readyRecords += lane.ready.size
          readyBytes += lane.readyBytes
          if (lane.readySince < oldest) oldest = lane.readySince
        }
        if (readyRecords === 0) break
        const due = oldest + bufferTime
        if (
          !(gate.flushing > 0 || pressed || readyRecords >= maxBatchRecords || readyBytes >= maxBatchBytes ||
            due <= now)
        ) {
          if (due < nextAt) nextAt = due
          break
        }
        // build one request from the heads of eligible lanes, round robin
        const batch: Array<Taken<A>> = []
        // An Aggregate is a PutRecordsEntry. Made at its largest possible size and cut to what was
        // taken: growing it by pushes cost ~15 bytes and two element copies per record.
        const limit = Math.min(maxBatchRecords, readyRecords)
        const entries: Array<Pending<A>> = new Array(limit)
        let count = 0
        let bytes = 0
        const n = active.length
        for (let k = 0; k < n && count < limit; k++) {
          const lane = active[(cursor + k) % n]!
          if (!eligible(lane)) continue
          // A rate-limited lane waits until its buckets hold a whole batch of what it has ready (or a
          // full bucket), rather than trickling one record per refill: few, full requests.
          const wait = tokenWait(lane, now)
          if (wait > 0) {
            if (now + wait < nextAt) nextAt = now + wait
            continue
          }
          // Take records in lane order. A record waiting for its retry delay stays, and (preserveOrder)
          // so does every later record sharing a partition key with it or with a record already taken
          // into this request: keys never overtake each other, other keys go on.
          // (Only records with keys of the user's: made-up keys are unique.)
          const checkKeys = preserveOrder && userKeys()
          const keys = checkKeys ? new Set<string>() : undefined
          const blocked = checkKeys ? new Set<string>() : undefined
          const kept: Array<Pending<A>> = []
          const from = count
          // the buckets are not refilled within this call (one `now`): their budgets are read once
          const recordBudget = lane.recordBucket === undefined ? Infinity : lane.recordBucket.budget(now)
          const byteBudget = lane.byteBucket === undefined ? Infinity : lane.byteBucket.budget(now)
          /** Nothing to skip over: no record waits for its retry delay, no key order to keep. */
          const straight = ledger.retries.size === 0 && keys === undefined
          const queue = lane.ready
          const ready = queue.items
          const end = queue.end
          let laneBytes = 0
          let i = queue.head
          for (; i < end && count < limit; i++) {
            const p = ready[i]!
            if (!straight) {
              const info = ledger.retries.size === 0 ? undefined : ledger.retries.get(p)
              let take = info === undefined || info.notBefore <= now
              if (info !== undefined && !take && info.notBefore < nextAt) nextAt = info.notBefore
              if (take && keys !== undefined && blocked !== undefined) take = !holdsKey(p, keys, blocked)
              if (!take) {
                if (blocked !== undefined) addKeys(p, blocked)
                kept.push(p)
                if (kept.length >= maxBatchRecords) {
                  i++
                  break // scanned far enough
                }
                continue
              }
            }
            const size = p.size
            if (
              bytes + size > maxBatchBytes ||
              count - from + 1 > recordBudget ||
              laneBytes + size > byteBudget
            ) break
            if (keys !== undefined) addKeys(p, keys)
            entries[count++] = p
            ready[i] = undefined
            laneBytes += size
            bytes += size
          }
          const taken = count - from
          if (taken === 0) continue
          // what was skipped goes back in front of what was not looked at
          if (kept.length === 0) {
            queue.advance(i, KEEP_READY_SLOTS)
          } else {
            queue.replace(kept.concat(ready.slice(i, end) as Array<Pending<A>>)) // not taken: all set
          }
          lane.readyBytes -= laneBytes
          lane.recordBucket?.take(taken, now)
          lane.byteBucket?.take(laneBytes, now)
          lane.inFlight = true
          if (queue.size === 0) lane.readySince = Infinity
          else if (lane.readySince === -Infinity) lane.readySince = now
          batch.push({ lane, from, to: count, bytes: laneBytes })
        }
        cursor = (cursor + 1) % Math.max(1, n)
        if (batch.length === 0) break
        ledger.inFlightRequests++
        entries.length = count
        started.push(send(batch, entries))
      }
      return { nextAt, started }
    }

    /**
     * Starts a request at once, on this thread: it runs until its call suspends (with the SDK, on the
     * network; with a port that answers at once, to its end: the response is handled before this
     * returns). The fiber is the producer's (its runtime and scope), whoever calls this.
     */
    const runRequest = yield* FiberSet.runtime(requests)<never>()
    /**
     * Sends what is due now, from the fiber that just queued records (`offer`): a full request goes
     * out before more records are encoded, rather than when the pump fiber next runs. Records then
     * wait less, and fewer are alive at a time (less garbage-collection work, warmer caches). The pump
     * fiber does the same each time it wakes. Returns when the next request may be due.
     */
    const pumpNow = (now: number): number => {
      const { nextAt, started } = pumpOnce(Math.floor(now))
      for (const request of started) runRequest(request)
      return nextAt
    }

    const pump = Effect.gen(function*() {
      while (true) {
        // whole milliseconds: jittered delays put fractional instants on the clock, and a sleep of a
        // fraction of a nanosecond would wake the pump before anything could change (a busy loop)
        const now = Math.floor(clock.unsafeCurrentTimeMillis())
        const signal = gate.signal()
        const nextAt = pumpNow(now)
        if (metricsOn) {
          if (ledger.failedSinceReport > 0) {
            mFailed(ledger.failedSinceReport)
            ledger.failedSinceReport = 0
          }
          mQueueRecords(ledger.outstandingRecords)
          mQueueBytes(ledger.outstandingBytes + ledger.accumulatingBytes)
        }
        releaseSpace()
        if (nextAt === Infinity) yield* Deferred.await(signal)
        else {
          yield* Effect.raceFirst(
            Deferred.await(signal),
            Effect.sleep(Duration.millis(Math.max(1, Math.ceil(nextAt - now))))
          )
        }
        gate.renew(signal, yield* Effect.fiberId)
      }
    })
    yield* Effect.forkScoped(pump)

    return {
      pumpNow,
      close: Effect.zipRight(
        Effect.sync(() => {
          closed = true
        }),
        FiberSet.clear(requests)
      )
    }
  })
