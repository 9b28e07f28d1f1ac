/**
 * The scheduler of `Consumer.process` and of the Lambda handler: runs one Effect per item on a fixed
 * set of worker fibers (the total concurrency), never two items of one key of a lane at once and each
 * key's items in arrival order, bounds the records a lane has admitted and not yet passed, and reports
 * each lane's **watermark**: the position after the longest prefix of its items that completed.
 *
 * A lane is one shard (one Kinesis shard of a consumer, one event-source batch of a Lambda). Items of
 * one key form a chain inside their lane: only its head is ready; when it settles, the next becomes
 * ready. Ready items wait in one FIFO shared by every lane, taken by whichever worker is free (no fork
 * per item: `concurrency` fibers loop). A lane also holds position markers (the end of a batch, which
 * covers records that decoded to nothing): done as soon as they are reached.
 *
 * Owns every `Item`'s state, each lane's chains, span and watermark, and the ready queue. Items are
 * admitted by the caller (`Lane.admit`, `Lane.mark`), run by the caller's `run` (which says whether the
 * item completed), and the watermark is handed to the lane's `advance` hook.
 *
 * Invariants: the watermark never passes an item that did not complete (a failed or skipped item holds
 * it forever); it only moves forward; items of one key of a lane never overlap and run in order; a
 * lane holds at most `limit` records between its watermark and its newest item (`awaitRoom`).
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Checkpointer from "../../Checkpointer.js"
import { Wake } from "../consumer/buffer.js"

/** Waiting behind an earlier item of its key. */
const WAITING = 0
/** In the ready queue. */
const READY = 1
const RUNNING = 2
/** Completed: the watermark may pass it. */
const DONE = 3
/** Ran and did not complete (the policy failed it): the watermark stops before it. */
const FAILED = 4
/** Not run: its lane is no longer live, or stopped before it. */
const SKIPPED = 5

/** @internal */
export class Item<T> {
  /** The next item of the same key in this lane (waiting for this one). */
  next: Item<T> | undefined = undefined
  /** The last item of its key admitted so far (the lane's map points at it). */
  tail = false
  state = WAITING
  constructor(
    readonly lane: Lane<T>,
    /** `undefined` for a position marker. */
    readonly value: T | undefined,
    /** `undefined`: not ordered with any other item. */
    readonly key: string | undefined,
    /** Arrival order in its lane. */
    readonly index: number,
    /** A marker's position (an item's comes from `positionOf`). */
    readonly at: Checkpointer.Checkpoint | undefined,
    /** Records the item counts for (1, or 0 for a marker). */
    readonly count: number
  ) {}
  get completed(): boolean {
    return this.state === DONE
  }
}

/** What a lane tells its owner. @internal */
export interface LaneHooks<T> {
  /** The watermark moved to `position`, past `count` more records. */
  readonly advance: (position: Checkpointer.Checkpoint, count: number) => void
  /** Items of a lane that is not live are skipped (e.g. its lease was lost). */
  readonly live: () => boolean
  readonly positionOf: (value: T) => Checkpointer.Checkpoint
}

/** @internal */
export class Lane<T> {
  private items: Array<Item<T> | undefined> = []
  private head = 0
  private nextIndex = 0
  /** The item of each key admitted last and not settled (the tail of its chain). */
  private readonly tails = new Map<string, Item<T>>()
  /** Records between the watermark and the newest item. */
  span = 0
  /** Items admitted and not settled. */
  unsettled = 0
  /** Items from this index on are skipped (the Lambda handler stops a batch at its first failure). */
  stopAt = Infinity
  /** The first item (by index) that failed, if any. */
  firstFailed: Item<T> | undefined = undefined
  /** The position after the last item the watermark passed. */
  private watermark: Checkpointer.Checkpoint | undefined = undefined
  private room: Wake | undefined = undefined
  private settledWake: Wake | undefined = undefined

  constructor(
    private readonly scheduler: Scheduler<T, unknown>,
    readonly limit: number,
    readonly hooks: LaneHooks<T>
  ) {}

  get full(): boolean {
    return this.span >= this.limit
  }

  /**
   * Admits an item (the caller checks `full` first): ready at once unless an earlier item of its key
   * is unsettled; an item without key is ready at once (no order).
   */
  admit(value: T, key: string | undefined): void {
    const item = new Item<T>(this, value, key, this.nextIndex++, undefined, 1)
    this.items.push(item)
    this.span++
    this.unsettled++
    if (key === undefined) return this.scheduler.ready(item)
    const tails = this.tails
    const tail = tails.get(key)
    tails.set(key, item)
    item.tail = true
    if (tail !== undefined) {
      tail.tail = false
      tail.next = item
    } else this.scheduler.ready(item)
  }

  /** A position the watermark moves to once every item before it completed (the end of a batch). */
  mark(position: Checkpointer.Checkpoint): void {
    const item = new Item<T>(this, undefined, undefined, this.nextIndex++, position, 0)
    item.state = DONE
    this.items.push(item)
    this.advance()
  }

  /** Waits until the lane has room (or is no longer live). */
  readonly awaitRoom: Effect.Effect<void> = Effect.suspend(() => {
    if (!this.full || !this.hooks.live()) return Effect.void
    const wake = new Wake()
    this.room = wake
    return Effect.zipRight(wake.wait, this.awaitRoom)
  })

  /** Waits until every admitted item settled. */
  readonly awaitSettled: Effect.Effect<void> = Effect.suspend(() => {
    if (this.unsettled === 0) return Effect.void
    const wake = new Wake()
    this.settledWake = wake
    return Effect.zipRight(wake.wait, this.awaitSettled)
  })

  /** @internal called by the scheduler */
  settle(item: Item<T>, state: number): void {
    item.state = state
    this.unsettled--
    if (state === FAILED && (this.firstFailed === undefined || item.index < this.firstFailed.index)) {
      this.firstFailed = item
    }
    const next = item.next
    if (next !== undefined) {
      item.next = undefined
      this.scheduler.ready(next)
    } else if (item.tail) {
      this.tails.delete(item.key!)
    }
    if (state === DONE && this.items[this.head] === item) this.advance()
    this.wakeRoom()
    if (this.unsettled === 0 && this.settledWake !== undefined) {
      const wake = this.settledWake
      this.settledWake = undefined
      wake.wake()
    }
  }

  private advance(): void {
    const items = this.items
    let last: Item<T> | undefined
    let count = 0
    while (this.head < items.length) {
      const item = items[this.head]!
      if (item.state !== DONE) break
      items[this.head] = undefined
      this.head++
      last = item
      count += item.count
    }
    if (last === undefined) return
    if (this.head === items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024) {
      this.items = items.slice(this.head)
      this.head = 0
    }
    this.span -= count
    const position = this.positionOf(last)
    this.watermark = position
    this.hooks.advance(position, count)
    this.wakeRoom()
  }

  private positionOf(item: Item<T>): Checkpointer.Checkpoint {
    return item.value === undefined ? item.at! : this.hooks.positionOf(item.value)
  }

  /**
   * Stops the lane at its first item not started (or skipped): it and the items after it are skipped
   * (a shard being handed over). The position the watermark can still reach: before that item, once
   * the items running ahead of it completed.
   */
  stop(): Checkpointer.Checkpoint | undefined {
    let index = this.nextIndex
    for (let k = this.head; k < this.items.length; k++) {
      const item = this.items[k]!
      if (item.state === WAITING || item.state === READY || item.state === SKIPPED) {
        index = item.index
        break
      }
    }
    if (index < this.stopAt) this.stopAt = index
    if (this.head >= this.items.length) return this.watermark
    const first = this.items[this.head]!.index
    return this.stopAt <= first ? this.watermark : this.positionOf(this.items[this.head + (this.stopAt - first) - 1]!)
  }

  /**
   * Wakes the admission waiting for room once the lane is down to half its limit (not at every record:
   * one wake-up per half a lane, not one per record), or at once when the lane is no longer live.
   */
  private wakeRoom(): void {
    const room = this.room
    if (room === undefined || (this.span > this.limit >> 1 && this.hooks.live())) return
    this.room = undefined
    room.wake()
  }
}

/**
 * Runs an item: succeeds with `true` when it completed (the watermark may pass it), `false` when it
 * failed for good (the caller's policy has already acted on it).
 */
export type Run<T, R> = (item: Item<T>) => Effect.Effect<boolean, never, R>

/**
 * Runs an item in two steps, so that the common case allocates no continuation per item: `start`'s
 * Effect runs, then `finish` reads its exit — `true` (completed) or `false` (failed for good) at once,
 * or an Effect that decides (a policy's slower path: retries, a dead letter).
 */
export interface Runner<T, R> {
  readonly start: (item: Item<T>) => Effect.Effect<unknown, unknown, R>
  readonly succeeded: (item: Item<T>, value: unknown) => boolean | Effect.Effect<boolean, never, R>
  readonly failed: (item: Item<T>, cause: Cause.Cause<unknown>) => boolean | Effect.Effect<boolean, never, R>
}

const runnerOf = <T, R>(run: Run<T, R> | Runner<T, R>): Runner<T, R> =>
  typeof run === "function"
    ? { start: run, succeeded: (_, value) => value === true, failed: () => false }
    : run

/** A worker's run: the items it took, and the index of the one running (those after it: not started). */
interface WorkerRun<T> {
  readonly run: Array<Item<T>>
  i: number
}

/** Items a worker takes at once at most (its share of the ready queue). */
const MAX_RUN = 16

/** @internal */
export class Scheduler<T, R> {
  private queue: Array<Item<T> | undefined> = []
  private queueHead = 0
  private readonly idle: Array<Wake> = []
  private readonly runner: Runner<T, R>
  private concurrency = 1
  /** Each worker's run (items taken from the queue, run one after the other). */
  private readonly runs: Array<WorkerRun<T>> = []

  constructor(run: Run<T, R> | Runner<T, R>) {
    this.runner = runnerOf(run)
  }

  /** A lane of this scheduler holding at most `limit` records past its watermark. */
  lane(limit: number, hooks: LaneHooks<T>): Lane<T> {
    return new Lane<T>(this as Scheduler<T, unknown>, limit, hooks)
  }

  /** @internal called by the lanes */
  ready(item: Item<T>): void {
    item.state = READY
    this.queue.push(item)
    const idle = this.idle.pop()
    if (idle !== undefined) idle.wake()
  }

  private take(): Item<T> | undefined {
    if (this.queueHead >= this.queue.length) return undefined
    const item = this.queue[this.queueHead]!
    this.queue[this.queueHead] = undefined
    this.queueHead++
    if (this.queueHead === this.queue.length) {
      this.queue = []
      this.queueHead = 0
    } else if (this.queueHead > 1024) {
      this.queue = this.queue.slice(this.queueHead)
      this.queueHead = 0
    }
    return item
  }

  /**
   * One worker: takes ready items (any lane) and runs them, forever. When many are ready it takes a
   * run of them (its share of the queue, at most `MAX_RUN`) and runs them one after the other in one
   * `Effect.whileLoop` — no continuation per item; a failure leaves the loop, is decided, and the run
   * goes on after it. Its continuations are made once, not per item.
   */
  private worker(): Effect.Effect<never, never, R> {
    const { failed, start, succeeded } = this.runner
    const self: WorkerRun<T> = { run: [], i: 0 }
    this.runs.push(self)
    const run = self.run
    /** A success whose decision is an Effect (a policy's slower path): decided after the loop. */
    let pending: Effect.Effect<boolean, never, R> | undefined
    let pendingItem: Item<T> | undefined

    const skipped = (item: Item<T>) => item.index >= item.lane.stopAt || !item.lane.hooks.live()
    const runLoop = Effect.whileLoop({
      while: () => {
        while (self.i < run.length && skipped(run[self.i]!)) {
          const item = run[self.i++]!
          item.lane.settle(item, SKIPPED)
        }
        return pending === undefined && self.i < run.length
      },
      body: () => {
        const item = run[self.i]!
        item.state = RUNNING
        return start(item)
      },
      step: (value: unknown) => {
        const item = run[self.i++]!
        const decision = succeeded(item, value)
        if (typeof decision === "boolean") item.lane.settle(item, decision ? DONE : FAILED)
        else {
          pending = decision
          pendingItem = item
        }
      }
    })
    const settleThen = (item: Item<T>) => (completed: boolean): Effect.Effect<never, never, R> => {
      item.lane.settle(item, completed ? DONE : FAILED)
      return next()
    }
    /** After the loop stopped: decide what is pending, else go on with the run, else take more. */
    const next = (): Effect.Effect<never, never, R> => {
      if (pending !== undefined) {
        const decision = pending
        const item = pendingItem!
        pending = undefined
        pendingItem = undefined
        return Effect.flatMap(decision, settleThen(item))
      }
      return self.i < run.length ? Effect.matchCauseEffect(runLoop, handlers) : loop
    }
    const handlers = {
      onSuccess: next,
      // the item running failed: decide, then the rest of the run
      onFailure: (cause: Cause.Cause<unknown>): Effect.Effect<never, never, R> => {
        const item = run[self.i++]!
        const decision = failed(item, cause)
        return typeof decision === "boolean" ? settleThen(item)(decision) : Effect.flatMap(decision, settleThen(item))
      }
    }
    const loop: Effect.Effect<never, never, R> = Effect.suspend(() => {
      run.length = 0
      self.i = 0
      const available = this.queue.length - this.queueHead
      if (available === 0) {
        // nothing ready: take an item another worker took and has not started (its run's last)
        const stolen = this.steal()
        if (stolen !== undefined) {
          run.push(stolen)
          return Effect.matchCauseEffect(runLoop, handlers)
        }
        const wake = new Wake()
        this.idle.push(wake)
        return Effect.zipRight(wake.wait, loop)
      }
      const n = Math.min(MAX_RUN, Math.max(1, Math.floor(available / this.concurrency)))
      for (let k = 0; k < n; k++) run.push(this.take()!)
      return Effect.matchCauseEffect(runLoop, handlers)
    })
    return loop
  }

  /** The last item of the run with the most items not started (those after its current one), if any. */
  private steal(): Item<T> | undefined {
    let victim: WorkerRun<T> | undefined
    let most = 0
    for (const w of this.runs) {
      const waiting = w.run.length - w.i - 1
      if (waiting > most) {
        most = waiting
        victim = w
      }
    }
    return victim?.run.pop()
  }

  /** `concurrency` workers (run it in a fiber: it never ends). */
  workers(concurrency: number): Effect.Effect<never, never, R> {
    this.concurrency = concurrency
    return Effect.zipRight(
      Effect.all(Array.from({ length: concurrency }, () => this.worker()), { concurrency: "unbounded", discard: true }),
      Effect.never
    )
  }
}
