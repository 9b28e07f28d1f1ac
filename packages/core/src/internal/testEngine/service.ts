/** @internal */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type * as Kinesis from "../../Kinesis.js"
import type { ResourceNotFound, ServiceError } from "../../KinesisError.js"
import type * as KinesisTest from "../../KinesisTest.js"
import * as StreamAddress from "../../StreamAddress.js"
import { badGetRecords, badRecords } from "../options.js"
import * as Tracing from "../tracing.js"
import { CallContext, type Operation, type OperationError, rethrow } from "./calls.js"
import { decodeIterator } from "./codec.js"
import { Engine } from "./engine.js"
import { injectedError } from "./errors.js"
import { type ResolvedLimits, resolveLimits } from "./limits.js"
import type { StreamState } from "./state.js"

const MiB = 1024 * 1024

/** @internal */
export const defaults = {
  limits: {
    writeRecordsPerSecond: 1000,
    writeBytesPerSecond: MiB,
    readCallsPerSecond: 5,
    readBytesPerSecond: 2 * MiB,
    getShardIteratorCallsPerSecond: 5,
    maxRecordsPerPutRecords: 500,
    maxBytesPerPutRecords: 5 * MiB,
    maxRecordSize: MiB,
    maxRecordsPerGetRecords: 10_000,
    maxBytesPerGetRecords: 10 * MiB,
    subscribeToShardCallsPerSecond: 1,
    fanOutBytesPerSecond: 2 * MiB,
    maxConsumersPerStream: 20
  },
  seed: 1,
  region: "us-east-1",
  accountId: "000000000000",
  retention: Duration.hours(24),
  createDuration: Duration.zero,
  updateDuration: Duration.zero,
  deleteDuration: Duration.zero,
  listShardsPageSize: 1000,
  callLogSize: 10_000,
  iteratorLifetime: Duration.minutes(5),
  onDemandShards: 4,
  consumerDuration: Duration.zero,
  subscriptionLifetime: Duration.minutes(5),
  subscriptionHeartbeat: Duration.seconds(5)
} satisfies KinesisTest.Options & {
  readonly limits: KinesisTest.Limits
  readonly iteratorLifetime: Duration.DurationInput
  readonly onDemandShards: number
  readonly subscriptionLifetime: Duration.DurationInput
  readonly subscriptionHeartbeat: Duration.DurationInput
}

const baseLimits: ResolvedLimits = defaults.limits

const millis = (d: Duration.DurationInput | undefined, fallback: Duration.DurationInput): number =>
  Duration.toMillis(Duration.decode(d ?? fallback))

/** The operations wrapped: latency, injected failures, the call log, the Clock. */
const makeRunner = (engine: Engine) =>
<Op extends Operation, A>(
  operation: Op,
  stream: string | undefined,
  label: string | undefined,
  body: (now: number, ctx: CallContext) => Exit.Exit<A, OperationError<Op>>
): Effect.Effect<A, OperationError<Op>> => {
  const exec = Effect.clockWith((clock) => {
    const now = clock.unsafeCurrentTimeMillis()
    const ctx = new CallContext(operation, stream, label, now)
    const injected = engine.faults.take(operation, stream)
    const exit: Exit.Exit<A, OperationError<Op>> = injected !== undefined ? Exit.fail(injected) : body(now, ctx)
    engine.log.add(ctx, Exit.isSuccess(exit) ? undefined : errorTag(exit))
    return exit
  })
  // the same span as a call to AWS (tracing.ts), so that a pipeline's traces look alike in tests
  return Tracing.call(operation, stream, () => engine.options.region, () =>
    Effect.suspend(() => {
      const latency = engine.faults.latencyFor(operation)
      return latency > 0 ? Effect.zipRight(Effect.sleep(Duration.millis(latency)), exec) : exec
    }))
}

const errorTag = (exit: Exit.Failure<unknown, ServiceError>): string => {
  const cause = exit.cause
  return cause._tag === "Fail" ? cause.error._tag : cause._tag
}

const portOf = (engine: Engine): Kinesis.Service => {
  const run = makeRunner(engine)
  const format = StreamAddress.format

  const listShards = (request: Kinesis.ListShardsRequest) => {
    const page = (nextToken: string | undefined) =>
      run("listShards", request.stream.name, format(request.stream), (now, ctx) =>
        engine.listShardsPage(
          {
            stream: request.stream,
            nextToken,
            shardFilter: nextToken === undefined ? request.shardFilter : undefined,
            exclusiveStartShardId: nextToken === undefined ? request.exclusiveStartShardId : undefined,
            pageSize: request.pageSize
          },
          now,
          ctx
        ))
    return Effect.gen(function*() {
      const shards: Array<Kinesis.Shard> = []
      let nextToken: string | undefined = undefined
      while (true) {
        const out: { readonly shards: Array<Kinesis.Shard>; readonly nextToken: string | undefined } = yield* page(
          nextToken
        )
        for (const shard of out.shards) shards.push(shard)
        if (out.nextToken === undefined) return shards
        nextToken = out.nextToken
      }
    })
  }

  // what a JavaScript caller passes is checked as the AWS port checks it (internal/options.ts): an
  // InvalidArgument, never a defect inside the engine
  return {
    putRecords: (request) => {
      const bad = badRecords("putRecords", request.stream, request.records)
      return bad !== undefined ? Effect.fail(bad) : run(
        "putRecords",
        request.stream.name,
        format(request.stream),
        (now, ctx) => engine.putRecords(request, now, ctx)
      )
    },
    putRecord: (request) => {
      const bad = badRecords("putRecord", request.stream, [request])
      return bad !== undefined ? Effect.fail(bad) : run(
        "putRecord",
        request.stream.name,
        format(request.stream),
        (now, ctx) => engine.putRecord(request, now, ctx)
      )
    },
    getRecords: (request) => {
      const bad = badGetRecords(request)
      if (bad !== undefined) return Effect.fail(bad)
      const iterator = decodeIterator(request.shardIterator)
      const name = iterator?.stream ?? request.stream?.name
      const label = request.stream !== undefined ? format(request.stream) : name
      return run("getRecords", name, label, (now, ctx) => engine.getRecords(request, iterator, now, ctx))
    },
    getShardIterator: (request) =>
      run(
        "getShardIterator",
        request.stream.name,
        format(request.stream),
        (now, ctx) => engine.getShardIterator(request, now, ctx)
      ),
    listShards,
    describeStreamSummary: (stream) =>
      run(
        "describeStreamSummary",
        stream.name,
        format(stream),
        (now, ctx) => engine.describeStreamSummary(stream, now, ctx)
      ),
    createStream: (request) =>
      run(
        "createStream",
        request.streamName,
        request.streamName,
        (now, ctx) => engine.createStream(request, now, ctx)
      ),
    deleteStream: (request) =>
      run(
        "deleteStream",
        request.stream.name,
        format(request.stream),
        (now, ctx) => engine.deleteStream(request, now, ctx)
      ),
    splitShard: (request) =>
      run(
        "splitShard",
        request.stream.name,
        format(request.stream),
        (now, ctx) => engine.splitShard(request, now, ctx)
      ),
    mergeShards: (request) =>
      run(
        "mergeShards",
        request.stream.name,
        format(request.stream),
        (now, ctx) => engine.mergeShards(request, now, ctx)
      ),
    updateShardCount: (request) =>
      run(
        "updateShardCount",
        request.stream.name,
        format(request.stream),
        (now, ctx) => engine.updateShardCount(request, now, ctx)
      ),
    listStreams: () => run("listStreams", undefined, undefined, (now, ctx) => engine.listStreams(now, ctx)),
    registerStreamConsumer: (request) =>
      run(
        "registerStreamConsumer",
        streamNameOfArn(request.streamARN),
        request.streamARN,
        (now, ctx) => engine.registerStreamConsumer(request, now, ctx)
      ),
    describeStreamConsumer: (consumer) =>
      run("describeStreamConsumer", undefined, undefined, (now) => engine.describeStreamConsumer(consumer, now)),
    listStreamConsumers: (streamARN) =>
      run(
        "listStreamConsumers",
        streamNameOfArn(streamARN),
        streamARN,
        (now) => engine.listStreamConsumers(streamARN, now)
      ),
    deregisterStreamConsumer: (consumer) =>
      run("deregisterStreamConsumer", undefined, undefined, (now) => engine.deregisterStreamConsumer(consumer, now)),
    subscribeToShard: (request) => subscribeToShard(engine, run, request)
  }
}

/** The stream name in a stream ARN (the call log's `stream`). */
const streamNameOfArn = (arn: string): string | undefined => {
  const at = arn.lastIndexOf(":stream/")
  return at < 0 ? undefined : arn.slice(at + ":stream/".length)
}

const HEARTBEAT = Duration.decode(defaults.subscriptionHeartbeat)
const HEARTBEAT_MS = Duration.toMillis(HEARTBEAT)

/**
 * A subscription as a Stream: each pull takes the engine's next step; when it has nothing to send, it
 * waits for a signal — a record written to the shard or its closing (the shard tells its subscribers),
 * or the heartbeat tick (then an event with no records, as AWS sends one every few seconds when idle) —
 * or, over the byte budget, for the budget. One signal queue and one heartbeat fiber per subscription:
 * no fiber or timer per wait. Closing the stream ends the subscription.
 */
const subscribeToShard = (
  engine: Engine,
  run: ReturnType<typeof makeRunner>,
  request: Kinesis.SubscribeToShardRequest
): Stream.Stream<Kinesis.SubscribeToShardEvent, Kinesis.SubscribeToShardError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const sub = yield* Effect.acquireRelease(
      run("subscribeToShard", undefined, request.consumerARN, (now, ctx) => engine.subscribeToShard(request, now, ctx)),
      (sub) => Effect.sync(() => engine.unsubscribe(sub))
    )
    // a signal given while nobody waits is kept (one is enough): a record written between a step and the
    // wait is not missed
    const signal = yield* Queue.sliding<void>(1)
    const wake = () => {
      Queue.unsafeOffer(signal, undefined)
    }
    const shard = sub.shard
    yield* Effect.acquireRelease(
      Effect.sync(() => shard.subscribers.add(wake)),
      () => Effect.sync(() => shard.subscribers.delete(wake))
    )
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(HEARTBEAT), Effect.sync(wake))))
    let lastEvent = yield* Clock.currentTimeMillis
    const pull: Effect.Effect<Kinesis.SubscribeToShardEvent, Option.Option<never>> = Effect.gen(function*() {
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        const step = engine.nextEvent(sub, now)
        if (step._tag === "End") return yield* Effect.fail(Option.none())
        if (step._tag === "Event") {
          lastEvent = now
          // an event crosses the network as a call does (`setLatency` of subscribeToShard, or of every call)
          const latency = engine.faults.latencyFor("subscribeToShard")
          return latency > 0 ? yield* Effect.as(Effect.sleep(Duration.millis(latency)), step.event) : step.event
        }
        if (now - lastEvent >= HEARTBEAT_MS) {
          lastEvent = now
          return engine.heartbeat(sub)
        }
        // over the byte budget: until it refills; else until the next signal
        if (step.until < sub.expiresAt) yield* Effect.sleep(Duration.millis(Math.max(1, step.until - now)))
        else yield* Queue.take(signal)
      }
    })
    return Stream.repeatEffectOption(pull)
  }))

const controlOf = (engine: Engine): KinesisTest.Service => {
  const now = <A, E>(f: (now: number) => Exit.Exit<A, E | ResourceNotFound>): Effect.Effect<A, E | ResourceNotFound> =>
    Effect.clockWith((clock) => f(clock.unsafeCurrentTimeMillis()))
  const withStream = <A, E>(
    operation: string,
    stream: StreamAddress.StreamAddress | string,
    f: (stream: StreamState, now: number) => Exit.Exit<A, E>
  ) =>
    now((t) => {
      const found = engine.controlStream(operation, stream, t)
      return Exit.isFailure(found) ? rethrow(found) : f(found.value, t)
    })

  return {
    records: (stream, shardId) =>
      withStream("KinesisTest.records", stream, (s, t) => engine.storedRecords(s, shardId, t)),
    shards: (stream) => withStream("KinesisTest.shards", stream, (s, t) => Exit.succeed(engine.shardInfo(s, t))),
    calls: Effect.sync(() => engine.log.toArray()),
    subscriptions: Effect.clockWith((clock) =>
      Effect.sync(() => engine.openSubscriptions(clock.unsafeCurrentTimeMillis()))
    ),
    clearCalls: Effect.sync(() => engine.log.clear()),
    failNext: <Op extends Operation>(operation: Op, options: KinesisTest.FailNextOptions<Op>) =>
      Effect.sync(() => {
        const error: ServiceError["_tag"] | ServiceError = options.error
        const make = typeof error === "string"
          ? (stream: string | undefined) => injectedError(error, operation, stream, engine.options.accountId)
          : () => error
        engine.faults.addFailNext(operation, {
          remaining: Math.max(1, options.times ?? 1),
          stream: options.stream,
          make
        })
      }),
    failRecords: (options) =>
      Effect.sync(() => {
        const select = options.select
        const chosen = typeof select === "function" ? select : (() => {
          const set = new Set(select)
          return (_: Kinesis.PutRecordsEntry, index: number) => set.has(index)
        })()
        engine.faults.addRecordFault({
          remaining: options.calls ?? 1,
          stream: options.stream,
          select: chosen,
          errorCode: options.errorCode ?? "InternalFailure",
          errorMessage: options.errorMessage
        })
      }),
    throttleRecords: (options) =>
      Effect.sync(() => {
        engine.faults.addThrottle({
          stream: options.stream,
          fraction: Math.min(1, Math.max(0, options.fraction)),
          errorCode: options.errorCode ?? "ProvisionedThroughputExceededException"
        })
      }),
    setLatency: (latency, operation) =>
      Effect.sync(() => {
        engine.faults.setLatency(operation ?? "*", Duration.toMillis(Duration.decode(latency)))
      }),
    clearFaults: Effect.sync(() => engine.faults.clear()),
    setLimits: (limits) => Effect.sync(() => engine.setLimits(limits)),
    splitShard: (stream, shardId, newStartingHashKey) =>
      withStream("KinesisTest.splitShard", stream, (s, t) => engine.controlSplit(s, shardId, newStartingHashKey, t)),
    mergeShards: (stream, shardId, adjacentShardId) =>
      withStream("KinesisTest.mergeShards", stream, (s, t) => engine.controlMerge(s, shardId, adjacentShardId, t)),
    updateShardCount: (stream, target) =>
      withStream("KinesisTest.updateShardCount", stream, (s, t) => engine.controlScale(s, target, t))
  }
}

/** @internal */
export const make = (options: KinesisTest.Options = {}): Effect.Effect<KinesisTest.Engine> =>
  Effect.clockWith((clock) =>
    Effect.sync(() => {
      const now = clock.unsafeCurrentTimeMillis()
      const retentionMs = millis(options.retention, defaults.retention)
      const engine = new Engine(
        {
          seed: options.seed ?? defaults.seed,
          region: options.region ?? defaults.region,
          accountId: options.accountId ?? defaults.accountId,
          retentionMs,
          createMs: millis(options.createDuration, defaults.createDuration),
          updateMs: millis(options.updateDuration, defaults.updateDuration),
          deleteMs: millis(options.deleteDuration, defaults.deleteDuration),
          listShardsPageSize: options.listShardsPageSize ?? defaults.listShardsPageSize,
          callLogSize: options.callLogSize ?? defaults.callLogSize,
          consumerMs: millis(options.consumerDuration, defaults.consumerDuration),
          subscriptionMs: millis(defaults.subscriptionLifetime, defaults.subscriptionLifetime)
        },
        resolveLimits(options.limits, baseLimits)
      )
      for (const [name, stream] of Object.entries(options.streams ?? {})) {
        const mode = stream.mode ?? "PROVISIONED"
        engine.addStream(
          name,
          {
            shards: mode === "ON_DEMAND" ? defaults.onDemandShards : stream.shards ?? 1,
            mode,
            retentionMs: stream.retention === undefined ? retentionMs : millis(stream.retention, defaults.retention),
            maxRecordSize: stream.maxRecordSize
          },
          now
        )
      }
      return { kinesis: portOf(engine), control: controlOf(engine) }
    })
  )
