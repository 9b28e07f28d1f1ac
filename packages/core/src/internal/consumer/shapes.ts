/**
 * The consumer's shapes: what `Consumer.ts` re-exports (records, statuses, dead letters, errors, the
 * option defaults) and the `Engine` the consumer's `make` returns.
 *
 * Owns no state. Imported by every part of the consumer and by `Consumer.ts` (through `consumer.ts`).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import type * as Checkpointer from "../../Checkpointer.js"
import type * as Kinesis from "../../Kinesis.js"
import type { DecodeError, InvalidStreamAddress, ServiceError } from "../../KinesisError.js"
import type * as Processor from "../../Processor.js"
import type * as Metrics from "../metrics.js"
import type { Batch, Reader } from "./shard.js"

/** @internal */
export type IteratorType = "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP"

/** @internal */
export interface DeadLetter {
  /** The Kinesis record as read (for an aggregate: the whole aggregate). */
  readonly record: Kinesis.KinesisRecord
  readonly shardId: string
  readonly error: DecodeError
}

/** @internal */
export type DecodeErrorPolicy<E, R> =
  | "fail"
  | "skip"
  | { readonly deadLetter: Sink.Sink<unknown, DeadLetter, unknown, E, R> }

/** @internal */
export type ConsumerError = ServiceError | DecodeError | Checkpointer.CheckpointerError | InvalidStreamAddress

/** @internal */
export interface ConsumerRecord<A> extends Processor.UserRecord<A> {
  readonly checkpoint: Effect.Effect<void, Checkpointer.LeaseLost | Checkpointer.CheckpointerError>
}

/** @internal */
export type ShardState = "reading" | "retrying" | "waiting-for-parent" | "ended" | "owned-elsewhere" | "unowned"

/** @internal */
export interface ShardStatus {
  readonly shardId: string
  readonly state: ShardState
  readonly parents: ReadonlyArray<string>
  readonly children: ReadonlyArray<string>
  readonly owner: string | undefined
  readonly millisBehindLatest: number | undefined
  /** ms between now and the arrival of the last record read (the iterator's age), when reading. */
  readonly iteratorAgeMillis: number | undefined
  readonly checkpoint: Checkpointer.Checkpoint | undefined
  /** User records delivered from this shard by this consumer (by every reader it had of the shard). */
  readonly recordsDelivered: number
  /** Reads of this shard failed in a row and retried (0 unless `retrying`). */
  readonly failures: number
  /** The error of the last failed read, while `retrying`. */
  readonly lastError: ServiceError | undefined
}

/** @internal */
export interface ConsumerStatus {
  readonly stream: string
  readonly workerId: string
  readonly shards: ReadonlyArray<ShardStatus>
  readonly totals: {
    readonly records: number
    readonly bytes: number
    readonly reading: number
    readonly retrying: number
    readonly ended: number
    readonly waiting: number
    readonly ownedElsewhere: number
    readonly leasesLost: number
  }
  /** parent → children, for every listed shard with listed children. */
  readonly children: Readonly<Record<string, ReadonlyArray<string>>>
  readonly updatedAt: number
}

/** @internal */
export interface ShardStream<A, E = never> {
  readonly shardId: string
  readonly records: Stream.Stream<ConsumerRecord<A>, ConsumerError | E>
}

/** @internal */
export const defaults = {
  iteratorType: "TRIM_HORIZON" as IteratorType,
  recordLimit: 10_000,
  shardFetchRate: 5,
  idleDelay: Duration.seconds(1),
  shardRefreshInterval: Duration.seconds(30),
  maxShards: Infinity,
  maxBufferRecords: 2_000,
  maxBufferBytes: 16 * 1024 * 1024,
  chunkSize: 1_000,
  checkpointInterval: Duration.seconds(5),
  checkpointEvery: 10_000,
  fanOutWatchdog: Duration.seconds(30),
  retrySchedule: Schedule.exponential("200 millis", 2).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced("10 seconds"))
  ) as Schedule.Schedule<unknown, ServiceError>
} as const

/** @internal */
export interface Engine<A, E> {
  readonly status: Effect.Effect<ConsumerStatus>
  readonly changes: SubscriptionRef.SubscriptionRef<ConsumerStatus>
  readonly records: Stream.Stream<ConsumerRecord<A>, ConsumerError | E>
  readonly shards: Stream.Stream<ShardStream<A, E>, ConsumerError | E>
  /** What `Consumer.process` drives (`process` mode). */
  readonly process: ProcessPort<A, E>
}

/** The consumer's parts `Consumer.process` works with (`process.ts`). @internal */
export interface ProcessPort<A, E> {
  /** Each shard as this worker starts reading it; fails with the consumer's failure. */
  readonly readers: Stream.Stream<Reader<A, E>, ConsumerError | E>
  readonly processor: Processor.Processor<A>
  /** The stream's name. */
  readonly streamName: string
  /** A batch was taken and decoded into `count` user records (totals, metrics, the reader's `taken`). */
  readonly delivered: (batch: Batch<A, E>, count: number) => void
  /** A shard being handed over lowered its `taken` (to what it still completes): look again. */
  readonly handingOver: (reader: Reader<A, E>) => void
  /** The records of `reader` up to `position` completed (`count` more of them): the watermark moved. */
  readonly markProcessed: (reader: Reader<A, E>, position: Checkpointer.Checkpoint, count: number) => void
  /** Binds a metric to the stream's labels (plus `extra`); `undefined` when metrics are off. */
  readonly bind: Metrics.Binder["bind"] | undefined
}
