/**
 * The producer's public shapes — records, deliveries, options' defaults, errors — which `Producer.ts`
 * re-exports with its documentation. No state; imported by every part of the producer.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type {
  EncodeError,
  InvalidOption,
  InvalidPartitionKey,
  InvalidStreamAddress,
  PutRecordsFailed,
  RecordTooLarge,
  ServiceError
} from "../../KinesisError.js"
import type { Producer as PublicProducer } from "../../Producer.js"

/** @internal */
export const RecordTypeId: unique symbol = Symbol.for("@effect-kinesis/core/Producer/ProducerRecord")

/** @internal */
export interface ProducerRecord<A> {
  readonly [RecordTypeId]: typeof RecordTypeId
  readonly value: A
  readonly partitionKey?: string | undefined
  readonly explicitHashKey?: string | undefined
}

/** @internal */
export const record = <A>(
  value: A,
  options?: { readonly partitionKey?: string | undefined; readonly explicitHashKey?: string | undefined }
): ProducerRecord<A> => ({
  [RecordTypeId]: RecordTypeId,
  value,
  partitionKey: options?.partitionKey,
  explicitHashKey: options?.explicitHashKey
})

/** @internal */
export const isProducerRecord = (u: unknown): u is ProducerRecord<unknown> =>
  typeof u === "object" && u !== null && RecordTypeId in u

/** @internal */
export interface Delivery {
  readonly shardId: string
  readonly sequenceNumber: string
}

/** @internal */
export interface ShardLimits {
  readonly recordsPerSecond?: number | undefined
  readonly bytesPerSecond?: number | undefined
  /** Multiplies both limits (e.g. 0.8 to leave room for another producer). */
  readonly fraction?: number | undefined
}

/** @internal */
export type ProducerError =
  | PutRecordsFailed
  | InvalidPartitionKey
  | EncodeError
  | RecordTooLarge
  | ServiceError
  | InvalidStreamAddress
  | InvalidOption

/** What the retry schedule sees: the error of a whole request, or the per-record error codes of a lane. @internal */
export type RetryInput =
  | { readonly _tag: "RequestFailed"; readonly error: ServiceError }
  | { readonly _tag: "RecordsFailed"; readonly errorCodes: ReadonlyArray<string> }

/** @internal */
export interface FlushSummary {
  readonly delivered: number
  readonly failed: number
}

/** @internal */
export const defaults = {
  bufferTime: Duration.millis(100),
  maxBatchRecords: 500,
  maxBatchBytes: 5 * 1024 * 1024,
  maxRecordSize: 1024 * 1024,
  recordsPerSecond: 1000,
  bytesPerSecond: 1024 * 1024,
  maxQueueRecords: 10_000,
  maxQueueBytes: 32 * 1024 * 1024,
  maxInFlightRequests: 32,
  shutdownTimeout: Duration.seconds(30),
  retrySchedule: Schedule.exponential("100 millis", 2).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced("5 seconds")),
    Schedule.intersect(Schedule.recurs(20))
  ) as Schedule.Schedule<unknown, RetryInput>
} as const

/** The public producer, plus what the sink needs. @internal */
export interface Producer<A> extends PublicProducer<A> {
  /** Fails (after a flush, with every failure) once records have been given up on. */
  readonly failed: Effect.Effect<void, ProducerError>
}

/** @internal */
export interface PutOptions {
  readonly partitionKey?: string | undefined
  readonly explicitHashKey?: string | undefined
}
