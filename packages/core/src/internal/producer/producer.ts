/**
 * The producer: `make` reads the options, wires the parts below and offers the API (`put`, `offer`,
 * `send`, `flush`) and the shutdown. Each part owns its state and says in its module doc who calls it.
 *
 * A value's way to Kinesis (docs/ARCHITECTURE.md has the whole path):
 * - `intake.ts` makes the user record (`records.ts`: `Item`), checks its key, encodes it and queues it
 *   in the lane `router.ts` picks (MD5 of the key → the shard's hash range; `lane.ts`), through the
 *   lane's accumulator for aggregating processors; it counts it in `ledger.ts` and wakes the dispatcher;
 * - `gate.ts` holds writers back when the queue is full or every lane already holds a full request;
 * - `dispatcher.ts` decides what is sent when and builds PutRecords requests from the lanes' heads;
 * - `responses.ts` sends a request and handles its answer: delivered records are settled in the ledger,
 *   failed ones retried at the head of their lane or reported; a reshard re-installs the router's map.
 *
 * Invariants that give per-key order and bounded memory:
 * - a lane (shard) has at most one request in flight;
 * - a request never carries two Kinesis records with a common partition key from the same lane
 *   (PutRecords may fail one record and accept a later one: two records of one key in one request could
 *   be reordered), and failed records are retried before anything behind them in their lane;
 * - accepted user records and their bytes are bounded (`maxQueueRecords`, `maxQueueBytes`): `put`
 *   suspends at capacity, and earlier once every lane holds a full request;
 * - after a reshard, lanes of closed shards drain before the new shards' lanes may send;
 * - closing the scope delivers what is buffered within `shutdownTimeout`, then sends nothing more and
 *   fails every record not delivered (`PutRecordsFailed`).
 *
 * All state is mutated synchronously (one JS thread), so no locks are needed.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Kinesis from "../../Kinesis.js"
import { EncodeError, InvalidPartitionKey, PutRecordsFailed } from "../../KinesisError.js"
import * as KinesisMetrics from "../../KinesisMetrics.js"
import type * as Processor from "../../Processor.js"
import type { ProducerOptions } from "../../Producer.js"
import * as StreamAddress from "../../StreamAddress.js"
import * as Metrics from "../metrics.js"
import * as Options from "../options.js"
import { TypeId as ProcessorTypeId } from "../processor/processor.js"
import { makeDispatcher } from "./dispatcher.js"
import { Gate } from "./gate.js"
import { makeIntake, OFFER_SLICE } from "./intake.js"
import { Ledger } from "./ledger.js"
import { type Item, type Pending } from "./records.js"
import { makeResponses } from "./responses.js"
import { Router } from "./router.js"
import {
  defaults,
  type Delivery,
  type Producer,
  type ProducerError,
  type ProducerRecord,
  type PutOptions
} from "./shapes.js"

/** The options' kinds (options.ts): what a JavaScript caller's values are checked against. */
const OPTIONS = {
  processor: Options.custom(
    (u) => Predicate.hasProperty(u, ProcessorTypeId),
    "a Processor (Processor.json, Processor.bytes, …)"
  ),
  retrySchedule: Options.custom(Schedule.isSchedule, "a Schedule"),
  createStream: Options.custom(
    (u) => Predicate.hasProperty(u, "shardCount") || (Predicate.hasProperty(u, "onDemand") && u.onDemand === true),
    "{ shardCount: number } or { onDemand: true }"
  ),
  partitionKey: Options.fn,
  bufferTime: Options.duration,
  maxBatchRecords: Options.int(1, 500),
  maxBatchBytes: Options.int(1, 5 * 1024 * 1024),
  maxRecordSize: Options.int(1),
  maxAggregateSize: Options.int(1),
  maxQueueRecords: Options.int(1),
  maxQueueBytes: Options.int(1),
  maxInFlightRequests: Options.int(1),
  shardMap: Options.oneOf("listShards", "skip"),
  afterFlush: Options.fn,
  shutdownTimeout: Options.duration,
  metrics: Options.boolean,
  preserveOrder: Options.boolean
}
const SHARD_LIMITS = {
  recordsPerSecond: Options.number(0, undefined, true),
  bytesPerSecond: Options.number(0, undefined, true),
  fraction: Options.number(0, 1, true)
}

/** @internal */
export const make = <A>(
  options: ProducerOptions<A>,
  defaultProcessor: Processor.Processor<A>
): Effect.Effect<Producer<A>, ProducerError, Kinesis.Kinesis | Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = Options.notAnObject(options, "options") ?? Options.validate(options, OPTIONS) ??
      Options.validate(options, { shardLimits: Options.falseOrObject }) ??
      (typeof options.shardLimits === "object" && options.shardLimits !== null
        ? Options.validate(options.shardLimits, SHARD_LIMITS, "shardLimits.")
        : undefined) ??
      (Predicate.hasProperty(options.createStream, "shardCount")
        ? Options.validate(options.createStream, { shardCount: Options.int(1) }, "createStream.")
        : undefined)
    if (invalid !== undefined) return yield* Effect.fail(invalid)
    const kinesis = yield* Kinesis.Kinesis
    const stream = yield* StreamAddress.make(options.stream)
    const streamLabel = StreamAddress.format(stream)
    const processor = options.processor ?? defaultProcessor
    const bufferTime = Duration.toMillis(options.bufferTime ?? defaults.bufferTime)
    const maxBatchRecords = Math.min(500, options.maxBatchRecords ?? defaults.maxBatchRecords)
    const maxBatchBytes = Math.min(5 * 1024 * 1024, options.maxBatchBytes ?? defaults.maxBatchBytes)
    const maxRecordSize = options.maxRecordSize ?? defaults.maxRecordSize
    const maxQueueRecords = options.maxQueueRecords ?? defaults.maxQueueRecords
    const maxQueueBytes = options.maxQueueBytes ?? defaults.maxQueueBytes
    const maxInFlight = options.maxInFlightRequests ?? defaults.maxInFlightRequests
    const schedule = options.retrySchedule ?? defaults.retrySchedule
    const limits = options.shardLimits === false ? undefined : {
      records: (options.shardLimits?.recordsPerSecond ?? defaults.recordsPerSecond) *
        (options.shardLimits?.fraction ?? 1),
      bytes: (options.shardLimits?.bytesPerSecond ?? defaults.bytesPerSecond) * (options.shardLimits?.fraction ?? 1)
    }
    const metricsOn = options.metrics !== false
    const preserveOrder = options.preserveOrder !== false
    const { bind } = yield* Metrics.binder(["stream", streamLabel])
    const mRecords = bind(KinesisMetrics.producerRecords)
    const mKinesisRecords = bind(KinesisMetrics.producerKinesisRecords)
    const mBytes = bind(KinesisMetrics.producerBytes)
    const mRequests = bind(KinesisMetrics.producerRequests)
    const mBatch = bind(KinesisMetrics.producerBatchSize)
    const mLatency = bind(KinesisMetrics.producerPutLatency)
    const mThrottled = bind(KinesisMetrics.producerThrottledRecords)
    const mRetries = bind(KinesisMetrics.producerRetries)
    const mFailed = bind(KinesisMetrics.producerFailedRecords)
    const mQueueRecords = bind(KinesisMetrics.producerQueueRecords)
    const mQueueBytes = bind(KinesisMetrics.producerQueueBytes)
    const scope = yield* Effect.scope
    // the clock of the fiber making the producer (its fibers are forked from it): read without an Effect
    const clock = yield* Effect.clock

    // -- stream creation and shard map ---------------------------------------------------------
    if (options.createStream !== undefined) {
      const request = "onDemand" in options.createStream
        ? { streamName: stream.name, streamMode: "ON_DEMAND" as const }
        : { streamName: stream.name, shardCount: options.createStream.shardCount }
      yield* kinesis.createStream(request).pipe(
        Effect.catchTag("ResourceInUse", () => Effect.void) // exists already (or being created): idempotent
      )
      yield* Kinesis.waitUntilActive(stream)
    }

    const now0 = yield* Clock.currentTimeMillis
    const router = new Router<A>(
      { processor, maxRecordSize, maxAggregateSize: options.maxAggregateSize, limits },
      now0,
      (lane, now) => intake.reroute(lane, now)
    )
    const lanes = router.lanes
    const listShards = kinesis.listShards({ stream })
    if (options.shardMap !== "skip") router.install(yield* listShards, now0)

    // -- accounting ----------------------------------------------------------------------------
    const ledger = new Ledger<A>(streamLabel, schedule.initial)
    const gate = new Gate<A>(
      ledger,
      lanes,
      { maxQueueRecords, maxQueueBytes, maxBatchRecords, maxBatchBytes },
      yield* Effect.fiberId
    )
    const intake = makeIntake<A>({
      processor,
      maxRecordSize,
      partitionKey: options.partitionKey,
      router,
      ledger,
      gate
    })
    const { addAll, addSlice, direct, flushAccumulator, toItem } = intake

    // -- delivery ------------------------------------------------------------------------------
    const { failInFlight, send } = makeResponses<A>({
      kinesis,
      stream,
      clock,
      scope,
      schedule,
      direct,
      ledger,
      router,
      listShards,
      metrics: metricsOn
        ? { mRequests, mBatch, mLatency, mRecords, mKinesisRecords, mBytes, mThrottled, mRetries }
        : undefined,
      settled: () => {
        gate.releaseSpace()
        gate.notify()
      },
      changed: () => gate.notify()
    })

    // -- the pump --------------------------------------------------------------------------------
    const dispatcher = yield* makeDispatcher<A>({
      router,
      ledger,
      gate,
      clock,
      send,
      flushAccumulator,
      userKeys: intake.userKeys,
      bufferTime,
      maxBatchRecords,
      maxBatchBytes,
      maxInFlight,
      preserveOrder,
      metrics: metricsOn ? { mFailed, mQueueRecords, mQueueBytes } : undefined
    })

    // -- API -------------------------------------------------------------------------------------

    const offerItems = (items: ReadonlyArray<Item<A>>): Effect.Effect<void, ProducerError> =>
      Effect.suspend(() => {
        const error = addAll(items, clock.unsafeCurrentTimeMillis())
        return error === undefined ? Effect.void : Effect.fail(error)
      })

    const offer = (values: Iterable<A | ProducerRecord<A>>): Effect.Effect<void, ProducerError> =>
      Effect.suspend(() => {
        if (!Predicate.isIterable(values) || typeof values === "string") {
          // from JavaScript: `offer(value)` where `offer([value])` was meant
          return Effect.fail(
            new EncodeError({ record: values, cause: new TypeError("offer takes an iterable (an array) of values") })
          )
        }
        // a Chunk from a Stream is usually backed by an array: index it rather than iterate
        const inputs = Chunk.isChunk(values)
          ? Chunk.toReadonlyArray(values)
          : Array.isArray(values)
          ? values as ReadonlyArray<A | ProducerRecord<A>>
          : Array.from(values)
        // Respect the queue bound: take what fits, then wait for room. What fits is added in slices
        // of about a request's worth, and after each slice the requests that are due go out at once:
        // records are sent soon after they are encoded (fewer alive at a time, warmer caches), rather
        // than once the whole input is encoded. On bad input the records before it are added, then
        // the call fails with its error.
        const loop = (from: number): Effect.Effect<void, ProducerError> => {
          if (from >= inputs.length) return Effect.void
          return Effect.zipRight(
            gate.waitForRoom,
            Effect.suspend(() => {
              const end = Math.min(inputs.length, from + Math.max(1, maxQueueRecords - ledger.outstandingRecords))
              for (let start = from; start < end; start += OFFER_SLICE) {
                // every lane holds a full request already: wait for room rather than queue more
                if (start > from && !gate.hasRoom()) return loop(start)
                const now = clock.unsafeCurrentTimeMillis()
                const error = addSlice(inputs, start, Math.min(end, start + OFFER_SLICE), now)
                dispatcher.pumpNow(now)
                if (error !== undefined) return Effect.fail(error)
              }
              return loop(end)
            })
          )
        }
        return loop(0)
      })

    const put = (value: A, putOptions?: PutOptions) =>
      Effect.suspend(() => {
        const item = toItem(value, undefined, putOptions)
        if (item instanceof InvalidPartitionKey) return Effect.fail(item)
        return Effect.zipRight(gate.waitForRoom, offerItems([item]))
      })

    const sendOne = (value: A, putOptions?: PutOptions) =>
      Effect.suspend(() => {
        const deferred = Deferred.unsafeMake<Delivery, ProducerError>(FiberId.none)
        const item = toItem(value, deferred, putOptions)
        if (item instanceof InvalidPartitionKey) return Effect.fail(item)
        // counted from before its record can be queued until the call ends (however it ends)
        return Effect.uninterruptibleMask((restore) => {
          ledger.sendsWaiting++
          return restore(gate.waitForRoom.pipe(
            Effect.zipRight(offerItems([item])),
            Effect.zipRight(Deferred.await(deferred))
          )).pipe(Effect.ensuring(Effect.sync(() => {
            ledger.sendsWaiting--
          })))
        })
      })

    const flush: Effect.Effect<void, ProducerError> = Effect.suspend(() => {
      gate.flushing++
      gate.notify()
      return gate.waitIdle.pipe(
        Effect.ensuring(Effect.sync(() => {
          gate.flushing--
        })),
        Effect.zipRight(Effect.suspend(() => {
          const summary = { delivered: ledger.delivered, failed: ledger.failures.length }
          return options.afterFlush === undefined ? Effect.void : options.afterFlush(summary)
        })),
        Effect.zipRight(Effect.suspend(() => {
          const failed = ledger.takeFailures()
          return failed.length === 0
            ? Effect.void
            : Effect.fail(new PutRecordsFailed({ stream: streamLabel, failures: failed }))
        }))
      )
    })

    // Closing the scope delivers what is buffered, within shutdownTimeout, and reports what was not. The
    // deadline holds even while records are being retried: the flush is made interruptible (a finalizer
    // runs uninterruptibly, and a timeout cannot cut short what it cannot interrupt), then nothing more is
    // sent, the requests in flight are interrupted and every record not delivered fails.
    const shutdownTimeout = Duration.decode(options.shutdownTimeout ?? defaults.shutdownTimeout)
    yield* Effect.addFinalizer(() =>
      (Duration.isZero(shutdownTimeout)
        ? Effect.fail("timeout" as const)
        : Effect.interruptible(flush) as Effect.Effect<void, ProducerError | "timeout">).pipe(
          Effect.timeoutFail({ duration: shutdownTimeout, onTimeout: () => "timeout" as const }),
          Effect.catchAll((error) =>
            Effect.logError(
              `effect-kinesis producer for ${streamLabel}: ${
                error === "timeout"
                  ? `${ledger.outstandingRecords} record(s) not ledger.delivered within the shutdown timeout`
                  : error.message
              }`
            )
          ),
          // nothing more is sent; the records of the requests it interrupts fail (their outcome is unknown)
          Effect.zipRight(dispatcher.close),
          Effect.zipRight(Effect.sync(failInFlight)),
          Effect.zipRight(Effect.sync(() => {
            // fail whatever is left so no `send` waits forever
            const left: Array<Pending<A>> = []
            for (const lane of lanes.values()) {
              flushAccumulator(lane, 0)
              for (const p of lane.ready.waiting()) left.push(p)
              lane.ready.clear()
            }
            ledger.fail(left)
          }))
        )
    )

    const producer: Producer<A> = {
      put,
      offer,
      send: sendOne,
      flush,
      pending: Effect.sync(() => ({
        records: ledger.outstandingRecords,
        bytes: ledger.outstandingBytes + ledger.accumulatingBytes
      })),
      failed: Effect.suspend(() => ledger.failures.length === 0 ? Effect.void : flush)
    }
    return producer
  })
