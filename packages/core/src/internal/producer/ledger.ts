/**
 * The ledger: what the producer owes. It counts the user records accepted and not yet settled, and
 * their bytes (ready, in flight, and in the accumulators), the requests in flight and the `send`
 * calls waiting; it holds the retry state of records that failed at least once and the failures to
 * report, and it settles records: `deliver` resolves the `send`s waiting for them, `fail` fails them
 * in `PutRecordsFailed`.
 *
 * Written by the intake (records accepted), the response handling (delivered, failed, retried), the
 * dispatcher (requests started) and the shutdown (everything left fails); read by the back-pressure
 * gate (`hasRoom`) and the metrics. Synchronous throughout (one JS thread: no locks).
 *
 * Invariant: every accepted user record is settled exactly once — delivered, or failed and reported —
 * and `outstandingRecords` counts those not yet settled.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Exit from "effect/Exit"
import { type FailedRecord, PutRecordsFailed } from "../../KinesisError.js"
import { Item, itemsOf, type Pending, type RetryInfo } from "./records.js"
import type { Delivery } from "./shapes.js"

/** Why records fail when no error of theirs says so. */
export interface FailReason {
  readonly errorCode: string
  readonly errorMessage: string
}

/** @internal */
export class Ledger<A> {
  /** User records accepted, not yet delivered or failed. */
  outstandingRecords = 0
  /** Their Kinesis bytes once packed (ready + in flight). */
  outstandingBytes = 0
  /** Bytes held by the lanes' accumulators (kept up to date on add and flush, not recounted per put). */
  accumulatingBytes = 0
  inFlightRequests = 0
  /** `send` calls waiting for their record's delivery (while none waits, deliveries are not resolved). */
  sendsWaiting = 0
  /** User records delivered so far (for `afterFlush`). */
  delivered = 0
  /** Failed records not yet reported by a flush. */
  failures: Array<FailedRecord> = []
  /** Failed user records not yet counted in the metric (the pump reports them). */
  failedSinceReport = 0
  /** Retry state of records that failed at least once (dropped when they are delivered or given up). */
  readonly retries = new Map<Pending<A>, RetryInfo>()

  constructor(private readonly streamLabel: string, private readonly initialRetryState: unknown) {}

  retryInfo(p: Pending<A>): RetryInfo {
    let info = this.retries.get(p)
    if (info === undefined) {
      info = { retryState: this.initialRetryState, notBefore: 0, attempts: 0, lastCode: "", lastMessage: "" }
      this.retries.set(p, info)
    }
    return info
  }

  /** Resolves the `send`s waiting for the user records of a delivered Kinesis record (counters: the caller's). */
  resolve(pending: Pending<A>, result: Delivery): void {
    if (pending instanceof Item) {
      if (pending.deferred !== undefined) {
        Deferred.unsafeDone(
          pending.deferred,
          Exit.succeed({ shardId: result.shardId, sequenceNumber: result.sequenceNumber })
        )
      }
      return
    }
    let delivery: Exit.Exit<Delivery> | undefined // made only when a `send` waits for it
    for (const item of pending.records) {
      if (item.deferred !== undefined) {
        delivery ??= Exit.succeed({ shardId: result.shardId, sequenceNumber: result.sequenceNumber })
        Deferred.unsafeDone(item.deferred, delivery)
      }
    }
  }

  /** Gives up on Kinesis records: their user records fail (reported by the next flush) and are settled. */
  fail(list: ReadonlyArray<Pending<A>>, reason?: FailReason): void {
    if (list.length === 0) return
    const retries = this.retries
    const failed: Array<FailedRecord> = list.map((p) => {
      const info = retries.get(p)
      retries.delete(p)
      return {
        partitionKey: p.partitionKey,
        explicitHashKey: p.explicitHashKey,
        records: itemsOf(p).map((r) => r.value),
        errorCode: reason?.errorCode || info?.lastCode || "ProducerClosed",
        errorMessage: reason?.errorMessage || info?.lastMessage ||
          "the producer was closed before this record was delivered",
        attempts: info?.attempts ?? 0
      }
    })
    const error = new PutRecordsFailed({ stream: this.streamLabel, failures: failed })
    let count = 0
    for (const p of list) {
      const items = itemsOf(p)
      for (const item of items) {
        if (item.deferred !== undefined) Deferred.unsafeDone(item.deferred, Exit.fail(error))
      }
      count += items.length
      this.outstandingRecords -= items.length
      this.outstandingBytes -= p.size
    }
    for (const f of failed) this.failures.push(f)
    this.failedSinceReport += count
  }

  /** The failures not yet reported, handed over once. */
  takeFailures(): Array<FailedRecord> {
    const list = this.failures
    this.failures = []
    return list
  }
}
