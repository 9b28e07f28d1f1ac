/**
 * A bounded FIFO of batches between shard readers (writers) and the consumer's output (one reader):
 * bounded in records and bytes (a batch always fits into an empty buffer, so a large batch cannot
 * deadlock), with an end and a failure the taker sees after the batches before it. Writers waiting for
 * room are served in arrival order (a busy shard cannot starve the others).
 *
 * State is mutated synchronously (one JS thread, no locks). Waiting is done on `Wake`s: a callback
 * slot resumed once, far cheaper to make than a `Deferred` (readers wait and wake once per batch).
 *
 * A batch offered while an earlier one of the same source still waits may be merged into it
 * (`Coalesce`): the taker then takes one larger batch where it would have taken several small ones
 * (an enhanced fan-out event brings a few records, and each batch costs the taker the same whatever its
 * size). Nothing merges past a waiting batch of the same source, so each source's order is kept.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** A one-shot wake-up: `wait` suspends until `wake` (or returns at once if it came first). @internal */
export class Wake {
  private resume: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  private woken = false
  readonly wait: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.woken) resume(Effect.void)
    else this.resume = resume
  })
  wake(): void {
    if (this.woken) return
    this.woken = true
    const resume = this.resume
    this.resume = undefined
    resume?.(Effect.void)
  }
}

/** @internal */
export interface Sized {
  readonly count: number
  readonly bytes: number
}

/** How batches of one source merge (see `Buffer`). @internal */
export interface Coalesce<T> {
  /** The source of a batch: only batches of the same source merge. */
  readonly source: (item: T) => unknown
  /** `into` followed by `item` as one batch, or `undefined` when they do not merge (too large). */
  readonly merge: (into: T, item: T) => T | undefined
}

/** How far back from the newest batch an offer looks for one of its source to merge into. */
const COALESCE_LOOKBACK = 16

/** @internal */
export class Buffer<T extends Sized, E> {
  private items: Array<T> = []
  private head = 0
  records = 0
  bytes = 0
  private taker: Wake | undefined = undefined
  /** Writers waiting for room, in arrival order (a slot's Wake is renewed while it keeps waiting). */
  private putters: Array<{ wake: Wake }> = []
  private ended = false
  private failure: Cause.Cause<E> | undefined = undefined

  constructor(
    readonly maxRecords: number,
    readonly maxBytes: number,
    private readonly coalesce?: Coalesce<T> | undefined
  ) {}

  get size(): number {
    return this.items.length - this.head
  }

  private hasRoom(item: T): boolean {
    return this.size === 0 ||
      (this.records + item.count <= this.maxRecords && this.bytes + item.bytes <= this.maxBytes)
  }

  /** Adds a batch, waiting (in turn) while the buffer is full. After `end` or `fail` the batch is dropped. */
  offer(item: T): Effect.Effect<void> {
    return this.whenRoom(item, () => {
      if (!this.mergeWaiting(item)) this.items.push(item)
      this.records += item.count
      this.bytes += item.bytes
      this.wakeTaker()
    })
  }

  /** Merges `item` into the newest waiting batch of its source, if there is one and they merge. */
  private mergeWaiting(item: T): boolean {
    const coalesce = this.coalesce
    if (coalesce === undefined) return false
    const source = coalesce.source(item)
    const stop = Math.max(this.head, this.items.length - COALESCE_LOOKBACK)
    for (let i = this.items.length - 1; i >= stop; i--) {
      const waiting = this.items[i]!
      if (coalesce.source(waiting) !== source) continue
      const merged = coalesce.merge(waiting, item)
      if (merged === undefined) return false // (never past a batch of the same source)
      this.items[i] = merged
      return true
    }
    return false
  }

  /** Waits (in turn) until the buffer has room below its bounds: a reader asks before it fetches more. */
  readonly awaitRoom: Effect.Effect<void> = Effect.suspend(() => this.whenRoom(undefined, () => {}))

  private whenRoom(item: T | undefined, then: () => void): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.ended || this.failure !== undefined) return Effect.void
      if (this.putters.length === 0 && this.fits(item)) {
        then()
        return Effect.void
      }
      const slot = { wake: new Wake() }
      this.putters.push(slot)
      const leave = () => {
        const i = this.putters.indexOf(slot)
        if (i >= 0) this.putters.splice(i, 1)
      }
      const retry: Effect.Effect<void> = Effect.suspend(() => {
        if (this.ended || this.failure !== undefined) {
          leave()
          return Effect.void
        }
        if (this.putters[0] === slot && this.fits(item)) {
          // our turn and room: take it, and let the next in line look
          leave()
          then()
          this.wakePutters()
          return Effect.void
        }
        slot.wake = new Wake()
        return Effect.zipRight(slot.wake.wait, retry)
      })
      return Effect.zipRight(slot.wake.wait, retry).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            // leave the line, and let the next one look
            leave()
            this.wakePutters()
          })
        )
      )
    })
  }

  private fits(item: T | undefined): boolean {
    return item === undefined
      ? this.size === 0 || (this.records < this.maxRecords && this.bytes < this.maxBytes)
      : this.hasRoom(item)
  }

  /** The next batch; `None` once the buffer has ended and is empty. Fails after the batches before a `fail`. */
  readonly take: Effect.Effect<Option.Option<T>, E> = Effect.suspend(() => {
    if (this.head < this.items.length) {
      const item = this.items[this.head]!
      this.items[this.head] = undefined as unknown as T // let it go
      this.head++
      if (this.head === this.items.length) {
        this.items = []
        this.head = 0
      } else if (this.head > 1024) {
        this.items = this.items.slice(this.head)
        this.head = 0
      }
      this.records -= item.count
      this.bytes -= item.bytes
      this.wakePutters()
      return Effect.succeed(Option.some(item))
    }
    if (this.failure !== undefined) return Effect.failCause(this.failure)
    if (this.ended) return Effect.succeed(Option.none())
    const waiter = new Wake()
    this.taker = waiter
    return Effect.zipRight(waiter.wait, this.take)
  })

  /** Drops the waiting batches `drop` selects (e.g. those of a shard whose lease was lost). */
  remove(drop: (item: T) => boolean): void {
    const kept: Array<T> = []
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i]!
      if (drop(item)) {
        this.records -= item.count
        this.bytes -= item.bytes
      } else kept.push(item)
    }
    this.items = kept
    this.head = 0
    this.wakePutters()
  }

  /** No more batches: the taker gets `None` after the waiting ones. */
  end(): void {
    this.ended = true
    this.wakeTaker()
    this.wakePutters()
  }

  fail(cause: Cause.Cause<E>): void {
    if (this.failure === undefined) this.failure = cause
    this.wakeTaker()
    this.wakePutters()
  }

  private wakeTaker() {
    const taker = this.taker
    if (taker !== undefined) {
      this.taker = undefined
      taker.wake()
    }
  }

  /** Wakes the first writer in line (it wakes the next once served); after end/fail, all of them. */
  private wakePutters() {
    if (this.putters.length === 0) return
    if (this.ended || this.failure !== undefined) {
      const putters = this.putters
      this.putters = []
      for (const putter of putters) putter.wake.wake()
      return
    }
    this.putters[0]!.wake.wake()
  }
}
