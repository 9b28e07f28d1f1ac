/**
 * A shard this worker holds the lease of (`Reader`), and the batches its reader puts into the buffer
 * (`Batch`).
 *
 * Owns no state itself: it types the state the parts share. A `Reader` is made by the leases
 * (`leases.ts`) when a lease is taken, and each of its fields has one writer:
 * - the leases: `fiber`, `stopped`, `handingOff`, `lastRenewed` (they start and stop the reader and
 *   hand it over);
 * - the shard reader (`fetch.ts`): `lastFetched`, `emitted`, `ending`, `millisBehindLatest`,
 *   `lastArrival` (and the final `written` once the shard is read to its end);
 * - the output (`output.ts`), or under `Consumer.process` its admission (`process.ts`): `taken`,
 *   `recordsDelivered`;
 * - the checkpointing (`checkpoints.ts`): `processed`, `written`, `sinceWrite`; it completes `drained`
 *   and `handedOver`.
 * The status (`status.ts`) reads it. A `Batch` is made by the shard reader and taken by the output.
 *
 * Invariants: positions only move forward (but a hand-off under `Consumer.process` lowers `taken` to
 * what will still complete); `processed` is a position the downstream was given and finished (auto
 * mode), committed (manual mode), or the shard's watermark (`Consumer.process`); a checkpoint is only ever written from `processed`
 * (or, for a shard read to its end with nothing processed, from the shard's last sequence number).
 *
 * @internal
 */
import type * as Deferred from "effect/Deferred"
import type * as Fiber from "effect/Fiber"
import type * as Metric from "effect/Metric"
import type * as Checkpointer from "../../Checkpointer.js"
import type * as Kinesis from "../../Kinesis.js"
import type * as Metrics from "../metrics.js"
import type { Buffer, Coalesce } from "./buffer.js"
import type { ConsumerError } from "./shapes.js"

/**
 * Kinesis records as read, waiting in the buffer. They are decoded when the downstream takes the
 * batch: decoded values then live only as long as the downstream keeps them, not while they wait
 * (most of a consumer's garbage-collection work was copying decoded records that waited).
 */
export interface Batch<A, E> {
  readonly reader: Reader<A, E>
  /** The batch is `records[from, to)` (a GetRecords response, shared by its batches). */
  readonly records: ReadonlyArray<Kinesis.KinesisRecord>
  readonly from: number
  readonly to: number
  /** Resuming inside an aggregate: its sub-records up to this checkpoint were processed already. */
  readonly skipThrough: Checkpointer.Checkpoint | undefined
  /** Kinesis records (what the buffer bounds count). */
  readonly count: number
  readonly bytes: number
  /** Position after this batch's last record. */
  readonly last: Checkpointer.Checkpoint
}

/** Raw bytes per batch at most (beyond one record): an aggregate holds many user records to decode at once. */
export const MAX_BATCH_BYTES = 1024 * 1024

/**
 * Batches of one shard merge while they wait, up to `chunkSize` Kinesis records and `MAX_BATCH_BYTES`
 * (the bounds a response is cut by): a downstream slower than the events of a subscription takes them
 * in one batch, decoded and emitted at once. A batch resuming inside an aggregate starts one of its own.
 */
export const coalesceBatches = <A, E>(chunkSize: number): Coalesce<Batch<A, E>> => {
  /** The record arrays made by merges (no other batch shares them). */
  const merged = new WeakSet<ReadonlyArray<Kinesis.KinesisRecord>>()
  return {
    source: (batch) => batch.reader,
    merge: (into, item) => {
      if (
        item.skipThrough !== undefined || into.count + item.count > chunkSize ||
        into.bytes + item.bytes > MAX_BATCH_BYTES
      ) return undefined
      // a batch made by a merge owns its array: later merges append to it (no copy per merge)
      const records = merged.has(into.records) && into.from === 0 && into.to === into.records.length
        ? into.records as Array<Kinesis.KinesisRecord>
        : into.records.slice(into.from, into.to)
      for (let i = item.from; i < item.to; i++) records.push(item.records[i]!)
      merged.add(records)
      return {
        reader: into.reader,
        records,
        from: 0,
        to: records.length,
        skipThrough: into.skipThrough,
        count: into.count + item.count,
        bytes: into.bytes + item.bytes,
        last: item.last
      }
    }
  }
}

/** The metrics of one shard (tagged with the stream and the shard). */
export interface ShardMeters {
  readonly records: Metrics.Update<number>
  readonly bytes: Metrics.Update<number>
  readonly behind: Metrics.Update<number>
  readonly throttles: Metric.Metric.Counter<number>
  readonly expired: Metric.Metric.Counter<number>
}

export interface Reader<A, E> {
  readonly shard: Kinesis.Shard
  readonly lease: Checkpointer.Lease
  fiber: Fiber.RuntimeFiber<void, never> | undefined
  /** Buffer this reader writes to (shared in `stream` mode, its own in `shards` mode). */
  readonly buffer: Buffer<Batch<A, E>, ConsumerError | E>
  stopped: boolean
  /** Read to the end, waiting for the downstream to finish the last records. */
  ending: boolean
  /** Being handed over to another worker (balancing). */
  handingOff: boolean
  /** Position after the last batch the downstream took. */
  taken: Checkpointer.Checkpoint | undefined
  handedOver: Deferred.Deferred<void>
  lastFetched: Checkpointer.Checkpoint | undefined
  emitted: Checkpointer.Checkpoint | undefined
  processed: Checkpointer.Checkpoint | undefined
  written: Checkpointer.Checkpoint | undefined
  sinceWrite: number
  drained: Deferred.Deferred<void>
  lastRenewed: number
  millisBehindLatest: number | undefined
  lastArrival: number | undefined
  recordsDelivered: number
  /** `undefined` when metrics are off. */
  readonly meters: ShardMeters | undefined
}
