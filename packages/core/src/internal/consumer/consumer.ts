/**
 * The consumer engine.
 *
 * - A coordinator lists the shards (all pages) on the refresh interval and at once when a shard ends,
 *   builds the `Topology`, and takes the lease of every readable shard (not ended, every listed parent
 *   ended) it can, up to `maxShards`.
 * - One reader fiber per leased shard: GetShardIterator at the checkpoint (or the start position), then
 *   GetRecords paced by `shardFetchRate`, idling when caught up, backing off that shard alone on
 *   throttling and retryable errors, renewing an expired iterator right after the last record read.
 *   Records are decoded, cut into chunks and offered to a bounded buffer (back-pressure: a full buffer
 *   stops that reader's polling, no record is skipped).
 * - The output takes chunks from the buffer. In auto mode a chunk counts as processed once the
 *   downstream pulls the next one; a writer fiber stores the processed position of each shard every
 *   `checkpointInterval` (or after `checkpointEvery` records). In manual mode `record.checkpoint` does.
 * - A closed shard read to its end waits until its last record is processed, is marked ended in the
 *   Checkpointer (with its final checkpoint), its lease is released, and the coordinator looks for its
 *   children at once.
 * - A renewal fiber heartbeats and renews the leases; a lost lease stops that shard's reader at once and
 *   drops its batches still waiting in the buffer (the new owner reads them after its checkpoint).
 * - Closing the scope stops polling, writes the final checkpoint of everything processed and releases
 *   the leases.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Checkpointer from "../../Checkpointer.js"
import type { ConsumerOptions } from "../../Consumer.js"
import * as Kinesis from "../../Kinesis.js"
import {
  type DecodeError,
  type ExpiredIterator,
  type InvalidStreamAddress,
  isRetryable,
  isThrottling,
  type ServiceError
} from "../../KinesisError.js"
import * as KinesisMetrics from "../../KinesisMetrics.js"
import type * as Processor from "../../Processor.js"
import * as StreamAddress from "../../StreamAddress.js"
import * as Topology from "../../Topology.js"
import * as Metrics from "../metrics.js"
import { type DecodedSink, decodeRecord, decodeRecordLenient } from "../processor/processor.js"
import { Buffer } from "./buffer.js"

// ---------------------------------------------------------------------------------------------
// public shapes (re-exported by Consumer.ts)
// ---------------------------------------------------------------------------------------------

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
export type ShardState = "reading" | "waiting-for-parent" | "ended" | "owned-elsewhere" | "unowned"

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
  readonly recordsDelivered: number
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
  retrySchedule: Schedule.exponential("200 millis", 2).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced("10 seconds"))
  ) as Schedule.Schedule<unknown, ServiceError>
} as const

/** ms subtracted from the LATEST instant when an iterator must be re-created AT_TIMESTAMP. */
const LATEST_SKEW_MARGIN = 1_000

// ---------------------------------------------------------------------------------------------
// positions
// ---------------------------------------------------------------------------------------------

/** Compares decimal sequence numbers (no leading zeros). */
export const compareSequence = (a: string, b: string): number =>
  a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0

/** Compares checkpoints; a missing sub-sequence means "the whole Kinesis record". */
export const comparePosition = (a: Checkpointer.Checkpoint, b: Checkpointer.Checkpoint): number => {
  const bySequence = compareSequence(a.sequenceNumber, b.sequenceNumber)
  if (bySequence !== 0) return bySequence
  const sa = a.subSequenceNumber ?? Infinity
  const sb = b.subSequenceNumber ?? Infinity
  return sa === sb ? 0 : sa < sb ? -1 : 1
}

const isAfter = (a: Checkpointer.Checkpoint | undefined, b: Checkpointer.Checkpoint | undefined) =>
  a !== undefined && (b === undefined || comparePosition(a, b) > 0)

// ---------------------------------------------------------------------------------------------
// engine
// ---------------------------------------------------------------------------------------------

/**
 * Kinesis records as read, waiting in the buffer. They are decoded when the downstream takes the
 * batch: decoded values then live only as long as the downstream keeps them, not while they wait
 * (most of a consumer's garbage-collection work was copying decoded records that waited).
 */
interface Batch<A, E> {
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
const MAX_BATCH_BYTES = 1024 * 1024

interface Reader<A, E> {
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
  readonly mRecords: Metrics.Update<number>
  readonly mBytes: Metrics.Update<number>
  readonly mBehind: Metrics.Update<number>
  readonly mThrottles: Metric.Metric.Counter<number>
  readonly mExpired: Metric.Metric.Counter<number>
}

/**
 * A user record, built as it is decoded (one object per record: the Kinesis record's own fields are
 * read through getters, not copied). `JSON.stringify` shows the record's fields; an object spread
 * does not (some are getters).
 */
class RecordImpl<A> implements ConsumerRecord<A> {
  /** The last user record of its Kinesis record: a checkpoint here covers the whole Kinesis record. */
  closesRecord = false
  constructor(
    readonly value: A,
    private readonly record: Kinesis.KinesisRecord,
    readonly shardId: string,
    readonly subSequenceNumber: number | undefined,
    readonly partitionKey: string,
    readonly explicitHashKey: string | undefined,
    private readonly commit: (position: Checkpointer.Checkpoint) => Effect.Effect<
      void,
      Checkpointer.LeaseLost | Checkpointer.CheckpointerError
    >
  ) {}
  get sequenceNumber(): string {
    return this.record.sequenceNumber
  }
  get approximateArrivalTimestamp(): Date {
    return this.record.approximateArrivalTimestamp
  }
  /** Position a checkpoint at this record stores. */
  get position(): Checkpointer.Checkpoint {
    return this.closesRecord || this.subSequenceNumber === undefined
      ? { sequenceNumber: this.record.sequenceNumber }
      : { sequenceNumber: this.record.sequenceNumber, subSequenceNumber: this.subSequenceNumber }
  }
  get checkpoint(): Effect.Effect<void, Checkpointer.LeaseLost | Checkpointer.CheckpointerError> {
    return this.commit(this.position)
  }
  toJSON(): unknown {
    return {
      value: this.value,
      shardId: this.shardId,
      sequenceNumber: this.sequenceNumber,
      subSequenceNumber: this.subSequenceNumber,
      partitionKey: this.partitionKey,
      explicitHashKey: this.explicitHashKey,
      approximateArrivalTimestamp: this.approximateArrivalTimestamp
    }
  }
}

/** @internal */
export interface Engine<A, E> {
  readonly status: Effect.Effect<ConsumerStatus>
  readonly changes: SubscriptionRef.SubscriptionRef<ConsumerStatus>
  readonly records: Stream.Stream<ConsumerRecord<A>, ConsumerError | E>
  readonly shards: Stream.Stream<ShardStream<A, E>, ConsumerError | E>
}

/** @internal */
export const make = <A, E, R>(
  options: ConsumerOptions<A, E, R>,
  defaultProcessor: Processor.Processor<A>,
  mode: "stream" | "shards"
): Effect.Effect<Engine<A, E>, ConsumerError | E, Kinesis.Kinesis | Checkpointer.Checkpointer | Scope.Scope | R> =>
  Effect.gen(function*() {
    const kinesis = yield* Kinesis.Kinesis
    const checkpointer = yield* Checkpointer.Checkpointer
    const address = yield* StreamAddress.make(options.stream)
    const streamKey = address.name
    const streamLabel = StreamAddress.format(address)
    const processor = options.processor ?? defaultProcessor
    const iteratorType = options.iteratorType ?? defaults.iteratorType
    const recordLimit = Math.min(10_000, Math.max(1, options.recordLimit ?? defaults.recordLimit))
    const fetchSpacing = 1000 / Math.max(0.001, options.shardFetchRate ?? defaults.shardFetchRate)
    const idleDelay = Duration.toMillis(options.idleDelay ?? defaults.idleDelay)
    const refreshInterval = Duration.decode(options.shardRefreshInterval ?? defaults.shardRefreshInterval)
    const maxShards = options.maxShards ?? defaults.maxShards
    const maxBufferRecords = options.maxBufferRecords ?? defaults.maxBufferRecords
    const maxBufferBytes = options.maxBufferBytes ?? defaults.maxBufferBytes
    const chunkSize = Math.max(1, options.chunkSize ?? defaults.chunkSize)
    const schedule = options.retrySchedule ?? defaults.retrySchedule
    const manual = options.checkpoint === "manual"
    const checkpointInterval = Duration.decode(options.checkpointInterval ?? defaults.checkpointInterval)
    const checkpointEvery = options.checkpointEvery ?? defaults.checkpointEvery
    const metricsOn = options.metrics !== false
    const policy = options.onDecodeError ?? "fail"
    if (iteratorType === "AT_TIMESTAMP" && options.timestamp === undefined) {
      return yield* Effect.dieMessage("effect-kinesis consumer: iteratorType AT_TIMESTAMP needs a timestamp")
    }
    const scope = yield* Effect.scope
    const startedAt = yield* Clock.currentTimeMillis

    const tag = <T, I, O>(metric: Metric.Metric<T, I, O>, shardId?: string): Metric.Metric<T, I, O> => {
      const withStream = Metric.tagged(metric, "stream", streamLabel)
      return shardId === undefined ? withStream : Metric.tagged(withStream, "shard", shardId)
    }
    const { bind } = yield* Metrics.binder(["stream", streamLabel])
    const mLatency = bind(KinesisMetrics.consumerGetRecordsLatency)
    const mCheckpoints = tag(KinesisMetrics.consumerCheckpoints)
    const mCheckpointFailures = tag(KinesisMetrics.consumerCheckpointFailures)
    const mLeasesHeld = Metric.tagged(tag(KinesisMetrics.consumerLeasesHeld), "worker", checkpointer.workerId)
    const mLeasesLost = tag(KinesisMetrics.consumerLeasesLost)
    const mEnded = tag(KinesisMetrics.consumerShardsEnded)
    const mDecodeErrors = Metric.tagged(
      tag(KinesisMetrics.consumerDecodeErrors),
      "policy",
      typeof policy === "string" ? policy : "deadLetter"
    )

    // -- state ---------------------------------------------------------------------------------
    const readers = new Map<string, Reader<A, E>>()
    let topology = Topology.make([])
    let stored = new Map<string, Checkpointer.ShardState>()
    const endedHere = new Set<string>()
    let leasesLost = 0
    let totalRecords = 0
    let totalBytes = 0
    let wakeCoordinator = Deferred.unsafeMake<void>(FiberId.none)
    let wakeWriter = Deferred.unsafeMake<void>(FiberId.none)
    const shared = new Buffer<Batch<A, E>, ConsumerError | E>(maxBufferRecords, maxBufferBytes)
    const shardStreams = yield* Queue.unbounded<ShardStream<A, E>>()
    let fatalCause: Cause.Cause<ConsumerError | E> | undefined
    /** Fails the whole consumer (a fatal error in one of its fibers): the output fails after what is buffered. */
    const fatal = (cause: Cause.Cause<ConsumerError | E>): Effect.Effect<void> =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.suspend(() => {
        shared.fail(cause)
        for (const reader of readers.values()) reader.buffer.fail(cause)
        fatalCause = cause
        return Queue.shutdown(shardStreams)
      })

    const wake = () => Deferred.unsafeDone(wakeCoordinator, Exit.void)

    // -- dead letters ----------------------------------------------------------------------------
    let deadLetters: Queue.Queue<DeadLetter> | undefined
    let deadLetterFiber: Fiber.RuntimeFiber<unknown, E> | undefined
    if (typeof policy === "object") {
      deadLetters = yield* Queue.bounded<DeadLetter>(1024)
      deadLetterFiber = yield* Stream.fromQueue(deadLetters).pipe(
        Stream.run(policy.deadLetter),
        Effect.forkIn(scope)
      )
    }

    // -- status ----------------------------------------------------------------------------------
    const statusNow = (now: number): ConsumerStatus => {
      const shards: Array<ShardStatus> = []
      let reading = 0
      let ended = 0
      let waiting = 0
      let elsewhere = 0
      const isEnded = (id: string) => endedHere.has(id) || stored.get(id)?.ended === true
      for (const shard of topology.shards.values()) {
        const id = shard.shardId
        const reader = readers.get(id)
        const state = stored.get(id)
        let shardState: ShardState
        if (isEnded(id)) shardState = "ended"
        else if (reader !== undefined && !reader.stopped) shardState = "reading"
        else if (Topology.blockedBy(topology, id, isEnded).length > 0) shardState = "waiting-for-parent"
        else if (state?.owner !== undefined && state.owner !== checkpointer.workerId && state.expiresAt > now) {
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
          owner: reader !== undefined && !reader.stopped ? checkpointer.workerId : state?.owner,
          millisBehindLatest: reader?.millisBehindLatest,
          iteratorAgeMillis: reader?.lastArrival === undefined ? undefined : Math.max(0, now - reader.lastArrival),
          checkpoint: reader?.written ?? state?.checkpoint,
          recordsDelivered: reader?.recordsDelivered ?? 0
        })
      }
      const children: Record<string, ReadonlyArray<string>> = {}
      for (const [parent, list] of topology.children) children[parent] = list
      return {
        stream: streamLabel,
        workerId: checkpointer.workerId,
        shards,
        totals: {
          records: totalRecords,
          bytes: totalBytes,
          reading,
          ended,
          waiting,
          ownedElsewhere: elsewhere,
          leasesLost
        },
        children,
        updatedAt: now
      }
    }
    const changes = yield* SubscriptionRef.make(statusNow(startedAt))
    const publish = Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => SubscriptionRef.set(changes, statusNow(now))
    )

    // -- checkpoints -----------------------------------------------------------------------------
    const onLeaseLost = (reader: Reader<A, E>) =>
      Effect.suspend(() => {
        if (reader.stopped) return Effect.void
        leasesLost++
        return Effect.zipRight(
          stopReader(reader, "lost"),
          metricsOn ? Metric.increment(mLeasesLost) : Effect.void
        )
      })

    /** Writes the reader's processed position if it moved since the last write. */
    const writeCheckpoint = (reader: Reader<A, E>) =>
      Effect.suspend(() => {
        const position = reader.processed
        if (!isAfter(position, reader.written) || position === undefined) return Effect.void
        reader.sinceWrite = 0
        return checkpointer.checkpoint(reader.lease, position).pipe(
          Effect.tap(() =>
            Effect.sync(() => {
              if (isAfter(position, reader.written)) reader.written = position
            })
          ),
          Effect.tap(() => (metricsOn ? Metric.increment(mCheckpoints) : Effect.void)),
          Effect.tapError(() => (metricsOn ? Metric.increment(mCheckpointFailures) : Effect.void))
        )
      })

    const commit = (reader: Reader<A, E>) => (position: Checkpointer.Checkpoint) =>
      Effect.suspend(() => {
        if (isAfter(position, reader.processed)) reader.processed = position
        return Effect.zipRight(
          writeCheckpoint(reader),
          Effect.sync(() => {
            checkDrained(reader)
            checkHandedOver(reader)
          })
        )
      })

    const checkHandedOver = (reader: Reader<A, E>) => {
      if (reader.handingOff && (reader.taken === undefined || !isAfter(reader.taken, reader.processed))) {
        Deferred.unsafeDone(reader.handedOver, Exit.void)
      }
    }

    const checkDrained = (reader: Reader<A, E>) => {
      if (reader.ending && (reader.emitted === undefined || !isAfter(reader.emitted, reader.processed))) {
        Deferred.unsafeDone(reader.drained, Exit.void)
      }
    }

    /** Auto mode: the downstream pulled past `count` records of `reader`, up to `position`. */
    const markProcessed = (reader: Reader<A, E>, position: Checkpointer.Checkpoint, count: number) => {
      if (reader.stopped && !reader.ending) return
      if (!manual) {
        if (isAfter(position, reader.processed)) reader.processed = position
        reader.sinceWrite += count
        if (reader.sinceWrite >= checkpointEvery) Deferred.unsafeDone(wakeWriter, Exit.void)
      }
      checkDrained(reader)
      checkHandedOver(reader)
    }

    const writer = Effect.gen(function*() {
      while (true) {
        const signal = wakeWriter
        yield* Effect.raceFirst(Deferred.await(signal), Effect.sleep(checkpointInterval))
        if (signal === wakeWriter) wakeWriter = Deferred.unsafeMake<void>(FiberId.none)
        for (const reader of Array.from(readers.values())) {
          if (reader.stopped) continue
          yield* writeCheckpoint(reader).pipe(
            Effect.catchTags({
              LeaseLost: () => onLeaseLost(reader),
              CheckpointerError: (error) =>
                Effect.logWarning(`effect-kinesis consumer: checkpoint of ${reader.shard.shardId} failed`, error)
            })
          )
        }
      }
    })

    // -- readers ---------------------------------------------------------------------------------
    const stopReader = (reader: Reader<A, E>, why: "lost" | "ended" | "shutdown"): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (reader.stopped) return Effect.void
        reader.stopped = true
        readers.delete(reader.shard.shardId)
        if (why === "lost") {
          reader.buffer.remove((b) => b.reader === reader)
        }
        if (mode === "shards") reader.buffer.end()
        wake()
        const fiber = reader.fiber
        return fiber === undefined ? Effect.void : Fiber.interrupt(fiber)
      }).pipe(Effect.zipRight(metricsOn ? Metric.set(mLeasesHeld, readers.size) : Effect.void))

    /** Retries `effect` with the schedule on retryable errors (this shard only); other errors fail. */
    const retrying = <X, Err extends ServiceError>(reader: Reader<A, E>, effect: Effect.Effect<X, Err>) =>
      effect.pipe(
        Effect.tapError((error) =>
          isThrottling(error) && metricsOn ? Metric.increment(reader.mThrottles) : Effect.void
        ),
        Effect.retry({ schedule, while: (error: ServiceError) => isRetryable(error) })
      )

    const positionFor = (reader: Reader<A, E>, from: Checkpointer.Checkpoint | undefined): Kinesis.StartingPosition => {
      if (from !== undefined) {
        return from.subSequenceNumber === undefined
          ? { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: from.sequenceNumber }
          : { type: "AT_SEQUENCE_NUMBER", sequenceNumber: from.sequenceNumber }
      }
      return initialPosition(reader.shard)
    }

    /** Where a shard without checkpoint starts (see `iteratorType`). */
    const initialPosition = (shard: Kinesis.Shard): Kinesis.StartingPosition => {
      if (iteratorType === "TRIM_HORIZON") return { type: "TRIM_HORIZON" }
      if (iteratorType === "AT_TIMESTAMP") return { type: "AT_TIMESTAMP", timestamp: options.timestamp! }
      // LATEST: a child of a shard this group has read starts at its beginning (nothing in between is lost)
      const parentRead = Topology.declaredParents(shard).some((p) =>
        endedHere.has(p) || stored.get(p)?.checkpoint !== undefined
      )
      return parentRead ? { type: "TRIM_HORIZON" } : { type: "LATEST" }
    }

    /**
     * Offers a GetRecords response to the buffer as batches of at most `chunkSize` Kinesis records (and
     * about `MAX_BATCH_BYTES`), each waiting for room; they are decoded when the downstream takes them.
     */
    const emitResponse = (
      reader: Reader<A, E>,
      records: ReadonlyArray<Kinesis.KinesisRecord>,
      skipThrough: Checkpointer.Checkpoint | undefined
    ): Effect.Effect<void> =>
      Effect.suspend(() => {
        const loop = (from: number, skip: Checkpointer.Checkpoint | undefined): Effect.Effect<void> => {
          if (from >= records.length) return Effect.void
          let to = from
          let bytes = 0
          while (to < records.length && to - from < chunkSize && (to === from || bytes < MAX_BATCH_BYTES)) {
            bytes += records[to]!.data.length
            to++
          }
          const batch: Batch<A, E> = {
            reader,
            records,
            from,
            to,
            skipThrough: skip,
            count: to - from,
            bytes,
            last: { sequenceNumber: records[to - 1]!.sequenceNumber }
          }
          reader.emitted = batch.last
          return Effect.zipRight(reader.buffer.offer(batch), loop(to, undefined))
        }
        return loop(0, skipThrough)
      })

    const runReader = (reader: Reader<A, E>, start: Checkpointer.ShardState) =>
      Effect.gen(function*() {
        const shard = reader.shard
        const shardId = shard.shardId
        const request = (position: Kinesis.StartingPosition) =>
          retrying(reader, kinesis.getShardIterator({ stream: address, shardId, position }))
        const resumeFrom = start.checkpoint
        // LATEST means "records arriving from now on": if that iterator expires before a record was read,
        // AT_TIMESTAMP of the time it was asked for (less a margin for clock skew) loses nothing
        const latestAt = (yield* Clock.currentTimeMillis) - LATEST_SKEW_MARGIN
        let iterator: string | undefined = yield* request(positionFor(reader, resumeFrom))
        let skipThrough = resumeFrom?.subSequenceNumber === undefined ? undefined : resumeFrom
        let lastCall = -Infinity
        /**
         * One GetRecords call, paced: every call counts against `shardFetchRate`, a retried one too (the
         * retry schedule's delay and this spacing overlap; the longer one applies), so a shard recovering
         * from throttling is not read faster than the rate and throttled again.
         */
        const getRecords = (shardIterator: string) =>
          Effect.gen(function*() {
            const before = yield* Clock.currentTimeMillis
            const wait = lastCall + fetchSpacing - before
            if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
            const called = yield* Clock.currentTimeMillis
            lastCall = called
            const response = yield* kinesis.getRecords({
              shardIterator,
              limit: recordLimit,
              stream: address._tag === "StreamArn" ? address : undefined
            })
            if (metricsOn) mLatency(((yield* Clock.currentTimeMillis) - called) / 1000)
            return response
          })
        while (iterator !== undefined && !reader.stopped) {
          // fetch only when the buffer has room for more (what is read waits decoded in memory)
          yield* reader.buffer.awaitRoom
          if (reader.stopped) break
          let result: Either.Either<Kinesis.GetRecordsResponse, ExpiredIterator> | undefined = yield* getRecords(
            iterator
          ).pipe(
            Effect.map((r) => Either.right(r) as Either.Either<Kinesis.GetRecordsResponse, ExpiredIterator>),
            Effect.catchTag("ExpiredIterator", (e) => Effect.succeed(Either.left(e))),
            (effect) => retrying(reader, effect)
          )
          if (Either.isLeft(result)) {
            // a new iterator right after the last record read (never LATEST / TRIM_HORIZON)
            if (metricsOn) yield* Metric.increment(reader.mExpired)
            const from = reader.lastFetched ?? resumeFrom
            iterator = yield* request(
              from !== undefined
                ? positionFor(reader, from)
                : iteratorType === "LATEST"
                ? { type: "AT_TIMESTAMP", timestamp: new Date(latestAt) }
                : initialPosition(shard)
            )
            skipThrough = from?.subSequenceNumber === undefined ? undefined : from
            continue
          }
          const response: Kinesis.GetRecordsResponse = result.right
          result = undefined
          iterator = response.nextShardIterator
          reader.millisBehindLatest = response.millisBehindLatest
          if (metricsOn && response.millisBehindLatest !== undefined) {
            reader.mBehind(response.millisBehindLatest / 1000)
          }
          const count = response.records.length
          if (count > 0) {
            const lastRecord = response.records[count - 1]!
            yield* emitResponse(reader, response.records, skipThrough)
            skipThrough = undefined
            reader.lastFetched = { sequenceNumber: lastRecord.sequenceNumber }
            reader.lastArrival = lastRecord.approximateArrivalTimestamp.getTime()
          }
          // caught up (nothing new, or the tip reached with a partial response): idle before the next poll
          const caughtUp = count === 0 || (response.millisBehindLatest === 0 && count < recordLimit)
          if (iterator !== undefined && caughtUp) {
            yield* Effect.sleep(Duration.millis(Math.max(0, idleDelay - fetchSpacing)))
          }
        }
        if (reader.stopped) return
        // the shard is closed and read to its end: once the downstream has finished its records, mark it
        // ended (with the final checkpoint) so its children may be read, here or by any worker
        reader.ending = true
        checkDrained(reader)
        if (mode === "shards") reader.buffer.end()
        yield* Deferred.await(reader.drained)
        const final = reader.processed ??
          {
            sequenceNumber: shard.sequenceNumberRange.endingSequenceNumber ??
              shard.sequenceNumberRange.startingSequenceNumber
          }
        yield* checkpointer.markEnded(reader.lease, final).pipe(
          Effect.retry({
            schedule: Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("10 seconds"))),
            while: (e) => e._tag === "CheckpointerError"
          })
        )
        reader.written = final
        endedHere.add(shardId)
        if (metricsOn) yield* Metric.increment(mEnded)
        yield* checkpointer.release(reader.lease).pipe(Effect.ignore)
        reader.stopped = true
        readers.delete(shardId)
        wake()
      }).pipe(
        Effect.catchTags({
          LeaseLost: () => onLeaseLost(reader)
        }),
        Effect.catchAllCause(fatal)
      )

    const startReader = (shard: Kinesis.Shard, lease: Checkpointer.Lease, state: Checkpointer.ShardState) =>
      Effect.gen(function*() {
        const shardId = shard.shardId
        const reader: Reader<A, E> = {
          shard,
          lease,
          fiber: undefined,
          buffer: mode === "stream" ? shared : new Buffer(maxBufferRecords, maxBufferBytes),
          stopped: false,
          ending: false,
          handingOff: false,
          taken: undefined,
          handedOver: Deferred.unsafeMake<void>(FiberId.none),
          lastFetched: undefined,
          emitted: undefined,
          processed: state.checkpoint,
          written: state.checkpoint,
          sinceWrite: 0,
          drained: Deferred.unsafeMake<void>(FiberId.none),
          lastRenewed: yield* Clock.currentTimeMillis,
          millisBehindLatest: undefined,
          lastArrival: undefined,
          recordsDelivered: 0,
          mRecords: bind(KinesisMetrics.consumerRecords, ["shard", shardId]),
          mBytes: bind(KinesisMetrics.consumerBytes, ["shard", shardId]),
          mBehind: bind(KinesisMetrics.consumerBehindLatest, ["shard", shardId]),
          mThrottles: tag(KinesisMetrics.consumerThrottles, shardId),
          mExpired: tag(KinesisMetrics.consumerExpiredIterators, shardId)
        }
        readers.set(shardId, reader)
        if (mode === "shards") {
          yield* Queue.offer(shardStreams, { shardId, records: output(reader.buffer) })
        }
        reader.fiber = yield* Effect.forkIn(runReader(reader, state), scope)
        if (metricsOn) yield* Metric.set(mLeasesHeld, readers.size)
      })

    // -- coordinator -----------------------------------------------------------------------------
    const listShards = kinesis.listShards({ stream: address }).pipe(
      Effect.retry({ schedule, while: (error: ServiceError) => isRetryable(error) })
    )

    /** How many live leases each worker holds on readable shards (from the last `list`). */
    const loadByWorker = (readable: ReadonlyArray<Kinesis.Shard>, now: number) => {
      const load = new Map<string, Array<string>>()
      for (const shard of readable) {
        const state = stored.get(shard.shardId)
        if (state?.owner === undefined || state.expiresAt <= now) continue
        const list = load.get(state.owner)
        if (list === undefined) load.set(state.owner, [shard.shardId])
        else list.push(shard.shardId)
      }
      return load
    }

    /**
     * Takes this worker's fair share of the readable shards (⌈readable / live workers⌉, at most
     * `maxShards`): free and expired leases first; when none is left and another worker holds two or more
     * shards more than this one, asks it to hand shards over (it releases them after its checkpoint; they
     * are taken on a later round). Runs on every listing and every heartbeat, one round at a time.
     */
    const assign = Effect.gen(function*() {
      stored = new Map((yield* checkpointer.list(streamKey)).map((s) => [s.shardId, s] as const))
      const isEnded = (id: string) => endedHere.has(id) || stored.get(id)?.ended === true
      const now = yield* Clock.currentTimeMillis
      const readable = Topology.readable(topology, isEnded)
      const live = new Set((yield* checkpointer.workers(streamKey)).map((w) => w.workerId))
      live.add(checkpointer.workerId)
      const target = Math.min(maxShards, Math.ceil(readable.length / live.size))
      const held = () => {
        let n = 0
        for (const reader of readers.values()) if (!reader.handingOff) n++
        return n
      }
      for (const shard of readable) {
        if (held() >= target) break
        if (readers.has(shard.shardId)) continue
        const state = stored.get(shard.shardId)
        if (state?.owner !== undefined && state.owner !== checkpointer.workerId && state.expiresAt > now) continue
        const acquired = yield* checkpointer.acquire(streamKey, shard.shardId)
        if (Option.isNone(acquired)) continue
        const [lease, fresh] = acquired.value
        if (fresh.ended) {
          // another worker finished it since the listing
          yield* checkpointer.release(lease).pipe(Effect.ignore)
          continue
        }
        if (
          iteratorType === "LATEST" && fresh.checkpoint === undefined && Topology.isClosed(shard) &&
          Topology.children(topology, shard.shardId).length > 0 &&
          initialPosition(shard).type === "LATEST"
        ) {
          // LATEST: a closed shard this group never read is history, skip it (its children start at LATEST)
          yield* checkpointer.markEnded(lease).pipe(Effect.catchTag("LeaseLost", () => Effect.void))
          yield* checkpointer.release(lease).pipe(Effect.ignore)
          endedHere.add(shard.shardId)
          wake()
          continue
        }
        yield* startReader(shard, lease, fresh)
        yield* Effect.logDebug(`effect-kinesis consumer: reading ${shard.shardId} (lease ${lease.leaseCounter})`)
      }
      // still under the fair share: ask the most loaded workers for shards (hand-offs already asked for
      // count as ours: asking again before they arrive would take more than the share)
      let mine = held()
      const answerWindow = 2 * Duration.toMillis(checkpointer.heartbeatInterval) // owners answer within a heartbeat
      for (const [shardId, at] of requested) if (now - at > answerWindow) requested.delete(shardId)
      for (const shard of readable) {
        const state = stored.get(shard.shardId)
        if (
          state?.handOffTo === checkpointer.workerId && state.owner !== undefined && state.expiresAt > now &&
          requested.has(shard.shardId)
        ) mine++
      }
      if (mine < target) {
        const load = loadByWorker(readable, now)
        load.delete(checkpointer.workerId)
        const owners = Array.from(load.entries()).filter(([owner]) => live.has(owner))
        while (mine < target) {
          owners.sort((a, b) => b[1].length - a[1].length)
          const top = owners[0]
          if (top === undefined || top[1].length - mine < 2) break
          // a shard not already asked for by someone else
          const shardId = top[1].find((id) => stored.get(id)?.handOffTo === undefined) ?? top[1][0]!
          top[1].splice(top[1].indexOf(shardId), 1)
          yield* checkpointer.requestHandOff(streamKey, shardId, checkpointer.workerId)
          requested.set(shardId, now)
          yield* Effect.logDebug(`effect-kinesis consumer: asked ${top[0]} to hand ${shardId} over`)
          mine++
        }
      }
      yield* publish
    })
    /** Hand-offs this worker asked for, and when (a declined request stops counting after two heartbeats). */
    const requested = new Map<string, number>()
    const assignLock = yield* Effect.makeSemaphore(1)
    const assignOnce = assignLock.withPermits(1)(assign)

    const refresh = Effect.gen(function*() {
      topology = Topology.make(yield* listShards)
      yield* assignOnce
    })

    /**
     * Hands a shard over (balancing): stops polling it, drops its records still waiting in the buffer,
     * waits (bounded) until the downstream has finished what it already took, checkpoints, releases.
     */
    const handOff = (reader: Reader<A, E>) =>
      Effect.gen(function*() {
        if (reader.handingOff || reader.stopped || reader.ending) return
        reader.handingOff = true
        if (reader.fiber !== undefined) yield* Fiber.interrupt(reader.fiber)
        reader.buffer.remove((b) => b.reader === reader)
        if (mode === "shards") reader.buffer.end()
        checkHandedOver(reader)
        yield* Deferred.await(reader.handedOver).pipe(
          Effect.timeout(Duration.millis(Duration.toMillis(checkpointer.sessionTimeout) / 2)),
          Effect.ignore
        )
        reader.stopped = true
        readers.delete(reader.shard.shardId)
        yield* writeCheckpoint(reader).pipe(
          Effect.zipRight(checkpointer.release(reader.lease)),
          Effect.catchAll((error) =>
            Effect.logWarning(`effect-kinesis consumer: hand-off of ${reader.shard.shardId} incomplete`, error)
          )
        )
        if (metricsOn) yield* Metric.set(mLeasesHeld, readers.size)
        wake()
      })

    /** Started right after the first refresh: waits first, then refreshes (until woken or the interval). */
    const coordinator = Effect.gen(function*() {
      while (true) {
        const signal = wakeCoordinator
        yield* Effect.raceFirst(Deferred.await(signal), Effect.sleep(refreshInterval))
        if (signal === wakeCoordinator) wakeCoordinator = Deferred.unsafeMake<void>(FiberId.none)
        // a store outage is waited out (leases held keep being read until they would expire)
        yield* refresh.pipe(
          Effect.catchTag(
            "CheckpointerError",
            (error) => Effect.logWarning("effect-kinesis consumer: shard assignment failed, retrying", error)
          )
        )
      }
    })

    const renewal = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(checkpointer.heartbeatInterval)
        yield* checkpointer.heartbeat(streamKey).pipe(
          Effect.catchAll((error) => Effect.logWarning("effect-kinesis consumer: heartbeat failed", error))
        )
        const now = yield* Clock.currentTimeMillis
        for (const reader of Array.from(readers.values())) {
          if (reader.stopped || reader.ending) continue
          yield* checkpointer.renew(reader.lease).pipe(
            Effect.flatMap((state) => {
              reader.lastRenewed = now
              if (state.handOffTo === undefined || state.handOffTo === checkpointer.workerId) return Effect.void
              // hand over only while that keeps the balance: we hold 2+ more than the asking worker
              let asking = 0
              for (const s of stored.values()) {
                if (s.owner === state.handOffTo && s.expiresAt > now && !s.ended) asking++
              }
              let held = 0
              for (const r of readers.values()) if (!r.handingOff && !r.stopped) held++
              return held - asking >= 2
                ? Effect.zipRight(
                  Effect.logDebug(
                    `effect-kinesis consumer: handing ${reader.shard.shardId} over to ${state.handOffTo}`
                  ),
                  Effect.asVoid(Effect.forkIn(handOff(reader), scope))
                )
                : Effect.void
            }),
            Effect.catchTags({
              LeaseLost: () => onLeaseLost(reader),
              CheckpointerError: (error) =>
                // the store is unreachable: keep reading until the lease would have expired, then stop
                now - reader.lastRenewed >= Duration.toMillis(checkpointer.sessionTimeout)
                  ? Effect.zipRight(
                    Effect.logWarning(`effect-kinesis consumer: lease of ${reader.shard.shardId} expired`, error),
                    onLeaseLost(reader)
                  )
                  : Effect.logWarning(`effect-kinesis consumer: lease renewal failed`, error)
            })
          )
        }
        yield* assignOnce.pipe(
          Effect.catchTag(
            "CheckpointerError",
            (error) => Effect.logWarning("effect-kinesis consumer: shard assignment failed, retrying", error)
          )
        )
      }
    })

    // -- shutdown: final checkpoints, leases released --------------------------------------------
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const all = Array.from(readers.values())
        for (const reader of all) reader.stopped = true
        yield* Effect.forEach(
          all,
          (reader) => reader.fiber === undefined ? Effect.void : Fiber.interrupt(reader.fiber),
          {
            discard: true
          }
        )
        for (const reader of all) {
          yield* writeCheckpoint(reader).pipe(
            Effect.zipRight(checkpointer.release(reader.lease)),
            Effect.catchAll((error) =>
              Effect.logWarning(`effect-kinesis consumer: final checkpoint of ${reader.shard.shardId} failed`, error)
            )
          )
        }
        readers.clear()
        yield* checkpointer.leave(streamKey).pipe(Effect.ignore)
        if (deadLetters !== undefined && deadLetterFiber !== undefined) {
          yield* Queue.shutdown(deadLetters)
          yield* Fiber.await(deadLetterFiber)
        }
      })
    )

    yield* checkpointer.heartbeat(streamKey)
    yield* refresh
    yield* Effect.forkIn(
      coordinator.pipe(
        Effect.catchAllCause(fatal)
      ),
      scope
    )
    yield* Effect.forkIn(renewal, scope)
    yield* Effect.forkIn(writer, scope)
    if (deadLetterFiber !== undefined) {
      // a failing dead-letter sink fails the consumer
      yield* Effect.forkIn(
        Fiber.join(deadLetterFiber).pipe(
          Effect.catchAllCause(fatal)
        ),
        scope
      )
    }

    // -- output ----------------------------------------------------------------------------------
    const { aggregator, serializer } = processor

    /**
     * The records of the batches one output takes, decoded as it takes them, and emitted in chunks of
     * at most `chunkSize`. A chunk counts as processed when the downstream pulls again.
     */
    function output(
      buffer: Buffer<Batch<A, E>, ConsumerError | E>
    ): Stream.Stream<ConsumerRecord<A>, ConsumerError | E> {
      let batch: Batch<A, E> | undefined
      let decoded: Array<RecordImpl<A>> = []
      let next = 0
      /** The batch stopped at a record that failed to decode (policy `fail`): the stream fails after it. */
      let failure: DecodeError | undefined
      /** What the last pull emitted: processed once the downstream pulls again. */
      let emittedReader: Reader<A, E> | undefined
      let emittedPosition: Checkpointer.Checkpoint = { sequenceNumber: "0" }
      let emittedCount = 0

      const decodeBatch = (taken: Batch<A, E>): Effect.Effect<void> => {
        const reader = taken.reader
        const shardId = reader.shard.shardId
        const doCommit = commit(reader)
        const skip = taken.skipThrough
        const out: Array<RecordImpl<A>> = []
        let letters: Array<DeadLetter> | undefined
        let error: DecodeError | undefined
        let record = taken.records[taken.from]!
        const sink: DecodedSink<A> = (value, subSequenceNumber, partitionKey, explicitHashKey) => {
          // resuming inside an aggregate: skip the sub-records already processed
          if (
            skip !== undefined && subSequenceNumber !== undefined && skip.subSequenceNumber !== undefined &&
            subSequenceNumber <= skip.subSequenceNumber && record.sequenceNumber === skip.sequenceNumber
          ) return
          out.push(new RecordImpl(value, record, shardId, subSequenceNumber, partitionKey, explicitHashKey, doCommit))
        }
        for (let i = taken.from; i < taken.to; i++) {
          record = taken.records[i]!
          const start = out.length
          if (policy === "fail") {
            error = decodeRecord(serializer, aggregator, record, shardId, sink)
            if (error !== undefined) {
              out.length = start // a Kinesis record is delivered whole or not at all
              break
            }
          } else {
            const failed = record
            decodeRecordLenient(serializer, aggregator, record, shardId, sink, (e) => {
              ;(letters ??= []).push({ record: failed, shardId, error: e })
            })
          }
          if (out.length > start) out[out.length - 1]!.closesRecord = true
        }
        batch = taken
        decoded = out
        next = 0
        failure = error
        reader.taken = taken.last
        reader.recordsDelivered += out.length
        totalRecords += out.length
        totalBytes += taken.bytes
        if (metricsOn) {
          reader.mRecords(out.length)
          reader.mBytes(taken.bytes)
        }
        if (error !== undefined) return metricsOn ? Metric.increment(mDecodeErrors) : Effect.void
        if (letters === undefined) return Effect.void
        const list = letters
        return Effect.zipRight(
          metricsOn ? Metric.incrementBy(mDecodeErrors, list.length) : Effect.void,
          deadLetters === undefined
            ? Effect.forEach(list, (l) => Effect.logWarning(`effect-kinesis consumer: skipped ${l.error.message}`), {
              discard: true
            })
            : Queue.offerAll(deadLetters, list)
        )
      }

      const emit = (): Chunk.Chunk<ConsumerRecord<A>> => {
        const end = Math.min(decoded.length, next + chunkSize)
        const chunk = next === 0 && end === decoded.length ? decoded : decoded.slice(next, end)
        next = end
        emittedReader = batch!.reader
        emittedCount = chunk.length
        // the whole batch emitted: the position after its last Kinesis record (it covers records that
        // decoded to nothing or were skipped); else after the last record emitted
        emittedPosition = end === decoded.length && failure === undefined ? batch!.last : decoded[end - 1]!.position
        return Chunk.unsafeFromArray<ConsumerRecord<A>>(chunk)
      }

      const pull: Effect.Effect<Chunk.Chunk<ConsumerRecord<A>>, Option.Option<ConsumerError | E>> = Effect.suspend(
        () => {
          if (emittedReader !== undefined) {
            markProcessed(emittedReader, emittedPosition, emittedCount)
            emittedReader = undefined
          }
          if (batch !== undefined) {
            const reader = batch.reader
            if (next < decoded.length) {
              if (!reader.handingOff && !(reader.stopped && !reader.ending)) return Effect.succeed(emit())
              // the lease was lost or is being handed over: the rest of the batch is not delivered here
              if (next > 0) reader.taken = decoded[next - 1]!.position
              checkHandedOver(reader)
            } else if (decoded.length === 0 && failure === undefined) {
              markProcessed(reader, batch.last, 0) // nothing to deliver (all skipped): past it at once
            }
            batch = undefined
            decoded = []
            next = 0
          }
          if (failure !== undefined) {
            const error = failure
            // the records before it are delivered; then the consumer fails (nothing after it is delivered)
            return Effect.zipRight(fatal(Cause.fail(error)), Effect.fail(Option.some(error)))
          }
          return Effect.flatMap(Effect.mapError(buffer.take, Option.some), (taken) =>
            Option.isNone(taken)
              ? Effect.fail(Option.none())
              : Effect.zipRight(decodeBatch(taken.value), pull))
        }
      )
      return Stream.repeatEffectChunkOption(pull)
    }

    const engine: Engine<A, E> = {
      status: Effect.map(Clock.currentTimeMillis, statusNow),
      changes,
      records: output(shared),
      shards: Stream.fromQueue(shardStreams).pipe(
        Stream.concat(
          Stream.suspend(() => fatalCause === undefined ? Stream.empty : Stream.failCause(fatalCause))
        )
      )
    }
    return engine
  })
