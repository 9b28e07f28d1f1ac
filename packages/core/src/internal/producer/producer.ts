/**
 * The producer engine.
 *
 * Records flow: `put`/`offer` → partition key checked → target shard predicted from the shard map
 * (MD5 → hash range) → that shard's lane: its processor `Accumulator` packs user records into Kinesis
 * records (aggregates) → the lane's `ready` FIFO → a PutRecords request built by the pump from the heads
 * of several lanes → on the response, successes resolve their user records, failures go back to the
 * head of their lane, in order, and the lane backs off with the retry `Schedule`.
 *
 * Invariants that give per-key order and bounded memory:
 * - a lane (shard) has at most one request in flight;
 * - a request never carries two Kinesis records with a common partition key from the same lane
 *   (PutRecords may fail one record and accept a later one: two records of one key in one request could
 *   be reordered), and failed records are retried before anything behind them in their lane;
 * - accepted user records and their bytes are bounded (`maxQueueRecords`, `maxQueueBytes`): `put`
 *   suspends at capacity;
 * - after a reshard, lanes of closed shards drain before the new shards' lanes may send.
 *
 * All state is mutated synchronously inside `Effect.sync` (one JS thread), so no locks are needed.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import * as Kinesis from "../../Kinesis.js"
import { type EncodeError, InvalidPartitionKey, PutRecordsFailed, type RecordTooLarge } from "../../KinesisError.js"
import * as KinesisMetrics from "../../KinesisMetrics.js"
import type * as Processor from "../../Processor.js"
import type { ProducerOptions } from "../../Producer.js"
import * as StreamAddress from "../../StreamAddress.js"
import * as Metrics from "../metrics.js"
import * as Aggregators from "../processor/aggregators.js"
import { encodeEntry } from "../processor/processor.js"
import { utf8Length } from "../processor/utf8.js"
import { makeDispatcher } from "./dispatcher.js"
import { Gate } from "./gate.js"
import type { Lane } from "./lane.js"
import { Ledger } from "./ledger.js"
import { checkKey, countOf, Item, itemsOf, type Pending } from "./records.js"
import { makeResponses } from "./responses.js"
import { Router } from "./router.js"
import {
  defaults,
  type Delivery,
  isProducerRecord,
  type Producer,
  type ProducerError,
  type ProducerRecord,
  type PutOptions
} from "./shapes.js"

/** @internal */
export const make = <A>(
  options: ProducerOptions<A>,
  defaultProcessor: Processor.Processor<A>
): Effect.Effect<Producer<A>, ProducerError, Kinesis.Kinesis | Scope.Scope> =>
  Effect.gen(function*() {
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
      (lane, now) => reroute(lane, now)
    )
    const lanes = router.lanes
    /**
     * A KPL aggregate is routed by the explicit hash key of the shard it was built for: sent after a
     * split it would land in the child holding that key, with user records whose keys belong to the
     * other child (the consumer reads both children at once: their order across them would be lost).
     * So what a closed shard's lane has not sent yet goes back through the new map, in order.
     * (A request already in flight when the reshard happened cannot be recalled.)
     */
    const reroute = (lane: Lane<A>, now: number) => {
      if (!router.carriesHashKey) return // other records are routed by their own keys: they find the right child
      flushAccumulator(lane, now)
      if (lane.ready.size === 0) return
      const pending = lane.ready.waiting()
      lane.ready.clear()
      lane.readyBytes = 0
      lane.readySince = Infinity
      const items: Array<Item<A>> = []
      for (const p of pending) {
        ledger.outstandingBytes -= p.size
        ledger.outstandingRecords -= countOf(p)
        ledger.retries.delete(p)
        for (const r of itemsOf(p)) items.push(r)
      }
      const groups: Array<ReadonlyArray<Item<A>>> = []
      const error = addItems(items, now, groups)
      if (error !== undefined) {
        // they were encoded once already; should one fail now (a value changed since), it is reported
        const added = new Set(groups.flat())
        const failed = items.filter((item) => !added.has(item)).map((item): Pending<A> => {
          item.size = 0
          ledger.outstandingRecords += 1
          ledger.retryInfo(item).lastCode = error._tag
          ledger.retryInfo(item).lastMessage = error.message
          return item
        })
        ledger.fail(failed)
      }
    }

    const listShards = kinesis.listShards({ stream })
    if (options.shardMap !== "skip") router.install(yield* listShards, now0)

    // -- accounting ----------------------------------------------------------------------------
    const ledger = new Ledger<A>(streamLabel, schedule.initial)
    /** Whether a record with a key of the user's came (until then no ordering rule can apply). */
    let userKeys = false
    const gate = new Gate<A>(
      ledger,
      lanes,
      { maxQueueRecords, maxQueueBytes, maxBatchRecords, maxBatchBytes },
      yield* Effect.fiberId
    )
    const notify = () => gate.notify()
    const releaseSpace = () => gate.releaseSpace()

    /**
     * One user record per Kinesis record, bytes unchanged (`Processor.json`, `bytes`, `string`, ...):
     * the producer encodes each item itself and sends it as is, with no accumulator in between. The
     * checks and errors are the accumulator's (`Processor.Accumulator.add`).
     */
    const direct = processor.aggregator === Aggregators.single
    const { dataLengthOf, validate } = processor.aggregator
    const encode = processor.serializer.encode
    const encodeItem = (item: Item<A>): EncodeError | RecordTooLarge | undefined => {
      const pkBytes = item.partitionKeyBytes ?? utf8Length(item.partitionKey)
      const data = encodeEntry(encode, validate, dataLengthOf, item, pkBytes, maxRecordSize)
      if (!(data instanceof Uint8Array)) return data
      item.data = data
      item.size = data.length + pkBytes // the single aggregator sends the bytes as they are
      return undefined
    }

    /** Encodes an item of a non-aggregating processor and queues it in its lane. */
    const addDirect = (item: Item<A>, now: number): EncodeError | RecordTooLarge | undefined => {
      const error = encodeItem(item)
      if (error !== undefined) return error
      queueDirect(item, now)
      return undefined
    }
    const queueDirect = (item: Item<A>, now: number): void => {
      const lane = laneFor(item)
      lane.ready.push(item)
      lane.readyBytes += item.size
      ledger.outstandingBytes += item.size
      ledger.outstandingRecords++
      if (now < lane.readySince) lane.readySince = now
    }

    /** Moves a lane's accumulator contents to its ready queue. */
    const flushAccumulator = (lane: Lane<A>, since: number) => {
      ledger.accumulatingBytes -= lane.accumulator.pendingBytes
      pushReady(lane, lane.accumulator.flush(), since)
    }

    const laneFor = (item: Item<A>): Lane<A> => router.laneFor(item)

    const pushReady = (lane: Lane<A>, aggregates: ReadonlyArray<Processor.Aggregate<A>>, since: number) => {
      for (const aggregate of aggregates) {
        lane.ready.push(aggregate)
        lane.readyBytes += aggregate.size
        ledger.outstandingBytes += aggregate.size
      }
      if (aggregates.length > 0 && since < lane.readySince) lane.readySince = since
    }

    /**
     * Adds user records (already validated) to their lanes. All of `items` or none (the accumulator's
     * add is all-or-nothing); returns the error of the first item that cannot be encoded or is too large.
     */
    const addItems = (
      items: ReadonlyArray<Item<A>>,
      now: number,
      added?: Array<ReadonlyArray<Item<A>>>
    ): EncodeError | RecordTooLarge | undefined => {
      if (direct) {
        // each item is its own Kinesis record: encoded and queued one by one, so those before a bad
        // one are in and those after it are not (what the all-or-nothing groups below amount to)
        for (let i = 0; i < items.length; i++) {
          const error = addDirect(items[i]!, now)
          if (error !== undefined) {
            added?.push(items.slice(0, i))
            return error
          }
        }
        added?.push(items)
        return undefined
      }
      // group by lane, keeping order within each lane
      const groups = new Map<Lane<A>, Array<Item<A>>>()
      for (const item of items) {
        const lane = laneFor(item)
        const group = groups.get(lane)
        if (group === undefined) groups.set(lane, [item])
        else group.push(item)
      }
      for (const [lane, group] of groups) {
        const wasEmpty = lane.accumulator.pendingRecords === 0
        const pendingBefore = lane.accumulator.pendingBytes
        const result = lane.accumulator.add(group)
        if (Either.isLeft(result)) return result.left
        ledger.accumulatingBytes += lane.accumulator.pendingBytes - pendingBefore
        ledger.outstandingRecords += group.length
        added?.push(group)
        if (wasEmpty && lane.accumulator.pendingRecords > 0) lane.accumulatingSince = now
        pushReady(lane, result.right, wasEmpty ? now : lane.accumulatingSince)
        if (lane.accumulator.pendingRecords === 0) lane.accumulatingSince = 0
      }
      return undefined
    }

    // -- delivery ------------------------------------------------------------------------------
    const { send } = makeResponses<A>({
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
        releaseSpace()
        notify()
      },
      changed: notify
    })

    // -- the pump --------------------------------------------------------------------------------
    const dispatcher = yield* makeDispatcher<A>({
      router,
      ledger,
      gate,
      clock,
      send,
      flushAccumulator: (lane, since) => flushAccumulator(lane, since),
      userKeys: () => userKeys,
      bufferTime,
      maxBatchRecords,
      maxBatchBytes,
      maxInFlight,
      preserveOrder,
      metrics: metricsOn ? { mFailed, mQueueRecords, mQueueBytes } : undefined
    })
    const pumpNow = (now: number) => dispatcher.pumpNow(now)

    // -- API -------------------------------------------------------------------------------------
    /**
     * The made-up partition key: one per producer. Records with it are routed by explicit hash key, so
     * it carries nothing, and a partition key costs: its bytes count toward the record size and the
     * shard's 1 MiB/s (a unique key per record was ~10 % of a 100-byte record), and making one per
     * record is CPU and garbage.
     */
    const madeUpKey = `p-${Math.random().toString(36).slice(2, 8)}`
    /**
     * A record routed by its own explicit hash key but given no partition key gets a unique one: one
     * key for all of them would put them under the per-key order rule (one per shard per request).
     */
    let keyCounter = 0
    const keyOf = options.partitionKey ?? (() => `${madeUpKey}-${(keyCounter++).toString(36)}`)

    const toItem = (
      input: A | ProducerRecord<A>,
      deferred: Deferred.Deferred<Delivery, ProducerError> | undefined,
      putOptions?: PutOptions
    ): Item<A> | InvalidPartitionKey => {
      let value: A
      let partitionKey: string | undefined
      let explicitHashKey: string | undefined
      if (isProducerRecord(input)) {
        value = (input as ProducerRecord<A>).value
        partitionKey = input.partitionKey
        explicitHashKey = input.explicitHashKey
      } else {
        value = input as A
        partitionKey = putOptions?.partitionKey
        explicitHashKey = putOptions?.explicitHashKey
      }
      if (partitionKey === undefined && explicitHashKey === undefined && options.partitionKey === undefined) {
        // ASCII: one byte per character
        return new Item(value, madeUpKey, undefined, deferred, true)
      }
      const key = partitionKey ?? keyOf(value)
      const invalid = checkKey(key, explicitHashKey, value)
      if (invalid !== undefined) return invalid
      userKeys = true
      return new Item(value, key, explicitHashKey, deferred, false)
    }

    const waitForRoom = gate.waitForRoom

    /**
     * Adds items (already made); on an item that cannot be added, those before it are in and its
     * error is returned. Synchronous: it notifies the pump, it does not send.
     */
    const addAll = (items: ReadonlyArray<Item<A>>, now: number): EncodeError | RecordTooLarge | undefined => {
      // groups (one per shard lane) are added one by one, each all or nothing: remember which made it
      const groups: Array<ReadonlyArray<Item<A>>> = []
      const error = addItems(items, now, groups)
      if (error === undefined) {
        notify()
        return undefined
      }
      const added = new Set(groups.flat())
      // add the rest one by one up to the bad record (never an item twice), then fail with its error.
      // Records of other lanes that came after it in the same call may already be in.
      for (const item of items) {
        if (added.has(item)) continue
        const single = addItems([item], now)
        if (single !== undefined) {
          notify()
          return single
        }
      }
      notify()
      return error
    }

    const offerItems = (items: ReadonlyArray<Item<A>>): Effect.Effect<void, ProducerError> =>
      Effect.suspend(() => {
        const error = addAll(items, clock.unsafeCurrentTimeMillis())
        return error === undefined ? Effect.void : Effect.fail(error)
      })

    /** Plain values get the made-up key (no key function): `addSlice` makes their records directly. */
    const plainValues = options.partitionKey === undefined
    /** Values `offer` turns into records before it sends what is due (about a request's worth). */
    const OFFER_SLICE = 500
    /** A slice's records between encoding and queueing (reused: no array per slice). */
    const encoded: Array<Item<A> | undefined> = []
    /**
     * Turns `inputs[from, to)` into records and adds them; returns the error of the first bad input
     * (the records before it are in). Encoding runs first, then routing and queueing.
     */
    const addSlice = (
      inputs: ReadonlyArray<A | ProducerRecord<A>>,
      from: number,
      to: number,
      now: number
    ): ProducerError | undefined => {
      let error: ProducerError | undefined
      if (direct) {
        // encoded first, then routed and queued (kept in `encoded`, cleared once queued)
        let n = 0
        for (let i = from; i < to; i++) {
          const input = inputs[i]!
          if (plainValues && !isProducerRecord(input)) {
            // The usual case: a plain value with the made-up key. Its record is made here, with no
            // key to check and nothing for the accumulator's rules to say (the single aggregator
            // sends the bytes as they are). A value this cannot take (the encoder throws, or it is
            // too large) goes the general way below, which makes its error.
            let data: Uint8Array | undefined
            try {
              data = encode(input as A)
            } catch {
              data = undefined
            }
            if (data !== undefined && data.length + madeUpKey.length <= maxRecordSize) {
              const item = new Item(input as A, madeUpKey, undefined, undefined, true)
              item.data = data
              item.size = data.length + madeUpKey.length
              encoded[n++] = item
              continue
            }
          }
          const item = toItem(input, undefined)
          error = item instanceof InvalidPartitionKey ? item : encodeItem(item)
          if (error !== undefined) break
          encoded[n++] = item as Item<A>
        }
        for (let i = 0; i < n; i++) {
          queueDirect(encoded[i]!, now)
          encoded[i] = undefined
        }
        notify()
        return error
      }
      const items: Array<Item<A>> = []
      for (let i = from; i < to; i++) {
        const item = toItem(inputs[i]!, undefined)
        if (item instanceof InvalidPartitionKey) {
          error = item
          break
        }
        items.push(item)
      }
      return addAll(items, now) ?? error
    }

    const offer = (values: Iterable<A | ProducerRecord<A>>): Effect.Effect<void, ProducerError> =>
      Effect.suspend(() => {
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
            waitForRoom,
            Effect.suspend(() => {
              const end = Math.min(inputs.length, from + Math.max(1, maxQueueRecords - ledger.outstandingRecords))
              for (let start = from; start < end; start += OFFER_SLICE) {
                // every lane holds a full request already: wait for room rather than queue more
                if (start > from && !gate.hasRoom()) return loop(start)
                const now = clock.unsafeCurrentTimeMillis()
                const error = addSlice(inputs, start, Math.min(end, start + OFFER_SLICE), now)
                pumpNow(now)
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
        return Effect.zipRight(waitForRoom, offerItems([item]))
      })

    const sendOne = (value: A, putOptions?: PutOptions) =>
      Effect.suspend(() => {
        const deferred = Deferred.unsafeMake<Delivery, ProducerError>(FiberId.none)
        const item = toItem(value, deferred, putOptions)
        if (item instanceof InvalidPartitionKey) return Effect.fail(item)
        // counted from before its record can be queued until the call ends (however it ends)
        return Effect.uninterruptibleMask((restore) => {
          ledger.sendsWaiting++
          return restore(waitForRoom.pipe(
            Effect.zipRight(offerItems([item])),
            Effect.zipRight(Deferred.await(deferred))
          )).pipe(Effect.ensuring(Effect.sync(() => {
            ledger.sendsWaiting--
          })))
        })
      })

    const flush: Effect.Effect<void, ProducerError> = Effect.suspend(() => {
      gate.flushing++
      notify()
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
          // nothing more is sent; the records of an interrupted request fail (see `send`)
          Effect.zipRight(dispatcher.close),
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
