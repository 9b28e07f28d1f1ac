/**
 * What is a call, and what did it do? The vocabulary every part of the engine shares: the
 * operations, the `Result` an operation returns (an `Exit`, built synchronously), the per-call
 * `CallContext` an operation fills in, and the bounded call log it ends up in.
 *
 * State owned: the call log's ring buffer (`CallLog`), and one `CallContext` per call.
 * Called by: service.ts (creates the context, writes the log, reads it for `KinesisTest.calls`) and
 * every operation of the engine's parts (fill in `shardId`, `records`, `bytes`, `failedRecords`).
 * Invariants: the log holds at most `capacity` entries, oldest first; a capacity ≤ 0 logs nothing.
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import type * as KinesisTest from "../../KinesisTest.js"

/** @internal */
export type Operation = KinesisTest.Operation

/** @internal */
export type OperationError<Op extends Operation> = KinesisTest.OperationError<Op>

/** What an operation returns: every operation is synchronous and answers with an `Exit`. @internal */
export type Result<A, E> = Exit.Exit<A, E>
/** @internal */
export const ok: <A>(a: A) => Exit.Exit<A, never> = Exit.succeed
/** @internal */
export const ko: <E>(e: E) => Exit.Exit<never, E> = Exit.fail
/** A failure, re-typed for any success type. @internal */
export const rethrow = <E>(failure: Exit.Failure<unknown, E>): Exit.Exit<never, E> => Exit.failCause(failure.cause)

/**
 * What a call did, filled in by the operation and written to the call log.
 *
 * @internal
 */
export class CallContext {
  shardId: string | undefined = undefined
  records = 0
  bytes = 0
  failedRecords = 0
  constructor(
    readonly operation: Operation,
    /** The stream's name (call log). */
    readonly stream: string | undefined,
    /** The stream as the request addressed it, name or ARN (errors). */
    readonly label: string | undefined,
    readonly time: number
  ) {}
}

/** A bounded call log (ring buffer). @internal */
export class CallLog {
  private entries: Array<KinesisTest.Call> = []
  private next = 0
  constructor(readonly capacity: number) {}
  add(ctx: CallContext, error: string | undefined): void {
    if (this.capacity <= 0) return
    const entry: KinesisTest.Call = {
      operation: ctx.operation,
      stream: ctx.label,
      shardId: ctx.shardId,
      records: ctx.records,
      bytes: ctx.bytes,
      failedRecords: ctx.failedRecords,
      time: ctx.time,
      outcome: error === undefined ? "success" : "failure",
      error
    }
    if (this.entries.length < this.capacity) {
      this.entries.push(entry)
    } else {
      this.entries[this.next] = entry
      this.next = (this.next + 1) % this.capacity
    }
  }
  toArray(): ReadonlyArray<KinesisTest.Call> {
    return this.next === 0 ? [...this.entries] : [...this.entries.slice(this.next), ...this.entries.slice(0, this.next)]
  }
  clear(): void {
    this.entries = []
    this.next = 0
  }
}
