/**
 * The consumer engine: `make` reads the options, wires the parts below and returns the `Engine` (its
 * output streams and status); it owns the shared buffer, the queue of shard streams (`shards` mode),
 * the consumer's fatal failure and the shutdown. Each part owns its state and says in its module doc
 * who calls it.
 *
 * - `coordinator.ts` lists the shards (all pages) on the refresh interval and at once when a shard
 *   ends, builds the `Topology`, and takes the lease of every readable shard (not ended, every listed
 *   parent ended) it can, up to its fair share and `maxShards`, asking loaded workers for hand-offs.
 * - `leases.ts` holds the leases taken: a `Reader` per shard (`shard.ts`), started, stopped when its
 *   lease is lost, handed over; its renewal fiber heartbeats and renews the leases.
 * - `fetch.ts`, one reader fiber per leased shard: GetShardIterator at the checkpoint (or the start
 *   position), then GetRecords paced by `shardFetchRate`, idling when caught up, backing off that shard
 *   alone on throttling and retryable errors, renewing an expired iterator right after the last record
 *   read. Records are cut into batches and offered to a bounded buffer (`buffer.ts`; back-pressure: a
 *   full buffer stops that reader's polling, no record is skipped).
 * - `output.ts` takes batches from the buffer, decodes them (`decode.ts`, the decode-error policy and
 *   the dead letters) into `ConsumerRecord`s (`record.ts`) and emits them in chunks.
 * - `checkpoints.ts`: in auto mode a chunk counts as processed once the downstream pulls the next one;
 *   a writer fiber stores the processed position of each shard every `checkpointInterval` (or after
 *   `checkpointEvery` records). In manual mode `record.checkpoint` does.
 * - A closed shard read to its end waits until its last record is processed, is marked ended in the
 *   Checkpointer (with its final checkpoint), its lease is released, and the coordinator looks for its
 *   children at once.
 * - `status.ts` builds the status from the coordinator's view and the readers, keeps the delivered
 *   counts of shards no longer held, and warns (at a bounded rate) about a shard whose reads keep failing.
 * - Logs carry the annotations `stream` and `worker` (every fiber of the consumer, and its finalizer),
 *   and `shard` in the fibers of one shard (its reader, its hand-off).
 * - Closing the scope stops polling, writes the final checkpoint of everything processed and releases
 *   the leases.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Checkpointer from "../../Checkpointer.js"
import type { ConsumerOptions } from "../../Consumer.js"
import * as Kinesis from "../../Kinesis.js"
import * as KinesisMetrics from "../../KinesisMetrics.js"
import type * as Processor from "../../Processor.js"
import * as StreamAddress from "../../StreamAddress.js"
import * as Topology from "../../Topology.js"
import * as Metrics from "../metrics.js"
import { Buffer } from "./buffer.js"
import { type Checkpoints, makeCheckpoints } from "./checkpoints.js"
import { type Coordinator, makeCoordinator } from "./coordinator.js"
import { makeDecodePolicy } from "./decode.js"
import { makeShardReader, type ShardReader } from "./fetch.js"
import { type Leases, makeLeases } from "./leases.js"
import { delivered, makeOutput, type Output } from "./output.js"
import { type ConsumerError, defaults, type Engine, type ShardStream } from "./shapes.js"
import { type Batch, coalesceBatches, type Reader, type ShardMeters } from "./shard.js"
import { makeStatus, type Status } from "./status.js"
import { registerConsumer } from "./subscribe.js"

export { comparePosition, compareSequence } from "./position.js"
export {
  type ConsumerError,
  type ConsumerRecord,
  type ConsumerStatus,
  type DeadLetter,
  type DecodeErrorPolicy,
  defaults,
  type Engine,
  type IteratorType,
  type ShardState,
  type ShardStatus,
  type ShardStream
} from "./shapes.js"

/** @internal */
export const make = <A, E, R>(
  options: ConsumerOptions<A, E, R>,
  defaultProcessor: Processor.Processor<A>,
  mode: "stream" | "shards" | "process"
): Effect.Effect<Engine<A, E>, ConsumerError | E, Kinesis.Kinesis | Checkpointer.Checkpointer | Scope.Scope | R> =>
  Effect.gen(function*() {
    const kinesis = yield* Kinesis.Kinesis
    const checkpointer = yield* Checkpointer.Checkpointer
    const address = yield* StreamAddress.make(options.stream)
    const streamKey = address.name
    const streamLabel = StreamAddress.format(address)
    const iteratorType = options.iteratorType ?? defaults.iteratorType
    const maxBufferRecords = options.maxBufferRecords ?? defaults.maxBufferRecords
    const maxBufferBytes = options.maxBufferBytes ?? defaults.maxBufferBytes
    const chunkSize = Math.max(1, options.chunkSize ?? defaults.chunkSize)
    const schedule = options.retrySchedule ?? defaults.retrySchedule
    const metricsOn = options.metrics !== false
    const policy = options.onDecodeError ?? "fail"
    if (iteratorType === "AT_TIMESTAMP" && options.timestamp === undefined) {
      return yield* Effect.dieMessage("effect-kinesis consumer: iteratorType AT_TIMESTAMP needs a timestamp")
    }
    const scope = yield* Effect.scope
    const startedAt = yield* Clock.currentTimeMillis
    // enhanced fan-out: the registered consumer, found or registered, and ACTIVE before any shard is read
    const fanOut = options.fanOut === undefined
      ? undefined
      : yield* registerConsumer(kinesis, address, options.fanOut, schedule, defaults.fanOutWatchdog)
    /** The consumer's fibers (and the readers they fork) log with the stream and the worker. */
    const annotated = Effect.annotateLogs({ stream: streamLabel, worker: checkpointer.workerId })

    // -- metrics ---------------------------------------------------------------------------------
    const tag = <T, I, O>(metric: Metric.Metric<T, I, O>, shardId?: string): Metric.Metric<T, I, O> => {
      const withStream = Metric.tagged(metric, "stream", streamLabel)
      return shardId === undefined ? withStream : Metric.tagged(withStream, "shard", shardId)
    }
    const { bind } = yield* Metrics.binder(["stream", streamLabel])
    const shardMeters = (shardId: string): ShardMeters | undefined =>
      metricsOn
        ? {
          records: bind(KinesisMetrics.consumerRecords, ["shard", shardId]),
          bytes: bind(KinesisMetrics.consumerBytes, ["shard", shardId]),
          behind: bind(KinesisMetrics.consumerBehindLatest, ["shard", shardId]),
          throttles: tag(KinesisMetrics.consumerThrottles, shardId),
          expired: tag(KinesisMetrics.consumerExpiredIterators, shardId)
        }
        : undefined

    // -- the buffer, the shard streams, the fatal failure ----------------------------------------
    const coalesce = coalesceBatches<A, E>(chunkSize)
    const shared = new Buffer<Batch<A, E>, ConsumerError | E>(maxBufferRecords, maxBufferBytes, coalesce)
    const shardStreams = yield* Queue.unbounded<ShardStream<A, E>>()
    /** `process` mode: the readers as they start (the process runner takes their batches itself). */
    const openedReaders = yield* Queue.unbounded<Reader<A, E>>()
    /** Each shard reads into its own buffer (`shards` and `process` modes). */
    const perShard: "stream" | "shards" = mode === "stream" ? "stream" : "shards"
    let fatalCause: Cause.Cause<ConsumerError | E> | undefined
    /** Fails the whole consumer (a fatal error in one of its fibers): the output fails after what is buffered. */
    const fatal = (cause: Cause.Cause<ConsumerError | E>): Effect.Effect<void> =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.suspend(() => {
        shared.fail(cause)
        for (const reader of leases.readers.values()) reader.buffer.fail(cause)
        fatalCause = cause
        return Effect.zipRight(Queue.shutdown(shardStreams), Queue.shutdown(openedReaders))
      })

    // -- the parts (a function reaching a part made later is called only once the consumer runs) --
    const decoder = yield* makeDecodePolicy<A, E, R>({
      processor: options.processor ?? defaultProcessor,
      policy,
      scope,
      metrics: metricsOn
        ? {
          decodeErrors: Metric.tagged(
            tag(KinesisMetrics.consumerDecodeErrors),
            "policy",
            typeof policy === "string" ? policy : "deadLetter"
          )
        }
        : undefined
    })
    const leases: Leases<A, E> = makeLeases<A, E>({
      checkpointer,
      streamKey,
      mode: perShard,
      scope,
      checkpoints: {
        write: (reader) => checkpoints.write(reader),
        checkHandedOver: (reader) => checkpoints.checkHandedOver(reader)
      },
      bufferFor: () => mode === "stream" ? shared : new Buffer(maxBufferRecords, maxBufferBytes, coalesce),
      meters: shardMeters,
      opened: (reader) =>
        mode === "shards"
          ? Effect.asVoid(Queue.offer(shardStreams, { shardId: reader.shard.shardId, records: output(reader.buffer) }))
          : mode === "process"
          ? Effect.asVoid(Queue.offer(openedReaders, reader))
          : Effect.void,
      run: (reader, state) => shardReader.run(reader, state),
      retired: (reader) => status.retire(reader),
      wake: () => coordinator.wake(),
      stored: () => coordinator.stored(),
      assign: Effect.suspend(() => coordinator.assign),
      metrics: metricsOn
        ? {
          leasesHeld: Metric.tagged(tag(KinesisMetrics.consumerLeasesHeld), "worker", checkpointer.workerId),
          leasesLost: tag(KinesisMetrics.consumerLeasesLost)
        }
        : undefined
    })
    const checkpoints: Checkpoints<A, E> = makeCheckpoints<A, E>({
      checkpointer,
      manual: options.checkpoint === "manual",
      checkpointInterval: Duration.decode(options.checkpointInterval ?? defaults.checkpointInterval),
      checkpointEvery: options.checkpointEvery ?? defaults.checkpointEvery,
      readers: leases.readers,
      onLeaseLost: leases.lost,
      metrics: metricsOn
        ? {
          checkpoints: tag(KinesisMetrics.consumerCheckpoints),
          checkpointFailures: tag(KinesisMetrics.consumerCheckpointFailures)
        }
        : undefined
    })
    const shardReader: ShardReader<A, E> = makeShardReader<A, E>({
      kinesis,
      checkpointer,
      address,
      mode: perShard,
      iteratorType,
      recordLimit: Math.min(10_000, Math.max(1, options.recordLimit ?? defaults.recordLimit)),
      fetchSpacing: 1000 / Math.max(0.001, options.shardFetchRate ?? defaults.shardFetchRate),
      idleDelay: Duration.toMillis(options.idleDelay ?? defaults.idleDelay),
      chunkSize,
      schedule,
      checkpoints,
      fanOut,
      isClosed: (shardId) => Topology.children(coordinator.topology(), shardId).length > 0,
      initialPosition: (shard) => coordinator.initialPosition(shard),
      shardEnded: (shardId) => coordinator.shardEnded(shardId),
      finished: leases.finished,
      onLeaseLost: leases.lost,
      readFailed: (reader, error) => status.readFailed(reader, error),
      readSucceeded: (reader) => status.readSucceeded(reader),
      fatal,
      metrics: metricsOn
        ? { latency: bind(KinesisMetrics.consumerGetRecordsLatency), ended: tag(KinesisMetrics.consumerShardsEnded) }
        : undefined
    })
    const coordinator: Coordinator = yield* makeCoordinator<A, E>({
      kinesis,
      checkpointer,
      address,
      streamKey,
      iteratorType,
      timestamp: options.timestamp,
      maxShards: options.maxShards ?? defaults.maxShards,
      refreshInterval: Duration.decode(options.shardRefreshInterval ?? defaults.shardRefreshInterval),
      schedule,
      leases,
      publish: Effect.suspend(() => status.publish)
    })
    const status: Status<A, E> = yield* makeStatus<A, E>({
      streamLabel,
      workerId: checkpointer.workerId,
      startedAt,
      topology: coordinator.topology,
      stored: coordinator.stored,
      isEnded: coordinator.isEnded,
      readers: leases.readers,
      leasesLost: leases.leasesLost
    })
    const output: Output<A, E> = makeOutput<A, E>({
      streamName: address.name,
      chunkSize,
      decoder,
      checkpoints,
      totals: status.totals,
      fatal
    })

    // -- shutdown: final checkpoints, leases released --------------------------------------------
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        // the dead-letter sink takes what is queued first: the final checkpoints pass those records
        if (!(yield* decoder.close)) {
          checkpoints.freeze()
          yield* Effect.logError(
            "effect-kinesis consumer: the dead-letter sink failed; no final checkpoint is written (the records " +
              "it may not have received come again)"
          )
        }
        yield* leases.close
        yield* checkpointer.leave(streamKey).pipe(Effect.ignore)
      }).pipe(annotated)
    )

    // the first readers start in the first refresh: forked from here, they inherit the annotations
    yield* Effect.zipRight(checkpointer.heartbeat(streamKey), coordinator.refresh).pipe(annotated)
    yield* Effect.forkIn(coordinator.loop.pipe(Effect.catchAllCause(fatal), annotated), scope)
    yield* Effect.forkIn(leases.renewal.pipe(annotated), scope)
    yield* Effect.forkIn(checkpoints.writer.pipe(annotated), scope)
    if (decoder.sinkDone !== undefined) {
      // a failing dead-letter sink fails the consumer, and no checkpoint is written after it
      yield* Effect.forkIn(
        decoder.sinkDone.pipe(
          Effect.catchAllCause((cause) => Effect.zipRight(Effect.sync(() => checkpoints.freeze()), fatal(cause))),
          annotated
        ),
        scope
      )
    }

    const thenFatal = <X>(self: Stream.Stream<X>): Stream.Stream<X, ConsumerError | E> =>
      Stream.concat(
        self,
        Stream.suspend(() => fatalCause === undefined ? Stream.empty : Stream.failCause(fatalCause))
      )
    const engine: Engine<A, E> = {
      status: status.current,
      changes: status.changes,
      records: output(shared),
      shards: thenFatal(Stream.fromQueue(shardStreams)),
      process: {
        readers: thenFatal(Stream.fromQueue(openedReaders)),
        processor: options.processor ?? defaultProcessor,
        streamName: address.name,
        delivered: (batch, count) => delivered(status.totals, batch, count),
        markProcessed: checkpoints.advance,
        handingOver: checkpoints.checkHandedOver,
        bind: metricsOn ? bind : undefined
      }
    }
    return engine
  })
